"""Model artifacts: one skops file per head, a JSON manifest, a model card, the active pointer.

A version is a folder ``models/<version>/`` (the heads' ``.skops`` files, ``manifest.json``,
``MODEL_CARD.md``, the evaluation report); ``models/ACTIVE`` names the one in use. Loading never
runs code from a file (see :func:`load_model`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline

from moderation.domain.policy import HEADS, Thresholds

# Reviewed list of types skops may load beyond its own safe defaults. Keep it empty: every
# type in our pipelines is one skops already trusts.
TRUSTED_TYPES: list[str] = []
MANIFEST = "manifest.json"
ACTIVE = "ACTIVE"
DEFAULT_STRICTNESS = "balanced"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ArtifactError(Exception):
    """A model artifact is missing, tampered with, untrusted or incompatible."""


@dataclass(frozen=True)
class ModelArtifact:
    """A loaded model version: one fitted pipeline and thresholds per head."""

    version: str
    pipelines: Mapping[str, Pipeline]
    thresholds: Mapping[str, Thresholds]
    manifest: Mapping[str, Any]
    path: Path
    # Per strictness level ("lenient", "balanced", "strict"): the thresholds chosen for it.
    # ``thresholds`` is the default level's; older models have only those.
    strictness: Mapping[str, Mapping[str, Thresholds]] = field(default_factory=dict)

    def thresholds_at(self, level: str | None) -> Mapping[str, Thresholds]:
        """The thresholds chosen at training time for ``level`` (the default ones for None, and
        the only ones of a model trained before levels existed).

        :raises ArtifactError: the model has no thresholds for that level.
        """
        if level is None or not self.strictness:  # older models have one set only
            return self.thresholds
        if level not in self.strictness:
            known = ", ".join(sorted(self.strictness)) or DEFAULT_STRICTNESS
            raise ArtifactError(f"model {self.version} has no {level!r} thresholds ({known})")
        return self.strictness[level]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that make and read the artifacts."""
    libs = {name: package_version(name) for name in ("scikit-learn", "skops", "numpy", "scipy")}
    return {"python": platform.python_version(), **libs}


def new_version(now: datetime | None = None) -> str:
    """A sortable version name from the current UTC time."""
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


def save_model(
    models_dir: Path,
    *,
    version: str,
    pipelines: Mapping[str, Pipeline],
    thresholds: Mapping[str, Thresholds],
    metadata: Mapping[str, Any],
    strictness: Mapping[str, Mapping[str, Thresholds]] | None = None,
) -> Path:
    """Write a new version folder with the heads, the manifest and return its path.

    ``thresholds`` are the default ones; ``strictness`` optionally holds one set per level.
    """
    if not _VERSION_RE.match(version):
        raise ArtifactError(f"invalid version name {version!r}")
    folder = models_dir / version
    if folder.exists():
        raise ArtifactError(f"model version {version} already exists at {folder}")
    folder.mkdir(parents=True)
    heads: dict[str, Any] = {}
    for head in HEADS:
        path = folder / f"{head}.skops"
        _forget_process_ids(pipelines[head])
        path.write_bytes(_stable_zip(sio.dumps(pipelines[head])))
        untrusted = sio.get_untrusted_types(file=path)
        if set(untrusted) - set(TRUSTED_TYPES):
            raise ArtifactError(f"{head} pipeline holds untrusted types: {untrusted}")
        heads[head] = {
            "file": path.name,
            "sha256": sha256_file(path),
            "thresholds": thresholds[head].as_dict(),
        }
    manifest = {
        "format": 1,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "heads": heads,
        "libraries": library_versions(),
        "trusted_types": list(TRUSTED_TYPES),
        "strictness": {
            level: {head: t.as_dict() for head, t in levels.items()}
            for level, levels in (strictness or {}).items()
        },
        **metadata,
    }
    _write_json(folder / MANIFEST, manifest)
    return folder


def _forget_process_ids(estimator: Any) -> None:
    """Drop the ``id()`` that text vectorizers cache (a memory address, different every run).

    scikit-learn only uses it to skip re-checking stop words, and recomputes it when missing.
    """
    vars(estimator).pop("_stop_words_id", None)
    children: list[Any] = []
    if isinstance(estimator, Pipeline):
        children = [step for _, step in estimator.steps]
    elif hasattr(estimator, "transformers_"):
        children = [t for _, t, _ in estimator.transformers_ if not isinstance(t, str)]
    for child in children:
        _forget_process_ids(child)


_SKOPS_ID_RE = re.compile(r'("__id__": |"file": ")(\d+)')


def _stable_zip(data: bytes) -> bytes:
    """Rewrite a skops zip so that the same model always gives the same bytes.

    skops names objects by their ``id()`` in the writing process; they are renumbered in
    order of appearance, timestamps are fixed, and entries are deflated. skops has no option
    for this, and the manifest's sha256 of an unchanged model must not change with each
    training run. Justified by a test, not a benchmark (it is about identical bytes, not
    speed): ``tests/unit/test_artifacts.py::test_saving_is_byte_for_byte_deterministic``,
    which saves two copies of one pipeline (different ``id()``s) and compares the bytes.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        schema = source.read("schema.json").decode("utf-8")
        numbers: dict[str, str] = {}

        def renumber(match: re.Match[str]) -> str:
            new = numbers.setdefault(match.group(2), str(len(numbers) + 1))
            return match.group(1) + new

        schema = _SKOPS_ID_RE.sub(renumber, schema)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as target:
            target.writestr(_zip_info("schema.json"), schema.encode("utf-8"))
            renamed = {}
            for name in source.namelist():
                if name != "schema.json":
                    stem, dot, suffix = name.partition(".")
                    renamed[numbers.get(stem, stem) + dot + suffix] = name
            for new_name in sorted(renamed):
                target.writestr(_zip_info(new_name), source.read(renamed[new_name]))
    return out.getvalue()


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write JSON atomically (a reader never sees half a file)."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, delete=False, encoding="utf-8", suffix=".tmp"
    ) as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(fh.name, 0o644)
    os.replace(fh.name, path)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a version folder."""
    try:
        manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"no manifest in {folder}") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"unreadable manifest in {folder}: {exc}") from exc
    return manifest


def load_model(folder: Path) -> ModelArtifact:
    """Load and verify a version folder, never running code from a file: each head's sha256
    is checked against the manifest before skops opens it, and skops refuses every type
    outside :data:`TRUSTED_TYPES` (empty: the pipelines are stock scikit-learn).

    :raises ArtifactError: missing files, a sha256 that does not match the manifest, a type
        outside :data:`TRUSTED_TYPES`, or a scikit-learn version other than the one that wrote it.
    """
    manifest = read_manifest(folder)
    written = str(manifest.get("libraries", {}).get("scikit-learn", ""))
    running = package_version("scikit-learn")
    if written.split(".")[:2] != running.split(".")[:2]:
        raise ArtifactError(
            f"model {folder.name} was written by scikit-learn {written}, this is {running}"
        )
    pipelines: dict[str, Pipeline] = {}
    thresholds: dict[str, Thresholds] = {}
    for head in HEADS:
        entry = manifest["heads"][head]
        path = folder / entry["file"]
        if not path.is_file():
            raise ArtifactError(f"missing {path}")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ArtifactError(f"{path} does not match the sha256 in its manifest; refusing it")
        untrusted = set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES)
        if untrusted:
            raise ArtifactError(f"{path} holds untrusted types {sorted(untrusted)}; refusing it")
        pipeline = sio.loads(data, trusted=TRUSTED_TYPES)
        if not isinstance(pipeline, Pipeline):
            raise ArtifactError(f"{path} does not hold a scikit-learn Pipeline")
        pipelines[head] = pipeline
        thresholds[head] = Thresholds.from_dict(entry["thresholds"])
    strictness = {
        str(level): {head: Thresholds.from_dict(levels[head]) for head in HEADS}
        for level, levels in (manifest.get("strictness") or {}).items()
    }
    return ModelArtifact(
        version=str(manifest["version"]),
        pipelines=pipelines,
        thresholds=thresholds,
        manifest=manifest,
        path=folder,
        strictness=strictness,
    )


def list_versions(models_dir: Path) -> list[str]:
    """Version folders in ``models_dir``, oldest first."""
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if (p / MANIFEST).is_file())


def active_version(models_dir: Path) -> str | None:
    """The version named by ``models/ACTIVE``, else the newest one, else ``None``."""
    return ModelStore(models_dir).active()


def activate(models_dir: Path, version: str) -> None:
    """Point the folder's ``ACTIVE`` file at ``version`` (atomically, readable by all): the
    version a folder ships with. The service's active version is recorded in the database
    (:mod:`moderation.services.model_registry`)."""
    if version not in list_versions(models_dir):
        raise ArtifactError(f"no model version {version!r} in {models_dir}")
    with tempfile.NamedTemporaryFile(
        "w", dir=models_dir, delete=False, encoding="utf-8", suffix=".tmp"
    ) as fh:
        fh.write(version + "\n")
    os.chmod(fh.name, 0o644)  # a temporary file is 0600: the service's user must read it
    os.replace(fh.name, models_dir / ACTIVE)


@dataclass(frozen=True)
class ModelStore:
    """Where model versions live: a writable folder over the read-only shipped one.

    Trained versions (and versions unpacked from the database) go into ``writable``
    (``var/models`` by default), never into the checkout; the versions shipped in the
    repository's ``models/`` stay readable. :meth:`active` is the file pointers' choice (the
    writable folder's ``ACTIVE``, else the shipped folder's, else the newest version), used
    until a version is activated in the database.
    """

    writable: Path
    shipped: Path | None = None

    def _folders(self) -> list[Path]:
        folders = [self.writable]
        if self.shipped is not None and self.shipped.resolve() != self.writable.resolve():
            folders.append(self.shipped)
        return folders

    def versions(self) -> list[str]:
        """Every version in either folder, oldest first."""
        return sorted({v for folder in self._folders() for v in list_versions(folder)})

    def path_of(self, version: str) -> Path:
        """The folder of ``version``.

        :raises ArtifactError: no such version.
        """
        if not _VERSION_RE.match(version):
            raise ArtifactError(f"invalid version name {version!r}")
        for folder in self._folders():
            if (folder / version / MANIFEST).is_file():
                return folder / version
        raise ArtifactError(f"no model version {version!r} in {self.writable} or {self.shipped}")

    def active(self) -> str | None:
        """The version the ``ACTIVE`` files name."""
        for folder in self._folders():
            pointer = folder / ACTIVE
            if pointer.is_file():
                name = pointer.read_text(encoding="utf-8").strip()
                if name:
                    return name
        versions = self.versions()
        return versions[-1] if versions else None

    def load(self, version: str | None = None) -> ModelArtifact:
        """Load ``version`` (the active one by default), verified.

        :raises ArtifactError: no model, or it fails verification.
        """
        name = version or self.active()
        if name is None:
            raise ArtifactError(f"no model in {self.writable} or {self.shipped}")
        return load_model(self.path_of(name))

"""Which model version is active, for every instance: the database is the one shared record.

Activating stores the version's files in ``model_versions`` (once) and appends a row to
``model_activations``; the latest row names the active version. Before any activation, the
file pointers decide (:meth:`moderation.ml.artifacts.ModelStore.active`).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from moderation.ml.artifacts import MANIFEST, ArtifactError, ModelStore, sha256_file
from moderation.storage.db import utcnow
from moderation.storage.tables import ModelActivation, ModelVersion

# Files of a version folder larger than this are not stored (a version is ~5-15 MB).
_MAX_FILE_BYTES = 200 << 20


@dataclass(frozen=True)
class Active:
    """The active version as recorded in the database."""

    version: str
    manifest_sha256: str


@dataclass(frozen=True)
class Activation:
    """One step of the activation history."""

    version: str
    actor: str
    activated_at: datetime


def active(connection: Connection | Session) -> Active | None:
    """The latest activation, or ``None`` when no version was ever activated here."""
    row = connection.execute(
        select(ModelActivation.version, ModelVersion.manifest_sha256)
        .join(ModelVersion, ModelVersion.version == ModelActivation.version)
        .order_by(ModelActivation.id.desc())
        .limit(1)
    ).first()
    return Active(row[0], row[1]) if row is not None else None


def history(session: Session, *, limit: int = 50) -> Sequence[Activation]:
    """The latest activations, newest first."""
    rows = session.execute(
        select(ModelActivation.version, ModelActivation.actor, ModelActivation.activated_at)
        .order_by(ModelActivation.id.desc())
        .limit(limit)
    ).all()
    return [Activation(*row) for row in rows]


def stored_versions(session: Session) -> set[str]:
    """The versions whose files are in the database."""
    return set(session.scalars(select(ModelVersion.version)))


def _archive(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.stat().st_size <= _MAX_FILE_BYTES:
                archive.write(path, path.name)
    return buffer.getvalue()


def activate(session: Session, store: ModelStore, version: str, *, actor: str) -> Active:
    """Make ``version`` the active one on every instance (the caller commits).

    The version is loaded and verified here first, so a broken one is never activated; its
    files are stored in the database the first time.

    :raises ArtifactError: no such version, it fails verification, or the database holds a
        different version of the same name.
    """
    folder = store.path_of(version)
    store.load(version)
    digest = sha256_file(folder / MANIFEST)
    stored = session.get(ModelVersion, version)
    if stored is None:
        session.add(ModelVersion(version=version, manifest_sha256=digest, archive=_archive(folder)))
        session.flush()  # before the activation that refers to it
    elif stored.manifest_sha256 != digest:
        raise ArtifactError(
            f"model {version} in {folder} differs from the one of that name in the database"
        )
    session.add(ModelActivation(version=version, actor=actor[:100], activated_at=utcnow()))
    session.flush()
    return Active(version, digest)


def previous(session: Session) -> str | None:
    """The version active before the current one (for a rollback), if any."""
    versions = session.scalars(
        select(ModelActivation.version).order_by(ModelActivation.id.desc()).limit(200)
    ).all()
    for name in versions[1:]:
        if name != versions[0]:
            return name
    return None


def ensure_local(connection: Connection | Session, store: ModelStore, wanted: Active) -> None:
    """Make sure this host has ``wanted``'s files, unpacking them from the database if not.

    :raises ArtifactError: the local copy or the stored one does not match the recorded hash.
    """
    try:
        folder = store.path_of(wanted.version)
    except ArtifactError:
        folder = None
    if folder is not None:
        if sha256_file(folder / MANIFEST) != wanted.manifest_sha256:
            raise ArtifactError(
                f"model {wanted.version} in {folder} differs from the one activated "
                "(its manifest's sha256 is not the recorded one)"
            )
        return
    archive = connection.execute(
        select(ModelVersion.archive).where(ModelVersion.version == wanted.version)
    ).scalar()
    if archive is None:
        raise ArtifactError(f"model {wanted.version} is not in the database")
    store.writable.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{wanted.version}-", dir=store.writable))
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
            for info in zipped.infolist():
                name = PurePosixPath(info.filename)
                if len(name.parts) != 1 or name.name in ("", ".", ".."):
                    raise ArtifactError(f"model {wanted.version}: unexpected file {info.filename}")
                (staging / name.name).write_bytes(zipped.read(info))
        if sha256_file(staging / MANIFEST) != wanted.manifest_sha256:
            raise ArtifactError(f"model {wanted.version} in the database fails its recorded hash")
        staging.chmod(0o755)
        os.replace(staging, store.writable / wanted.version)
    except OSError as exc:
        if not (store.writable / wanted.version / MANIFEST).is_file():  # another worker won
            raise ArtifactError(f"model {wanted.version} not unpacked: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)

"""Saving and loading model artifacts safely."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from moderation.domain.policy import Thresholds
from moderation.ml import artifacts
from moderation.ml.features import CommentInput, to_rows

pytestmark = pytest.mark.unit


def test_round_trip_gives_the_same_predictions(
    tiny_model_dir: Path, tiny_pipeline: Pipeline
) -> None:
    loaded = artifacts.load_model(tiny_model_dir / "tiny")
    rows = to_rows([CommentInput("buy cheap viagra"), CommentInput("thanks for the article")])
    for head in artifacts.HEADS:
        np.testing.assert_array_equal(
            loaded.pipelines[head].predict_proba(rows), tiny_pipeline.predict_proba(rows)
        )
    assert loaded.thresholds["spam"] == Thresholds(0.3, 0.8)
    assert loaded.version == "tiny"
    manifest = loaded.manifest
    assert manifest["trusted_types"] == []
    assert set(manifest["libraries"]) >= {"python", "scikit-learn", "skops", "numpy"}
    assert len(manifest["heads"]["spam"]["sha256"]) == 64


def test_saving_is_byte_for_byte_deterministic(tmp_path: Path, tiny_pipeline: Pipeline) -> None:
    # A copy has other id()s, which skops writes into the file (as another process would).
    for name, pipeline in (("a", tiny_pipeline), ("b", copy.deepcopy(tiny_pipeline))):
        artifacts.save_model(
            tmp_path,
            version=name,
            pipelines={"spam": pipeline, "abuse": pipeline},
            thresholds={h: Thresholds(0.1, 0.9) for h in artifacts.HEADS},
            metadata={},
        )
    assert (tmp_path / "a" / "spam.skops").read_bytes() == (
        tmp_path / "b" / "spam.skops"
    ).read_bytes()


def test_a_tampered_file_is_refused(tiny_model_dir: Path) -> None:
    path = tiny_model_dir / "tiny" / "abuse.skops"
    data = bytearray(path.read_bytes())
    data[-30] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactError, match="sha256"):
        artifacts.load_model(tiny_model_dir / "tiny")


def _shout(x: object) -> object:
    return x


def test_an_untrusted_type_is_refused_even_with_a_matching_hash(tiny_model_dir: Path) -> None:
    folder = tiny_model_dir / "tiny"
    evil = Pipeline([("f", FunctionTransformer(_shout))])
    sio.dump(evil, folder / "spam.skops")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["heads"]["spam"]["sha256"] = artifacts.sha256_file(folder / "spam.skops")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(artifacts.ArtifactError, match="untrusted types"):
        artifacts.load_model(folder)


def test_saving_an_untrusted_pipeline_is_refused(tmp_path: Path, tiny_pipeline: Pipeline) -> None:
    evil = Pipeline([("f", FunctionTransformer(_shout))])
    with pytest.raises(artifacts.ArtifactError, match="untrusted"):
        artifacts.save_model(
            tmp_path,
            version="evil",
            pipelines={"spam": evil, "abuse": tiny_pipeline},
            thresholds={h: Thresholds(0.1, 0.9) for h in artifacts.HEADS},
            metadata={},
        )


def test_another_scikit_learn_version_is_refused(tiny_model_dir: Path) -> None:
    folder = tiny_model_dir / "tiny"
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["libraries"]["scikit-learn"] = "0.24.2"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(artifacts.ArtifactError, match=r"scikit-learn 0\.24\.2"):
        artifacts.load_model(folder)


def test_missing_manifest_and_bad_version_names(tmp_path: Path, tiny_pipeline: Pipeline) -> None:
    with pytest.raises(artifacts.ArtifactError, match="no manifest"):
        artifacts.load_model(tmp_path)
    with pytest.raises(artifacts.ArtifactError, match="invalid version"):
        artifacts.save_model(
            tmp_path,
            version="../escape",
            pipelines={"spam": tiny_pipeline, "abuse": tiny_pipeline},
            thresholds={h: Thresholds(0.1, 0.9) for h in artifacts.HEADS},
            metadata={},
        )


def test_activate_and_active_version(tiny_model_dir: Path) -> None:
    assert artifacts.list_versions(tiny_model_dir) == ["tiny"]
    assert artifacts.active_version(tiny_model_dir) == "tiny"  # newest, no pointer yet
    artifacts.activate(tiny_model_dir, "tiny")
    assert (tiny_model_dir / "ACTIVE").read_text().strip() == "tiny"
    assert (tiny_model_dir / "ACTIVE").stat().st_mode & 0o777 == 0o644  # the service reads it
    with pytest.raises(artifacts.ArtifactError):
        artifacts.activate(tiny_model_dir, "nope")


def test_the_store_reads_shipped_versions_and_its_own_folder(
    tmp_path: Path, tiny_pipeline: Pipeline
) -> None:
    shipped, trained = tmp_path / "models", tmp_path / "var" / "models"
    for folder, version in ((shipped, "v1"), (trained, "v2")):
        artifacts.save_model(
            folder,
            version=version,
            pipelines={"spam": tiny_pipeline, "abuse": tiny_pipeline},
            thresholds={"spam": Thresholds(0.3, 0.8), "abuse": Thresholds(0.3, 0.8)},
            metadata={},
        )
    artifacts.activate(shipped, "v1")
    before = {p: p.read_bytes() for p in shipped.rglob("*") if p.is_file()}
    store = artifacts.ModelStore(trained, shipped)
    assert store.versions() == ["v1", "v2"]
    assert store.active() == "v1"  # no pointer in the writable folder: the shipped one
    assert store.load().path == shipped / "v1"
    artifacts.activate(trained, "v2")  # an older install's pointer wins over the shipped one
    assert store.active() == "v2"
    assert store.load().version == "v2"
    assert store.load("v1").path == shipped / "v1"
    assert {p: p.read_bytes() for p in shipped.rglob("*") if p.is_file()} == before
    with pytest.raises(artifacts.ArtifactError):
        store.load("v3")
    assert artifacts.ModelStore(tmp_path / "empty").active() is None

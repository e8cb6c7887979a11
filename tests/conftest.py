"""Shared fixtures: the shipped model, a tiny real pipeline, and the repository paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from moderation.ml import artifacts
from moderation.ml.features import CommentInput, to_rows
from moderation.ml.model import build_pipeline
from moderation.services.policy import Thresholds

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / "models"
DATA_DIR = ROOT / "training" / "data"

TINY_TEXTS = [
    ("thanks for the article, very clear", 0),
    ("i disagree with the minister on this", 0),
    ("the war has killed thousands, terrible", 0),
    ("great reporting, more of this please", 0),
    ("where can i read the full report", 0),
    ("the council vote was close", 0),
    ("agreed, well said", 0),
    ("interesting, i did not know that", 0),
    ("my town had the same problem last year", 0),
    ("the numbers in the second chart look wrong", 0),
    ("buy cheap viagra online now", 1),
    ("best casino bonus click here", 1),
    ("visit my site for seo backlinks", 1),
    ("earn money from home click link", 1),
    ("cheap pills no prescription buy now", 1),
    ("free bonus casino spins click", 1),
    ("crypto recovery expert whatsapp now", 1),
    ("buy followers cheap click here", 1),
    ("best seo service backlinks cheap", 1),
    ("loan offer low interest email now", 1),
]


@pytest.fixture(scope="session")
def tiny_pipeline() -> Pipeline:
    """The real head pipeline fitted on 20 strings."""
    pipeline = build_pipeline(c=10.0)
    rows = to_rows([CommentInput(text) for text, _ in TINY_TEXTS])
    pipeline.fit(rows, np.array([label for _, label in TINY_TEXTS]))
    return pipeline


@pytest.fixture
def tiny_model_dir(tmp_path: Path, tiny_pipeline: Pipeline) -> Path:
    """A models folder holding one version made of the tiny pipeline (both heads)."""
    models_dir = tmp_path / "models"
    artifacts.save_model(
        models_dir,
        version="tiny",
        pipelines={"spam": tiny_pipeline, "abuse": tiny_pipeline},
        thresholds={"spam": Thresholds(0.3, 0.8), "abuse": Thresholds(0.3, 0.8)},
        metadata={},
    )
    return models_dir


@pytest.fixture(scope="session")
def shipped_model() -> artifacts.ModelArtifact:
    """The model committed in models/ and named by models/ACTIVE."""
    version = artifacts.active_version(MODELS_DIR)
    assert version is not None, "no shipped model in models/"
    return artifacts.load_model(MODELS_DIR / version)

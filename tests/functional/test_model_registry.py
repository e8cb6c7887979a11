"""A model version activated through one instance is served by every instance on the database.

Two apps stand for two instances on two hosts: one database, each its own models folder. The
second has never seen the new version's files; it unpacks them from the database and checks
them against the hash recorded at activation.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sklearn.pipeline import Pipeline
from sqlalchemy import func, select

from moderation import create_app
from moderation.domain.policy import Role, Thresholds
from moderation.ml import artifacts
from moderation.services import model_registry
from moderation.services.moderators import create_moderator, create_token
from moderation.storage.tables import ModelActivation
from moderation.web.database import get_engine, get_session
from tests.conftest import _postgres_or_skip, scratch_database

pytestmark = pytest.mark.functional


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database that commits for real, shared by the instances of a test."""
    if request.param == "sqlite":
        with scratch_database(f"sqlite:///{tmp_path / 'shared.db'}") as url:
            yield url
    else:
        with scratch_database(_postgres_or_skip()) as url:
            yield url


def _version(folder: Path, name: str, pipeline: Pipeline, allow: float) -> None:
    artifacts.save_model(
        folder,
        version=name,
        pipelines={"spam": pipeline, "abuse": pipeline},
        thresholds={h: Thresholds(allow, 0.9) for h in artifacts.HEADS},
        metadata={},
    )


def _instance(url: str, models: Path, **config: Any) -> Flask:
    return create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "registry-test",
            "DATABASE_URL": url,
            "SCORER_BACKEND": "sklearn",
            "MODELS_DIR": str(models),
            "SHIPPED_MODELS_DIR": "",
            "RELOAD_SECONDS": 0.1,
            "RATELIMIT_ENABLED": False,
            **config,
        }
    )


def _token(app: Flask, name: str, role: Role) -> str:
    with app.app_context():
        session = get_session()
        create_moderator(session, name=name, role=role, password="long enough pw")
        token = create_token(session, name=name)
        session.commit()
    return token


def _serving(app: Flask) -> str | None:
    holder = app.extensions["moderation.scorer"]
    time.sleep(0.15)  # past the reload interval
    scorer = holder.get()
    return scorer.version if scorer is not None else None


@pytest.fixture
def two_hosts(
    shared_url: str, tmp_path: Path, tiny_pipeline: Pipeline
) -> Iterator[tuple[Flask, Flask, Path]]:
    """Instance a has versions v1 and v2; instance b only v1; both ship v1 as active."""
    a, b = tmp_path / "a", tmp_path / "b"
    _version(a, "v1", tiny_pipeline, 0.3)
    shutil.copytree(a / "v1", b / "v1")  # the same release on both hosts
    for folder in (a, b):
        artifacts.activate(folder, "v1")
    _version(a, "v2", tiny_pipeline, 0.4)
    first, second = _instance(shared_url, a), _instance(shared_url, b)
    yield first, second, b
    for app in (first, second):
        get_engine(app).dispose()


def test_a_version_activated_on_one_instance_is_served_by_all(
    two_hosts: tuple[Flask, Flask, Path],
) -> None:
    first, second, b_models = two_hosts
    assert _serving(first) == _serving(second) == "v1"
    token = _token(first, "root", Role.ADMIN)
    answer = first.test_client().put(
        "/api/v1/models/active",
        json={"version": "v2"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["active"] == "v2"
    assert _serving(first) == "v2"
    assert not (b_models / "v2").exists()
    assert _serving(second) == "v2"  # unpacked from the database, verified, loaded
    assert (b_models / "v2" / "manifest.json").read_bytes() == (
        b_models.parent / "a" / "v2" / "manifest.json"
    ).read_bytes()
    listed = second.test_client().get(
        "/api/v1/models", headers={"Authorization": f"Bearer {token}"}
    )
    body = listed.get_json()
    assert body["active"] == body["serving"] == "v2"
    assert body["activations"][0]["actor"] == "root"
    # A rollback through the other instance: both follow back.
    back = second.test_client().put(
        "/api/v1/models/active",
        json={"version": "v1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert back.status_code == 200
    assert _serving(first) == _serving(second) == "v1"


def test_a_local_copy_that_differs_from_the_activated_one_is_not_served(
    two_hosts: tuple[Flask, Flask, Path], tiny_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, b_models = two_hosts
    _version(b_models, "v2", tiny_pipeline, 0.2)  # same name, other thresholds
    token = _token(first, "root", Role.ADMIN)
    first.test_client().put(
        "/api/v1/models/active",
        json={"version": "v2"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert _serving(first) == "v2"
    assert _serving(second) == "v1"  # keeps serving what it had
    ready = second.test_client().get("/readyz")
    assert ready.status_code == 200
    # The refused version's files are not fetched from the database again at every look.
    fetches: list[str] = []
    real = model_registry.ensure_local
    monkeypatch.setattr(
        model_registry,
        "ensure_local",
        lambda *a, **k: fetches.append(a[2].version) or real(*a, **k),
    )
    for _ in range(3):
        assert _serving(second) == "v1"
    assert fetches == []


def test_only_admins_activate_and_only_versions_that_load(
    two_hosts: tuple[Flask, Flask, Path],
) -> None:
    first, _, _ = two_hosts
    moderator = _token(first, "mo", Role.MODERATOR)
    admin = _token(first, "root", Role.ADMIN)
    client = first.test_client()
    refused = client.put(
        "/api/v1/models/active",
        json={"version": "v2"},
        headers={"Authorization": f"Bearer {moderator}"},
    )
    assert refused.status_code == 403
    unknown = client.put(
        "/api/v1/models/active",
        json={"version": "v9"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert unknown.status_code == 400
    assert "v9" in unknown.get_json()["message"]
    broken = client.put(
        "/api/v1/models/active", json={"version": 7}, headers={"Authorization": f"Bearer {admin}"}
    )
    assert broken.status_code == 422
    with first.app_context():
        assert get_session().scalar(select(func.count()).select_from(ModelActivation)) == 0
    assert _serving(first) == "v1"


def test_an_unreadable_pointer_keeps_the_current_model_and_the_service_up(
    shared_url: str, tmp_path: Path, tiny_pipeline: Pipeline
) -> None:
    models = tmp_path / "m"
    _version(models, "v1", tiny_pipeline, 0.3)
    app = _instance(shared_url, models)
    assert _serving(app) == "v1"
    (models / "ACTIVE").mkdir()  # reading it fails (a permission error reads the same way)
    assert _serving(app) == "v1"
    client = app.test_client()
    assert client.get("/readyz").status_code == 200
    posted = client.post(
        "/comments",
        json={
            "comment": "A fair point.",
            "author": "A",
            "email": "a@example.org",
            "comment_post_ID": "a1",
        },
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert posted.status_code == 201, posted.get_json()
    with app.app_context():
        assert model_registry.active(get_session()) is None
    get_engine(app).dispose()

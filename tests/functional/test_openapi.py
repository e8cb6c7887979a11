"""/openapi.json stays true: routes and document agree, and schemathesis finds no 5xx."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from moderation import create_app
from moderation.domain.policy import Role
from moderation.schemas import KNOWN_FIELDS, CommentIn
from moderation.services.moderators import create_moderator, create_token
from moderation.services.sitekeys import create_site_key
from moderation.web import responses
from moderation.web.database import get_session
from moderation.web.openapi import REQUEST_MODELS, _SchemaGenerator, document
from moderation.web.requests import (
    ActivateIn,
    AuthorRuleIn,
    BulkIn,
    ClaimNextIn,
    DecisionIn,
    UndoIn,
)
from tests.conftest import served, sqlite_app

pytestmark = pytest.mark.functional

# Served but not part of the JSON API document, and why.
UNDOCUMENTED = {
    "/metrics": "Prometheus text format",
    "/openapi.json": "the document itself",
    "/moderate": "HTML page",
    "/moderate/login": "HTML page",
    "/moderate/stats": "HTML page",
    "/moderate/logout": "HTML form action",
    "/moderate/comments/<int:comment_id>/decide": "HTML form action",
    "/moderate/comments/<int:comment_id>/undo": "HTML form action",
    "/moderate/authors/rules": "HTML form action",
    "/demo/article": "HTML page",
    "/static/<path:filename>": "static files",
}
# Akismet's API is form-encoded text, documented by Akismet itself.
VENDOR_PREFIXES = ("/1.1/", "/1.2/")


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_json_route_is_documented_and_every_documented_route_served() -> None:
    app = create_app({"ENV": "testing", "SECRET_KEY": "x", "SCORER_BACKEND": "fixed"})
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule in UNDOCUMENTED or rule.rule.startswith(VENDOR_PREFIXES):
            continue
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        served.setdefault(_openapi_path(rule.rule), set()).update(methods)
    documented = {path: set(ops) for path, ops in document()["paths"].items()}
    assert served == documented


@pytest.mark.parametrize(
    ("path", "method", "model"),
    [
        ("/comments", "post", CommentIn),
        ("/api/v1/reviews/claim", "post", ClaimNextIn),
        ("/api/v1/reviews/{comment_id}/decision", "post", DecisionIn),
        ("/api/v1/reviews/{comment_id}/undo", "post", UndoIn),
        ("/api/v1/reviews/bulk", "post", BulkIn),
        ("/api/v1/authors/rules", "post", AuthorRuleIn),
        ("/api/v1/models/active", "put", ActivateIn),
    ],
)
def test_request_bodies_are_the_schemas_of_the_models_that_validate_them(
    path: str, method: str, model: type[BaseModel]
) -> None:
    doc = document()
    content = doc["paths"][path][method]["requestBody"]["content"]
    assert {media["schema"]["$ref"] for media in content.values()} == {
        f"#/components/schemas/{model.__name__}"
    }
    schema = doc["components"]["schemas"][model.__name__]
    fields = model.model_json_schema(mode="validation")["properties"]
    assert set(fields) <= set(schema["properties"])
    if model is CommentIn:  # every alias a post may use, and only those
        assert set(schema["properties"]) == KNOWN_FIELDS | {"form_token", "fax_number"}
        assert schema["additionalProperties"] is False


def test_every_schema_of_an_operation_is_a_component_generated_from_a_model() -> None:
    """Answers (and the bodies validated by hand) are the schemas of the models in
    ``moderation.web.responses``; no operation carries a schema of its own."""
    doc = document()
    models = {
        name: model
        for name, model in vars(responses).items()
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__module__ == responses.__name__
    }
    answers: set[str] = set()
    bodies: set[str] = set()
    for ops in doc["paths"].values():
        for op in ops.values():
            contents = [(answers, a.get("content", {})) for a in op["responses"].values()]
            contents.append((bodies, op.get("requestBody", {}).get("content", {})))
            for names, content in contents:
                for media, entry in content.items():
                    if media == "text/html":  # a form post's page
                        assert entry["schema"] == {"type": "string"}
                        continue
                    assert set(entry["schema"]) == {"$ref"}
                    names.add(entry["schema"]["$ref"].removeprefix("#/components/schemas/"))
    assert answers
    assert answers <= set(models)
    assert bodies - {m.__name__ for m in REQUEST_MODELS} <= set(models)
    _, generated = models_json_schema(
        [(models[name], "serialization") for name in sorted(answers | bodies & set(models))],
        ref_template="#/components/schemas/{model}",
        schema_generator=_SchemaGenerator,
    )
    for name, schema in generated["$defs"].items():
        assert doc["components"]["schemas"][name] == schema, name


def test_the_document_is_served() -> None:
    app = create_app({"ENV": "testing", "SECRET_KEY": "x", "SCORER_BACKEND": "fixed"})
    body = app.test_client().get("/openapi.json").json
    assert body["openapi"] == "3.1.0"
    assert "/comments" in body["paths"]


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Flask, str, str]:
    app = sqlite_app(
        tmp_path_factory.mktemp("openapi") / "api.db",
        SCORER_BACKEND="sklearn",
        FLOOD_SECONDS=0,
        RATELIMIT_ENABLED=False,
    )
    with app.app_context():
        session = get_session()
        create_moderator(session, name="fuzz", role=Role.ADMIN, password="fuzzing-pass")
        token = create_token(session, name="fuzz")
        _, site_key = create_site_key(session, name="fuzz-site")
        session.commit()
    return app, token, site_key


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tag", "credential"),
    [
        ("intake", None),
        ("publishing", None),
        ("operations", None),
        ("moderators", "Authorization"),
        ("perspective", "X-Goog-Api-Key"),
    ],
)
def test_schemathesis_finds_no_5xx_and_no_schema_violation(
    live_app: tuple[Flask, str, str], tag: str, credential: str | None
) -> None:
    app, token, site_key = live_app
    headers = {
        "Authorization": f"Authorization: Bearer {token}",
        "X-Goog-Api-Key": f"X-Goog-Api-Key: {site_key}",
    }
    with served(app) as base:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                f"{base}/openapi.json",
                "--include-tag",
                tag,
                "--max-examples",
                "30",
                "--seed",
                "20261125",
                "--generation-deterministic",
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,"
                "response_schema_conformance",
                "--request-timeout",
                "10",
                "--workers",
                "1",
                *(["-H", headers[credential]] if credential else []),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report

"""Bad input: every malformed, oversized, mistyped or hostile request gets a clean 4xx.

Each refused POST must also leave the database exactly as it was: the row counts of
``comments``, ``predictions`` and ``decisions`` are compared before and after. One comment is
seeded first so that a deletion (or a dropped table) would show as well as an insertion.
"""

from __future__ import annotations

import http.client
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from moderation.storage.tables import Comment, DecisionRecord, Prediction
from moderation.web.database import get_session
from tests.conftest import served, sqlite_app
from tests.factories import make_comment

pytestmark = pytest.mark.functional

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
AS_JSON = {"Accept": "application/json"}
AS_HTML = {"Accept": "text/html"}
DEFAULT_LIMIT = 256 * 1024

Counts = tuple[int, int, int]


def payload(**overrides: Any) -> dict[str, Any]:
    """A valid comment; ``None`` removes a field."""
    data: dict[str, Any] = {
        "comment": "The council should publish the full report before the vote.",
        "author": "Maria Lopez",
        "email": "maria@example.org",
        "url": "",
        "comment_post_ID": "42",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def counts(session: Session) -> Counts:
    """Rows in comments, predictions and decisions."""
    comments, predictions, decisions = (
        session.scalar(select(func.count()).select_from(table)) or 0
        for table in (Comment, Prediction, DecisionRecord)
    )
    return comments, predictions, decisions


@pytest.fixture
def before(db_session: Session) -> Counts:
    """Seed one stored comment and return the row counts a refused request must leave."""
    make_comment(db_session, article_id="seeded-article", content="A seeded comment.")
    db_session.commit()
    seeded = counts(db_session)
    assert seeded == (1, 1, 1)
    return seeded


def error_body(response: TestResponse, status: int, error: str | None = None) -> dict[str, Any]:
    """Assert a JSON error answer with ``status`` and a non-empty message; return its body."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:500]
    assert response.mimetype == JSON, text[:500]
    body = response.get_json()
    assert isinstance(body, dict)
    assert isinstance(body.get("message"), str)
    assert body["message"].strip()
    if error is not None:
        assert body["error"] == error
    return body


def field_errors(body: dict[str, Any]) -> set[tuple[str, str]]:
    """``{(field, code)}`` of a 422 body, after checking every entry has a message."""
    assert body["error"] == "validation_error"
    for entry in body["errors"]:
        assert entry["message"].strip(), entry
    return {(e["field"], e["code"]) for e in body["errors"]}


def post_raw(
    client: FlaskClient, body: bytes | str, content_type: str | None, **kwargs: Any
) -> TestResponse:
    """POST a body exactly as given."""
    data = body.encode() if isinstance(body, str) else body
    if content_type is None:
        return client.post("/comments", data=data, **kwargs)
    return client.post("/comments", data=data, content_type=content_type, **kwargs)


def multipart(parts: list[tuple[str, bytes]], boundary: str = "b0undary") -> tuple[bytes, str]:
    """A hand-made multipart body (so it can carry any bytes) and its content type."""
    chunks = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (boundary.encode(), name.encode(), value)
        for name, value in parts
    ]
    body = b"".join(chunks) + b"--%s--\r\n" % boundary.encode()
    return body, f"{MULTIPART}; boundary={boundary}"


# --------------------------------------------------------------------------- malformed JSON

HUGE_INT = "9" * 5000  # over Python's 4300-digit int/str conversion limit


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param('{"comment": "unfinished', "not valid JSON", id="truncated-string"),
        pytest.param('{"comment": "x", "author": ', "not valid JSON", id="truncated-object"),
        pytest.param(json.dumps(payload()) + " garbage", "not valid JSON", id="trailing-garbage"),
        pytest.param(json.dumps(payload()) + "{}", "not valid JSON", id="two-objects"),
        pytest.param("{'comment': 'single quotes'}", "not valid JSON", id="single-quotes"),
        pytest.param('{"comment": "x",}', "not valid JSON", id="trailing-comma"),
        pytest.param("", "not valid JSON", id="empty-body"),
        pytest.param("   \n", "not valid JSON", id="whitespace-only"),
        pytest.param("\ufeff" + json.dumps(payload()), "not valid JSON", id="byte-order-mark"),
        pytest.param(json.dumps([payload()]), "must be an object", id="array"),
        pytest.param('"a comment"', "must be an object", id="string"),
        pytest.param("42", "must be an object", id="number"),
        pytest.param("null", "must be an object", id="null"),
        pytest.param("true", "must be an object", id="true"),
        pytest.param(HUGE_INT, "not valid JSON", id="huge-integer-top-level"),
        pytest.param(
            json.dumps(payload())[:-1] + f', "comment_parent": {HUGE_INT}}}',
            "not valid JSON",
            id="huge-integer-in-a-field",
        ),
    ],
)
def test_malformed_json_is_400_with_a_message(
    client: FlaskClient, db_session: Session, before: Counts, body: str, fragment: str
) -> None:
    response = post_raw(client, body, JSON)
    answer = error_body(response, 400, "bad_request")
    assert fragment in answer["message"]
    assert counts(db_session) == before


def test_huge_integer_message_names_the_digit_limit(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    response = post_raw(client, '{"comment_parent": ' + HUGE_INT + "}", JSON)
    answer = error_body(response, 400, "bad_request")
    assert "digits" in answer["message"]
    assert counts(db_session) == before


@pytest.mark.parametrize("content_type", ["application/ld+json", "application/json; charset=utf-8"])
def test_json_variants_are_parsed_as_json(
    client: FlaskClient, db_session: Session, before: Counts, content_type: str
) -> None:
    response = post_raw(client, '{"comment": ', content_type)
    assert "not valid JSON" in error_body(response, 400, "bad_request")["message"]
    assert counts(db_session) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 1000 + "]" * 1000, id="nested-arrays"),
        pytest.param('{"comment": ' + "[" * 1000, id="nested-unterminated-in-a-field"),
        pytest.param('{"a": ' * 1000 + "1" + "}" * 1000, id="nested-objects"),
    ],
)
def test_deeply_nested_json_is_400(
    client: FlaskClient, db_session: Session, before: Counts, body: str
) -> None:
    assert len(body.encode()) < DEFAULT_LIMIT
    response = post_raw(client, body, JSON)
    error_body(response, 400, "bad_request")
    assert counts(db_session) == before


def test_json_error_message_reads_cleanly(client: FlaskClient) -> None:
    response = post_raw(client, '{"comment": "unfinished', JSON)
    message = error_body(response, 400, "bad_request")["message"]
    assert " at at " not in message


# --------------------------------------------------------------------------- content types


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("text/plain", json.dumps(payload()), id="json-body-as-text-plain"),
        pytest.param("text/plain; charset=utf-8", "just some words", id="text-plain"),
        pytest.param("application/xml", "<comment><text>hi</text></comment>", id="application-xml"),
        pytest.param("text/xml", "<comment/>", id="text-xml"),
        pytest.param("application/octet-stream", b"\x00\x01\x02", id="octet-stream"),
        pytest.param("text/json", json.dumps(payload()), id="text-json"),
        pytest.param(None, json.dumps(payload()), id="no-content-type"),
        pytest.param(None, b"", id="no-content-type-no-body"),
    ],
)
def test_wrong_or_missing_content_type_is_415(
    client: FlaskClient,
    db_session: Session,
    before: Counts,
    content_type: str | None,
    body: str | bytes,
) -> None:
    response = post_raw(client, body, content_type)
    answer = error_body(response, 415, "unsupported_media_type")
    assert "application/x-www-form-urlencoded" in answer["message"]
    assert "JSON" in answer["message"]
    assert counts(db_session) == before


def test_wrong_content_type_from_a_browser_gets_a_415_page(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    response = post_raw(client, json.dumps(payload()), "text/plain", headers=AS_HTML)
    assert response.status_code == 415
    assert response.mimetype == "text/html"
    assert "Send the comment as a form" in response.get_data(as_text=True)
    assert counts(db_session) == before


def test_json_body_labelled_as_a_form_is_refused_field_by_field(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    response = post_raw(client, json.dumps(payload()), FORM, headers=AS_JSON)
    errors = field_errors(error_body(response, 422))
    assert ("comment", "require_valid_comment") in errors
    assert ("author", "require_name") in errors
    assert counts(db_session) == before


# --------------------------------------------------------------------------- size limits


def test_default_body_limit_is_256_kib(app: Flask) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == DEFAULT_LIMIT


@pytest.mark.parametrize(
    ("kind", "field", "size"),
    [
        pytest.param("json", "comment", DEFAULT_LIMIT + 1, id="json-just-over"),
        pytest.param("json", "comment", 1_000_000, id="json-megabyte-comment"),
        pytest.param("json", "email", 1_000_000, id="json-megabyte-email"),
        pytest.param("form", "comment", DEFAULT_LIMIT + 1, id="form-just-over"),
        pytest.param("form", "author", 1_000_000, id="form-megabyte-author"),
        pytest.param("multipart", "comment", DEFAULT_LIMIT + 1, id="multipart-just-over"),
        pytest.param("multipart", "url", 2_000_000, id="multipart-two-megabyte-url"),
    ],
)
def test_body_over_the_default_limit_is_413(
    client: FlaskClient, db_session: Session, before: Counts, kind: str, field: str, size: int
) -> None:
    data = payload(**{field: "a" * size})
    if kind == "json":
        response = client.post("/comments", json=data)
    elif kind == "form":
        response = client.post("/comments", data=data, headers=AS_JSON)
    else:  # built by hand: the test client spools big multipart bodies to an unclosed file
        body, content_type = multipart([(k, str(v).encode()) for k, v in data.items()])
        response = post_raw(client, body, content_type, headers=AS_JSON)
    answer = error_body(response, 413, "request_entity_too_large")
    assert "exceeds the capacity limit" in answer["message"]
    assert counts(db_session) == before


def test_browser_form_over_the_limit_gets_a_413_page(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    response = client.post("/comments", data=payload(comment="a" * 300_000), headers=AS_HTML)
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    assert "exceeds the capacity limit" in response.get_data(as_text=True)
    assert counts(db_session) == before


def test_chunked_body_over_the_limit_is_413(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    body = json.dumps(payload(comment="a" * 300_000)).encode()
    response = client.post(
        "/comments",
        input_stream=io.BytesIO(body),
        content_type=JSON,
        environ_overrides={"wsgi.input_terminated": True},  # no Content-Length, like chunked
    )
    error_body(response, 413, "request_entity_too_large")
    assert counts(db_session) == before


def _json_of_size(size: int) -> bytes:
    base = json.dumps(payload(comment="")).encode()
    body = json.dumps(payload(comment="x" * (size - len(base)))).encode()
    assert len(body) == size
    return body


def _form_of_size(size: int) -> bytes:
    base = urlencode(payload(comment="")).encode()
    body = urlencode(payload(comment="x" * (size - len(base)))).encode()
    assert len(body) == size
    return body


@pytest.mark.parametrize(
    ("make_body", "content_type"),
    [pytest.param(_json_of_size, JSON, id="json"), pytest.param(_form_of_size, FORM, id="form")],
)
def test_a_smaller_configured_limit_is_enforced_exactly(
    make_app: Callable[..., Flask],
    db_session: Session,
    before: Counts,
    make_body: Callable[[int], bytes],
    content_type: str,
) -> None:
    client = make_app(MAX_CONTENT_LENGTH=1024).test_client()
    over = post_raw(client, make_body(1025), content_type, headers=AS_JSON)
    error_body(over, 413, "request_entity_too_large")
    far_over = post_raw(client, make_body(4096), content_type, headers=AS_JSON)
    error_body(far_over, 413, "request_entity_too_large")
    assert counts(db_session) == before
    at_limit = post_raw(client, make_body(1024), content_type, headers=AS_JSON)
    assert at_limit.status_code == 201, at_limit.get_data(as_text=True)
    assert counts(db_session) == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("comment", "a" * 200_000, "comment_too_long"),
        ("author", "a" * 100_000, "comment_author_column_length"),
        ("email", "a" * 100_000 + "@example.org", "comment_author_email_column_length"),
        ("url", "https://example.org/" + "a" * 100_000, "comment_author_url_column_length"),
    ],
)
def test_long_field_under_the_body_limit_is_422(
    client: FlaskClient, db_session: Session, before: Counts, field: str, value: str, code: str
) -> None:
    response = client.post("/comments", json=payload(**{field: value}))
    assert field_errors(error_body(response, 422)) == {(field, code)}
    assert counts(db_session) == before


# --------------------------------------------------------------------------- invalid UTF-8


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"\xff\xfe", id="ff-fe"),
        pytest.param(b"\xc3", id="truncated-sequence"),
        pytest.param(b"\xc0\xaf", id="overlong"),
        pytest.param(b"\xed\xa0\x80", id="encoded-surrogate"),
        pytest.param("café".encode("latin-1"), id="latin-1"),
    ],
)
def test_invalid_utf8_in_json_is_400(
    client: FlaskClient, db_session: Session, before: Counts, bad: bytes
) -> None:
    body = json.dumps(payload(comment="PLACEHOLDER")).encode().replace(b"PLACEHOLDER", bad)
    response = post_raw(client, body, JSON)
    answer = error_body(response, 400, "bad_request")
    assert answer["message"] == "The request body is not valid UTF-8."
    assert counts(db_session) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"comment=caf\xe9", "The request body is not valid UTF-8.", id="raw-value"),
        pytest.param(b"comm\xffent=hi", "The request body is not valid UTF-8.", id="raw-key"),
        pytest.param(b"comment=%ff", "The form data is not valid UTF-8.", id="pct-ff-value"),
        pytest.param(b"comm%ffent=hi", "The form data is not valid UTF-8.", id="pct-ff-key"),
        pytest.param(b"comment=%c0%af", "The form data is not valid UTF-8.", id="pct-overlong"),
        pytest.param(b"comment=%ed%a0%80", "The form data is not valid UTF-8.", id="pct-surrogate"),
        pytest.param(b"comment=caf%e9", "The form data is not valid UTF-8.", id="pct-latin-1"),
    ],
)
def test_invalid_utf8_in_a_form_is_400(
    client: FlaskClient, db_session: Session, before: Counts, body: bytes, message: str
) -> None:
    full = urlencode(payload(comment=None)).encode() + b"&" + body
    response = post_raw(client, full, FORM, headers=AS_JSON)
    assert error_body(response, 400, "bad_request")["message"] == message
    assert counts(db_session) == before


def test_invalid_utf8_from_a_browser_gets_a_400_page(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    full = urlencode(payload(comment=None)).encode() + b"&comment=%ff"
    response = post_raw(client, full, FORM, headers=AS_HTML)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "The form data is not valid UTF-8." in response.get_data(as_text=True)
    assert counts(db_session) == before


def test_invalid_utf8_in_a_multipart_form_is_400(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    parts = [(k, str(v).encode()) for k, v in payload(comment=None).items()]
    body, content_type = multipart([*parts, ("comment", b"bad \xff\xfe bytes")])
    response = post_raw(client, body, content_type, headers=AS_JSON)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "UTF-8" in error_body(response, 400)["message"]
    assert counts(db_session) == before


# --------------------------------------------------------------------------- control characters

CONTROL_CASES = {
    "comment": ("The report{}is late.", "comment_invalid_characters"),
    "author": ("Maria{}Lopez", "name_invalid_characters"),
    "email": ("maria{}@example.org", "require_valid_email"),
    "url": ("https://maria.example.org/a{}b", "invalid_url"),
}


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f"], ids=["nul", "bel", "esc", "del"])
@pytest.mark.parametrize("field", list(CONTROL_CASES))
def test_control_characters_in_json_are_422_on_the_field(
    client: FlaskClient, db_session: Session, before: Counts, field: str, char: str
) -> None:
    template, code = CONTROL_CASES[field]
    response = client.post("/comments", json=payload(**{field: template.format(char)}))
    assert field_errors(error_body(response, 422)) == {(field, code)}
    assert counts(db_session) == before


@pytest.mark.parametrize("field", list(CONTROL_CASES))
def test_percent_encoded_nul_in_a_form_is_422_on_the_field(
    client: FlaskClient, db_session: Session, before: Counts, field: str
) -> None:
    template, code = CONTROL_CASES[field]
    value = template.format("\x00")
    body = urlencode(payload(**{field: value}))
    assert "%00" in body
    response = post_raw(client, body, FORM, headers=AS_JSON)
    assert field_errors(error_body(response, 422)) == {(field, code)}
    assert counts(db_session) == before


def test_newlines_and_tabs_in_the_comment_are_fine(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    text = "First line.\nSecond line.\r\n\tIndented third line."
    response = client.post("/comments", json=payload(comment=text))
    assert response.status_code == 201, response.get_data(as_text=True)
    stored = db_session.get(Comment, response.json["id"])
    assert stored is not None
    assert stored.content == text
    assert counts(db_session) == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("author", "Maria\tLopez", "name_invalid_characters"),
        ("author", "Maria\nLopez", "name_invalid_characters"),
    ],
)
def test_line_breaks_in_the_name_are_refused(
    client: FlaskClient, db_session: Session, before: Counts, field: str, value: str, code: str
) -> None:
    response = client.post("/comments", json=payload(**{field: value}))
    assert field_errors(error_body(response, 422)) == {(field, code)}
    assert counts(db_session) == before


@pytest.mark.parametrize(
    "field",
    ["comment", "author", "url"],
)
def test_lone_surrogates_in_json_are_refused_cleanly(
    client: FlaskClient, db_session: Session, before: Counts, field: str
) -> None:
    value = {
        "comment": "The report \udfff is late.",
        "author": "Maria \udfff Lopez",
        "url": "https://maria.example.org/\udfff",
    }[field]
    response = post_raw(client, json.dumps(payload(**{field: value})), JSON)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    body = error_body(response, response.status_code)
    messages = [body["message"]] + [e["message"] for e in body.get("errors", [])]
    assert not any("codec" in m or "surrogates" in m for m in messages), messages
    assert "value_error" not in {e["code"] for e in body.get("errors", [])}
    assert counts(db_session) == before


# --------------------------------------------------------------------------- unknown fields


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"submit": "Post Comment"}, id="submit"),
        pytest.param({"commnet": "a typo"}, id="typo"),
        pytest.param({"status": "approved"}, id="status"),
        pytest.param({"is_admin": True}, id="is_admin"),
        pytest.param({"id": 1}, id="id"),
        pytest.param({"": "empty name"}, id="empty-name"),
    ],
)
def test_unknown_json_fields_are_422(
    client: FlaskClient, db_session: Session, before: Counts, extra: dict[str, Any]
) -> None:
    response = client.post("/comments", json={**payload(), **extra})
    (name,) = extra
    assert field_errors(error_body(response, 422)) == {(name, "unknown_field")}
    assert counts(db_session) == before


def test_unknown_and_invalid_json_fields_are_reported_together(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    long_name = "x" * 500
    response = client.post(
        "/comments",
        json={**payload(email="not-an-email"), "submit": "Post", long_name: 1},
    )
    assert field_errors(error_body(response, 422)) == {
        ("email", "require_valid_email"),
        ("submit", "unknown_field"),
        (long_name[:100], "unknown_field"),
    }
    assert counts(db_session) == before


@pytest.mark.parametrize("content_type", [FORM, MULTIPART])
def test_forms_may_carry_unknown_fields_and_they_change_nothing(
    make_app: Callable[..., Flask], db_session: Session, before: Counts, content_type: str
) -> None:
    client = make_app(FIXED_SCORES={"spam": 0.6, "abuse": 0.01}).test_client()
    response = client.post(
        "/comments",
        data={**payload(), "submit": "Post Comment", "status": "approved", "id": "1"},
        content_type=content_type,
        headers=AS_JSON,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["status"] == "pending"  # the posted "status" is not obeyed
    stored = db_session.get(Comment, response.json["id"])
    assert stored is not None
    assert stored.status.value == "pending"
    assert counts(db_session) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_too_many_form_fields_are_400(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    fields = {**payload(), **{f"extra{i}": "1" for i in range(60)}}
    response = post_raw(client, urlencode(fields), FORM, headers=AS_JSON)
    assert error_body(response, 400, "bad_request")["message"] == "The form has too many fields."
    assert counts(db_session) == before


# --------------------------------------------------------------------------- JSON types


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("comment", ["a", "list"], "invalid_comment"),
        ("comment", {"text": "an object"}, "invalid_comment"),
        ("comment", True, "invalid_comment"),
        ("comment", 1.5, "invalid_comment"),
        ("comment", None, "require_valid_comment"),
        ("author", ["Maria"], "invalid_name"),
        ("author", {"first": "Maria"}, "invalid_name"),
        ("author", False, "invalid_name"),
        ("author", None, "require_name"),
        ("email", ["maria@example.org"], "invalid_email"),
        ("email", True, "invalid_email"),
        ("email", 12345, "require_valid_email"),
        ("url", ["https://example.org"], "invalid_url"),
        ("url", True, "invalid_url"),
        ("url", 12345, "invalid_url"),
        ("comment_post_ID", ["42"], "invalid_article"),
        ("comment_post_ID", {"id": 42}, "invalid_article"),
        ("comment_post_ID", True, "invalid_article"),
        ("comment_post_ID", None, "require_article"),
        ("comment_parent", ["1"], "invalid_parent"),
        ("comment_parent", True, "invalid_parent"),
        ("comment_parent", 1.5, "invalid_parent"),
        ("comment_parent", -3, "invalid_parent"),
        ("comment_parent", 2**63, "invalid_parent"),
        ("redirect_to", ["/a"], "invalid_field"),
    ],
)
def test_wrong_json_types_are_422(
    client: FlaskClient, db_session: Session, before: Counts, field: str, value: Any, code: str
) -> None:
    data = payload(**{field: "drop-me"})
    data[field] = value
    response = client.post("/comments", json=data)
    assert field_errors(error_body(response, 422)) == {(field, code)}
    assert counts(db_session) == before


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_not_text(
    client: FlaskClient, db_session: Session, before: Counts, literal: str
) -> None:
    body = json.dumps(payload(comment="PLACEHOLDER")).replace('"PLACEHOLDER"', literal)
    response = post_raw(client, body, JSON)
    assert field_errors(error_body(response, 422)) == {("comment", "invalid_comment")}
    assert counts(db_session) == before


@pytest.mark.parametrize(
    ("field", "value", "column", "stored"),
    [
        ("author", 7, "author", "7"),
        ("comment", 12345, "content", "12345"),
        ("comment_post_ID", 42, "article_id", "42"),
    ],
)
def test_integers_are_taken_as_text(
    client: FlaskClient,
    db_session: Session,
    before: Counts,
    field: str,
    value: int,
    column: str,
    stored: str,
) -> None:
    response = client.post("/comments", json=payload(**{field: value}))
    assert response.status_code == 201, response.get_data(as_text=True)
    comment = db_session.get(Comment, response.json["id"])
    assert comment is not None
    assert getattr(comment, column) == stored


# --------------------------------------------------------------------------- HTML and script

SCRIPT_COMMENT = "<script>alert('comment')</script><img src=x onerror=alert(1)> Nice piece."
SCRIPT_AUTHOR = '<b onmouseover="alert(1)">Maria</b><script>alert(2)</script>'
SCRIPT_URL = "http://maria.example.org/?q=<script>alert(3)</script>"


def test_html_is_stored_and_served_verbatim_as_json_data(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    response = client.post(
        "/comments", json=payload(comment=SCRIPT_COMMENT, author=SCRIPT_AUTHOR, url=SCRIPT_URL)
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    comment_id = response.json["id"]
    stored = db_session.get(Comment, comment_id)
    assert stored is not None
    assert (stored.content, stored.author, stored.url) == (
        SCRIPT_COMMENT,
        SCRIPT_AUTHOR,
        SCRIPT_URL,
    )

    one = client.get(f"/comments/{comment_id}")
    assert one.status_code == 200
    assert one.mimetype == JSON
    assert (one.json["content"], one.json["author"], one.json["url"]) == (
        SCRIPT_COMMENT,
        SCRIPT_AUTHOR,
        SCRIPT_URL,
    )

    listing = client.get("/articles/42/comments")
    assert listing.status_code == 200
    assert listing.mimetype == JSON
    (item,) = listing.json["comments"]
    assert (item["content"], item["author"], item["url"]) == (
        SCRIPT_COMMENT,
        SCRIPT_AUTHOR,
        SCRIPT_URL,
    )
    assert counts(db_session) == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("comment_post_ID", "<script>alert(1)</script>", "invalid_article"),
        ("comment_post_ID", '42"><script>alert(1)</script>', "invalid_article"),
        ("comment_post_ID", "<b>42</b>", "invalid_article"),
        ("url", "javascript:alert(1)", "invalid_url"),
        ("url", "data:text/html,<script>alert(1)</script>", "invalid_url"),
        ("url", "<script>alert(1)</script>", "invalid_url"),
        ("url", "http://<script>alert(1)</script>", "invalid_url"),
        ("email", "<script>alert(1)</script>@example.org", "require_valid_email"),
    ],
)
def test_html_where_the_format_forbids_it_is_422(
    client: FlaskClient, db_session: Session, before: Counts, field: str, value: str, code: str
) -> None:
    response = client.post("/comments", json=payload(**{field: value}))
    assert field_errors(error_body(response, 422)) == {(field, code)}
    assert counts(db_session) == before


def test_html_article_id_in_the_url_is_echoed_only_as_json(client: FlaskClient) -> None:
    response = client.get("/articles/%3Cscript%3Ealert(1)%3B%3C%5Cscript%3E/comments")
    assert response.status_code == 200
    assert response.mimetype == JSON
    assert response.json["article_id"] == "<script>alert(1);<\\script>"
    assert response.json["comments"] == []


def test_form_post_answer_page_escapes_the_text(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    response = client.post(
        "/comments",
        data=payload(comment=SCRIPT_COMMENT, author=SCRIPT_AUTHOR, url=SCRIPT_URL),
        headers=AS_HTML,
    )
    assert response.status_code == 201
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Your comment has been published." in html
    assert "&lt;script&gt;alert(&#39;comment&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b onmouseover=&#34;alert(1)&#34;&gt;Maria&lt;/b&gt;" in html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<b onmouseover" not in html.lower()
    assert counts(db_session) == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_form_error_page_escapes_every_reshown_field(
    client: FlaskClient, db_session: Session, before: Counts
) -> None:
    response = client.post(
        "/comments",
        data={
            "comment": SCRIPT_COMMENT,
            "author": SCRIPT_AUTHOR,
            "email": '"><script>alert(4)</script>',
            "url": "javascript:<script>alert(5)</script>",
            "comment_post_ID": '"><script>alert(6)</script>',
            "comment_parent": "<script>alert(7)</script>",
        },
        headers=AS_HTML,
    )
    assert response.status_code == 422
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "You have entered an incorrect email address!" in html
    assert "The article id is not valid." in html
    assert "&lt;script&gt;alert(&#39;comment&#39;)&lt;/script&gt;" in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(4)&lt;/script&gt;"' in html
    assert 'value="javascript:&lt;script&gt;alert(5)&lt;/script&gt;"' in html
    assert 'value="&#34;&gt;&lt;script&gt;alert(6)&lt;/script&gt;"' in html
    assert "<script" not in html.lower()
    assert counts(db_session) == before


# --------------------------------------------------------------------------- SQL metacharacters


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("'; DROP TABLE comments; --", id="drop-table"),
        pytest.param('" OR 1=1 --', id="or-1-1"),
        pytest.param("Robert'); DELETE FROM decisions WHERE ('1'='1", id="delete"),
        pytest.param("C:\\Users\\maria\\ and a trailing backslash \\", id="backslashes"),
        pytest.param("\\'; SELECT pg_sleep(10); --", id="escaped-quote"),
        pytest.param("100% sure_about_it %% __ %_", id="like-wildcards"),
        pytest.param("$$; SELECT 1; $$ /* comment */ ?, :name, %(x)s", id="placeholders"),
    ],
)
def test_sql_metacharacters_are_stored_verbatim(
    make_app: Callable[..., Flask], db_session: Session, before: Counts, text: str
) -> None:
    client = make_app(FLOOD_SECONDS=0).test_client()
    response = client.post("/comments", json=payload(comment=f"{text} (comment)", author=text))
    assert response.status_code == 201, response.get_data(as_text=True)
    comment_id = response.json["id"]

    served = client.get(f"/comments/{comment_id}").json
    assert (served["content"], served["author"]) == (f"{text} (comment)", text)
    listed = client.get("/articles/42/comments").json["comments"]
    assert [(c["content"], c["author"]) for c in listed] == [(f"{text} (comment)", text)]

    stored = db_session.get(Comment, comment_id)
    assert stored is not None
    assert (stored.content, stored.author) == (f"{text} (comment)", text)
    # the tables are intact: the seeded row is still there and every table counts one more
    assert (
        db_session.scalar(
            select(func.count()).select_from(Comment).where(Comment.article_id == "seeded-article")
        )
        == 1
    )
    assert counts(db_session) == (before[0] + 1, before[1] + 1, before[2] + 1)


@pytest.mark.parametrize(
    "path",
    [
        "/articles/%25/comments",
        "/articles/seeded%25/comments",
        "/articles/seeded_article/comments",
        "/articles/seeded-articl_/comments",
        "/articles/seeded-article'%20OR%20'1'='1/comments",
        "/articles/seeded-article%22%20OR%201=1%20--/comments",
    ],
)
def test_article_lookup_is_exact_not_a_pattern(
    client: FlaskClient, before: Counts, path: str
) -> None:
    assert client.get("/articles/seeded-article/comments").json["total"] == 1
    response = client.get(path)
    assert response.status_code == 200
    assert response.json["total"] == 0
    assert response.json["comments"] == []


# --------------------------------------------------------------------------- query parameters


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("page=0", "page", "out_of_range"),
        ("page=-1", "page", "out_of_range"),
        ("page=1000001", "page", "out_of_range"),
        ("page=abc", "page", "invalid_number"),
        ("page=1.5", "page", "invalid_number"),
        ("page=1e3", "page", "invalid_number"),
        ("page=" + HUGE_INT, "page", "invalid_number"),
        ("page=1%3B%20DROP%20TABLE%20comments", "page", "invalid_number"),
        ("page=%00", "page", "invalid_number"),
        ("per_page=0", "per_page", "out_of_range"),
        ("per_page=100000", "per_page", "out_of_range"),
        ("per_page=ten", "per_page", "invalid_number"),
        ("order=sideways", "order", "invalid_order"),
        ("order=oldest%3B%20DROP%20TABLE%20comments", "order", "invalid_order"),
        ("order=OLDEST", "order", "invalid_order"),
    ],
)
def test_bad_query_parameters_are_422(
    client: FlaskClient, query: str, field: str, code: str
) -> None:
    response = client.get(f"/articles/42/comments?{query}")
    body = error_body(response, 422, "validation_error")
    assert field_errors(body) == {(field, code)}
    (entry,) = body["errors"]
    assert field in entry["message"]


def test_an_over_long_article_id_is_404(client: FlaskClient) -> None:
    response = client.get(f"/articles/{'a' * 101}/comments")
    assert error_body(response, 404, "not_found")["message"] == "No such article."
    assert client.get(f"/articles/{'a' * 100}/comments").status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/comments/" + "9" * 30, "/comments/abc", "/comments/-1", "/comments/1.5", "/comments/0"],
)
def test_bad_comment_ids_are_404(client: FlaskClient, path: str) -> None:
    error_body(client.get(path), 404, "not_found")


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_unsupported_methods_are_405_with_json(
    client: FlaskClient, db_session: Session, before: Counts, method: str
) -> None:
    response = client.open("/comments", method=method, json=payload())
    answer = error_body(response, 405, "method_not_allowed")
    assert "not allowed" in answer["message"]
    assert "POST" in response.headers["Allow"]
    assert counts(db_session) == before


def test_a_chunked_body_over_the_limit_is_refused_like_any_other(tmp_path: Path) -> None:
    # Sent without a length (Transfer-Encoding: chunked) through a real HTTP server, which
    # ends the stream: before, Werkzeug cut it at the limit silently and the comment was stored.
    app = sqlite_app(tmp_path / "chunked.db", RATELIMIT_ENABLED=False, FLOOD_SECONDS=0)
    limit = app.config["MAX_CONTENT_LENGTH"]

    def post_chunked(body: bytes, content_type: str) -> tuple[int, Any]:
        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request(
                "POST",
                "/comments",
                body=chunks(),
                headers={"Content-Type": content_type, "Accept": "application/json"},
                encode_chunked=True,
            )
            answer = connection.getresponse()
            return answer.status, json.loads(answer.read() or b"null")
        finally:
            connection.close()

    fields = payload(comment="A fair point about the bus routes.")
    padded_form = urlencode({**fields, "padding": "x" * (limit + 10)}).encode()
    oversized_json = json.dumps({**fields, "padding": "x" * (limit + 10)}).encode()
    with served(app) as base:
        host, port = base.removeprefix("http://").split(":")
        status, body = post_chunked(padded_form, "application/x-www-form-urlencoded")
        assert status == 413, body
        status, body = post_chunked(oversized_json, "application/json")
        assert status == 413, body
        status, body = post_chunked(json.dumps(fields).encode(), "application/json")
        assert status == 201, body  # a chunked body within the limit is taken as ever
    with app.app_context():
        stored = get_session().scalars(select(Comment.content)).all()
    assert stored == ["A fair point about the bus routes."]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"reason=spam&detail=\xff\xfe", "application/x-www-form-urlencoded", 400),
        (b'{"reason": "spam"', "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"reason=spam", "text/plain", 415),
    ],
)
def test_a_malformed_report_gets_the_same_answers_as_a_malformed_comment(
    client: FlaskClient, body: bytes, content_type: str, status: int
) -> None:
    # Reports read their body as comments do (commenter.read_payload): bad UTF-8 in a form
    # was replaced silently before, and a malformed JSON body had no detail.
    for path in ("/comments", "/comments/1/report"):
        answer = client.post(
            path, data=body, content_type=content_type, headers={"Accept": "application/json"}
        )
        assert answer.status_code == status, (path, answer.json)
        assert answer.json["message"]

"""The Perspective API (Comment Analyzer v1alpha1) wire protocol: comments:analyze, suggestscore.

Requests are raw Perspective-shaped JSON, as Coral Talk and other Perspective clients send it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from moderation.services.sitekeys import create_site_key, revoke_site_key
from moderation.storage.tables import FeedbackLabel, SiteKey

pytestmark = pytest.mark.functional

ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"
ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
CIVIL = "I disagree with the minister, but the article is fair and well sourced."
INSULT = "you are a f4cking idiot"
PHARMA = (
    "Cheap Viagra, Cialis, Levitra online. No prescription needed. Discount pharmacy, "
    "worldwide shipping. Order now at www.best-rx-pharmacy.xyz"
)


@pytest.fixture
def key(db_session: Session) -> str:
    """A site key for "coral", committed so that the app's requests see it."""
    _, key = create_site_key(db_session, name="coral")
    db_session.commit()
    return key


@pytest.fixture
def model_client(make_app: Callable[..., Flask]) -> FlaskClient:
    """A client of the app scoring with the shipped model."""
    return make_app(SCORER_BACKEND="sklearn").test_client()


def coral_request(text: str, *attributes: str, **extra: Any) -> dict[str, Any]:
    """An analyze request shaped like Coral Talk's."""
    body: dict[str, Any] = {
        "comment": {"text": text},
        "doNotStore": True,
        "languages": ["en"],
        "requestedAttributes": {name: {} for name in attributes or ("TOXICITY",)},
    }
    body.update(extra)
    return body


def analyze(client: FlaskClient, key: str, body: Any) -> TestResponse:
    return client.post(f"{ANALYZE}?key={key}", json=body)


def ok(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def google_error(
    response: TestResponse, code: int, status: str, error_type: str | None = None
) -> dict[str, Any]:
    """Assert Google's error envelope; return its ``error`` object."""
    assert response.status_code == code, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict)
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert error["status"] == status
    assert isinstance(error["message"], str)
    assert error["message"].strip()
    if error_type is not None:
        details = [d for d in error["details"] if d["@type"] == ERROR_TYPE]
        assert [d["errorType"] for d in details] == [error_type]
    return error


def labels(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(FeedbackLabel)) or 0


def summary(body: dict[str, Any], attribute: str) -> float:
    score = body["attributeScores"][attribute]["summaryScore"]
    assert score["type"] == "PROBABILITY"
    value = score["value"]
    assert isinstance(value, float)
    return value


# --------------------------------------------------------------------------- analyze


def test_civil_text_is_low_toxicity_with_one_whole_text_span(
    model_client: FlaskClient, key: str
) -> None:
    body = ok(analyze(model_client, key, coral_request(CIVIL)))
    assert set(body) == {"attributeScores", "languages", "detectedLanguages"}
    assert set(body["attributeScores"]) == {"TOXICITY"}
    value = summary(body, "TOXICITY")
    assert value < 0.3
    assert body["attributeScores"]["TOXICITY"]["spanScores"] == [
        {"begin": 0, "end": len(CIVIL), "score": {"value": value, "type": "PROBABILITY"}}
    ]
    assert body["languages"] == ["en"]
    assert body["detectedLanguages"] == ["en"]


def test_insult_is_high_toxicity(model_client: FlaskClient, key: str) -> None:
    body = ok(analyze(model_client, key, coral_request(INSULT)))
    assert summary(body, "TOXICITY") > 0.9
    (span,) = body["attributeScores"]["TOXICITY"]["spanScores"]
    assert (span["begin"], span["end"]) == (0, len(INSULT))


def test_span_annotations_point_at_the_offending_words(model_client: FlaskClient, key: str) -> None:
    body = ok(analyze(model_client, key, coral_request(INSULT, spanAnnotations=True)))
    spans = body["attributeScores"]["TOXICITY"]["spanScores"]
    assert spans == sorted(spans, key=lambda s: (s["begin"], s["end"]))
    by_text = {INSULT[s["begin"] : s["end"]]: s["score"]["value"] for s in spans}
    assert by_text["idiot"] > 0.9
    assert by_text["f4cking"] > 0.5
    assert max(by_text, key=by_text.__getitem__) in ("idiot", "f4cking")
    assert by_text.get("are", 0.0) < 0.5
    for span in spans:
        assert 0 <= span["begin"] < span["end"] <= len(INSULT)
        assert span["score"]["type"] == "PROBABILITY"
        assert 0.0 <= span["score"]["value"] <= summary(body, "TOXICITY")


def test_span_annotations_on_civil_text_are_all_low(model_client: FlaskClient, key: str) -> None:
    body = ok(analyze(model_client, key, coral_request(CIVIL, spanAnnotations=True)))
    spans = body["attributeScores"]["TOXICITY"]["spanScores"]
    assert spans  # some words raised the score a little
    assert all(s["score"]["value"] < 0.3 for s in spans)


def test_span_offsets_are_code_points_of_the_original_text(
    model_client: FlaskClient, key: str
) -> None:
    text = "Honestly \U0001f600\U0001f600 you are an ID10T!"
    body = ok(analyze(model_client, key, coral_request(text, spanAnnotations=True)))
    spans = body["attributeScores"]["TOXICITY"]["spanScores"]
    worst = max(spans, key=lambda s: s["score"]["value"])
    assert text[worst["begin"] : worst["end"]] == "ID10T"
    assert worst["begin"] == text.index("ID10T")  # UTF-16 would count 2 more


def test_spam_attribute_on_pharma_spam(model_client: FlaskClient, key: str) -> None:
    spam = ok(analyze(model_client, key, coral_request(PHARMA, "SPAM", "TOXICITY")))
    assert set(spam["attributeScores"]) == {"SPAM", "TOXICITY"}
    assert summary(spam, "SPAM") > 0.7
    assert summary(spam, "TOXICITY") < 0.2
    civil = ok(analyze(model_client, key, coral_request(CIVIL, "SPAM")))
    assert summary(civil, "SPAM") < 0.1


def test_attributes_map_to_the_model_heads(make_app: Callable[..., Flask], key: str) -> None:
    client = make_app(FIXED_SCORES={"spam": 0.25, "abuse": 0.75}).test_client()
    body = ok(analyze(client, key, coral_request("Any text.", "TOXICITY", "SPAM")))
    assert summary(body, "TOXICITY") == 0.75
    assert summary(body, "SPAM") == 0.25
    # a scorer that explains nothing has no spans to annotate
    annotated = ok(analyze(client, key, coral_request("Any text.", spanAnnotations=True)))
    assert annotated["attributeScores"]["TOXICITY"]["spanScores"] == []


def test_score_threshold_drops_attributes_and_spans_below_it(
    model_client: FlaskClient, key: str
) -> None:
    request = coral_request(CIVIL)
    request["requestedAttributes"] = {
        "TOXICITY": {"scoreThreshold": 0.5},
        "SPAM": {"scoreType": "PROBABILITY", "scoreThreshold": 0},
    }
    body = ok(analyze(model_client, key, request))
    assert set(body["attributeScores"]) == {"SPAM"}

    request["requestedAttributes"] = {"SPAM": {"scoreThreshold": 0.5}}
    assert ok(analyze(model_client, key, request))["attributeScores"] == {}

    insult = coral_request(INSULT, spanAnnotations=True)
    insult["requestedAttributes"] = {"TOXICITY": {"scoreThreshold": "0.9"}}
    body = ok(analyze(model_client, key, insult))
    spans = body["attributeScores"]["TOXICITY"]["spanScores"]
    assert {INSULT[s["begin"] : s["end"]] for s in spans} == {"idiot", "f4cking"}
    assert all(s["score"]["value"] >= 0.9 for s in spans)


def test_client_token_is_echoed_and_the_key_may_come_in_a_header(
    model_client: FlaskClient, key: str
) -> None:
    response = model_client.post(
        ANALYZE,
        json=coral_request(
            CIVIL,
            clientToken="coral:comment:42",
            sessionId="s-1",
            communityId="news",
            context={"entries": [{"text": "the article", "type": "PLAIN_TEXT"}]},
            unknownField=1,
        ),
        headers={"X-Goog-Api-Key": key},
    )
    assert ok(response)["clientToken"] == "coral:comment:42"


def test_english_variants_and_no_languages_are_accepted(
    model_client: FlaskClient, key: str
) -> None:
    for languages in (["en-US"], ["EN_gb"], [], None):
        request = coral_request(CIVIL)
        request["languages"] = languages
        assert summary(ok(analyze(model_client, key, request)), "TOXICITY") < 0.3


def test_limits_are_inclusive(model_client: FlaskClient, key: str) -> None:
    text = "é" * 10239 + "ab"  # 20,480 bytes exactly
    ok(analyze(model_client, key, coral_request(text, spanAnnotations=True)))


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        ({"comment": {"text": ""}}, "COMMENT_EMPTY"),
        ({"comment": {"text": " \n\t "}}, "COMMENT_EMPTY"),
        ({"comment": {}}, "COMMENT_EMPTY"),
        ({"comment": None}, "COMMENT_EMPTY"),
        ({"comment": {"text": "é" * 10240 + "a"}}, "COMMENT_TOO_LONG"),  # 20,481 bytes
        ({"requestedAttributes": {}}, "NO_REQUESTED_ATTRIBUTES"),
        ({"requestedAttributes": None}, "NO_REQUESTED_ATTRIBUTES"),
        ({"requestedAttributes": {"INSULT": {}}}, "UNKNOWN_ATTRIBUTE"),
        ({"requestedAttributes": {"TOXICITY": {}, "PROFANITY": {}}}, "UNKNOWN_ATTRIBUTE"),
        ({"requestedAttributes": {"toxicity": {}}}, "UNKNOWN_ATTRIBUTE"),
        ({"languages": ["fr"]}, "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"),
        ({"languages": ["en", "de"]}, "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"),
    ],
)
def test_perspective_errors(
    client: FlaskClient, key: str, change: dict[str, Any], error_type: str
) -> None:
    body = {**coral_request(CIVIL), **change}
    error = google_error(analyze(client, key, body), 400, "INVALID_ARGUMENT", error_type)
    if error_type == "UNKNOWN_ATTRIBUTE":
        assert "TOXICITY" in error["message"]
        assert "SPAM" in error["message"]
    if error_type == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE":
        assert "TOXICITY" in error["message"]


@pytest.mark.parametrize(
    "change",
    [
        {"comment": "just a string"},
        {"comment": {"text": 42}},
        {"comment": {"text": "fine", "type": "MARKDOWN"}},
        {"comment": {"text": "\ud800 lone surrogate"}},
        {"requestedAttributes": ["TOXICITY"]},
        {"requestedAttributes": {"TOXICITY": "yes"}},
        {"requestedAttributes": {"TOXICITY": {"scoreThreshold": "high"}}},
        {"requestedAttributes": {"TOXICITY": {"scoreThreshold": 1.5}}},
        {"requestedAttributes": {"TOXICITY": {"scoreThreshold": True}}},
        {"requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}},
        {"languages": "en"},
        {"languages": [1]},
        {"spanAnnotations": "true"},
        {"doNotStore": 1},
        {"clientToken": 5},
        {"sessionId": ["x"]},
    ],
)
def test_wrongly_typed_fields_are_400(client: FlaskClient, key: str, change: Any) -> None:
    body = {**coral_request(CIVIL), **change}
    error = google_error(analyze(client, key, body), 400, "INVALID_ARGUMENT")
    (violation,) = error["details"]
    assert violation["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert violation["fieldViolations"][0]["field"]


@pytest.mark.parametrize(
    "data",
    [
        b'{"comment": {"text": "hi"',
        b"not json at all",
        b"[1, 2]",
        b'"a string"',
        b'{"comment": {"text": "caf\xe9"}}',  # Latin-1, not UTF-8
        b'{"requestedAttributes": {"TOXICITY": {"scoreThreshold": NaN}}}',
        b'{"n": ' + b"1" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_bodies_are_400(client: FlaskClient, key: str, data: bytes) -> None:
    response = client.post(
        f"{ANALYZE}?key={key}", data=data, headers={"Content-Type": "application/json"}
    )
    error = google_error(response, 400, "INVALID_ARGUMENT")
    assert error["message"].startswith("Invalid JSON payload received.")


def test_an_empty_body_is_an_empty_request(client: FlaskClient, key: str) -> None:
    response = client.post(f"{ANALYZE}?key={key}")
    google_error(response, 400, "INVALID_ARGUMENT", "COMMENT_EMPTY")


def test_a_huge_body_is_413(client: FlaskClient, key: str) -> None:
    body = json.dumps(coral_request("a" * 300_000))
    response = client.post(
        f"{ANALYZE}?key={key}", data=body, headers={"Content-Type": "application/json"}
    )
    google_error(response, 413, "RESOURCE_EXHAUSTED")


def test_a_missing_key_is_403(client: FlaskClient) -> None:
    for url in (ANALYZE, f"{ANALYZE}?key=", SUGGEST):
        response = client.post(url, json=coral_request(CIVIL))
        error = google_error(response, 403, "PERMISSION_DENIED")
        assert error["message"] == "The request is missing a valid API key."
    # the key is checked before the body is parsed
    google_error(client.post(ANALYZE, data=b"{oops"), 403, "PERMISSION_DENIED")


def test_a_wrong_or_revoked_key_is_refused_as_google_does(
    client: FlaskClient, key: str, db_session: Session
) -> None:
    for headers in ({"X-Goog-Api-Key": "mod_wrong"}, {"X-Goog-Api-Key": "x" * 5000}):
        response = client.post(ANALYZE, json=coral_request(CIVIL), headers=headers)
        error = google_error(response, 400, "INVALID_ARGUMENT")
        assert error["message"] == "API key not valid. Please pass a valid API key."
        assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert revoke_site_key(db_session, name="coral")
    db_session.commit()
    response = analyze(client, key, coral_request(CIVIL))
    assert google_error(response, 400, "INVALID_ARGUMENT")["details"][0]["reason"] == (
        "API_KEY_INVALID"
    )


def test_without_a_model_analyze_is_503(
    make_app: Callable[..., Flask], key: str, tmp_path: Path
) -> None:
    client = make_app(
        SCORER_BACKEND="sklearn", MODELS_DIR=str(tmp_path), SHIPPED_MODELS_DIR=""
    ).test_client()
    google_error(analyze(client, key, coral_request(CIVIL)), 503, "UNAVAILABLE")


def test_a_failing_model_is_500_in_the_envelope(app: Flask, key: str) -> None:
    class Broken:
        version = "broken"
        thresholds = app.extensions["moderation.scorer"].scorer.thresholds

        def score_many(self, comments: Any) -> Any:
            raise RuntimeError("boom")

    app.extensions["moderation.scorer"].scorer = Broken()
    response = analyze(app.test_client(), key, coral_request(CIVIL))
    error = google_error(response, 500, "INTERNAL")
    assert "boom" not in error["message"]


def test_other_methods_are_not_allowed(client: FlaskClient, key: str) -> None:
    assert client.get(f"{ANALYZE}?key={key}").status_code == 405


# --------------------------------------------------------------------------- suggestscore


def suggestion(text: str, **scores: float) -> dict[str, Any]:
    return {
        "comment": {"text": text},
        "attributeScores": {
            name: {"summaryScore": {"value": value}} for name, value in scores.items()
        },
        "languages": ["en"],
        "communityId": "news",
    }


def test_suggestscore_stores_a_training_label(
    client: FlaskClient, key: str, db_session: Session
) -> None:
    response = client.post(
        f"{SUGGEST}?key={key}",
        json={**suggestion("You absolute clown.", TOXICITY=1.0), "clientToken": "c-7"},
    )
    assert ok(response) == {"clientToken": "c-7"}
    label = db_session.scalars(select(FeedbackLabel)).one()
    assert label.source == "perspective"
    coral = db_session.scalars(select(SiteKey).where(SiteKey.name == "coral")).one()
    assert label.site_key_id == coral.id
    assert label.content == "You absolute clown."
    assert (label.abuse, label.spam) == (1, None)


def test_suggestscore_thresholds_and_spam(
    client: FlaskClient, key: str, db_session: Session
) -> None:
    headers = {"X-Goog-Api-Key": key}
    assert ok(client.post(SUGGEST, json=suggestion("Fine.", TOXICITY=0.49), headers=headers)) == {}
    ok(client.post(SUGGEST, json=suggestion("Buy pills", SPAM=0.5, TOXICITY=0.0), headers=headers))
    # attributes we do not model are ignored next to one we do
    ok(client.post(SUGGEST, json=suggestion("Meh.", SPAM=0, INSULT=0.9), headers=headers))
    rows = db_session.scalars(select(FeedbackLabel).order_by(FeedbackLabel.id)).all()
    assert [(r.content, r.abuse, r.spam) for r in rows] == [
        ("Fine.", 0, None),
        ("Buy pills", 0, 1),
        ("Meh.", None, 0),
    ]


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        (suggestion("", TOXICITY=1.0), "COMMENT_EMPTY"),
        (suggestion("é" * 10241, TOXICITY=1.0), "COMMENT_TOO_LONG"),
        (suggestion("Rude.", INSULT=1.0), "UNKNOWN_ATTRIBUTE"),
        ({**suggestion("Rude.", TOXICITY=1.0), "languages": ["es"]}, "LANGUAGE_NOT_SUPPORTED"),
        (suggestion("Rude."), None),
        ({**suggestion("Rude."), "attributeScores": {"TOXICITY": {}}}, None),
        (suggestion("Rude.", TOXICITY=2.0), None),
        ({**suggestion("Rude.", TOXICITY=1.0), "clientToken": {}}, None),
    ],
)
def test_suggestscore_errors_store_nothing(
    client: FlaskClient, key: str, db_session: Session, body: Any, error_type: str | None
) -> None:
    response = client.post(f"{SUGGEST}?key={key}", json=body)
    expected = (
        "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
        if error_type == "LANGUAGE_NOT_SUPPORTED"
        else error_type
    )
    google_error(response, 400, "INVALID_ARGUMENT", expected)
    assert labels(db_session) == 0


def test_suggestscore_drops_nul_characters_postgresql_cannot_store(
    client: FlaskClient, key: str, db_session: Session
) -> None:
    ok(client.post(f"{SUGGEST}?key={key}", json=suggestion("nul\x00byte", TOXICITY=0.0)))
    assert db_session.scalars(select(FeedbackLabel.content)).one() == "nulbyte"


def test_suggestscore_needs_a_valid_key(client: FlaskClient, db_session: Session) -> None:
    google_error(client.post(SUGGEST, json=suggestion("x", TOXICITY=1.0)), 403, "PERMISSION_DENIED")
    response = client.post(f"{SUGGEST}?key=mod_nope", json=suggestion("x", TOXICITY=1.0))
    google_error(response, 400, "INVALID_ARGUMENT")
    assert labels(db_session) == 0


def test_the_rate_limit_answers_in_the_envelope(make_app: Callable[..., Flask], key: str) -> None:
    client = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", SITE_RATE_LIMIT="2/minute"
    ).test_client()
    for _ in range(2):
        ok(analyze(client, key, coral_request(CIVIL)))
    response = analyze(client, key, coral_request(CIVIL))
    google_error(response, 429, "RESOURCE_EXHAUSTED")
    assert "Retry-After" in response.headers


GERMAN = "Das ist ein sehr guter Artikel, danke für die ausführlichen Informationen."


def test_a_text_in_another_language_is_refused_unless_languages_say_english(
    model_client: FlaskClient, key: str
) -> None:
    undeclared = coral_request(GERMAN)
    del undeclared["languages"]
    error = google_error(
        analyze(model_client, key, undeclared),
        400,
        "INVALID_ARGUMENT",
        "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
    )
    assert "de" in error["message"]
    body = ok(analyze(model_client, key, {**coral_request(GERMAN), "languages": ["en-GB"]}))
    assert body["languages"] == ["en-GB"]  # echoed as sent
    assert body["detectedLanguages"] == ["de"]


def test_a_short_text_has_no_detected_language(model_client: FlaskClient, key: str) -> None:
    short = coral_request("ok")
    del short["languages"]
    body = ok(analyze(model_client, key, short))
    assert body["languages"] == ["en"]
    assert body["detectedLanguages"] == []

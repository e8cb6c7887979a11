"""Google's Perspective API (Comment Analyzer ``v1alpha1``) wire protocol, on our own model.

``comments:analyze`` scores a text (``TOXICITY`` is the abuse head, ``SPAM`` the spam head) and
stores nothing; ``comments:suggestscore`` stores a site's label for training. Answers, span
scores, offsets and errors follow Perspective's, as docs/perspective.md describes.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

from moderation.domain.errors import DeadlineExceededError
from moderation.ml.features import CommentInput
from moderation.ml.language import UNDETERMINED
from moderation.ml.language import detect as detect_language
from moderation.ml.model import Contribution
from moderation.services.feedback import LabelCapError, record_label
from moderation.services.sitekeys import find_site_key
from moderation.storage.db import begin_reading
from moderation.storage.tables import SiteKey
from moderation.web import deadline
from moderation.web.database import get_engine, get_session
from moderation.web.extensions import get_scorer
from moderation.web.ratelimit import retry_after

bp = Blueprint("perspective", __name__, url_prefix="/v1alpha1")
log = logging.getLogger(__name__)

#: Perspective attribute -> model head.
ATTRIBUTES: dict[str, str] = {"TOXICITY": "abuse", "SPAM": "spam"}
MAX_COMMENT_BYTES = 20480  # Perspective's limit on comment.text
MAX_SPANS = 200  # span scores per attribute with spanAnnotations
LANGUAGE = "en"
SCORE_TYPE = "PROBABILITY"
TEXT_TYPES = frozenset({"PLAIN_TEXT", "HTML", "TEXT_TYPE_UNSPECIFIED"})
LABEL_AT = 0.5  # suggestscore: a value at or above this is a positive label

ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"
COMMENT_EMPTY = "COMMENT_EMPTY"
COMMENT_TOO_LONG = "COMMENT_TOO_LONG"
NO_REQUESTED_ATTRIBUTES = "NO_REQUESTED_ATTRIBUTES"
UNKNOWN_ATTRIBUTE = "UNKNOWN_ATTRIBUTE"
LANGUAGE_NOT_SUPPORTED = "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"

# HTTP status -> google.rpc.Code name, for errors raised as HTTP exceptions.
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Proto3 JSON type names, for Google-like "Invalid value" messages.
_OBJECT, _STRING, _BOOL, _FLOAT, _LIST = (
    "TYPE_MESSAGE",
    "TYPE_STRING",
    "TYPE_BOOL",
    "TYPE_FLOAT",
    "TYPE_LIST",
)


# --------------------------------------------------------------------------- errors


class PerspectiveError(Exception):
    """An error answered in Google's envelope."""

    def __init__(
        self,
        code: int,
        status: str,
        message: str,
        *,
        error_type: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = [dict(d) for d in details]
        if error_type is not None:
            self.details.insert(0, {"@type": ERROR_TYPE, "errorType": error_type, **extra})

    def response(self) -> Response:
        """``{"error": {"code", "message", "status", "details"?}}`` with the HTTP status."""
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        response = jsonify({"error": error})
        response.status_code = self.code
        response.headers["Cache-Control"] = "no-store"
        return response


def _invalid(message: str, *, error_type: str | None = None, **extra: Any) -> PerspectiveError:
    return PerspectiveError(400, "INVALID_ARGUMENT", message, error_type=error_type, **extra)


def _bad_field(path: str, description: str) -> PerspectiveError:
    return PerspectiveError(
        400,
        "INVALID_ARGUMENT",
        f"Invalid value at '{path}': {description}",
        details=[
            {
                "@type": BAD_REQUEST_TYPE,
                "fieldViolations": [{"field": path, "description": description}],
            }
        ],
    )


def _wrong_type(path: str, kind: str, value: Any) -> PerspectiveError:
    shown = json.dumps(value, ensure_ascii=True)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return _bad_field(path, f"expected {kind}, got {shown}")


@bp.errorhandler(PerspectiveError)
def _perspective_error(error: PerspectiveError) -> Response:
    return error.response()


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    code = error.code or 500
    response = PerspectiveError(
        code, _STATUS.get(code, "UNKNOWN"), error.description or error.name
    ).response()
    if code == 429:  # a rate limit: say when to come back
        response.headers["Retry-After"] = str(retry_after())
    return response


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Response:
    if isinstance(error, OperationalError | InterfaceError | SQLAlchemyTimeoutError) or (
        deadline.expired() or isinstance(error, DeadlineExceededError)
    ):
        deadline.disarm()
        log.error("perspective: a dependency is unavailable (%s)", error.__class__.__name__)
        get_engine(current_app).dispose()
        response = PerspectiveError(
            503, "UNAVAILABLE", "The service is briefly unavailable; try again shortly."
        ).response()
        response.headers["Retry-After"] = "5"
        return response
    # The kind and the place, not the message: a message may quote the comment.
    log.error(
        "perspective: unhandled error %s\n%s",
        error.__class__.__name__,
        "".join(traceback.format_tb(error.__traceback__)),
    )
    return PerspectiveError(500, "INTERNAL", "Internal error encountered.").response()


# --------------------------------------------------------------------------- request


def _raw_body() -> bytes:
    """The body, read before any database work (a slow client must not hold a transaction)."""
    try:
        return request.get_data(cache=True)
    except RequestEntityTooLarge:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        raise PerspectiveError(
            413, "RESOURCE_EXHAUSTED", f"The request body is larger than {limit} bytes."
        ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object (any Content-Type; an empty body is an empty request)."""
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(
            f"Invalid JSON payload received. Invalid UTF-8 at byte {exc.start}."
        ) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _invalid(f"Invalid JSON payload received. {exc.msg} (character {exc.pos}).") from None
    except ValueError as exc:  # NaN/Infinity, integers beyond Python's digit limit
        raise _invalid(f"Invalid JSON payload received. {exc}.") from None
    except RecursionError:
        raise _invalid("Invalid JSON payload received. Nested too deeply.") from None
    if not isinstance(data, dict):
        raise _invalid("Invalid JSON payload received. The request must be a JSON object.")
    return data


def _object(data: Mapping[str, Any], key: str, path: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _wrong_type(path, _OBJECT, value)
    return value


def _string(data: Mapping[str, Any], key: str, path: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong_type(path, _STRING, value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a "\ud800" escape
        raise _bad_field(path, "not valid Unicode (a lone surrogate)") from None
    return value


def _boolean(data: Mapping[str, Any], key: str, path: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _wrong_type(path, _BOOL, value)
    return value


def _probability(value: Any, path: str) -> float:
    """A number in [0, 1]; proto3 JSON also allows it as a string."""
    number: float | None = None
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = float(value)
        except (ValueError, OverflowError):  # not a number, or an integer of 309+ digits
            number = None
    if number is None or not math.isfinite(number):
        raise _wrong_type(path, _FLOAT, value)
    if not 0.0 <= number <= 1.0:
        raise _bad_field(path, "must be between 0 and 1")
    return number


def _strings(data: Mapping[str, Any], key: str, path: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong_type(path, _LIST, value)
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _wrong_type(f"{path}[{i}]", _STRING, item)
        out.append(item)
    return out


def _comment_text(data: Mapping[str, Any]) -> str:
    """``comment.text``, checked: present, not blank, at most 20,480 bytes."""
    comment = _object(data, "comment", "comment") or {}
    text = _string(comment, "text", "comment.text") or ""
    kind = _string(comment, "type", "comment.type")
    if kind and kind not in TEXT_TYPES:
        raise _wrong_type("comment.type", "PLAIN_TEXT or HTML", kind)
    if not text.strip():
        raise _invalid("Comment must be non-empty.", error_type=COMMENT_EMPTY)
    size = len(text.encode("utf-8"))
    if size > MAX_COMMENT_BYTES:
        raise _invalid(
            f"Comment text too long: {size} bytes, at most {MAX_COMMENT_BYTES} are accepted.",
            error_type=COMMENT_TOO_LONG,
        )
    return text


def _unknown_attribute(name: str) -> PerspectiveError:
    supported = ", ".join(sorted(ATTRIBUTES))
    shown = json.dumps(name[:60], ensure_ascii=True)
    return _invalid(
        f"Attribute {shown} is not supported by this server; the supported attributes are "
        f"{supported}.",
        error_type=UNKNOWN_ATTRIBUTE,
    )


def _is_english(code: str) -> bool:
    return code.lower().replace("_", "-").split("-", 1)[0] == LANGUAGE


def _check_languages(data: Mapping[str, Any], attribute: str) -> list[str]:
    """The requested languages, as sent; every one must be English (none: ``[]``)."""
    languages = _strings(data, "languages", "languages")
    unsupported = [code for code in languages if not _is_english(code)]
    if unsupported:
        raise _unsupported_languages(unsupported, attribute)
    return languages


def _unsupported_languages(codes: Sequence[str], attribute: str) -> PerspectiveError:
    shown = ", ".join(json.dumps(c[:20], ensure_ascii=True) for c in codes[:10])
    return _invalid(
        f"Attribute {attribute} does not support request languages: {shown}",
        error_type=LANGUAGE_NOT_SUPPORTED,
        languageNotSupportedByAttributeError={
            "requestedLanguages": [c[:20] for c in codes[:10]],
            "attribute": attribute,
        },
    )


def _client_token(data: Mapping[str, Any]) -> str | None:
    token = _string(data, "clientToken", "clientToken")
    # Type-checked, otherwise ignored:
    _string(data, "sessionId", "sessionId")
    _string(data, "communityId", "communityId")
    return token or None


def _site() -> SiteKey:
    """The site whose key came as ``?key=`` or ``X-Goog-Api-Key``, looked up in a read."""
    key = request.args.get("key") or request.headers.get("X-Goog-Api-Key", "")
    if not key.strip():
        raise PerspectiveError(403, "PERMISSION_DENIED", "The request is missing a valid API key.")
    session = get_session()
    session.rollback()
    # A read: on SQLite a POST would otherwise take the write lock for the whole request.
    begin_reading(session)
    try:
        site = find_site_key(session, key.strip())
    finally:
        session.rollback()
    if site is None:
        raise _invalid(
            "API key not valid. Please pass a valid API key.",
            details=[
                {
                    "@type": ERROR_INFO_TYPE,
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "commentanalyzer.googleapis.com"},
                }
            ],
        )
    return site


# --------------------------------------------------------------------------- scores


def _score(value: float) -> dict[str, Any]:
    return {"value": value, "type": SCORE_TYPE}


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _logit(p: float) -> float:
    p = min(max(p, 1e-15), 1.0 - 1e-15)
    return math.log(p) - math.log1p(-p)


def span_scores(
    probability: float, contributions: Sequence[Contribution], threshold: float | None = None
) -> list[dict[str, Any]]:
    """Per-span scores from a head's explanation (every contribution that raised its score).

    Each span's score is ``sigmoid(base + w)``: the comment's probability if, of all that
    raised its log-odds, only this n-gram (with weight ``w``) had; see docs/perspective.md.
    """
    base = _logit(probability) - sum(c.weight for c in contributions if c.weight > 0)
    best: dict[tuple[int, int], float] = {}
    for contribution in contributions:
        if contribution.weight <= 0 or not contribution.spans:
            continue
        value = _sigmoid(base + contribution.weight)
        for begin, end in contribution.spans:
            if value > best.get((begin, end), -1.0):
                best[(begin, end)] = value
    kept = [
        (span, value) for span, value in best.items() if threshold is None or value >= threshold
    ]
    kept.sort(key=lambda item: -item[1])
    return [
        {"begin": begin, "end": end, "score": _score(value)}
        for (begin, end), value in sorted(kept[:MAX_SPANS])
    ]


def _requested_attributes(data: Mapping[str, Any]) -> dict[str, float | None]:
    """``requestedAttributes``: name -> scoreThreshold (or None), all supported."""
    requested = _object(data, "requestedAttributes", "requestedAttributes")
    if not requested:
        raise _invalid(
            "Request must specify at least one attribute in requestedAttributes; the "
            f"supported attributes are {', '.join(sorted(ATTRIBUTES))}.",
            error_type=NO_REQUESTED_ATTRIBUTES,
        )
    attributes: dict[str, float | None] = {}
    for name, options in requested.items():
        if name not in ATTRIBUTES:
            raise _unknown_attribute(name)
        path = f"requestedAttributes.{name}"
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise _wrong_type(path, _OBJECT, options)
        score_type = _string(options, "scoreType", f"{path}.scoreType")
        if score_type and score_type != SCORE_TYPE:
            raise _bad_field(f"{path}.scoreType", f"only {SCORE_TYPE} is supported")
        threshold = options.get("scoreThreshold")
        attributes[name] = (
            None if threshold is None else _probability(threshold, f"{path}.scoreThreshold")
        )
    return attributes


@bp.post("/comments:analyze")
def analyze() -> Response:
    """Perspective's ``comments:analyze``: score a comment.

    Nothing is ever stored here, so ``doNotStore`` is accepted and changes nothing.
    """
    raw = _raw_body()
    _site()
    data = _json_body(raw)
    text = _comment_text(data)
    attributes = _requested_attributes(data)
    languages = _check_languages(data, next(iter(attributes)))
    detection = detect_language(text)
    if not languages and not detection.supported:
        raise _unsupported_languages([detection.code], next(iter(attributes)))
    spans_wanted = _boolean(data, "spanAnnotations", "spanAnnotations")
    _boolean(data, "doNotStore", "doNotStore")
    token = _client_token(data)

    scorer = get_scorer()
    if scorer is None:
        raise PerspectiveError(
            503, "UNAVAILABLE", "The scoring model is not loaded; try again later."
        )
    comment = CommentInput(text)
    scores = scorer.score_many([comment])[0]
    explanation: Mapping[str, list[Contribution]] = {}
    if spans_wanted:
        explanation = scorer.explain(comment, top=sys.maxsize, complete=True)

    attribute_scores: dict[str, Any] = {}
    for name, threshold in attributes.items():
        head = ATTRIBUTES[name]
        value = float(scores[head])
        if threshold is not None and value < threshold:
            continue
        spans = (
            span_scores(value, explanation.get(head, []), threshold)
            if spans_wanted
            else [{"begin": 0, "end": len(text), "score": _score(value)}]
        )
        attribute_scores[name] = {"spanScores": spans, "summaryScore": _score(value)}

    body: dict[str, Any] = {
        "attributeScores": attribute_scores,
        "languages": languages or [LANGUAGE],
        "detectedLanguages": [] if detection.code == UNDETERMINED else [detection.code],
    }
    if token is not None:
        body["clientToken"] = token
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _suggested_labels(data: Mapping[str, Any]) -> dict[str, int]:
    """``attributeScores`` -> ``{head: 0 or 1}`` for the attributes we model."""
    given = _object(data, "attributeScores", "attributeScores")
    if not given:
        raise _bad_field("attributeScores", "at least one attribute score is required")
    labels: dict[str, int] = {}
    for name, score in given.items():
        if name not in ATTRIBUTES:
            continue  # a label for an attribute we do not model
        path = f"attributeScores.{name}"
        if not isinstance(score, dict):
            raise _wrong_type(path, _OBJECT, score)
        summary = _object(score, "summaryScore", f"{path}.summaryScore")
        if summary is None or summary.get("value") is None:
            raise _bad_field(f"{path}.summaryScore.value", "a score value is required")
        value = _probability(summary["value"], f"{path}.summaryScore.value")
        labels[ATTRIBUTES[name]] = int(value >= LABEL_AT)
    if not labels:
        raise _unknown_attribute(next(iter(given)))
    return labels


@bp.post("/comments:suggestscore")
def suggest_score() -> Response:
    """Perspective's ``comments:suggestscore``: store the suggested scores as a training label."""
    raw = _raw_body()
    site = _site()
    data = _json_body(raw)
    text = _comment_text(data)
    labels = _suggested_labels(data)
    _check_languages(data, next(name for name, head in ATTRIBUTES.items() if head in labels))
    token = _client_token(data)

    session = get_session()
    try:
        label = record_label(
            session,
            source="perspective",
            site=site,
            content=text.replace("\x00", ""),  # PostgreSQL text cannot hold NUL
            abuse=labels.get("abuse"),
            spam=labels.get("spam"),
            daily_cap=int(current_app.config["FEEDBACK_DAILY_CAP"]),
        )
    except LabelCapError as exc:
        session.rollback()
        raise PerspectiveError(429, "RESOURCE_EXHAUSTED", exc.message) from exc
    session.commit()
    log.info("perspective: label %s from site %s (%s)", label.id, site.name, labels)
    body: dict[str, Any] = {}
    if token is not None:
        body["clientToken"] = token
    return jsonify(body)

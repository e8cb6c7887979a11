"""The OpenAPI 3.1 document of the JSON APIs, served at /openapi.json.

Request bodies are the JSON Schemas of the pydantic models that validate them; paths, answers
and the bodies validated by hand (reports, Perspective) are written here. ``tests/functional/
test_openapi.py`` keeps it true (every JSON route documented, every documented route served)
and a bounded schemathesis run checks that answers match it and that no input gets a 5xx.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from pydantic import AliasChoices, BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from werkzeug.wrappers import Response

from moderation.schemas import CommentIn
from moderation.web.api import (
    ActivateIn,
    AuthorRuleIn,
    BulkIn,
    ClaimNextIn,
    DecisionIn,
    UndoIn,
)

bp = Blueprint("openapi", __name__)

# The request bodies validated by pydantic models: their schemas are generated.
REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    CommentIn,
    ClaimNextIn,
    DecisionIn,
    UndoIn,
    BulkIn,
    AuthorRuleIn,
    ActivateIn,
)


class _SchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) without a title on every
    property."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def request_schemas() -> dict[str, Any]:
    """The request models' schemas, and the enums they use, by name (for ``components``)."""
    _, generated = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS],
        ref_template="#/components/schemas/{model}",
        schema_generator=_SchemaGenerator,
    )
    schemas: dict[str, Any] = generated["$defs"]
    schemas["CommentIn"] = _as_posted(schemas["CommentIn"])
    return schemas


def _as_posted(schema: dict[str, Any]) -> dict[str, Any]:
    """``CommentIn`` as the intake reads a post: every alias of a field (the generated schema
    names a field by its first), the form token and the honeypot, and nothing else (a JSON
    body with another field is refused)."""
    properties = dict(schema["properties"])
    for field in CommentIn.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            first, *others = [c for c in field.validation_alias.choices if isinstance(c, str)]
            properties.update({other: properties[first] for other in others})
    properties["form_token"] = {"type": "string", "description": "From /comments/form-token."}
    properties["fax_number"] = {"type": "string", "description": "The honeypot: leave empty."}
    return {**schema, "properties": properties, "additionalProperties": False}


_STATUS = {"type": "string", "enum": ["approved", "pending", "spam", "rejected"]}
_PUBLIC_STATUS = {"type": "string", "enum": ["approved", "pending", "rejected"]}
_ID = {"type": "integer", "minimum": 1}
_ERROR_ITEM = {
    "type": "object",
    "required": ["field", "code", "message"],
    "properties": {
        "field": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
    },
}
_REASON = {
    "type": "object",
    "required": ["code"],
    "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    code: _json(_ref("Error"), text)
    for code, text in {
        "400": "Malformed body (bad JSON, bad UTF-8).",
        "401": "Missing or wrong credentials.",
        "403": "Signed in, but not allowed.",
        "404": "Not found.",
        "405": "Method not allowed.",
        "409": "Conflict: a duplicate, or the item changed since it was loaded.",
        "413": "Body too large.",
        "415": "Neither a form post nor JSON.",
        "422": "Invalid fields, each with a code and a message.",
        "429": "Too many requests; see Retry-After.",
    }.items()
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _ERRORS[code] for code in codes}


_PUBLIC_COMMENT_PROPERTIES: dict[str, Any] = {
    "id": _ID,
    "article_id": {"type": "string"},
    "parent_id": {"type": ["integer", "null"]},
    "author": {"type": "string"},
    "url": {"type": "string"},
    "content": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
}
_PUBLIC_COMMENT = {
    "type": "object",
    "required": ["id", "article_id", "parent_id", "author", "url", "content", "created_at"],
    "properties": _PUBLIC_COMMENT_PROPERTIES,
}

_CONTRIBUTION = {
    "type": "object",
    "required": ["feature", "label", "weight", "spans"],
    "properties": {
        "feature": {"type": "string", "description": "The model's own name of the feature."},
        "label": {"type": "string", "description": "The feature in plain words."},
        "weight": {"type": "number", "description": "Its push on the log-odds."},
        "spans": {
            "type": "array",
            "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
        },
    },
}


_QUEUE_ITEM = {
    "type": "object",
    "required": ["id", "article_id", "status", "scores", "reasons", "version", "content"],
    "properties": {
        "id": _ID,
        "article_id": {"type": "string"},
        "parent_id": {"type": ["integer", "null"]},
        "author": {"type": "string"},
        "email": {"type": "string"},
        "url": {"type": "string"},
        "content": {"type": "string"},
        "ip": {"type": "string"},
        "status": _STATUS,
        "scores": {
            "type": "object",
            "properties": {
                "spam": {"type": ["number", "null"]},
                "abuse": {"type": ["number", "null"]},
            },
        },
        "reasons": {"type": "array", "items": _REASON},
        "priority": {"type": "number"},
        "created_at": {"type": "string", "format": "date-time"},
        "claimed_by": {"type": ["integer", "null"]},
        "claim_expires_at": {"type": ["string", "null"]},
        "version": {"type": "integer"},
        "explanation": {
            "type": ["object", "null"],
            "description": "Per head, what raised its score and matters (empty far below "
            "allow), as stored at intake for comments held for review (null: none kept).",
            "additionalProperties": {"type": "array", "items": _CONTRIBUTION},
        },
        "article_url": {"type": "string", "description": "Where the article is read."},
        "thresholds": {
            "type": ["object", "null"],
            "description": "Per head, the allow and reject thresholds in force when scored.",
        },
        "score_lines": {
            "type": "array",
            "description": "Per head: score, thresholds, and where the score sits, in words.",
            "items": {"type": "object"},
        },
        "system_reasons": {
            "type": "array",
            "description": "The automatic decision's reasons, each with a plain-words text.",
            "items": _REASON,
        },
        "latest_decision": {"type": ["object", "null"]},
        "open_reports": {"type": "integer", "description": "Readers' reports not handled."},
        "reports": {"type": "array", "items": {"type": "object"}},
        "author_history": {"type": "object", "description": "The author's comments per status."},
        "author_rules": {"type": "object", "description": "Block or trust on email / address."},
    },
}


_GOOGLE_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "status"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "status": {"type": "string"},
                "details": {"type": "array"},
            },
        }
    },
}
_PERSPECTIVE_REQUEST = {
    "type": "object",
    "required": ["comment", "requestedAttributes"],
    "properties": {
        "comment": {
            "type": "object",
            "required": ["text"],
            "properties": {"text": {"type": "string"}, "type": {"type": "string"}},
        },
        "requestedAttributes": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "scoreType": {"type": "string"},
                    "scoreThreshold": {"type": "number"},
                },
            },
        },
        "languages": {"type": "array", "items": {"type": "string"}},
        "doNotStore": {"type": "boolean"},
        "clientToken": {"type": "string"},
        "spanAnnotations": {"type": "boolean"},
    },
}


_STATS = {
    "type": "object",
    "required": [
        "from",
        "to",
        "comments_per_day",
        "backlog",
        "time_to_decision",
        "decisions_per_moderator",
        "overturns",
    ],
    "properties": {
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "comments_per_day": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": {"type": ["string", "integer"]}},
        },
        "backlog": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "pending": {"type": "integer"},
                    "oldest_pending_seconds": {"type": ["number", "null"]},
                },
            },
        },
        "time_to_decision": {"type": "array", "items": {"type": "object"}},
        "decisions_per_moderator": {"type": "array", "items": {"type": "object"}},
        "overturns": {"type": "array", "items": {"type": "object"}},
    },
}


def _path_id(name: str = "comment_id") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


_MODELS: dict[str, Any] = {
    "type": "object",
    "required": ["active", "serving", "versions", "activations"],
    "properties": {
        "active": {"type": ["string", "null"]},
        "serving": {"type": ["string", "null"]},
        "versions": {"type": "array", "items": {"type": "string"}},
        "activations": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "version": {"type": "string"},
                    "actor": {"type": "string"},
                    "activated_at": {"type": "string", "format": "date-time"},
                },
            },
        },
    },
}


def _moderator(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "tags": ["moderators"],
        "security": [{"bearer": []}],
        "responses": {**responses, **_errors("401", "403")},
        **extra,
    }


def _body(model: type[BaseModel], *, required: bool = False) -> dict[str, Any]:
    """A JSON request body validated by ``model``."""
    return {"required": required, "content": {"application/json": {"schema": _ref(model.__name__)}}}


def _intake_paths() -> dict[str, Any]:
    """Taking comments and reports in."""
    comment_request = _ref(CommentIn.__name__)
    return {
        "/comments": {
            "post": {
                "summary": "Submit a comment (the reply form's action).",
                "tags": ["intake"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": comment_request},
                        "application/x-www-form-urlencoded": {"schema": comment_request},
                    },
                },
                "responses": {
                    "201": {
                        "description": "Stored and decided (a page for form posts).",
                        "content": {
                            "application/json": {"schema": _ref("CommentAccepted")},
                            "text/html": {"schema": {"type": "string"}},
                        },
                    },
                    "303": {"description": "Form posts: back to the article."},
                    **_errors("400", "401", "409", "413", "415", "422", "429"),
                },
            }
        },
        "/comments/{comment_id}/report": {
            "post": {
                "summary": "A reader reports a published comment (once per reader; "
                "rate-limited per address).",
                "tags": ["intake"],
                "parameters": [_path_id()],
                "requestBody": {
                    "required": True,
                    "content": {
                        media: {
                            "schema": {
                                "type": "object",
                                "required": ["reason"],
                                "properties": {
                                    "reason": {
                                        "type": "string",
                                        "enum": ["spam", "abuse", "off_topic", "other"],
                                    },
                                    "detail": {"type": "string", "maxLength": 500},
                                    "redirect_to": {"type": "string"},
                                },
                            }
                        }
                        for media in (
                            "application/json",
                            "application/x-www-form-urlencoded",
                        )
                    },
                },
                "responses": {
                    "201": _json({"type": "object"}, "Reported (a page for form posts)."),
                    "303": {"description": "Form posts: back to the article."},
                    **_errors("400", "404", "409", "415", "422", "429"),
                },
            }
        },
        "/comments/form-token": {
            "get": {
                "summary": "A signed form token and the honeypot field's name.",
                "tags": ["intake"],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["field", "token", "honeypot_field"],
                            "properties": {
                                "field": {"type": "string"},
                                "token": {"type": "string"},
                                "honeypot_field": {"type": "string"},
                            },
                        },
                        "The token.",
                    )
                },
            }
        },
    }


def _publishing_paths() -> dict[str, Any]:
    """A comment's public status and an article's published comments."""
    return {
        "/comments/{comment_id}": {
            "get": {
                "summary": "A comment's public status (its text once published).",
                "tags": ["publishing"],
                "parameters": [
                    _path_id(),
                    {"name": "token", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["id", "status", "message"],
                            "properties": {
                                **_PUBLIC_COMMENT_PROPERTIES,
                                "status": _PUBLIC_STATUS,
                                "message": {"type": "string"},
                            },
                        },
                        "The status, and the text where it may be shown.",
                    ),
                    **_errors("404"),
                },
            }
        },
        "/articles/{article_id}/comments": {
            "get": {
                "summary": "An article's approved comments, threaded, paginated (ETag).",
                "tags": ["publishing"],
                "parameters": [
                    {
                        "name": "article_id",
                        "in": "path",
                        "required": True,
                        "schema": {
                            "type": "string",
                            "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$",
                        },
                    },
                    {
                        "name": "order",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["oldest", "newest"]},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer"}},
                    {
                        "name": "after",
                        "in": "query",
                        "description": "Keyset paging: continue after this top-level "
                        "comment (the answer's next link); page is then ignored.",
                        "schema": {"type": "integer", "minimum": 0},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["article_id", "page", "per_page", "total"],
                            "properties": {
                                "article_id": {"type": "string"},
                                "order": {"type": "string"},
                                "page": {"type": "integer"},
                                "per_page": {"type": "integer"},
                                "pages": {"type": "integer"},
                                "total": {"type": "integer"},
                                "comment_count": {"type": "integer"},
                                "next": {"type": ["string", "null"]},
                                "replies_truncated": {"type": "boolean"},
                                "comments": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                        "One page of top-level comments with their replies.",
                    ),
                    "304": {"description": "Not modified (If-None-Match)."},
                    **_errors("404", "422"),
                },
            }
        },
    }


def _operations_paths() -> dict[str, Any]:
    """Liveness and readiness."""
    return {
        "/healthz": {
            "get": {
                "summary": "Liveness.",
                "tags": ["operations"],
                "responses": {"200": _json({"type": "object"}, "Alive.")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: database reachable, model loaded, model version.",
                "tags": ["operations"],
                "responses": {
                    "200": _json({"type": "object"}, "Ready."),
                    "503": _json({"type": "object"}, "Not ready."),
                },
            }
        },
    }


def _moderators_paths() -> dict[str, Any]:
    """The moderator API: the queue, decisions, author rules, models, figures."""
    return {
        "/api/v1/reviews": {
            "get": _moderator(
                "A tab of the queue (pending, reported, approved, spam, rejected, all): "
                "search by text, author, email, address, article; filter by reason and "
                "score; pages by cursor (next_cursor) or number; counts per tab.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["total", "items", "counts", "next_cursor"],
                            "properties": {
                                "total": {"type": "integer"},
                                "total_capped": {"type": "boolean"},
                                "counts": {
                                    "type": "object",
                                    "additionalProperties": {"type": "integer"},
                                },
                                "count_cap": {"type": "integer"},
                                "page": {"type": "integer"},
                                "per_page": {"type": "integer"},
                                "next_cursor": {"type": ["string", "null"]},
                                "items": {"type": "array", "items": _ref("QueueItem")},
                            },
                        },
                        "The queue.",
                    ),
                    **_errors("422"),
                },
                parameters=[
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": [
                                "pending",
                                "reported",
                                "approved",
                                "spam",
                                "rejected",
                                "all",
                            ],
                        },
                    },
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "author", "in": "query", "schema": {"type": "string"}},
                    {"name": "email", "in": "query", "schema": {"type": "string"}},
                    {"name": "ip", "in": "query", "schema": {"type": "string"}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {"name": "article", "in": "query", "schema": {"type": "string"}},
                    {"name": "reason", "in": "query", "schema": {"type": "string"}},
                    {"name": "min_score", "in": "query", "schema": {"type": "number"}},
                    {"name": "max_score", "in": "query", "schema": {"type": "number"}},
                    {
                        "name": "sort",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["priority", "age"]},
                    },
                    {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    {"name": "per_page", "in": "query", "schema": {"type": "integer"}},
                ],
            )
        },
        "/api/v1/reviews/claim": {
            "post": _moderator(
                "Lease the next N items.",
                {
                    "200": _json(
                        {"type": "object", "properties": {"items": {"type": "array"}}},
                        "The leased items.",
                    ),
                    **_errors("400", "422"),
                },
                requestBody=_body(ClaimNextIn),
            )
        },
        "/api/v1/reviews/{comment_id}/claim": {
            "post": _moderator(
                "Lease one item.",
                {"200": _json(_ref("QueueItem"), "Leased."), **_errors("404", "409")},
                parameters=[_path_id()],
            )
        },
        "/api/v1/reviews/{comment_id}/release": {
            "post": _moderator(
                "Give a lease back.",
                {"200": _json(_ref("QueueItem"), "Released."), **_errors("404")},
                parameters=[_path_id()],
            )
        },
        "/api/v1/reviews/{comment_id}/decision": {
            "post": _moderator(
                "Decide any comment: approve, reject as spam, reject as abuse, or send "
                "back to review (hold). Changing a decided comment needs the version "
                "seen and a reason.",
                {
                    "200": _json({"type": "object"}, "Decided."),
                    **_errors("400", "404", "409", "422"),
                },
                parameters=[_path_id()],
                requestBody=_body(DecisionIn),
            )
        },
        "/api/v1/reviews/{comment_id}/undo": {
            "post": _moderator(
                "Undo your latest decision on a comment.",
                {
                    "200": _json({"type": "object"}, "Undone."),
                    **_errors("400", "404", "409", "422"),
                },
                parameters=[_path_id()],
                requestBody=_body(UndoIn),
            )
        },
        "/api/v1/reviews/bulk": {
            "post": _moderator(
                "One decision for many items.",
                {
                    "200": _json({"type": "object"}, "Per-item results."),
                    **_errors("400", "422"),
                },
                requestBody=_body(BulkIn, required=True),
            )
        },
        "/api/v1/comments/{comment_id}/history": {
            "get": _moderator(
                "Model output and every decision on a comment.",
                {"200": _json({"type": "object"}, "The history."), **_errors("404")},
                parameters=[_path_id()],
            )
        },
        "/api/v1/authors/rules": {
            "post": _moderator(
                "Block an author's email or address, trust an email, or lift the rule.",
                {
                    "200": _json({"type": "object"}, "The rule now."),
                    **_errors("400", "404", "422"),
                },
                requestBody=_body(AuthorRuleIn),
            )
        },
        "/api/v1/moderators": {
            "get": _moderator(
                "Moderator accounts (admins only).",
                {"200": _json({"type": "object"}, "The accounts.")},
            )
        },
        "/api/v1/models": {
            "get": _moderator(
                "The active model version (recorded in the database, followed by every "
                "instance), the one this worker serves, the known versions and the latest "
                "activations.",
                {"200": _json(_MODELS, "The model versions.")},
            )
        },
        "/api/v1/models/active": {
            "put": _moderator(
                "Activate a model version (admins only): it is verified, stored in the "
                "database with its files, and served by every instance within its reload "
                "interval.",
                {
                    "200": _json(_MODELS, "Activated."),
                    **_errors("400", "415", "422"),
                },
                requestBody=_body(ActivateIn, required=True),
            )
        },
        "/api/v1/stats": {
            "get": _moderator(
                "The dashboard's figures: comments per day by status, backlog and oldest "
                "pending at each day's end, median time to decision, decisions per "
                "moderator, and overturned automatic decisions per model version.",
                {"200": _json(_STATS, "The figures."), **_errors("400")},
                parameters=[
                    {
                        "name": "days",
                        "in": "query",
                        "required": False,
                        "description": "UTC days up to today (default 30).",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 90},
                    }
                ],
            )
        },
    }


def _perspective_paths() -> dict[str, Any]:
    """The Perspective-compatible API (Google's request and error shapes)."""
    return {
        "/v1alpha1/comments:analyze": {
            "post": {
                "summary": "Perspective API: score TOXICITY (abuse head) and SPAM.",
                "tags": ["perspective"],
                "security": [{"googApiKey": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _PERSPECTIVE_REQUEST}},
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["attributeScores"],
                            "properties": {
                                "attributeScores": {"type": "object"},
                                "languages": {"type": "array", "items": {"type": "string"}},
                                "detectedLanguages": {"type": "array"},
                                "clientToken": {"type": "string"},
                            },
                        },
                        "Scores per requested attribute.",
                    ),
                    **{
                        code: _json(_GOOGLE_ERROR, "Google's error envelope.")
                        for code in ("400", "403", "413", "429", "503")
                    },
                },
            }
        },
        "/v1alpha1/comments:suggestscore": {
            "post": {
                "summary": "Perspective API: a suggested score, kept as a training label.",
                "tags": ["perspective"],
                "security": [{"googApiKey": []}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": _json({"type": "object"}, "Stored; clientToken echoed."),
                    **{
                        code: _json(_GOOGLE_ERROR, "Google's error envelope.")
                        for code in ("400", "403", "413", "429")
                    },
                },
            }
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Comment moderation",
            "version": "1",
            "description": "Intake, publishing and the review queue of the self-hosted comment "
            "moderation service. The Akismet and Perspective compatibility APIs follow their "
            "vendors' own documentation.",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "googApiKey": {"type": "apiKey", "in": "header", "name": "X-Goog-Api-Key"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string"},
                        "message": {"type": "string"},
                        "errors": {"type": "array", "items": _ERROR_ITEM},
                        "retry_after": {"type": "integer"},
                    },
                },
                "CommentAccepted": {
                    "type": "object",
                    "required": ["id", "status", "message", "links"],
                    "properties": {
                        "id": _ID,
                        "status": _STATUS,
                        "message": {"type": "string"},
                        "links": {"type": "object"},
                        "author_token": {"type": "string"},
                        "scores": {"type": ["object", "null"]},
                        "reasons": {"type": "array", "items": _REASON},
                        "model_version": {"type": ["string", "null"]},
                    },
                },
                "PublicComment": _PUBLIC_COMMENT,
                "QueueItem": _QUEUE_ITEM,
                **request_schemas(),
            },
        },
        "paths": {
            **_intake_paths(),
            **_publishing_paths(),
            **_operations_paths(),
            **_moderators_paths(),
            **_perspective_paths(),
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    """The document."""
    return jsonify(document())

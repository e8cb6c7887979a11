"""The OpenAPI 3.1 document of the JSON APIs, served at /openapi.json.

Every schema is generated from a pydantic model: request bodies from the models that validate
them, answers (and the bodies validated by hand: reports, Perspective) from the models of
:mod:`moderation.web.responses`. Only the paths are written here. ``tests/functional/
test_openapi.py`` keeps it true (every JSON route documented, every documented route served)
and a bounded schemathesis run checks that answers match it and that no input gets a 5xx.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from pydantic import AliasChoices, BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import core_schema
from werkzeug.wrappers import Response

from moderation.schemas import CommentIn
from moderation.web import responses as r
from moderation.web.commenter import FORM_TOKEN_FIELD
from moderation.web.config import DEFAULTS
from moderation.web.requests import (
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
# The answers, by the models that describe them (their parts follow as they are referenced).
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    r.Error,
    r.CommentAccepted,
    r.ReportAccepted,
    r.FormToken,
    r.CommentStatus,
    r.ArticleComments,
    r.Health,
    r.Readiness,
    r.ReviewsPage,
    r.ClaimedItems,
    r.QueueItem,
    r.Decided,
    r.BulkResults,
    r.CommentHistory,
    r.AuthorRule,
    r.Moderators,
    r.Models,
    r.Stats,
    r.AnalyzeResponse,
    r.SuggestScoreResponse,
    r.GoogleError,
    *r.DOCUMENTED_REQUESTS,
)


class _SchemaGenerator(GenerateJsonSchema):
    """pydantic's JSON Schema (draft 2020-12, OpenAPI 3.1's dialect) without a title on every
    property, and without defaults in answers (there a default only marks a field that may be
    left out)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        if self.mode == "serialization":
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def component_schemas(honeypot_field: str = DEFAULTS["HONEYPOT_FIELD"]) -> dict[str, Any]:
    """Every model's schema, and the enums and parts they use, by name (for ``components``)."""
    _, generated = models_json_schema(
        [(model, "validation") for model in REQUEST_MODELS]
        + [(model, "serialization") for model in RESPONSE_MODELS],
        ref_template="#/components/schemas/{model}",
        schema_generator=_SchemaGenerator,
    )
    schemas: dict[str, Any] = generated["$defs"]
    schemas["CommentIn"] = _as_posted(schemas["CommentIn"], honeypot_field)
    return schemas


def _as_posted(schema: dict[str, Any], honeypot_field: str) -> dict[str, Any]:
    """``CommentIn`` as the intake reads a post: every alias of a field (the generated schema
    names a field by its first), the form token and the honeypot, and nothing else (a JSON
    body with another field is refused)."""
    properties = dict(schema["properties"])
    for field in CommentIn.model_fields.values():
        if isinstance(field.validation_alias, AliasChoices):
            first, *others = [c for c in field.validation_alias.choices if isinstance(c, str)]
            properties.update({other: properties[first] for other in others})
    properties[FORM_TOKEN_FIELD] = {"type": "string", "description": "From /comments/form-token."}
    properties[honeypot_field] = {"type": "string", "description": "The honeypot: leave empty."}
    return {**schema, "properties": properties, "additionalProperties": False}


# --------------------------------------------------------------------------- operations

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _answer(description: str, model: type[BaseModel] | None = None) -> dict[str, Any]:
    """An answer: JSON described by ``model``, or no body."""
    if model is None:
        return {"description": description}
    return {"description": description, "content": {JSON: {"schema": _ref(model)}}}


_ERRORS = {
    code: _answer(text, r.Error)
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
_GOOGLE_ERROR = _answer("Google's error envelope.", r.GoogleError)
_BACK = _answer("Form posts: back to the article.")
# Who may call an operation, by tag.
_SECURITY = {"moderators": "bearer", "perspective": "googApiKey"}


def _op(
    tag: str,
    summary: str,
    answers: dict[str, Any],
    errors: str = "",
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An operation: its answers, then its errors by code (``"404 422"``); moderators' also
    answer 401 and 403, and the Perspective API's errors come in Google's envelope."""
    codes = errors.split() + (["401", "403"] if tag == "moderators" else [])
    errs = {c: _GOOGLE_ERROR if tag == "perspective" else _ERRORS[c] for c in codes}
    operation: dict[str, Any] = {"summary": summary, "tags": [tag]}
    if tag in _SECURITY:
        operation["security"] = [{_SECURITY[tag]: []}]
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    operation["responses"] = {**answers, **errs}
    return operation


def _body(model: type[BaseModel], *media: str, required: bool = True) -> dict[str, Any]:
    """A request body described by ``model`` (JSON unless other media are named)."""
    return {
        "required": required,
        "content": {m: {"schema": _ref(model)} for m in media or (JSON,)},
    }


def _query(name: str, kind: str = "string", **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind, **schema}}


def _path_id() -> dict[str, Any]:
    return {
        "name": "comment_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }


def _mod(summary: str, answers: dict[str, Any], errors: str = "", **extra: Any) -> dict[str, Any]:
    return _op("moderators", summary, answers, errors, **extra)


def _intake_paths() -> dict[str, Any]:
    """Taking comments and reports in."""
    accepted = _answer("Stored and decided (a page for form posts).", r.CommentAccepted)
    accepted["content"]["text/html"] = {"schema": {"type": "string"}}
    return {
        "/comments": {
            "post": _op(
                "intake",
                "Submit a comment (the reply form's action).",
                {"201": accepted, "303": _BACK},
                "400 401 409 413 415 422 429",
                body=_body(CommentIn, JSON, FORM),
            )
        },
        "/comments/{comment_id}/report": {
            "post": _op(
                "intake",
                "A reader reports a published comment (once per reader; rate-limited per address).",
                {
                    "201": _answer("Reported (a page for form posts).", r.ReportAccepted),
                    "303": _BACK,
                },
                "400 404 409 415 422 429",
                parameters=[_path_id()],
                body=_body(r.ReportIn, JSON, FORM),
            )
        },
        "/comments/form-token": {
            "get": _op(
                "intake",
                "A signed form token and the honeypot field's name.",
                {"200": _answer("The token.", r.FormToken)},
            )
        },
    }


def _publishing_paths() -> dict[str, Any]:
    """A comment's public status and an article's published comments."""
    article = {
        "name": "article_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$"},
    }
    after = _query("after", "integer", minimum=0) | {
        "description": "Keyset paging: continue after this top-level comment (the answer's "
        "next link); page is then ignored."
    }
    return {
        "/comments/{comment_id}": {
            "get": _op(
                "publishing",
                "A comment's public status (its text once published).",
                {
                    "200": _answer(
                        "The status, and the text where it may be shown.", r.CommentStatus
                    )
                },
                "404",
                parameters=[_path_id(), _query("token")],
            )
        },
        "/articles/{article_id}/comments": {
            "get": _op(
                "publishing",
                "An article's approved comments, threaded, paginated (ETag).",
                {
                    "200": _answer(
                        "One page of top-level comments with their replies.", r.ArticleComments
                    ),
                    "304": _answer("Not modified (If-None-Match)."),
                },
                "404 422",
                parameters=[
                    article,
                    _query("order", enum=["oldest", "newest"]),
                    _query("page", "integer"),
                    _query("per_page", "integer"),
                    after,
                ],
            )
        },
    }


def _operations_paths() -> dict[str, Any]:
    """Liveness and readiness."""
    return {
        "/healthz": {"get": _op("operations", "Liveness.", {"200": _answer("Alive.", r.Health)})},
        "/readyz": {
            "get": _op(
                "operations",
                "Readiness: database reachable, model loaded, model version.",
                {
                    "200": _answer("Ready.", r.Readiness),
                    "503": _answer("Not ready.", r.Readiness),
                },
            )
        },
    }


def _moderators_paths() -> dict[str, Any]:
    """The moderator API: the queue, decisions, author rules, models, figures."""
    tabs = ["pending", "reported", "approved", "spam", "rejected", "all"]
    texts = ("q", "author", "email", "ip", "cursor", "article", "reason")
    item = [_path_id()]
    return {
        "/api/v1/reviews": {
            "get": _mod(
                "A tab of the queue (pending, reported, approved, spam, rejected, all): search "
                "by text, author, email, address, article; filter by reason and score; pages by "
                "cursor (next_cursor) or number; counts per tab.",
                {"200": _answer("The queue.", r.ReviewsPage)},
                "422",
                parameters=[
                    _query("status", enum=tabs),
                    *(_query(name) for name in texts),
                    _query("min_score", "number"),
                    _query("max_score", "number"),
                    _query("sort", enum=["priority", "age"]),
                    _query("page", "integer"),
                    _query("per_page", "integer"),
                ],
            )
        },
        "/api/v1/reviews/claim": {
            "post": _mod(
                "Lease the next N items.",
                {"200": _answer("The leased items.", r.ClaimedItems)},
                "400 422",
                body=_body(ClaimNextIn, required=False),
            )
        },
        "/api/v1/reviews/{comment_id}/claim": {
            "post": _mod(
                "Lease one item.",
                {"200": _answer("Leased.", r.QueueItem)},
                "404 409",
                parameters=item,
            )
        },
        "/api/v1/reviews/{comment_id}/release": {
            "post": _mod(
                "Give a lease back.",
                {"200": _answer("Released.", r.QueueItem)},
                "404",
                parameters=item,
            )
        },
        "/api/v1/reviews/{comment_id}/decision": {
            "post": _mod(
                "Decide any comment: approve, reject as spam, reject as abuse, or send back to "
                "review (hold). Changing a decided comment needs the version seen and a reason.",
                {"200": _answer("Decided.", r.Decided)},
                "400 404 409 422",
                parameters=item,
                body=_body(DecisionIn, required=False),
            )
        },
        "/api/v1/reviews/{comment_id}/undo": {
            "post": _mod(
                "Undo your latest decision on a comment.",
                {"200": _answer("Undone.", r.Decided)},
                "400 404 409 422",
                parameters=item,
                body=_body(UndoIn, required=False),
            )
        },
        "/api/v1/reviews/bulk": {
            "post": _mod(
                "One decision for many items.",
                {"200": _answer("Per-item results.", r.BulkResults)},
                "400 422",
                body=_body(BulkIn),
            )
        },
        "/api/v1/comments/{comment_id}/history": {
            "get": _mod(
                "Model output and every decision on a comment.",
                {"200": _answer("The history.", r.CommentHistory)},
                "404",
                parameters=item,
            )
        },
        "/api/v1/authors/rules": {
            "post": _mod(
                "Block an author's email or address, trust an email, or lift the rule.",
                {"200": _answer("The rule now.", r.AuthorRule)},
                "400 404 422",
                body=_body(AuthorRuleIn, required=False),
            )
        },
        "/api/v1/moderators": {
            "get": _mod(
                "Moderator accounts (admins only).",
                {"200": _answer("The accounts.", r.Moderators)},
            )
        },
        "/api/v1/models": {
            "get": _mod(
                "The active model version (recorded in the database, followed by every "
                "instance), the one this worker serves, the known versions and the latest "
                "activations.",
                {"200": _answer("The model versions.", r.Models)},
            )
        },
        "/api/v1/models/active": {
            "put": _mod(
                "Activate a model version (admins only): it is verified, stored in the database "
                "with its files, and served by every instance within its reload interval.",
                {"200": _answer("Activated.", r.Models)},
                "400 415 422",
                body=_body(ActivateIn),
            )
        },
        "/api/v1/stats": {
            "get": _mod(
                "The dashboard's figures: comments per day by status, backlog and oldest "
                "pending at each day's end, median time to decision, decisions per moderator, "
                "and overturned automatic decisions per model version.",
                {"200": _answer("The figures.", r.Stats)},
                "400",
                parameters=[
                    _query("days", "integer", minimum=1, maximum=90)
                    | {"required": False, "description": "UTC days up to today (default 30)."}
                ],
            )
        },
    }


def _perspective_paths() -> dict[str, Any]:
    """The Perspective-compatible API (Google's request and error shapes)."""
    return {
        "/v1alpha1/comments:analyze": {
            "post": _op(
                "perspective",
                "Perspective API: score TOXICITY (abuse head) and SPAM.",
                {"200": _answer("Scores per requested attribute.", r.AnalyzeResponse)},
                "400 403 413 429 503",
                body=_body(r.AnalyzeRequest),
            )
        },
        "/v1alpha1/comments:suggestscore": {
            "post": _op(
                "perspective",
                "Perspective API: a suggested score, kept as a training label.",
                {"200": _answer("Stored; clientToken echoed.", r.SuggestScoreResponse)},
                "400 403 413 429",
                body=_body(r.SuggestScoreRequest),
            )
        },
    }


def document(honeypot_field: str = DEFAULTS["HONEYPOT_FIELD"]) -> dict[str, Any]:
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
            "schemas": component_schemas(honeypot_field),
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
    return jsonify(document(current_app.config["HONEYPOT_FIELD"]))

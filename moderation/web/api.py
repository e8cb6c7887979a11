"""The moderator JSON API under /api/v1: the review queue, decisions, history, models."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from moderation.db import get_session
from moderation.errors import BadRequestError, NotFoundError, ValidationFailedError
from moderation.services import review_queue as rq
from moderation.services import webhooks
from moderation.services.scoring import get_scorer
from moderation.tables import Comment, Decision, Moderator, Role
from moderation.web.auth import current_moderator, require

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_ID = 2**62  # ids beyond any row (and beyond a 64-bit column) are simply not found
ItemId = Annotated[int, Field(ge=1, le=MAX_ID)]


@bp.url_value_preprocessor
def _bounded_ids(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and values.get("comment_id", 0) > MAX_ID:
        raise NotFoundError("No such comment.")


class DecisionIn(BaseModel):
    """A moderator's decision."""

    model_config = ConfigDict(extra="forbid")
    action: rq.Action
    reason: str | None = Field(default=None, max_length=500)
    version: int | None = None


class BulkIn(BaseModel):
    """One decision for several comments."""

    model_config = ConfigDict(extra="forbid")
    ids: list[ItemId] = Field(min_length=1, max_length=500)
    action: rq.Action
    reason: str | None = Field(default=None, max_length=500)


class ClaimNextIn(BaseModel):
    """How many items to lease."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=1, ge=1, le=50)


class UndoIn(BaseModel):
    """Undo, guarded by the decision meant and the version the moderator saw."""

    model_config = ConfigDict(extra="forbid")
    decision_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    version: int | None = None


def _body(model: type[BaseModel]) -> Any:
    raw = request.get_data()
    if raw and request.mimetype != "application/json":
        raise BadRequestError("Send JSON (Content-Type: application/json).")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise ValidationFailedError(
            [
                {
                    "field": ".".join(str(p) for p in e["loc"]) or "body",
                    "code": e["type"],
                    "message": e["msg"],
                }
                for e in exc.errors(include_url=False)
            ]
        ) from None


def _me() -> Moderator:
    moderator = current_moderator()
    assert moderator is not None  # guaranteed by @require
    return moderator


def item_json(comment: Comment, *, explain: bool = False) -> dict[str, Any]:
    """A queue item as moderators see it (scores, reasons, lease, version)."""
    latest = comment.decisions[-1] if comment.decisions else None
    item: dict[str, Any] = {
        "id": comment.id,
        "article_id": comment.article_id,
        "parent_id": comment.parent_id,
        "author": comment.author,
        "email": comment.email,
        "url": comment.url,
        "content": comment.content,
        "ip": comment.ip,
        "status": comment.status.value,
        "scores": {"spam": comment.spam_score, "abuse": comment.abuse_score},
        "reasons": latest.reasons if latest is not None else [],
        "priority": comment.priority,
        "created_at": comment.created_at.isoformat(),
        "claimed_by": comment.claimed_by,
        "claim_expires_at": comment.claim_expires_at.isoformat()
        if comment.claim_expires_at
        else None,
        "version": comment.version,
    }
    if explain:
        item["explanation"] = explanation(comment)
    return item


def explanation(comment: Comment) -> dict[str, list[dict[str, Any]]]:
    """Per head, the words that raised the score, with spans (empty without a model)."""
    scorer = get_scorer()
    if scorer is None:
        return {"spam": [], "abuse": []}
    from moderation.ml.features import CommentInput

    found = scorer.explain(
        CommentInput(comment.content, comment.author, comment.email, comment.url), top=8
    )
    return {head: [c.as_dict() for c in contributions] for head, contributions in found.items()}


def _float_arg(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ValidationFailedError(
            [{"field": name, "code": "invalid_score", "message": f"{name} is between 0 and 1."}]
        )
    return value


def _int_arg(name: str, default: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= high:
        raise ValidationFailedError(
            [{"field": name, "code": "out_of_range", "message": f"{name} is 1 to {high}."}]
        )
    return value


def _filter() -> rq.QueueFilter:
    sort = request.args.get("sort", "priority")
    if sort not in ("priority", "age"):
        raise ValidationFailedError(
            [{"field": "sort", "code": "invalid_sort", "message": "sort is priority or age."}]
        )
    return rq.QueueFilter(
        article_id=request.args.get("article") or None,
        reason=request.args.get("reason") or None,
        min_score=_float_arg("min_score"),
        max_score=_float_arg("max_score"),
        sort="age" if sort == "age" else "priority",
    )


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config["CLAIM_SECONDS"]))


@bp.get("/reviews")
@require(Role.MODERATOR)
def list_reviews() -> Response:
    """Pending comments: filter by article, reason, score range; sort by priority or age."""
    page = _int_arg("page", 1, 1_000_000)
    per_page = _int_arg("per_page", 50, 200)
    total, items = rq.list_pending(get_session(), flt=_filter(), page=page, per_page=per_page)
    return jsonify(
        {
            "total": total,
            "page": page,
            "per_page": per_page,
            "items": [item_json(c, explain=request.args.get("explain") == "1") for c in items],
        }
    )


@bp.post("/reviews/<int:comment_id>/claim")
@require(Role.MODERATOR)
def claim(comment_id: int) -> Response:
    """Lease one item (a lease expires after CLAIM_SECONDS)."""
    session = get_session()
    comment = rq.claim(session, comment_id=comment_id, moderator=_me(), lease=_lease())
    session.commit()
    return jsonify(item_json(comment))


@bp.post("/reviews/claim")
@require(Role.MODERATOR)
def claim_next() -> Response:
    """Lease the next N items in queue order."""
    body: ClaimNextIn = _body(ClaimNextIn)
    session = get_session()
    items = rq.claim_next(session, moderator=_me(), count=body.count, flt=_filter(), lease=_lease())
    session.commit()
    return jsonify({"items": [item_json(c) for c in items]})


@bp.post("/reviews/<int:comment_id>/release")
@require(Role.MODERATOR)
def release(comment_id: int) -> Response:
    """Give a lease back."""
    session = get_session()
    comment = rq.release(session, comment_id=comment_id, moderator=_me())
    session.commit()
    return jsonify(item_json(comment))


@bp.post("/reviews/<int:comment_id>/decision")
@require(Role.MODERATOR)
def decide(comment_id: int) -> Response:
    """Approve, reject as spam or reject as abuse; ``version`` guards against stale views."""
    body: DecisionIn = _body(DecisionIn)
    session = get_session()
    decision = rq.decide(
        session,
        comment_id=comment_id,
        moderator=_me(),
        action=body.action,
        reason=body.reason,
        version=body.version,
    )
    return _committed(session, decision)


def _committed(session: Session, decision: Decision) -> Response:
    """Commit a moderator's decision with its webhook event, count it, answer with the item."""
    webhooks.enqueue_status(session, decision.comment)  # the outbox: in the same transaction
    session.commit()
    current_app.extensions["moderation.metrics"].decided(decision)
    return jsonify({"decision_id": decision.id, "item": item_json(decision.comment)})


@bp.post("/reviews/<int:comment_id>/undo")
@require(Role.MODERATOR)
def undo(comment_id: int) -> Response:
    """Undo the latest standing moderator decision; the comment returns to the queue."""
    body: UndoIn = _body(UndoIn)
    session = get_session()
    decision = rq.undo(
        session,
        comment_id=comment_id,
        moderator=_me(),
        decision_id=body.decision_id,
        version=body.version,
    )
    return _committed(session, decision)


@bp.post("/reviews/bulk")
@require(Role.MODERATOR)
def bulk() -> Response:
    """One decision for many items; each succeeds or fails on its own."""
    body: BulkIn = _body(BulkIn)
    session = get_session()
    results = rq.decide_many(
        session, comment_ids=body.ids, moderator=_me(), action=body.action, reason=body.reason
    )
    webhooks.enqueue_statuses(session, [r.comment_id for r in results if r.ok])  # the outbox
    session.commit()
    metrics = current_app.extensions["moderation.metrics"]
    for decision in rq.latest_decisions(session, [r.comment_id for r in results if r.ok]):
        metrics.decided(decision)
    return jsonify({"results": [r.__dict__ for r in results]})


@bp.get("/comments/<int:comment_id>/history")
@require(Role.MODERATOR)
def history(comment_id: int) -> Response:
    """The model's output, the rules fired and every decision, with who and when."""
    return jsonify(rq.history(get_session(), comment_id))


@bp.get("/moderators")
@require(Role.ADMIN)
def moderators() -> Response:
    """Accounts (admins only)."""
    from sqlalchemy import select

    rows = get_session().scalars(select(Moderator).order_by(Moderator.id)).all()
    return jsonify(
        {
            "moderators": [
                {"id": m.id, "name": m.name, "role": m.role.value, "disabled": bool(m.disabled_at)}
                for m in rows
            ]
        }
    )


class ActivateIn(BaseModel):
    """The model version to make active on every instance."""

    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=64)


def _models_view(session: Session) -> dict[str, Any]:
    from moderation.services import model_registry
    from moderation.services.scoring import model_store

    store = model_store(current_app.config)
    recorded = model_registry.active(session)
    scorer = get_scorer()
    return {
        "active": recorded.version if recorded is not None else store.active(),
        "serving": scorer.version if scorer is not None else None,
        "versions": sorted(set(store.versions()) | model_registry.stored_versions(session)),
        "activations": [
            {"version": a.version, "actor": a.actor, "activated_at": a.activated_at.isoformat()}
            for a in model_registry.history(session, limit=20)
        ],
    }


@bp.get("/models")
@require(Role.MODERATOR)
def models() -> Response:
    """The active model version, the one this worker serves, the known versions and the latest
    activations."""
    return jsonify(_models_view(get_session()))


@bp.put("/models/active")
@require(Role.ADMIN)
def activate_model() -> Response:
    """Activate a model version (admins only): every instance on this database serves it
    within its reload interval."""
    from moderation.ml.artifacts import ArtifactError
    from moderation.services import model_registry
    from moderation.services.scoring import model_store

    data = _body(ActivateIn)
    session = get_session()
    moderator = current_moderator()
    assert moderator is not None  # require() let the caller in
    try:
        model_registry.activate(
            session, model_store(current_app.config), data.version, actor=moderator.name
        )
    except ArtifactError as exc:
        raise BadRequestError(str(exc)) from exc
    session.commit()
    return jsonify(_models_view(session))

"""The moderator JSON API under /api/v1: the review queue (tabs, search, paging), decisions
on any comment, history, author rules, models."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from moderation.domain.errors import BadRequestError, NotFoundError, ValidationFailedError
from moderation.domain.policy import Role
from moderation.services import authors, webhooks
from moderation.services import review_queue as rq
from moderation.services.moderators import list_moderators
from moderation.storage.tables import DecisionRecord, Moderator
from moderation.web import metrics
from moderation.web.auth import current_moderator, require
from moderation.web.database import get_session
from moderation.web.extensions import commit_decision, get_scorer, webhooks_enabled
from moderation.web.listing import item_json, page_details, queue_filter, text_arg
from moderation.web.query import int_arg
from moderation.web.requests import (
    MAX_ID,
    ActivateIn,
    AuthorRuleIn,
    BulkIn,
    ClaimNextIn,
    DecisionIn,
    UndoIn,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.url_value_preprocessor
def _bounded_ids(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values and values.get("comment_id", 0) > MAX_ID:
        raise NotFoundError("No such comment.")


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


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config["CLAIM_SECONDS"]))


@bp.get("/reviews")
@require(Role.MODERATOR)
def list_reviews() -> Response:
    """A tab of the queue (pending, reported, approved, spam, rejected, all), searched and
    filtered, one page at a time: follow ``next_cursor`` (stable while items are decided),
    or ask for a ``page`` number. ``counts`` holds each tab's size (capped)."""
    per_page = int_arg("per_page", 50, 1, 200)
    cursor = text_arg("cursor", 400)
    page = int_arg("page", 1, 1, 1_000_000) if cursor is None else 1
    session = get_session()
    listed = rq.list_comments(
        session,
        flt=queue_filter(),
        cursor=cursor,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return jsonify(
        {
            "total": listed.total,
            "total_capped": listed.total_capped,
            "counts": listed.counts,
            "count_cap": rq.COUNT_CAP,
            "page": page,
            "per_page": per_page,
            "next_cursor": listed.next_cursor,
            "items": page_details(session, listed.items),
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
    items = rq.claim_next(
        session, moderator=_me(), count=body.count, flt=queue_filter(), lease=_lease()
    )
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
    decision = rq.record_decision(
        session,
        comment_id=comment_id,
        moderator=_me(),
        action=body.action,
        reason=body.reason,
        version=body.version,
    )
    return _committed(session, decision)


def _committed(session: Session, decision: DecisionRecord) -> Response:
    """Commit a moderator's decision with its webhook event, count it, answer with the item."""
    commit_decision(session, decision)
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
    webhooks.enqueue_statuses(
        session, [r.comment_id for r in results if r.ok], enabled=webhooks_enabled()
    )  # the outbox
    session.commit()
    for decision in rq.latest_decisions(session, [r.comment_id for r in results if r.ok]):
        metrics.decided(decision)
    return jsonify({"results": [r.__dict__ for r in results]})


@bp.get("/comments/<int:comment_id>/history")
@require(Role.MODERATOR)
def history(comment_id: int) -> Response:
    """The model's output, the rules fired and every decision, with who and when."""
    return jsonify(rq.history(get_session(), comment_id))


@bp.post("/authors/rules")
@require(Role.MODERATOR)
def author_rule() -> Response:
    """Block an author's email or address, trust an email, or lift such a rule."""
    body: AuthorRuleIn = _body(AuthorRuleIn)
    session = get_session()
    if body.action == "clear":
        found = authors.clear_rule(session, kind=body.kind, value=body.value)
        session.commit()
        if not found:
            raise NotFoundError("There is no rule on this email or address.")
        return jsonify({"kind": body.kind, "value": body.value, "action": None})
    rule = authors.set_rule(
        session,
        kind=body.kind,
        value=body.value,
        action=body.action,
        moderator=_me(),
        reason=body.reason,
    )
    session.commit()
    return jsonify({"kind": rule.kind, "value": rule.value, "action": rule.action})


@bp.get("/moderators")
@require(Role.ADMIN)
def moderators() -> Response:
    """Accounts (admins only), by name."""
    rows = list_moderators(get_session())
    return jsonify(
        {
            "moderators": [
                {"id": m.id, "name": m.name, "role": m.role.value, "disabled": bool(m.disabled_at)}
                for m in rows
            ]
        }
    )


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

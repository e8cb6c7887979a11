"""The review queue as the JSON API and the moderation page both list it: a listing's filter
from the query string, and comments as moderators see them (scores beside thresholds, reasons
in plain words, authors' histories, rules and reports)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy.orm import Session

from moderation.domain.errors import ValidationFailedError
from moderation.services import authors
from moderation.services import review_queue as rq
from moderation.services.intake import settings_from_config, thresholds_for
from moderation.services.reasons import plain, score_lines
from moderation.storage.tables import Comment, Prediction
from moderation.web.extensions import get_scorer
from moderation.web.links import article_url


def _latest_prediction(comment: Comment) -> Prediction | None:
    return comment.predictions[-1] if comment.predictions else None


def _current_thresholds() -> dict[str, dict[str, float]]:
    """The thresholds in force now, for comments stored without theirs (once per request)."""
    if "current_thresholds" not in g:
        found = thresholds_for(get_scorer(), settings_from_config(current_app.config))
        g.current_thresholds = {head: t.as_dict() for head, t in found.items()}
    current: dict[str, dict[str, float]] = g.current_thresholds
    return current


def _reason_json(reason: dict[str, Any]) -> dict[str, Any]:
    return {**reason, "text": plain(reason)}


def item_json(
    comment: Comment,
    *,
    history: dict[str, int] | None = None,
    reports: list[Any] | None = None,
    rules: dict[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """A comment as moderators see it: scores beside the thresholds that decided them, the
    automatic decision's reasons in plain words, the latest decision, lease and version.

    Reads only what the page's queries loaded (decisions, predictions, and the optional
    author history, reports and rules): no statement per item.
    """
    latest = comment.decisions[-1] if comment.decisions else None
    automatic = next((d for d in reversed(comment.decisions) if d.moderator_id is None), None)
    prediction = _latest_prediction(comment)
    stored = prediction.thresholds if prediction is not None else None
    scores = {"spam": comment.spam_score, "abuse": comment.abuse_score}
    item: dict[str, Any] = {
        "id": comment.id,
        "article_id": comment.article_id,
        "article_url": article_url(comment.article_id),
        "parent_id": comment.parent_id,
        "author": comment.author,
        "email": comment.email,
        "url": comment.url,
        "content": comment.content,
        "ip": comment.ip,
        "status": comment.status.value,
        "scores": scores,
        "thresholds": stored,
        "score_lines": score_lines(scores, stored or _current_thresholds()),
        "thresholds_source": "stored" if stored else "current",
        "reasons": latest.reasons if latest is not None else [],
        "system_reasons": [_reason_json(r) for r in automatic.reasons] if automatic else [],
        "latest_decision": {
            "id": latest.id,
            "actor": latest.actor,
            "status": latest.status.value,
            "reasons": [_reason_json(r) for r in latest.reasons],
            "created_at": latest.created_at.isoformat(),
        }
        if latest is not None
        else None,
        "explanation": prediction.explanation if prediction is not None else None,
        "model_version": prediction.model_version if prediction is not None else None,
        "priority": comment.priority,
        "open_reports": comment.open_reports,
        "created_at": comment.created_at.isoformat(),
        "claimed_by": comment.claimed_by,
        "claim_expires_at": comment.claim_expires_at.isoformat()
        if comment.claim_expires_at
        else None,
        "version": comment.version,
    }
    if history is not None:
        item["author_history"] = history
    if reports is not None:
        item["reports"] = [
            {"reason": r.reason, "detail": r.detail, "created_at": r.created_at.isoformat()}
            for r in reports
        ]
    if rules is not None:
        item["author_rules"] = {
            "email": rules.get(("email", comment.email.lower())),
            "ip": rules.get(("ip", comment.ip)),
        }
    return item


def page_details(session: Session, items: list[Comment]) -> list[dict[str, Any]]:
    """A page of comments as JSON with their authors' histories, rules and open reports
    (three statements for the whole page)."""
    emails = sorted({c.email for c in items})
    histories = rq.author_histories(session, emails)
    rules = authors.rules_for(session, emails=emails, ips=[c.ip for c in items])
    reported = [c.id for c in items if c.open_reports]
    reports = rq.open_reports(session, reported) if reported else {}
    return [
        item_json(c, history=histories[c.email], reports=reports.get(c.id, []), rules=rules)
        for c in items
    ]


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


def text_arg(name: str, high: int = 200) -> str | None:
    value = (request.args.get(name) or "").strip()
    if len(value) > high:
        raise ValidationFailedError(
            [{"field": name, "code": "too_long", "message": f"{name} is at most {high} long."}]
        )
    return value or None


def queue_filter() -> rq.QueueFilter:
    """The tab, search and order of a listing, from the query string.

    :raises ValidationFailedError: an unknown tab or order, a bad score, a too long term.
    """
    args = request.args
    sort = args.get("sort", "priority") or "priority"
    if sort not in ("priority", "age"):
        raise ValidationFailedError(
            [{"field": "sort", "code": "invalid_sort", "message": "sort is priority or age."}]
        )
    tab = args.get("status") or args.get("tab") or "pending"
    if tab not in {t.value for t in rq.Tab}:
        raise ValidationFailedError(
            [
                {
                    "field": "status",
                    "code": "invalid_status",
                    "message": "status is one of " + ", ".join(t.value for t in rq.Tab) + ".",
                }
            ]
        )
    return rq.QueueFilter(
        article_id=text_arg("article", 100),
        reason=text_arg("reason", 64),
        min_score=_float_arg("min_score"),
        max_score=_float_arg("max_score"),
        sort="age" if sort == "age" else "priority",
        tab=rq.Tab(tab),
        text=text_arg("q"),
        author=text_arg("author"),
        email=text_arg("email", 100),
        ip=text_arg("ip", 45),
    )

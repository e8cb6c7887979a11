"""Readers report published comments: ``POST /comments/<id>/report`` from the article page.

Public and unauthenticated like the intake, so rate-limited per address
(``REPORT_RATE_LIMIT``), and one report per reader and comment. A form post is sent back to
the article (``redirect_to``) or gets a short page; JSON gets JSON.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request
from werkzeug.wrappers import Response

from moderation.domain.errors import NotFoundError
from moderation.services import reports
from moderation.web.commenter import read_payload, redirect_target, safe_referrer, with_params
from moderation.web.database import get_session
from moderation.web.errors import wants_html
from moderation.web.ratelimit import limiter

bp = Blueprint("reports", __name__)
THANKS = "Thank you. A moderator will look at this comment."


def _report_limit() -> str:
    return str(current_app.config["REPORT_RATE_LIMIT"])


@bp.post("/comments/<int:comment_id>/report")
@limiter.limit(_report_limit)
def report(comment_id: int) -> Response:
    """Report a published comment to the moderators, with a reason."""
    if comment_id > 2**62:
        raise NotFoundError("No such published comment.")
    data, _ = read_payload()
    reason, detail = reports.validate(data.get("reason"), data.get("detail"))
    session = get_session()
    reader = reports.reader_key(current_app.config["SECRET_KEY"], request.remote_addr or "")
    reports.report_comment(
        session, comment_id=comment_id, reader=reader, reason=reason, detail=detail
    )
    session.commit()
    if wants_html():
        target = redirect_target(str(data.get("redirect_to") or ""))
        if target is not None:
            return redirect(
                with_params(target, {"reported": str(comment_id)}, f"comment-{comment_id}"),
                code=303,
            )
        return Response(
            render_template("reported.html", message=THANKS, back=safe_referrer()),
            status=201,
            mimetype="text/html",
        )
    response = jsonify({"comment_id": comment_id, "reported": True, "message": THANKS})
    response.status_code = 201
    return response

"""Liveness and readiness."""

from __future__ import annotations

from importlib.metadata import version

from flask import Blueprint, Response, current_app, jsonify

from moderation.web import database as db
from moderation.web import ratelimit
from moderation.web.extensions import get_holder

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Every dependency a comment needs: the database (taking writes), Redis when rate limits
    live there, and the model (comments would otherwise wait for review). 503 when one is
    down, with what is wrong."""
    holder = get_holder(current_app)
    scorer = holder.get()
    problems = {}
    database = db.check(current_app)
    if database is not None:
        problems["database"] = database
    redis = ratelimit.storage_problem(current_app)
    if redis is not None:
        problems["rate_limit_storage"] = redis
    if scorer is None:
        problems["model"] = "not loaded"
    ready = not problems
    response = jsonify(
        {
            "status": "ready" if ready else "not_ready",
            "problems": problems,
            "database": database is None,
            "model_loaded": scorer is not None,
            "model_version": scorer.version if scorer is not None else None,
            "model_error": holder.error,
            "versions": {
                "scikit-learn": version("scikit-learn"),
                "moderation": version("moderation"),
            },
        }
    )
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    if not ready:
        response.headers["Retry-After"] = "5"
    return response

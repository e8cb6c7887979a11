"""Liveness and readiness."""

from __future__ import annotations

from importlib.metadata import version

from flask import Blueprint, Response, current_app, jsonify

from moderation import db
from moderation.services.scoring import EXTENSION as SCORER

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Database reachable and model loaded (comments would otherwise wait for review)."""
    holder = current_app.extensions[SCORER]
    scorer = holder.get()
    database = db.ping(current_app)
    ready = database and scorer is not None
    response = jsonify(
        {
            "status": "ready" if ready else "not_ready",
            "database": database,
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
    return response

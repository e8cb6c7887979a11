"""A bare Flask app: the baseline that ``bench_intake.py`` compares the intake with.

One route, ``POST /comments``, that reads the JSON body and answers a small 201 JSON, with no
validation, model, database or logging of its own: what is left is Flask and gunicorn.

    gunicorn --workers 2 --bind 127.0.0.1:8001 --chdir benchmarks bare_app:app
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.wrappers import Response

app = Flask(__name__)


@app.post("/comments")
def post_comment() -> tuple[Response, int]:
    """Read the posted JSON and answer as the intake does, without doing the work."""
    data = request.get_json(force=True, silent=True)
    size = len(data) if isinstance(data, dict) else 0
    return jsonify({"id": 1, "status": "pending", "fields": size}), 201

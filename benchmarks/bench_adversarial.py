"""Hostile-input benchmark: every public endpoint on 64 KB adversarial comments.

Run by hand (``make bench-adversarial``); it prints figures and asserts nothing. The app runs
in process (Flask's test client, no network) on a temporary SQLite database with the shipped
model, rate limits and the flood rule off (every request comes from one address). For each
hostile text of ``tests/adversarial.py``, cut to the intake's 65,525-byte limit, it shows:

- ``score`` and ``explain``: the scorer alone (both heads), the part the quality bar bounds
  (≤ 50 ms of scoring on 64 KB of adversarial text);
- the whole request time of ``POST /comments`` (JSON, then a form post), Akismet's
  ``comment-check``, Perspective's ``comments:analyze`` with span annotations (its own limit,
  20,480 bytes), and the moderator's queue page showing that comment with its explanation.

    python benchmarks/bench_adversarial.py [--only NAME]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moderation import create_app  # noqa: E402
from moderation.domain.policy import Role  # noqa: E402
from moderation.ml.features import CommentInput  # noqa: E402
from moderation.services.moderators import create_moderator  # noqa: E402
from moderation.services.sitekeys import create_site_key  # noqa: E402
from moderation.storage import migrate  # noqa: E402
from moderation.web import database as db  # noqa: E402
from moderation.web.extensions import get_scorer  # noqa: E402
from tests import adversarial  # noqa: E402

COMMENT_BYTES = 65_525
PERSPECTIVE_BYTES = 20_480


def fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(milliseconds, result)."""
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def main() -> None:
    """Run every endpoint on every hostile text and print one table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only the hostile texts whose name contains this")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # one log line per request would drown the table
    folder = Path(tempfile.mkdtemp(prefix="bench-adversarial-"))
    app = create_app(
        {
            "ENV": "testing",
            "SECRET_KEY": "bench",
            "DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
            "RATELIMIT_ENABLED": False,
            "FLOOD_SECONDS": 0,
        }
    )
    migrate.upgrade(db.get_engine(app))
    with app.app_context():
        session = db.get_session()
        _, key = create_site_key(session, name="bench")
        create_moderator(session, name="mod", role=Role.MODERATOR, password="bench-password-1")
        session.commit()
        scorer = get_scorer()
    assert scorer is not None, "no model"
    client = app.test_client()
    moderator = app.test_client()
    login_page = moderator.get("/moderate/login").get_data(as_text=True)
    csrf = login_page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    moderator.post(
        "/moderate/login", data={"name": "mod", "password": "bench-password-1", "csrf_token": csrf}
    )

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; model {scorer.version}; times in ms"
    )
    header = (
        f"{'hostile text':<26} {'chars':>6} {'score':>6} {'explain':>7} {'json':>6} "
        f"{'form':>6} {'akismet':>7} {'persp.':>6} {'queue':>6}  statuses"
    )
    print(header)
    print("-" * len(header))
    worst: dict[str, float] = {}
    texts = adversarial.all_texts(COMMENT_BYTES)
    for number, (name, raw) in enumerate(texts.items()):
        if args.only and args.only not in name:
            continue
        text = fit(raw, COMMENT_BYTES)
        comment = CommentInput(text)
        score_ms, _ = timed(lambda c=comment: scorer.score_many([c]))
        explain_ms, _ = timed(lambda c=comment: scorer.explain(c))
        fields = {
            "comment": text,
            "author": "Hostile Tester",
            "email": f"hostile{number}@example.org",
            "comment_post_ID": f"bench-{number}",
        }
        json_ms, json_r = timed(lambda f=fields: client.post("/comments", json=f))
        form_fields = {**fields, "email": f"form{number}@example.org"}
        form_ms, form_r = timed(lambda f=form_fields: client.post("/comments", data=f))
        akismet = {
            "api_key": key,
            "blog": "https://news.example",
            "user_ip": "192.0.2.1",
            "comment_content": text,
            "comment_author": "Hostile Tester",
        }
        akismet_ms, akismet_r = timed(lambda a=akismet: client.post("/1.1/comment-check", data=a))
        body = {
            "comment": {"text": fit(text, PERSPECTIVE_BYTES)},
            "requestedAttributes": {"TOXICITY": {}, "SPAM": {}},
            "spanAnnotations": True,
        }
        persp_ms, persp_r = timed(
            lambda b=body: client.post(f"/v1alpha1/comments:analyze?key={key}", json=b)
        )
        queue_ms, queue_r = timed(
            lambda n=number: moderator.get(f"/moderate?article=bench-{n}&sort=age")
        )
        statuses = [json_r, form_r, akismet_r, persp_r, queue_r]
        row = {
            "score": score_ms,
            "explain": explain_ms,
            "json": json_ms,
            "form": form_ms,
            "akismet": akismet_ms,
            "perspective": persp_ms,
            "queue": queue_ms,
        }
        for column, value in row.items():
            worst[column] = max(worst.get(column, 0.0), value)
        print(
            f"{name[:26]:<26} {len(text):>6} {score_ms:>6.1f} {explain_ms:>7.1f} {json_ms:>6.1f} "
            f"{form_ms:>6.1f} {akismet_ms:>7.1f} {persp_ms:>6.1f} {queue_ms:>6.1f}  "
            + " ".join(str(r.status_code) for r in statuses)  # type: ignore[attr-defined]
        )
    print("-" * len(header))
    print("worst: " + ", ".join(f"{k} {v:.1f}" for k, v in worst.items()))


if __name__ == "__main__":
    main()

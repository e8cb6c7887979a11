"""Review queue at scale: latency of the queue API and of the moderation page.

Run by hand on a seeded database (it prints figures and the targets; it asserts nothing):

    MODERATION_DATABASE_URL=sqlite:///var/queue.db moderation db upgrade
    MODERATION_DATABASE_URL=sqlite:///var/queue.db moderation db seed   # 1,000,000 / 100,000
    MODERATION_DATABASE_URL=sqlite:///var/queue.db python benchmarks/bench_queue.py

Each request goes through the whole app in this process (WSGI, authentication, the queries,
JSON or the template), one at a time, so the figures are the service's own time without a
network or a load generator in front: the first page of each tab, pages deeper in by cursor,
and searches. Targets (issue 12): API p99 <= 50 ms, page p99 <= 300 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402

from moderation import create_app  # noqa: E402
from moderation.domain.policy import Role  # noqa: E402
from moderation.services.moderators import create_moderator, create_token  # noqa: E402
from moderation.storage.tables import Moderator  # noqa: E402
from moderation.web.database import get_session  # noqa: E402

API_TARGET_MS = 50
PAGE_TARGET_MS = 300
NAME, PASSWORD = "bench-moderator", "bench-password-1"


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _measure(label: str, call: Callable[[], int], repeat: int) -> list[float]:
    call()  # warm the caches once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        status = call()
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise SystemExit(f"{label}: answered {status}")
    print(
        f"  {label:<44} p50 {statistics.median(times):7.1f} ms"
        f"   p99 {_percentile(times, 99):7.1f} ms   max {max(times):7.1f} ms"
    )
    return times


def _cursors(client: FlaskClient, headers: dict[str, str], query: str, depth: int) -> list[str]:
    """The cursors of the first ``depth`` pages of a listing."""
    cursors: list[str] = []
    cursor = None
    for _ in range(depth):
        url = f"/api/v1/reviews?{query}" + (f"&cursor={cursor}" if cursor else "")
        cursor = client.get(url, headers=headers).json["next_cursor"]
        if not cursor:
            break
        cursors.append(cursor)
    return cursors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300, help="Requests per measured case.")
    parser.add_argument("--depth", type=int, default=40, help="Pages walked by cursor.")
    args = parser.parse_args()
    app = create_app(
        {
            "SECRET_KEY": os.environ.get("MODERATION_SECRET_KEY", "bench-secret"),
            "ENV": "development",
            "SCORER_BACKEND": "fixed",
            "SESSION_COOKIE_SECURE": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    gc.freeze()  # what gunicorn.conf.py's pre_fork does in the service: no ~100 ms full-GC stalls
    with app.app_context():
        session = get_session()
        from sqlalchemy import func, select

        if session.scalar(select(Moderator).where(Moderator.name == NAME)) is None:
            create_moderator(session, name=NAME, role=Role.MODERATOR, password=PASSWORD)
        token = create_token(session, name=NAME)
        session.commit()
        total = session.scalar(
            select(func.count()).select_from(Moderator.metadata.tables["comments"])
        )
    url = app.config["DATABASE_URL"].split("@")[-1]
    print(
        f"queue benchmark on {url}: {total:,} comments; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()

    def api(query: str) -> Callable[[], int]:
        return lambda: client.get(f"/api/v1/reviews?{query}", headers=headers).status_code

    api_times: list[float] = []
    print("API (GET /api/v1/reviews, 50 items a page):")
    for label, query in [
        ("pending, first page (priority)", "status=pending"),
        ("pending, first page (oldest)", "status=pending&sort=age"),
        ("approved, first page (newest)", "status=approved"),
        ("spam, first page", "status=spam"),
        ("reported", "status=reported"),
        ("all of one author (email)", "status=all&email=reader123@seed.example"),
        ("one article, pending", "status=pending&article=seed-7"),
    ]:
        api_times += _measure(label, api(query), args.repeat)
    deep = _cursors(client, headers, "status=pending", args.depth)
    index = iter(range(10**9))

    def walk() -> int:
        cursor = deep[next(index) % len(deep)]
        return client.get(f"/api/v1/reviews?cursor={cursor}", headers=headers).status_code

    api_times += _measure(f"pending, pages 2..{len(deep) + 1} by cursor", walk, args.repeat)
    print(
        f"  API overall: p50 {statistics.median(api_times):.1f} ms, "
        f"p99 {_percentile(api_times, 99):.1f} ms (target p99 <= {API_TARGET_MS} ms)"
    )

    page_client = app.test_client()
    login = page_client.get("/moderate/login").get_data(as_text=True)
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert csrf is not None
    signed = page_client.post(
        "/moderate/login",
        data={"name": NAME, "password": PASSWORD, "csrf_token": csrf.group(1)},
    )
    assert signed.status_code == 303, signed.status_code

    def page(query: str) -> Callable[[], int]:
        return lambda: page_client.get(f"/moderate?{query}").status_code

    page_times: list[float] = []
    print("Page (GET /moderate, 50 cards a page):")
    for label, query in [
        ("pending tab", "tab=pending"),
        ("approved tab", "tab=approved"),
        ("author panel (all of one email)", "tab=all&email=reader123@seed.example"),
    ]:
        page_times += _measure(label, page(query), max(50, args.repeat // 3))
    page_index = iter(range(10**9))

    def page_walk() -> int:
        cursor = deep[next(page_index) % len(deep)]
        return page_client.get(f"/moderate?tab=pending&cursor={cursor}").status_code

    page_times += _measure("pending tab, deeper pages", page_walk, max(50, args.repeat // 3))
    print(
        f"  page overall: p50 {statistics.median(page_times):.1f} ms, "
        f"p99 {_percentile(page_times, 99):.1f} ms (target p99 <= {PAGE_TARGET_MS} ms)"
    )


if __name__ == "__main__":
    main()

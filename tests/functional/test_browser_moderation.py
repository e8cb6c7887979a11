"""End to end in headless Chromium: a moderator signs in and works the queue by keyboard."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from moderation.db import get_session
from moderation.services.moderators import create_moderator
from moderation.tables import Role
from tests.conftest import IN_CI, served, sqlite_app

pytestmark = [pytest.mark.functional, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _need_browser() -> None:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("chromium is required in CI (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    app = sqlite_app(
        tmp_path / "live.db",
        SCORER_BACKEND="fixed",
        FIXED_SCORES={"spam": 0.6, "abuse": 0.01},  # everything waits for review
        FLOOD_SECONDS=0,
    )
    with app.app_context():
        session = get_session()
        create_moderator(session, name="maria", role=Role.MODERATOR, password="queue-worker-1")
        session.commit()
    with served(app) as base:
        yield base


def _post_comment(base: str, text: str, email: str) -> int:
    body = json.dumps(
        {"comment": text, "author": "Reader", "email": email, "comment_post_ID": "story-7"}
    ).encode()
    request = urllib.request.Request(
        base + "/comments", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.load(response)["id"])


def _published(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/articles/story-7/comments", timeout=10) as response:
        return [c["content"] for c in json.load(response)["comments"]]


def test_sign_in_approve_and_reject_by_keyboard(live_server: str) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    texts = [
        "First: a fair point about the bus timetable.",
        "Second: <script>document.title='pwned'</script> rude words",
        "Third: still waiting here.",
    ]
    for i, text in enumerate(texts):
        _post_comment(live_server, text, f"reader{i}@example.org")
    assert _published(live_server) == []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(live_server + "/moderate")
            page.fill("#name", "maria")
            page.fill("#password", "queue-worker-1")
            page.click("button[type=submit]")
            page.wait_for_selector("body[data-ready='1']")
            items = page.locator("article.item")
            expect(items).to_have_count(3)
            expect(page.locator("#count")).to_have_text("3")
            # user text is shown as text, never run
            expect(items.nth(1).locator(".content")).to_contain_text("<script>")
            assert page.title() != "pwned"

            page.keyboard.press("a")  # approve the first (current) item
            expect(items).to_have_count(2)
            expect(page.locator("#status")).to_contain_text("approved")
            page.keyboard.press("r")  # reject the next one as abuse
            expect(items).to_have_count(1)
            expect(page.locator("#status")).to_contain_text("rejected")
            expect(page.locator("#count")).to_have_text("1")

            page.reload()
            expect(page.locator("article.item")).to_have_count(1)
            expect(page.locator("article.item .content")).to_have_text(texts[2])
        finally:
            browser.close()

    assert _published(live_server) == [texts[0]]

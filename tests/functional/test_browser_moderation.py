"""End to end in headless Chromium: a moderator signs in and works the queue by keyboard."""

from __future__ import annotations

import contextlib
import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moderation.domain.policy import Role
from moderation.services.moderators import create_moderator
from moderation.web.database import get_session
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


# --------------------------------------------------------------------------- issue 11: the
# queue's tabs, reversals, reader reports and the page without JavaScript


@contextlib.contextmanager
def _live(tmp_path: Path, **config: Any) -> Iterator[str]:
    app = sqlite_app(tmp_path / "queue.db", FLOOD_SECONDS=0, **config)
    with app.app_context():
        session = get_session()
        create_moderator(session, name="maria", role=Role.MODERATOR, password="queue-worker-1")
        session.commit()
    with served(app) as base:
        yield base


def _post_to(base: str, text: str, email: str, article: str = "demo-article") -> dict[str, Any]:
    body = json.dumps(
        {"comment": text, "author": "Reader", "email": email, "comment_post_ID": article}
    ).encode()
    request = urllib.request.Request(
        base + "/comments", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def _sign_in(page: Any, base: str, query: str = "") -> None:
    page.goto(base + "/moderate" + query)
    page.fill("#name", "maria")
    page.fill("#password", "queue-worker-1")
    page.click("button[type=submit]")
    page.wait_for_url("**/moderate")
    if query:
        page.goto(base + "/moderate" + query)


def _launch(p: Any) -> Any:
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def test_rescue_an_auto_spammed_comment_from_the_spam_tab(tmp_path: Path) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with _live(
        tmp_path, SCORER_BACKEND="fixed", FIXED_SCORES={"spam": 0.95, "abuse": 0.01}
    ) as base:
        posted = _post_to(base, "Great reporting, thank you.", "fan@example.org")
        assert posted["status"] == "pending"  # the sender is never told "spam"
        with sync_playwright() as p:
            browser = _launch(p)
            try:
                page = browser.new_page()
                _sign_in(page, base, "?tab=spam")
                page.wait_for_selector("body[data-ready='1']")
                expect(page.locator("a.tab.current")).to_contain_text("Spam 1")
                card = page.locator(f"#item-{posted['id']}")
                expect(card.locator(".why")).to_contain_text("The spam model is sure it is spam.")
                card.locator("button[data-action=approve]").click()
                expect(page.locator("#status")).to_contain_text("Say why you change")
                expect(card).to_have_count(1)  # nothing changed without a reason
                card.locator("input.reason").fill("a real reader, autofill")
                card.locator("button[data-action=approve]").click()
                expect(card).to_have_count(0)
                expect(page.locator("#status")).to_contain_text("approved")
                page.goto(base + "/moderate?tab=approved")
                expect(page.locator(f"#item-{posted['id']} .latest")).to_contain_text(
                    "a real reader, autofill"
                )
            finally:
                browser.close()
        assert "Great reporting, thank you." in _article_texts(base)


def _article_texts(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/articles/demo-article/comments", timeout=10) as answer:
        return [c["content"] for c in json.load(answer)["comments"]]


def test_a_reversed_approval_disappears_from_the_article(tmp_path: Path) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with _live(
        tmp_path, SCORER_BACKEND="fixed", FIXED_SCORES={"spam": 0.01, "abuse": 0.01}
    ) as base:
        posted = _post_to(base, "Cheap watches at my shop, visit today", "seller@example.org")
        assert posted["status"] == "approved"
        with sync_playwright() as p:
            browser = _launch(p)
            try:
                reader = browser.new_page()
                reader.goto(base + "/demo/article")
                expect(reader.locator(f"#comment-{posted['id']}")).to_contain_text("Cheap watches")
                page = browser.new_page()
                _sign_in(page, base, "?tab=approved")
                page.wait_for_selector("body[data-ready='1']")
                card = page.locator(f"#item-{posted['id']}")
                card.locator("input.reason").fill("advert")
                card.locator("button[data-action=reject_spam]").click()
                expect(card).to_have_count(0)
                reader.reload()
                expect(reader.locator(f"#comment-{posted['id']}")).to_have_count(0)
                expect(reader.locator("#comment-count")).to_have_text("0")
            finally:
                browser.close()


def test_a_reader_report_reaches_the_queue(tmp_path: Path) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with _live(
        tmp_path, SCORER_BACKEND="fixed", FIXED_SCORES={"spam": 0.01, "abuse": 0.01}
    ) as base:
        posted = _post_to(base, "Everyone who disagrees is a fool", "rude@example.org")
        with sync_playwright() as p:
            browser = _launch(p)
            try:
                reader = browser.new_page()
                reader.goto(base + "/demo/article")
                comment = reader.locator(f"#comment-{posted['id']}")
                comment.locator("details.report summary").click()
                comment.locator("select[name=reason]").select_option("abuse")
                comment.locator("input[name=detail]").fill("calls people <fools>")
                comment.locator("form.report-form button").click()
                expect(reader.locator(f"#comment-{posted['id']} .report-thanks")).to_be_visible()
                page = browser.new_page()
                _sign_in(page, base)
                expect(page.locator(".reported-banner")).to_contain_text("1 published comment")
                page.click(".reported-banner a")
                card = page.locator(f"#item-{posted['id']}")
                expect(card.locator(".reports")).to_contain_text("1 reader report")
                expect(card.locator(".reports")).to_contain_text("abuse: “calls people <fools>”")
                card.locator("input.reason").fill("insults readers")
                card.locator("button[data-action=reject_abuse]").click()
                expect(card).to_have_count(0)
                page.goto(base + "/moderate?tab=reported")
                expect(page.locator("article.item")).to_have_count(0)
            finally:
                browser.close()
        assert _article_texts(base) == []


def test_moderating_without_javascript(tmp_path: Path) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    live = _live(
        tmp_path,
        SCORER_BACKEND="fixed",
        FIXED_SCORES={"spam": 0.6, "abuse": 0.01},
        RATELIMIT_ENABLED=False,  # 55 comments from one address
    )
    with live as base:
        ids = [
            _post_to(base, f"Comment number {i} on the vote.", f"r{i}@example.org")["id"]
            for i in range(55)
        ]
        with sync_playwright() as p:
            browser = _launch(p)
            try:
                context = browser.new_context(java_script_enabled=False)
                page = context.new_page()
                _sign_in(page, base)
                assert page.locator("body[data-ready='1']").count() == 0  # no script ran
                expect(page.locator("article.item")).to_have_count(50)
                expect(page.locator("a.tab.current")).to_contain_text("Pending 55")
                page.click("#next-page")
                expect(page.locator("article.item")).to_have_count(5)
                page.goto(base + "/moderate")
                first = page.locator("article.item").first
                first_id = int(first.get_attribute("data-id") or 0)
                first.locator("input.reason").fill("fine")
                first.locator("button[data-action=approve]").click()  # a plain form post
                expect(page.locator("#status")).to_contain_text(f"Comment {first_id}: approved")
                expect(page.locator(f"#item-{first_id}")).to_have_count(0)
                expect(page.locator("a.tab.current")).to_contain_text("Pending 54")
                page.goto(base + "/moderate?tab=approved")
                page.locator(f"#item-{first_id} form.undo button").click()
                expect(page.locator("#status")).to_contain_text("back in review")
                page.goto(base + f"/moderate?tab=all&email=r{ids.index(first_id)}@example.org")
                page.locator("#author-panel button[value=block]").click()
                expect(page.locator("#author-panel .rule-state")).to_have_text("block")
            finally:
                browser.close()


def test_screenshots_of_the_queue_and_an_explanation(tmp_path: Path) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    # Everything waits for review (review bands from 0 to 1), explained by the shipped model.
    config = {"SPAM_ALLOW": 0.0, "SPAM_REJECT": 1.0, "ABUSE_ALLOW": 0.0, "ABUSE_REJECT": 1.0}
    with _live(tmp_path, SCORER_BACKEND="sklearn", **config) as base:
        for text, email in [
            ("Shut up, you stupid idiot, nobody asked you.", "angry@example.org"),
            (
                "Buy cheap replica watches now at www.cheap-watches.example, 80% off!",
                "x9@shop.example",
            ),
            ("I think the council is wrong to close the libraries.", "calm@example.org"),
        ]:
            _post_to(base, text, email)
        with sync_playwright() as p:
            browser = _launch(p)
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 1400})
                _sign_in(page, base)
                page.wait_for_selector("body[data-ready='1']")
                expect(page.locator("article.item")).to_have_count(3)
                expect(page.locator("mark").first).to_be_visible()
                card = page.locator("article.item", has_text="idiot")
                expect(card.locator("mark.abuse", has_text="idiot")).to_have_count(1)
            finally:
                browser.close()

"""End to end in headless Chromium: the example article page and its reply form."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from moderation.db import get_session
from moderation.services.moderators import create_moderator
from moderation.tables import Role
from tests.conftest import served, sqlite_app
from tests.functional.test_browser_moderation import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = [pytest.mark.functional, pytest.mark.slow]

CIVIL = "Thank you for covering this. Marsh Lane library has been a lifeline for my kids."
SPAM = (
    "Great article!! Buy cheap viagra and cialis online without prescription, fast shipping "
    "and best prices at https://cheap-pills-store.xyz/buy-now"
)
LINKY = (
    "Sources for the figures: https://council.example/budget https://council.example/minutes "
    "and https://council.example/petition"
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    app = sqlite_app(
        tmp_path / "live.db",
        SCORER_BACKEND="sklearn",  # the shipped model
        FLOOD_SECONDS=0,
        MIN_FILL_SECONDS=1,
    )
    with app.app_context():
        session = get_session()
        create_moderator(session, name="maria", role=Role.MODERATOR, password="queue-worker-1")
        session.commit()
    with served(app) as base:
        yield base


def published(base: str) -> list[str]:
    with urllib.request.urlopen(base + "/articles/demo-article/comments", timeout=10) as r:
        return [c["content"] for c in json.load(r)["comments"]]


def fill(page: object, comment: str, author: str, email: str, url: str = "") -> None:
    page.fill("#comment", comment)  # type: ignore[attr-defined]
    page.fill("#author", author)  # type: ignore[attr-defined]
    page.fill("#email", email)  # type: ignore[attr-defined]
    page.fill("#url", url)  # type: ignore[attr-defined]
    time.sleep(1.1)  # a human takes longer than MIN_FILL_SECONDS to write a reply


def test_the_reply_form_end_to_end(site: str) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(site + "/demo/article")
            page.wait_for_selector("body[data-ready='1']")

            # missing fields: every message, inline, nothing sent
            page.click("#comment-submit")
            expect(page.locator('.field-error[data-for="comment"]')).to_have_text(
                "Please enter your comment!"
            )
            expect(page.locator('.field-error[data-for="author"]')).to_have_text(
                "Please enter your name here"
            )
            expect(page.locator('.field-error[data-for="email"]')).to_have_text(
                "You have entered an incorrect email address!"
            )

            # a civil comment is published at once
            fill(page, CIVIL, "Ann Reader", "ann@example.org")
            page.check("#wp-comment-cookies-consent")
            page.click("#comment-submit")
            expect(page.locator("#form-status")).to_have_text("Your comment has been published.")
            expect(page.locator("#comment-list .text")).to_have_text([CIVIL])

            # an obvious spam is not published (its sender is told it awaits moderation)
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            expect(page.locator("#author")).to_have_value("Ann Reader")  # "save my name"
            fill(
                page,
                SPAM,
                "cheap pills online",
                "sales@cheap-pills-store.xyz",
                "https://cheap-pills-store.xyz",
            )
            page.click("#comment-submit")
            expect(page.locator("#form-status")).to_have_text(
                "Your comment is awaiting moderation."
            )
            # a held comment (three links) waits for a moderator
            fill(page, LINKY, "Bob Reader", "bob@example.org")
            page.click("#comment-submit")
            expect(page.locator("#form-status")).to_have_text(
                "Your comment is awaiting moderation."
            )
            assert published(site) == [CIVIL]

            # the moderator approves it by keyboard...
            moderator = browser.new_page()
            moderator.goto(site + "/moderate")
            moderator.fill("#name", "maria")
            moderator.fill("#password", "queue-worker-1")
            moderator.click("button[type=submit]")
            moderator.wait_for_selector("body[data-ready='1']")
            expect(moderator.locator("article.item")).to_have_count(1)  # spam is not queued
            expect(moderator.locator("article.item .content")).to_have_text(LINKY)
            moderator.keyboard.press("a")
            expect(moderator.locator("article.item")).to_have_count(0)

            # ...and it appears on the article
            page.reload()
            expect(page.locator("#comment-list .text")).to_have_text([CIVIL, LINKY])
            expect(page.locator("#comment-count")).to_have_text("2")
        finally:
            browser.close()


def test_the_form_works_without_javascript(site: str) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(site + "/demo/article")
            fill(page, LINKY, "Cy Reader", "cy@example.org")
            page.click("#comment-submit")
            # a plain form post: 303 back to the article, which shows the author their
            # pending comment
            expect(page.locator(".comment.pending")).to_contain_text(
                "Your comment is awaiting moderation."
            )
            expect(page.locator(".comment.pending .text")).to_have_text(LINKY)
            assert page.url.startswith(site + "/demo/article?unapproved=")
            page.goto(site + "/demo/article")
            fill(page, "Thanks, clear reporting.", "Di Reader", "di@example.org")
            page.click("#comment-submit")
            expect(page.locator("#comment-list .text")).to_have_text(["Thanks, clear reporting."])
            assert "#comment-" in page.url
        finally:
            browser.close()

"""End to end in headless Chromium: the example article page and its reply form."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moderation.domain.policy import Role
from moderation.services.moderators import create_moderator
from moderation.web.database import get_session
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


REFUSED = "You are a scumbag and everyone on this council knows it."


@pytest.fixture
def strict_site(tmp_path: Path) -> Iterator[str]:
    """The demo with a banned word (a refusal) and no flood interval."""
    app = sqlite_app(
        tmp_path / "strict.db",
        SCORER_BACKEND="sklearn",
        FLOOD_SECONDS=0,
        MIN_FILL_SECONDS=1,
        BANNED_WORDS=["scumbag"],
    )
    with served(app) as base:
        yield base


def threads(base: str) -> list[Any]:
    """The published comments as (text, [replies]) from the API."""
    with urllib.request.urlopen(base + "/articles/demo-article/comments", timeout=10) as r:
        body = json.load(r)

    def shape(items: list[dict[str, Any]]) -> list[Any]:
        return [(c["content"], shape(c["replies"])) for c in items]

    return shape(body["comments"])


def test_with_javascript_a_refused_comment_keeps_its_text_and_a_held_one_shows_as_pending(
    strict_site: str,
) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(strict_site + "/demo/article")
            page.wait_for_selector("body[data-ready='1']")
            expect(page.locator("#comments-title")).to_have_text("0 comments")

            fill(page, REFUSED, "Angry Reader", "angry@example.org")
            page.click("#comment-submit")
            expect(page.locator("#form-status")).to_contain_text("does not follow our community")
            expect(page.locator("#form-status")).to_have_class("notice refused")
            expect(page.locator("#comment")).to_have_value(REFUSED)  # kept, to be changed
            expect(page.locator("#comment-list .comment")).to_have_count(0)

            # changed and sent again: published, counted in the singular
            page.fill("#comment", "I disagree strongly with the council on this.")
            time.sleep(1.1)  # the new form token's minimum age
            page.click("#comment-submit")
            expect(page.locator("#form-status")).to_have_text("Your comment has been published.")
            expect(page.locator("#comments-title")).to_have_text("1 comment")
            expect(page.locator("#comment-list .comment .when time")).to_have_text(
                re.compile(r"\d{1,2} \w+ \d{4} at \d\d:\d\d UTC")
            )

            # a held comment: shown to its author as a preview where it will appear
            fill(page, LINKY, "Bob Reader", "bob@example.org")
            page.click("#comment-submit")
            expect(page.locator("#form-status")).to_have_text(
                "Your comment is awaiting moderation."
            )
            pending = page.locator("#comment-list .comment.pending")
            expect(pending.locator(".text")).to_have_text(LINKY)
            expect(pending.locator(".awaiting")).to_contain_text(
                "Your comment is awaiting moderation."
            )
            expect(page.locator("#comment")).to_have_value("")
            expect(page.locator("#comments-title")).to_have_text("1 comment")  # not counted

            # the second published comment: plural
            fill(page, "Thanks for the clear figures.", "Cy Reader", "cy@example.org")
            page.click("#comment-submit")
            expect(page.locator("#comments-title")).to_have_text("2 comments")
            page.reload()
            expect(page.locator("#comments-title")).to_have_text("2 comments")
        finally:
            browser.close()


def test_without_javascript_a_refused_comment_keeps_its_text(strict_site: str) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(strict_site + "/demo/article")
            fill(page, REFUSED, "Angry <Reader>", "angry@example.org")
            page.click("#comment-submit")
            assert page.title() == "Your comment was not published"
            expect(page.locator("#refused")).to_contain_text("does not follow our community")
            expect(page.locator("#comment")).to_have_value(REFUSED)
            expect(page.locator("#author")).to_have_value("Angry <Reader>")
            expect(page.locator("#email")).to_have_value("angry@example.org")
            # changed and sent again from that page: back to the article, published
            page.fill("#comment", "I disagree strongly with the council on this.")
            time.sleep(1.1)
            page.click("#comment-submit")
            assert page.url.startswith(strict_site + "/demo/article")
            expect(page.locator("#comment-list .text")).to_have_text(
                ["I disagree strongly with the council on this."]
            )
            assert published(strict_site) == ["I disagree strongly with the council on this."]
        finally:
            browser.close()


def test_save_my_name_works_without_javascript(site: str) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(java_script_enabled=False)
            page = context.new_page()
            page.goto(site + "/demo/article")
            fill(page, CIVIL, "Ann Reader", "ann@example.org", "https://ann.example")
            page.check("#wp-comment-cookies-consent")
            page.click("#comment-submit")
            expect(page.locator("#comment-list .text")).to_have_text([CIVIL])
            # the next visit: the form is filled in by the server, the box still ticked
            page.goto(site + "/demo/article")
            expect(page.locator("#author")).to_have_value("Ann Reader")
            expect(page.locator("#email")).to_have_value("ann@example.org")
            expect(page.locator("#url")).to_have_value("https://ann.example")
            expect(page.locator("#wp-comment-cookies-consent")).to_be_checked()
            names = {c["name"] for c in context.cookies()}
            assert {"comment_author", "comment_author_email", "comment_author_url"} <= names

            # unticked: the next post forgets them
            page.fill("#comment", "One more thought on the mobile library service.")
            page.uncheck("#wp-comment-cookies-consent")
            time.sleep(1.1)
            page.click("#comment-submit")
            page.goto(site + "/demo/article")
            expect(page.locator("#author")).to_have_value("")
            expect(page.locator("#email")).to_have_value("")
            expect(page.locator("#wp-comment-cookies-consent")).not_to_be_checked()
            names = {c["name"] for c in context.cookies()}
            assert not {"comment_author", "comment_author_email", "comment_author_url"} & names
        finally:
            browser.close()


def test_reply_links_post_threaded_replies_with_and_without_javascript(site: str) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(site + "/demo/article")
            page.wait_for_selector("body[data-ready='1']")
            fill(page, CIVIL, "Ann Reader", "ann@example.org")
            page.click("#comment-submit")
            first = page.locator("#comment-list > .comment").first
            expect(first.locator(".text")).to_have_text(CIVIL)

            # with JavaScript: the form moves under the comment and the reply lands there
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            page.locator("#comment-list > .comment").first.locator(".reply-link").click()
            expect(page.locator("#reply-title")).to_contain_text("Leave a reply to Ann Reader")
            expect(page.locator("#cancel-comment-reply-link")).to_be_visible()
            reply = "Agreed, Ann. The mobile library is no substitute for a branch."
            fill(page, reply, "Ben Reader", "ben@example.org")
            page.click("#comment-submit")
            nested = page.locator("#comment-list > .comment").first.locator(".replies .comment")
            expect(nested.locator(".text")).to_have_text([reply])
            expect(page.locator("#reply-title")).to_have_text("Leave a replyCancel reply")
            expect(page.locator("#comments-title")).to_have_text("2 comments")

            # without JavaScript: ?replytocom= sets the parent, the post threads it
            plain = browser.new_context(java_script_enabled=False).new_page()
            plain.goto(site + "/demo/article")
            plain.locator("#comment-list > .comment").first.locator(":scope > .reply-link").click()
            assert "replytocom=" in plain.url
            expect(plain.locator("#reply-title")).to_contain_text("Leave a reply to Ann Reader")
            second = "And the petition shows how many of us use it."
            fill(plain, second, "Cy Reader", "cy@example.org")
            plain.click("#comment-submit")
            expect(plain.locator("#comments-title")).to_have_text("3 comments")
            assert threads(site) == [(CIVIL, [(reply, []), (second, [])])]
        finally:
            browser.close()


def test_screenshot_of_the_article_with_a_reply_and_a_held_comment(site: str) -> None:
    """The picture for the closing note: a thread with a reply, and the author's held comment."""
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.goto(site + "/demo/article")
            page.wait_for_selector("body[data-ready='1']")
            fill(page, CIVIL, "Ann Reader", "ann@example.org")
            page.click("#comment-submit")
            expect(page.locator("#comments-title")).to_have_text("1 comment")
            page.locator("#comment-list > .comment").first.locator(".reply-link").click()
            fill(
                page,
                "Agreed, Ann. The mobile library is no substitute for a branch.",
                "Ben Reader",
                "ben@example.org",
            )
            page.click("#comment-submit")
            expect(page.locator("#comments-title")).to_have_text("2 comments")
            fill(page, LINKY, "Di Reader", "di@example.org")
            page.click("#comment-submit")
            expect(page.locator(".comment.pending .text")).to_have_text(LINKY)
        finally:
            browser.close()

"""End to end in headless Chromium: a moderator opens the dashboard and its charts are drawn."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from moderation.web.database import get_session
from tests.conftest import served, sqlite_app
from tests.functional.test_browser_moderation import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.functional.test_stats import _populate

pytestmark = [pytest.mark.functional, pytest.mark.slow]

CHARTS = ("chart-per-day", "chart-backlog", "chart-oldest", "chart-time", "chart-moderators")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    app = sqlite_app(tmp_path / "live.db", SCORER_BACKEND="fixed", FLOOD_SECONDS=0)
    with app.app_context():
        session = get_session()
        _populate(session, datetime.now(UTC))  # moderators "ana" and "<b>bo&b</b>"
        session.commit()
    with served(app) as base:
        yield base


def test_the_dashboard_draws_its_charts(live_server: str) -> None:
    _need_browser()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            page.goto(live_server + "/moderate")
            page.fill("#name", "ana")
            page.fill("#password", "correct horse")
            page.click("button[type=submit]")
            page.click("#stats-link")  # from the queue page's header
            expect(page).to_have_title("Moderation dashboard")
            for chart in CHARTS:
                svg = page.locator(f"svg#{chart}")
                expect(svg).to_be_visible()
                marks = svg.locator("rect.bar, path.line")
                assert marks.count() > 0, chart
                sizes = [marks.nth(i).bounding_box() for i in range(marks.count())]
                drawn = [b for b in sizes if b and b["width"] > 0 and b["height"] > 0]
                assert drawn, f"{chart}: nothing of non-zero size"
            # Seven stacked segments over four days, the tallest (two comments) twice the others.
            bars = page.locator("svg#chart-per-day rect.bar")
            expect(bars).to_have_count(7)
            heights = sorted(bars.nth(i).bounding_box()["height"] for i in range(7))  # type: ignore[index]
            assert heights[-1] == pytest.approx(2 * heights[0], rel=0.01)
            # The moderator's name is shown as text, not markup.
            label = page.locator("svg#chart-moderators text.row-label").nth(1)
            expect(label).to_have_text("<b>bo&b</b>")
            expect(
                page.locator("table.overturns tr[data-kind='refused_spam'] .rate")
            ).to_contain_text("100.0%")
        finally:
            browser.close()

"""The report in a real browser: axe-core finds no serious accessibility violation, and printed (or saved as PDF)
every collapsed group table is shown and no table is wider than the page."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from segaudit.cards.browser import FLAGS, chromium_path

REPORT = Path(__file__).resolve().parents[1] / "reports" / "alisnet" / "report.html"
pytestmark = pytest.mark.skipif(chromium_path() is None, reason="no system Chromium (make setup installs it)")


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="segaudit-a11y-") as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(profile, executable_path=chromium_path(), args=FLAGS)
        try:
            opened = browser.new_page()
            opened.goto(REPORT.resolve().as_uri(), wait_until="load")
            yield opened
        finally:
            browser.close()


def test_axe_core_finds_no_serious_or_critical_violation(page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    serious = [(v["id"], v["impact"], len(v["nodes"])) for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == []
    assert [v["id"] for v in violations] == []  # minor ones too, at the time of writing


def test_printed_every_group_table_shows_and_fits_the_page(page) -> None:
    collapsed = page.locator("details table")
    assert collapsed.count() > 0 and not collapsed.first.is_visible()  # on screen: collapsed
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    page.emulate_media(media="print")
    try:
        assert all(collapsed.nth(i).is_visible() for i in range(collapsed.count()))
        widest = page.evaluate("Math.max(...[...document.querySelectorAll('table')].map(t => t.scrollWidth))")
        page_width = page.evaluate("document.querySelector('main').clientWidth")
        assert widest <= page_width
    finally:
        page.emulate_media(media="screen")

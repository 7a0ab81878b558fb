"""Opening an HTML report in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
what the console said and what the page looks like. Used by the tests and by `segaudit card bundle`.

No browser is downloaded: Playwright only drives the system Chromium (`make setup` installs it with apt).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass(frozen=True)
class PageVisit:
    """What a page load showed: console messages (type, text), uncaught page errors, failed requests, the
    page's text (collapsed sections included) and how many <script> elements its DOM holds."""

    console: list[tuple[str, str]]
    page_errors: list[str]
    failed_requests: list[str]
    text: str
    scripts: int


def chromium_path() -> str | None:
    """The system Chromium, or None when it is not installed."""
    return CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")


def visit(html: str | Path, screenshot: str | Path | None = None, width: int = 1280,
          full_page: bool = False) -> PageVisit:
    """Load `html` (a file) in headless Chromium with a fresh profile; optionally save a PNG screenshot."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium at /usr/bin/chromium: run `make setup` (apt-get install chromium)")
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="segaudit-chromium-") as profile, sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, args=FLAGS, viewport={"width": width, "height": 900})
        try:
            page = browser.new_page()
            page.on("console", lambda message: console.append((message.type, message.text)))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(Path(html).resolve().as_uri(), wait_until="load")
            text = page.text_content("body") or ""
            scripts = page.locator("script").count()
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=full_page)
        finally:
            browser.close()
    return PageVisit(console=console, page_errors=errors, failed_requests=failed, text=text, scripts=scripts)

"""A real browser (Debian's headless Chromium driven by Playwright) asks the page a question."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed: run `make browser` (make test does)")
def test_page_answers_a_question_with_sources(kb_index: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with start_app(kb_index, tmp_path) as app, sync_playwright() as pw:  # default backend: auto
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url + "/", wait_until="load")
        page.locator("#kb-question textarea").wait_for(timeout=60_000)
        assert "files" in page.locator("#kb-status").inner_text()  # index size and backend are shown
        page.locator("#kb-question textarea").fill("How many days of paid annual leave do employees get?")
        page.locator("#kb-ask").click()
        sources = page.locator("#kb-sources .kb-source")
        sources.first.wait_for(timeout=120_000)
        assert "leave-policy.md" in page.locator("#kb-sources").inner_text()
        bot = page.locator("#kb-chat .bot, #kb-chat [data-testid='bot']").last
        bot.wait_for(timeout=60_000)
        assert bot.inner_text().strip()
        link = page.locator("#kb-sources a").first.get_attribute("href") or ""
        assert link.startswith("/v1/files?source=")
        page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
        browser.close()
    assert (tmp_path / "answer.png").stat().st_size > 10_000

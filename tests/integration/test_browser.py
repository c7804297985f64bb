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
    from playwright.sync_api import expect, sync_playwright

    with start_app(kb_index, tmp_path) as app, sync_playwright() as pw:  # default backend: auto
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url + "/", wait_until="load")
        page.locator("#kb-question textarea").wait_for(timeout=60_000)
        # index size and backend are shown (filled in for the signed-in reader once the page loads)
        expect(page.locator("#kb-status")).to_contain_text("files", timeout=30_000)
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


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed: run `make browser` (make test does)")
def test_page_sets_unverified_statements_apart_from_the_answer(kb_index: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from serving.llm.fake import ScriptedChatModel

    model = ScriptedChatModel(
        "The hotel limit in Paris is 25 euros per night [1]. Breakfast is included in the limit [1]."
    )
    with start_app(kb_index, tmp_path, chat_model=model) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url + "/", wait_until="load")
        page.locator("#kb-question textarea").wait_for(timeout=60_000)
        expect(page.locator("#kb-status")).to_contain_text("scripted", timeout=30_000)  # names the model and why
        page.locator("#kb-question textarea").fill("What is the maximum hotel price per night in Paris?")
        page.locator("#kb-ask").click()
        page.locator("#kb-sources .kb-source").first.wait_for(timeout=120_000)
        unverified = page.locator("#kb-chat .kb-unverified")
        unverified.wait_for(timeout=60_000)
        bot = page.locator("#kb-chat .bot, #kb-chat [data-testid='bot']").last
        shown = bot.inner_text()
        assert "Breakfast is included" in shown and "left out" in shown
        # The wrong number is not part of the answer: only inside the collapsed, labelled block.
        answer_part = shown.split("Unverified statements")[0]
        assert "25 euros" not in answer_part
        unverified.locator("summary").click()
        assert "25 euros" in unverified.inner_text() and "numbers not in the sources" in unverified.inner_text()
        page.screenshot(path=str(tmp_path / "unverified.png"), full_page=True)
        browser.close()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed: run `make browser` (make test does)")
def test_conversations_survive_a_reload_and_can_be_reopened_renamed_and_deleted(kb_index: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    storage = {"storage": {"conversations_db": str(tmp_path / "conversations.sqlite")}}
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}, **storage) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url + "/", wait_until="load")
        expect(page.locator("#kb-status")).to_contain_text("files", timeout=30_000)
        page.locator("#kb-question textarea").fill("How many days of paid annual leave do employees get?")
        page.locator("#kb-ask").click()
        page.locator("#kb-sources .kb-source").first.wait_for(timeout=120_000)
        chat = page.locator("#kb-chat")
        expect(chat).to_contain_text("25 days", timeout=60_000)
        page.wait_for_timeout(500)  # the browser stores the conversation's id as the last update lands
        page.reload(wait_until="load")
        # after the reload: the same conversation, its answer and its sources
        expect(chat).to_contain_text("How many days of paid annual leave", timeout=30_000)
        expect(chat).to_contain_text("25 days")
        expect(page.locator("#kb-sources")).to_contain_text("leave-policy.md")
        expect(page.locator("#kb-conversations input")).to_have_value(
            "How many days of paid annual leave do employees get?"
        )
        # a new conversation starts empty; the old one is still listed and reopens
        page.locator("#kb-new-conversation").click()
        expect(chat).not_to_contain_text("25 days", timeout=30_000)
        page.locator("#kb-question textarea").fill("How do I reset my VPN password?")
        page.locator("#kb-ask").click()
        expect(page.locator("#kb-sources")).to_contain_text("it/", timeout=120_000)
        page.locator("#kb-conversations input").click()
        page.get_by_role("option", name="How many days of paid annual leave do employees get?").click()
        expect(chat).to_contain_text("25 days", timeout=30_000)
        expect(chat).not_to_contain_text("VPN password")
        # rename, then delete
        page.locator("#kb-title textarea").fill("Leave questions")
        page.locator("#kb-rename").click()
        expect(page.locator("#kb-conversations input")).to_have_value("Leave questions", timeout=30_000)
        page.locator("#kb-delete-conversation").click()
        expect(chat).not_to_contain_text("25 days", timeout=30_000)
        page.locator("#kb-conversations input").click()
        options = page.get_by_role("option")
        expect(options).to_have_count(1, timeout=30_000)  # only the VPN conversation is left
        assert "VPN" in options.first.inner_text()
        page.screenshot(path=str(tmp_path / "conversations.png"), full_page=True)
        browser.close()

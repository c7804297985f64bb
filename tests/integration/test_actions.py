"""Actions through tool calls: llama.cpp's real server with its function-calling chat format decides the calls
(forced with tool_choice, so its JSON-Schema grammar makes them well-formed even with the tiny bundled model), and
a real HTTP service on loopback is the action target. Confirmation, refusal, timeout, invalid arguments, an
unconfigured tool and the audit trail."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PYTHON
from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "tickets-key-123"


class Tickets(BaseHTTPRequestHandler):
    """A small ticket service: POST /tickets opens one (with the right key), GET /status, GET /slow."""

    received: list[dict[str, Any]] = []
    keys: list[str | None] = []

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
        type(self).keys.append(self.headers.get("x-api-key"))
        if self.headers.get("x-api-key") != SECRET:
            self._reply(401, {"error": "bad key"})
            return
        type(self).received.append(body)
        self._reply(201, {"id": f"T-{len(type(self).received)}", "status": "open"})

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/slow"):
            time.sleep(3)
        self._reply(200, {"system": "vpn", "status": "up"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def tool_llama() -> Iterator[str]:
    from eval.bench.loopback import start_llama_server, stop
    from serving.llm.llamacpp import bundled_gguf

    proc, url = start_llama_server(str(bundled_gguf()), PYTHON, alias="smollm2", chat_format="chatml-function-calling")
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture
def service() -> Iterator[str]:
    Tickets.received, Tickets.keys = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tickets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _actions(service: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "submit_ticket",
            "description": "Open an IT support ticket",
            "method": "POST",
            "url": f"{service}/tickets",
            "auth_header": "X-Api-Key",
            "auth_env": "TEST_TICKETS_API_KEY",
            "parameters": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "priority": {"type": "string", "enum": ["low", "high"]}},
                "required": ["title", "priority"],
            },
        },
        {
            "name": "vpn_status",
            "description": "Whether the VPN is up",
            "url": f"{service}/status",
            "parameters": {
                "type": "object",
                "properties": {"system": {"type": "string", "enum": ["vpn"]}},
                "required": ["system"],
            },  # fmt: skip
        },
        {
            "name": "slow_check",
            "description": "A status check that hangs",
            "url": f"{service}/slow",
            "timeout_s": 1,
            "parameters": {
                "type": "object",
                "properties": {"system": {"type": "string", "enum": ["vpn"]}},
                "required": ["system"],
            },  # fmt: skip
        },
    ]


def test_actions_run_only_when_confirmed_and_every_call_is_audited(
    kb_index: Path, tmp_path: Path, tool_llama: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    monkeypatch.setenv("TEST_TICKETS_API_KEY", SECRET)
    sections = {
        "llm": {"backend": "openai", "base_url": tool_llama, "model": "smollm2"},
        "tools": {"actions": _actions(service)},
        "audit": {"path": str(tmp_path / "audit.sqlite")},
        "limits": {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0},
    }
    with start_app(kb_index, tmp_path, **sections) as app:
        client = openai.OpenAI(base_url=f"{app.url}/v1", api_key="local", max_retries=0, timeout=300)
        force = {"type": "function", "name": "submit_ticket"}
        asked = client.responses.create(input="Open a ticket: the VPN drops every hour", tool_choice=force)
        assert asked.status == "incomplete" and asked.output[0].type == "mcp_approval_request"
        request = asked.output[0]
        assert request.name == "submit_ticket" and Tickets.received == []  # nothing ran before the user agreed
        declined = client.responses.create(
            previous_response_id=asked.id,
            input=[{"type": "mcp_approval_response", "approval_request_id": request.id, "approve": False}],
        )
        assert declined.status == "completed" and "declined" in declined.output_text and Tickets.received == []

        asked = client.responses.create(input="Open a ticket: the VPN drops every hour", tool_choice=force)
        approved = client.responses.create(
            previous_response_id=asked.id,
            input=[{"type": "mcp_approval_response", "approval_request_id": asked.output[0].id, "approve": True}],
        )
        assert [o.type for o in approved.output] == ["function_call", "function_call_output", "message"]
        assert len(Tickets.received) == 1 and Tickets.keys == [SECRET]  # the key came from the environment
        sent = Tickets.received[0]
        assert set(sent) == {"title", "priority"} and sent["priority"] in ("low", "high")
        assert "T-1" in approved.output[1].output and approved.output_text
        with pytest.raises(openai.BadRequestError):  # an approval is answered once
            client.responses.create(
                previous_response_id=asked.id,
                input=[{"type": "mcp_approval_response", "approval_request_id": asked.output[0].id, "approve": True}],
            )

        status = client.responses.create(
            input="Is the VPN up?", tool_choice={"type": "function", "name": "vpn_status"}
        )  # a GET changes nothing: it runs without asking
        assert status.status == "completed" and '"up"' in status.output[1].output
        slow = client.responses.create(
            input="Check the VPN the slow way", tool_choice={"type": "function", "name": "slow_check"}
        )
        assert slow.status == "completed" and "did not answer within 1 s" in slow.output[1].output
        unknown = httpx.post(
            f"{app.url}/v1/responses",
            json={"input": "Delete all tickets", "tool_choice": {"type": "function", "name": "drop_tables"}},
        )
        assert unknown.status_code == 400 and "not configured" in unknown.json()["error"]["message"]
        # questions about the documents still get the verified answer, not an action
        answer = client.responses.create(input="How many days of paid annual leave do employees get?",
                                         tool_choice="none")  # fmt: skip
        assert answer.to_dict()["kb"]["mode"] != "action"

        toolbox = app_toolbox(app)
        bad = toolbox.call("submit_ticket", '{"title": 5, "priority": "urgent"}', local(), None, confirmed=True)
        assert bad.status == "error" and "Invalid arguments" in bad.output
        assert toolbox.call("drop_tables", "{}", local(), None, True).status == "refused"
        assert toolbox.call("submit_ticket", "not json", local(), None, True).status == "error"
        assert len(Tickets.received) == 1  # none of those reached the service

    env = {**os.environ, "KB_AUDIT__PATH": str(tmp_path / "audit.sqlite")}
    export = subprocess.run([PYTHON, "-m", "serving", "audit", "export", "--all"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)  # fmt: skip
    assert export.returncode == 0, export.stderr
    calls = [json.loads(line) for line in export.stdout.splitlines() if '"tool.call"' in line]
    statuses = [c["status"] for c in calls]
    assert {"needs_confirmation", "declined", "done", "error", "refused"} <= set(statuses), statuses


def app_toolbox(app: Any) -> Any:
    return app._server.config.app.state.assistant.toolbox  # the toolbox the running server uses


def local() -> Any:
    from serving.access.identity import LOCAL

    return LOCAL


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium not installed: run `make browser`")
def test_the_page_asks_before_an_action_changes_something(kb_index: Path, tmp_path: Path, service: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from playwright.sync_api import expect, sync_playwright

    from serving.llm.fake import ScriptedChatModel
    from serving.llm.protocol import ToolCall, ToolReply
    from tests.integration.test_browser import CHROMIUM, FLAGS

    class Deciding(ScriptedChatModel):
        """The model's role with a fixed decision (the real tool-calling model is tested above through the API):
        questions about tickets call submit_ticket, others call nothing."""

        def tool_round(self, messages: Any, tools: Any, tool_choice: Any, max_tokens: int, usage: Any) -> ToolReply:
            if "ticket" not in messages[-1]["content"].lower():
                return ToolReply("", ())
            return ToolReply("", (ToolCall("c1", "submit_ticket", '{"title": "Printer jammed", "priority": "low"}'),))

    monkeypatch.setenv("TEST_TICKETS_API_KEY", SECRET)
    model = Deciding("Employees get 25 days of paid annual leave per calendar year [1].")
    sections = {"tools": {"actions": _actions(service)}, "audit": {"path": str(tmp_path / "audit.sqlite")}}
    with start_app(kb_index, tmp_path, chat_model=model, **sections) as app, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app.url + "/", wait_until="load")
        expect(page.locator("#kb-status")).to_contain_text("files", timeout=30_000)
        ask = page.locator("#kb-question textarea")
        ask.fill("Please open a ticket: the printer is jammed")
        page.locator("#kb-ask").click()
        expect(page.locator("#kb-confirm-note")).to_contain_text("submit_ticket", timeout=60_000)
        assert Tickets.received == []  # shown, not run
        page.locator("#kb-cancel").click()
        expect(page.locator("#kb-chat")).to_contain_text("declined", timeout=30_000)
        assert Tickets.received == []
        ask.fill("Please open a ticket: the printer is jammed")
        page.locator("#kb-ask").click()
        expect(page.locator("#kb-confirm-note")).to_contain_text("submit_ticket", timeout=60_000)
        page.locator("#kb-confirm").click()
        expect(page.locator("#kb-chat")).to_contain_text("T-1", timeout=30_000)
        assert Tickets.received == [{"title": "Printer jammed", "priority": "low"}]
        expect(page.locator("#kb-confirm-row")).to_be_hidden()
        page.reload(wait_until="load")  # the action's turn is part of the saved conversation
        expect(page.locator("#kb-chat")).to_contain_text("T-1", timeout=30_000)
        ask.fill("How many days of paid annual leave do employees get?")  # no action: the verified answer
        page.locator("#kb-ask").click()
        expect(page.locator("#kb-sources")).to_contain_text("leave-policy.md", timeout=120_000)
        page.screenshot(path=str(tmp_path / "action.png"), full_page=True)
        browser.close()


def test_the_embedded_llama_cpp_backend_calls_tools_too(
    kb_index: Path, tmp_path: Path, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    monkeypatch.setenv("TEST_TICKETS_API_KEY", SECRET)
    sections = {
        "llm": {"backend": "local", "gguf": "bundled"},
        "tools": {"actions": _actions(service)},
        "limits": {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0},
    }
    with start_app(kb_index, tmp_path, **sections) as app:
        client = openai.OpenAI(base_url=f"{app.url}/v1", api_key="local", max_retries=0, timeout=300)
        asked = client.responses.create(
            input="Open a ticket: the VPN drops every hour", tool_choice={"type": "function", "name": "submit_ticket"}
        )
        assert asked.status == "incomplete" and asked.output[0].type == "mcp_approval_request"
        done = client.responses.create(
            previous_response_id=asked.id,
            input=[{"type": "mcp_approval_response", "approval_request_id": asked.output[0].id, "approve": True}],
        )
        assert done.status == "completed" and len(Tickets.received) == 1
        assert Tickets.received[0]["priority"] in ("low", "high")
        # a client that streams gets the same as events
        with client.responses.stream(
            model="kb-assistant", input="Is the VPN up?", tool_choice={"type": "function", "name": "vpn_status"}
        ) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_response()
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert [o.type for o in final.output] == ["function_call", "function_call_output", "message"]

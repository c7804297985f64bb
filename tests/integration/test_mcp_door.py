"""The MCP door against the official `mcp` SDK's own client: streamable HTTP at /mcp (the stateless 2026-07-28
revision and the handshake-era ones) and stdio through `python -m serving mcp`, with two users of different groups,
API keys as bearer, and the attacks a client could try (no key, a forged one, the page's cookie, another group's
passage, a foreign Host)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PYTHON
from tests.integration.conftest import AppServer, start_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
GROUPS = {"hr-staff": ["hr"], "it-staff": ["it"]}
NO_LIMITS = {"requests_per_minute": 0, "answers_per_day": 0, "concurrent_answers": 0}
VPN = "When does the VPN connection time out?"
MODERN = "2026-07-28"
METRICS_TOKEN = "metrics-scraper-token-0123456789"


@dataclass
class Served:
    app: AppServer
    keys: dict[str, str]
    audit: Path

    @property
    def endpoint(self) -> str:
        return f"{self.app.url}/mcp"


@pytest.fixture(scope="module")
def served(kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from serving.access.keys import KeyStore

    tmp = tmp_path_factory.mktemp("mcp")
    store = KeyStore(tmp / "auth.sqlite")
    keys = {user: store.create(user, frozenset(g))[1] for user, g in (("alice", {"hr-staff"}), ("bob", {"it-staff"}))}
    with start_app(
        kb_index,
        tmp,
        llm={"backend": "extractive"},
        auth={"keys_db": str(tmp / "auth.sqlite")},
        access={"groups": GROUPS},
        audit={"path": str(tmp / "audit.sqlite")},
        limits=NO_LIMITS,
        observability={"metrics_token": METRICS_TOKEN},
    ) as app:
        yield Served(app, keys, tmp / "audit.sqlite")


def _client(endpoint: str, key: str, mode: str = "auto") -> Any:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120)
    return Client(streamable_http_client(endpoint, http_client=http), mode=mode)  # type: ignore[arg-type]


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def _session(endpoint: str, key: str, mode: str) -> dict[str, Any]:
    async with _client(endpoint, key, mode) as client:
        tools = await client.list_tools()
        asked = await client.call_tool("ask", {"question": VPN})
        found = await client.call_tool("search", {"query": VPN, "top_k": 3})
        listed = await client.call_tool("list_collections", {})
        return {
            "tools": {t.name: t for t in tools.tools},
            "ask": _text(asked),
            "search": _text(found),
            "collections": _text(listed),
            "errors": [r.is_error for r in (asked, found, listed)],
        }


@pytest.mark.parametrize("mode", [MODERN, "auto", "legacy"])  # auto: server/discover first
def test_the_sdk_client_lists_the_tools_and_gets_a_verified_answer_with_its_sources(served: Served, mode: str) -> None:
    out = asyncio.run(_session(served.endpoint, served.keys["bob"], mode))
    assert {"search", "ask", "list_collections", "fetch"} <= set(out["tools"])
    schema = out["tools"]["ask"].input_schema
    assert schema["required"] == ["question"] and "description" in schema["properties"]["question"]
    assert out["errors"] == [False, False, False]
    assert "12 hours" in out["ask"] and "Sources:" in out["ask"] and "it/" in out["ask"]
    assert "it/" in out["search"] and "path: " in out["search"] and "id: " in out["search"]
    assert out["collections"].split() == ["it"]


def _rpc(endpoint: str, key: str | None, method: str, params: dict[str, Any], **headers: str) -> httpx.Response:
    h = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json", **headers}
    if key:
        h["Authorization"] = f"Bearer {key}"
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return httpx.post(endpoint, json=body, headers=h, timeout=120)


def _result(r: httpx.Response) -> dict[str, Any]:
    """A JSON-RPC response, sent as JSON or as one server-sent event."""
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in r.text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return r.json()


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_a_handshake_era_client_initializes_then_lists_and_calls_the_tools(served: Served, version: str) -> None:
    key = served.keys["alice"]
    hello = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    r = _rpc(served.endpoint, key, "initialize", hello)
    assert r.status_code == 200, r.text
    assert _result(r)["result"]["protocolVersion"] == version
    session = {"Mcp-Session-Id": r.headers["mcp-session-id"], "Mcp-Protocol-Version": version}
    h = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {key}", **session}
    assert httpx.post(served.endpoint, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=h)
    listed = _result(_rpc(served.endpoint, key, "tools/list", {}, **session))["result"]["tools"]
    assert {t["name"] for t in listed} >= {"search", "ask"}
    called = _result(
        _rpc(served.endpoint, key, "tools/call", {"name": "ask", "arguments": {"question": VPN}}, **session)
    )
    text = called["result"]["content"][0]["text"]
    # alice (hr) may not read the VPN page: no answer from it, no 'it/' source named
    assert "12 hours" not in text and "it/" not in text
    # a wrong key gets nothing, and bob's own valid key cannot ride on (or end) alice's session: it is hers
    assert _rpc(served.endpoint, "wrong", "tools/list", {}, **session).status_code == 401
    hijack = _rpc(served.endpoint, served.keys["bob"], "tools/list", {}, **session)
    assert hijack.status_code in (403, 404) and "search" not in hijack.text
    h_bob = {"Authorization": f"Bearer {served.keys['bob']}", **session}
    assert httpx.delete(served.endpoint, headers=h_bob).status_code in (403, 404)
    assert _rpc(served.endpoint, key, "tools/list", {}, **session).status_code == 200  # still alice's, still there


def test_without_a_valid_bearer_key_the_endpoint_refuses(served: Served) -> None:
    for key in (None, "kb-forged-0000", served.keys["alice"] + "x"):
        r = _rpc(served.endpoint, key, "tools/list", {}, **{"Mcp-Protocol-Version": MODERN})
        assert r.status_code == 401 and "tools" not in r.text
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_signed_in_page_cookie_is_not_a_credential_for_mcp(served: Served) -> None:
    page = httpx.Client(base_url=served.app.url, timeout=60)
    signed = page.post("/login", data={"key": served.keys["bob"], "next": "/"})
    assert signed.status_code in (200, 303) and page.cookies, signed.text
    # the browser's cookie works for the page ...
    assert page.get("/v1/models").status_code == 200
    # ... but a cross-site POST carrying it (no bearer) gets nothing from /mcp
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    r = page.post("/mcp", json=body, headers={"Accept": "application/json, text/event-stream"})
    assert r.status_code == 401


async def _fetches(endpoint: str, key: str, passage: str, path: str) -> list[tuple[bool, str]]:
    async with _client(endpoint, key, MODERN) as client:
        out = []
        calls: list[tuple[str, dict[str, Any]]] = [
            ("fetch", {"id": passage}),
            ("fetch", {"path": path}),
            ("search", {"query": VPN, "collections": ["it"]}),
        ]
        for tool, args in calls:
            r = await client.call_tool(tool, args)
            out.append((bool(r.is_error), _text(r)))
        return out


def _first_passage(text: str) -> tuple[str, str]:
    lines = dict(line.split(": ", 1) for line in text.splitlines() if line.split(": ", 1)[0] in ("id", "path"))
    return lines["id"], lines["path"]


def test_another_groups_passage_file_and_collection_stay_closed(served: Served) -> None:
    async def bobs() -> str:
        async with _client(served.endpoint, served.keys["bob"], MODERN) as client:
            return _text(await client.call_tool("search", {"query": VPN, "top_k": 1}))

    passage, path = _first_passage(asyncio.run(bobs()).split("\n\n", 1)[0].split("] ", 1)[1])
    assert "/it/" in path
    own = asyncio.run(_fetches(served.endpoint, served.keys["bob"], passage, path))
    assert not own[0][0] and "12 hours" in own[0][1] and not own[1][0] and "12 hours" in own[1][1]
    theirs = asyncio.run(_fetches(served.endpoint, served.keys["alice"], passage, path))
    assert theirs[0][0] and "12 hours" not in theirs[0][1]  # the passage: "no passage ... that you may read"
    assert theirs[1][0] and "12 hours" not in theirs[1][1]  # the file
    assert theirs[2][0] and "unknown collection" in theirs[2][1] and "(known: hr)" in theirs[2][1]


def test_answers_through_mcp_are_audited_and_counted_with_the_door(served: Served) -> None:
    asyncio.run(_session(served.endpoint, served.keys["bob"], MODERN))
    with sqlite3.connect(served.audit) as db:
        rows = [json.loads(b) for (b,) in db.execute("SELECT body FROM records WHERE kind = 'answer'")]
    assert rows and all(r.get("door") == "mcp" for r in rows)
    assert any(r["question"] == VPN for r in rows)
    scraped = httpx.get(f"{served.app.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    counts = {
        kind: re.search(rf'kb_door_seconds_count{{door="mcp",kind="{kind}"}} (\d+)', scraped)
        for kind in ("ask", "search")
    }
    assert all(m and int(m.group(1)) >= 1 for m in counts.values()), scraped[-2000:]


def test_a_foreign_host_header_is_refused(served: Served) -> None:
    """DNS rebinding: a page on another site that resolves its name to 127.0.0.1 must not reach the tools."""
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    assert _rpc(served.endpoint, served.keys["bob"], "initialize", hello).status_code == 200
    r = _rpc(served.endpoint, served.keys["bob"], "initialize", hello, Host="evil.example")
    assert r.status_code in (400, 403, 421) and "protocolVersion" not in r.text
    r = _rpc(served.endpoint, served.keys["bob"], "initialize", hello, Origin="https://evil.example")
    assert r.status_code in (400, 403) and "protocolVersion" not in r.text


def test_mcp_is_not_mounted_when_switched_off(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}, mcp={"enabled": False}) as app:
        assert _rpc(f"{app.url}/mcp", None, "tools/list", {}).status_code == 404


async def _stdio(index: Path, env: dict[str, str]) -> tuple[list[str], str]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(
        command=PYTHON, args=["-m", "serving", "mcp", "--index", str(index)], env=env, cwd=str(ROOT)
    )
    async with Client(params, read_timeout_seconds=300) as client:
        tools = await client.list_tools()
        answer = await client.call_tool("ask", {"question": VPN})
        return [t.name for t in tools.tools], _text(answer)


def test_stdio_serves_the_same_tools_as_the_configured_user(kb_index: Path, tmp_path: Path) -> None:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k.startswith(("KB_LLM__MODEL_DIR", "KB_EMBEDDING__CACHE_DIR", "KB_OBSERVABILITY__", "PATH", "HOME"))
        },
        "KB_LLM__BACKEND": "extractive",
        "KB_AUDIT__PATH": str(tmp_path / "audit.sqlite"),
        "KB_AUTH__KEYS_DB": str(tmp_path / "auth.sqlite"),
        "KB_SERVING__FEEDBACK_DB": str(tmp_path / "feedback.sqlite"),
        "KB_STORAGE__CONVERSATIONS_DB": str(tmp_path / "conversations.sqlite"),
        "KB_ACCESS__GROUPS": json.dumps(GROUPS),
    }
    names, text = asyncio.run(_stdio(kb_index, env))
    assert {"search", "ask", "list_collections", "fetch"} <= set(names)
    assert "12 hours" in text and "it/" in text  # local, no authentication: everything
    # once authentication is on here (a key exists), stdio still serves the local user, and says how to narrow it
    from serving.access.keys import KeyStore

    KeyStore(tmp_path / "auth.sqlite").create("someone", frozenset({"it-staff"}))
    warned = subprocess.run(
        [PYTHON, "-m", "serving", "mcp", "--index", str(kb_index)],
        env=env, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert warned.returncode == 0 and "mcp.stdio_user" in warned.stderr and not warned.stdout
    hr = {**env, "KB_MCP__STDIO_USER": "maria", "KB_MCP__STDIO_GROUPS": '["hr-staff"]'}
    names, text = asyncio.run(_stdio(kb_index, hr))
    assert "12 hours" not in text and "it/" not in text  # maria (hr) reads no IT page
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        users = [
            (u, json.loads(b).get("door"))
            for u, b in db.execute("SELECT user, body FROM records WHERE kind = 'answer'")
        ]
    assert users == [("local", "mcp"), ("maria", "mcp")]
    assert sys.executable  # the subprocess ran the project's interpreter (PYTHON)


async def _calls(endpoint: str, key: str, calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[bool, str]]:
    async with _client(endpoint, key, MODERN) as client:
        out = []
        for tool, args in calls:
            r = await client.call_tool(tool, args)
            out.append((bool(r.is_error), _text(r)))
        return out


def _call(endpoint: str, key: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tools/call in the stateless revision (2026-07-28): a self-contained POST; its result."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    }
    params = {"name": tool, "arguments": arguments, "_meta": meta}
    headers = {"Mcp-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": tool}
    r = _rpc(endpoint, key, "tools/call", params, **headers)
    assert r.status_code == 200, r.text
    return dict(_result(r)["result"])


def test_rate_limits_and_size_limits_hold_through_mcp(kb_index: Path, tmp_path: Path) -> None:
    """Every /mcp request counts once, as on /v1: a tool call, and opening a session or listing the tools too."""
    from serving.access.keys import KeyStore

    _, key = KeyStore(tmp_path / "auth.sqlite").create("carol", frozenset({"it-staff"}))
    limits = {"requests_per_minute": 4, "answers_per_day": 0, "concurrent_answers": 0}
    with start_app(
        kb_index,
        tmp_path,
        llm={"backend": "extractive"},
        auth={"keys_db": str(tmp_path / "auth.sqlite")},
        access={"groups": GROUPS},
        limits=limits,
    ) as app:
        endpoint = f"{app.url}/mcp"
        long = "why " * 1500  # over answer.max_question_chars (4000)
        out = [_call(endpoint, key, "ask", {"question": long})]
        out += [_call(endpoint, key, "search", {"query": VPN}) for _ in range(2)]
        assert out[0]["isError"] and "characters" in out[0]["content"][0]["text"]  # a one-line error, no answer
        assert [r["isError"] for r in out[1:]] == [False, False]  # each tool call counted once: 3 of 4
        hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        assert _rpc(endpoint, key, "initialize", hello).status_code == 200  # the 4th request of the minute
        over = _rpc(endpoint, key, "tools/list", {}, **{"Mcp-Protocol-Version": MODERN})
        assert over.status_code == 429 and "retry-after" in over.headers
        # a body over serving.max_request_kb is refused before any tool runs
        big = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "ask", "arguments": {"question": "x" * 400_000}},
        }
        h = {"Authorization": f"Bearer {key}", "Accept": "application/json, text/event-stream"}
        assert httpx.post(endpoint, json=big, headers=h, timeout=60).status_code == 413

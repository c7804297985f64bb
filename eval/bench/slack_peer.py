"""Slack's side of the Slack door on loopback: the Web API methods the bot calls, answered the way Slack answers
them (HTTP 200 with {"ok": ...} JSON, the bearer token checked, arguments as query, form or JSON), Socket Mode's
WebSocket, and Events API requests signed the way Slack signs them. Every call is recorded for the tests to read."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import WSMsgType, web

from eval.bench.loopback import free_port

BOT = "UBOT"
PAGE = 2  # conversations.members answers this many at a time, so the bot must follow the cursor


@dataclass(frozen=True)
class Call:
    """One Web API call the bot made and what it was answered."""

    method: str
    args: dict[str, Any]
    answer: dict[str, Any]


@dataclass
class SlackPeer:
    """Slack's Web API for one workspace: users (id -> users.info's user object) and channels (id -> member ids)."""

    token: str
    users: dict[str, dict[str, Any]]
    channels: dict[str, list[str]]
    app_token: str | None = None
    calls: list[Call] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)  # what the bot sent over Socket Mode
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()  # wait_until holds it while a check calls made()
        self._ts = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._socket: web.WebSocketResponse | None = None
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def __enter__(self) -> SlackPeer:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        threading.Thread(target=self._loop.run_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(await request.post())
        expected = self.app_token if method == "apps.connections.open" else self.token
        if request.headers.get("authorization") != f"Bearer {expected}":
            answer: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
        else:
            answer = self._answer(method, args)
        with self._lock:
            self.calls.append(Call(method, args, answer))
        return web.json_response(answer)

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://kb-test.slack.com/", "team": "KB", "user": "kb", "team_id": "T1",
                    "user_id": BOT, "bot_id": "BBOT"}  # fmt: skip
        if method == "users.info":
            user = self.users.get(str(args.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "conversations.members":
            members = self.channels.get(str(args.get("channel")))
            if members is None:
                return {"ok": False, "error": "channel_not_found"}
            start = int(args.get("cursor") or 0)
            more = str(start + PAGE) if start + PAGE < len(members) else ""
            return {"ok": True, "members": members[start : start + PAGE], "response_metadata": {"next_cursor": more}}
        ts = f"{1_800_000_000 + next(self._ts)}.000100"
        if method == "chat.postMessage":
            return {"ok": True, "channel": args["channel"], "ts": ts, "message": {"text": args["text"], "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args["text"]}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}
        return {"ok": False, "error": "unknown_method"}

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: says hello, then records what the bot sends (its acknowledgements)."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        self._socket = ws
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                with self._lock:
                    self.received.append(json.loads(message.data))
        return ws

    def push(self, envelope: dict[str, Any]) -> None:
        """Sends a Socket Mode envelope to the connected bot."""
        socket = self.wait_until(lambda: self._socket, "the bot never opened its Socket Mode connection")
        asyncio.run_coroutine_threadsafe(socket.send_json(envelope), self._loop).result(10)

    def wait_until(self, check: Callable[[], Any], what: str, timeout: float = 90) -> Any:
        """Polls until check() gives something true; fails with `what` after the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = check()
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{what} (within {timeout:g} s); calls: {[c.method for c in self.calls]}")

    def wait(self, method: str, what: str, after: int = 0, **match: Any) -> Call:
        """The first call of `method` whose arguments include `match` (among the calls after the first `after`)."""

        def found() -> Call | None:
            return next((c for c in self.calls[after:] if c.method == method and _includes(c.args, match)), None)

        call: Call = self.wait_until(found, what)
        return call

    def made(self, method: str, **match: Any) -> list[Call]:
        """The calls of `method` so far whose arguments include `match`."""
        with self._lock:
            return [c for c in self.calls if c.method == method and _includes(c.args, match)]


def _includes(args: dict[str, Any], match: dict[str, Any]) -> bool:
    return all(str(args.get(k)) == str(v) for k, v in match.items())


def signed(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with a request: v0= HMAC-SHA256 of 'v0:{timestamp}:{body}' under the secret."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"content-type": "application/json", "x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


def callback(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An Events API event_callback as Slack wraps an event."""
    unused = "unused"  # nosec B105  # Slack's deprecated verification token: bolt checks the signature instead
    return {"token": unused, "team_id": "T1", "api_app_id": "A1", "event": event, "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "authorizations": [{"team_id": "T1",
            "user_id": BOT, "is_bot": True}]}  # fmt: skip


def deliver(url: str, body: dict[str, Any], secret: str, **headers: str) -> httpx.Response:
    """POSTs a body to /slack/events signed with `secret` (extra headers override Slack's)."""
    raw = json.dumps(body).encode()
    return httpx.post(f"{url}/slack/events", content=raw, headers={**signed(raw, secret), **headers}, timeout=30)

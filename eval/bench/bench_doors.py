"""`python -m eval bench-doors`: answer latency through each front door against /v1/chat/completions, on the
sample handbook with the extractive backend, one server (`python -m serving`, loopback), the same questions.

Each round asks every question once through every door of one process, in turn (so drift of the machine hits
them alike); the first round warms caches and is not counted. A door's time is the client's, from sending the
question to holding the answer: for MCP, one `tools/call` of `ask` in an open session of the SDK's own client
(over stdio: a process of its own, timed alone after the server has stopped); for Slack, a direct message signed
as Slack signs it, posted to /slack/events, until the bot has replaced its placeholder with the answer through a
loopback Slack Web API (eval/bench/slack_peer.py); for Teams, a personal-chat message with a Bot Framework token
until the reply reaches the loopback connector (eval/bench/botframework.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from configs.settings import PROJECT_ROOT, Settings
from eval.bench.bench_serving import NO_LIMITS, QUESTIONS
from eval.bench.botframework import BotFramework
from eval.bench.slack_peer import SlackPeer
from eval.stats import nearest_rank
from serving.doors.slack.text import PLACEHOLDER

Ask = Callable[[str], Awaitable[str]]
PAUSE_S = 0.5
SLACK_TOKEN, SLACK_SECRET = "xoxb-bench", "bench-signing-secret"
TEAMS_APP, TEAMS_TENANT = "kb-bench-bot", "tenant-bench"


def _v1(client: httpx.AsyncClient) -> Ask:
    async def ask(question: str) -> str:
        r = await client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]})
        r.raise_for_status()
        return str(r.json()["choices"][0]["message"]["content"])

    return ask


def _mcp(client: Any) -> Ask:
    async def ask(question: str) -> str:
        result = await client.call_tool("ask", {"question": question})
        return "\n".join(getattr(c, "text", "") for c in result.content)

    return ask


def _summary(times: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000 for t in times)
    return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p95_ms": nearest_rank(ms, 0.95)}


async def measure(doors: dict[str, Ask], rounds: int) -> dict[str, Any]:
    """Every question through every door, `rounds` times after one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in doors}
    for r in range(rounds + 1):
        for question in QUESTIONS:
            for name, ask in doors.items():
                # The doors run in two processes on few cores: let the last one's idle OpenMP threads stop
                # spinning before the next is timed (else each pays for the other's spin-wait).
                await asyncio.sleep(PAUSE_S)
                t0 = time.perf_counter()
                text = await ask(question)
                if r:
                    times[name].append(time.perf_counter() - t0)
                if not text.strip():
                    raise RuntimeError(f"{name} gave an empty answer to {question!r}")
    return {name: _summary(t) for name, t in times.items()}


def _slack(url: str, peer: Any) -> Ask:
    """A direct message to the bot, signed as Slack signs it; done when the answer is in the thread as the asker
    sees it in Slack (posted, or, when slow, put in place of the placeholder)."""
    from eval.bench.slack_peer import callback, deliver

    events = itertools.count(1)

    async def ask(question: str) -> str:
        n = next(events)
        seen = len(peer.calls)
        event = {"type": "message", "channel_type": "im", "channel": "DBENCH", "user": "UBENCH", "text": question,
                 "ts": f"{1_700_000_000 + n}.000200"}  # fmt: skip
        r = await asyncio.to_thread(deliver, url, callback(event, f"EvBench{n}"), SLACK_SECRET)
        r.raise_for_status()
        while True:  # the answer posted in the thread, or (a slow one) the placeholder's update
            said = [c for c in peer.calls[seen:] if c.method in ("chat.postMessage", "chat.update")]
            done = next((c for c in said if c.args.get("text") != PLACEHOLDER), None)
            if done is not None:
                return str(done.args.get("text", ""))
            await asyncio.sleep(0.002)

    return ask


def _teams(url: str, bf: BotFramework) -> Ask:
    """A personal-chat message as the Bot Framework posts it (its token, our tenant), until the bot's reply has
    reached the activity's serviceUrl (the loopback connector)."""
    conversation = bf.chat("bench")

    async def ask(question: str) -> str:
        activity_id = uuid.uuid4().hex
        activity = {
            "type": "message", "id": activity_id, "channelId": "msteams", "serviceUrl": bf.service_url,
            "from": {"id": "29:bench", "name": "Bench", "aadObjectId": "aad-bench"},
            "recipient": {"id": "28:kb-bot", "name": "KB"}, "text": question,
            "conversation": {"id": conversation, "conversationType": "personal", "tenantId": TEAMS_TENANT},
            "channelData": {"tenant": {"id": TEAMS_TENANT}},
        }  # fmt: skip
        headers = {"Authorization": f"Bearer {bf.token()}"}
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.post(f"{url}/teams/messages", json=activity, headers=headers)
        r.raise_for_status()
        while not (replies := bf.replies_to(activity_id)):
            await asyncio.sleep(0.002)
        return str(replies[0].get("text", ""))

    return ask


async def _over_http(url: str, rounds: int, peer: Any, bf: BotFramework) -> dict[str, Any]:
    from mcp import Client

    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=120))
        over_http = await stack.enter_async_context(Client(f"{url}/mcp", mode="2026-07-28", read_timeout_seconds=300))
        doors = {"v1": _v1(http), "mcp-http": _mcp(over_http), "slack": _slack(url, peer), "teams": _teams(url, bf)}
        return await measure(doors, rounds)


async def _over_stdio(index: Path, env: dict[str, str], rounds: int) -> dict[str, Any]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    stdio = StdioServerParameters(
        command=sys.executable, args=["-m", "serving", "mcp", "--index", str(index)], env=env, cwd=str(PROJECT_ROOT)
    )
    async with Client(stdio, mode="2026-07-28", read_timeout_seconds=300) as client:
        return await measure({"mcp-stdio": _mcp(client)}, rounds)


def main(settings: Settings, out: Path, rounds: int = 3) -> dict[str, Any]:
    from eval.bench.loopback import free_port, stop, wait_for_port
    from ingest.indexer import build_indexer

    index = settings.resolve(settings.eval.cache_dir) / "bench" / "sample-index"
    build_indexer(settings, index_dir=index).run([PROJECT_ROOT / "data" / "sample"])
    state = settings.resolve(settings.eval.cache_dir) / "bench" / "doors-state"
    state.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **NO_LIMITS,
        "KB_LLM__BACKEND": "extractive",
        "KB_AUDIT__PATH": str(state / "audit.sqlite"),
        "KB_AUTH__KEYS_DB": str(state / "auth.sqlite"),
        "KB_SERVING__FEEDBACK_DB": str(state / "feedback.sqlite"),
        "KB_STORAGE__CONVERSATIONS_DB": str(state / "conversations.sqlite"),
    }
    port = free_port()
    bench_user = {"id": "UBENCH", "name": "bench", "is_bot": False, "is_email_confirmed": True,
                  "profile": {"real_name": "Bench", "email": "bench@example.com"}}  # fmt: skip
    member = {"id": "29:bench", "name": "Bench", "aadObjectId": "aad-bench", "userPrincipalName": "bench@example.com"}
    bf = BotFramework(TEAMS_APP, "bench-password", "bench-bot-token", {"bench": member})
    with SlackPeer(SLACK_TOKEN, {"UBENCH": bench_user}, {}) as peer:
        doors_env = {
            "KB_SLACK__BOT_TOKEN": SLACK_TOKEN,
            "KB_SLACK__SIGNING_SECRET": SLACK_SECRET,
            "KB_SLACK__API_URL": peer.api_url,
            "KB_TEAMS__APP_ID": TEAMS_APP,
            "KB_TEAMS__APP_PASSWORD": "bench-password",  # nosec B105  # the loopback token endpoint's, made up
            "KB_TEAMS__TENANT_ID": TEAMS_TENANT,
            "KB_TEAMS__OPENID_METADATA_URL": bf.metadata_url,
            "KB_TEAMS__ISSUER": bf.issuer,
            "KB_TEAMS__TOKEN_URL": f"{bf.url}/token",
            "KB_DOORS__PEOPLE": json.dumps({"bench@example.com": ["everyone"]}),
            "KB_ACCESS__GROUPS": json.dumps({"everyone": ["*"]}),
        }
        server = subprocess.Popen(  # nosec B603  # this benchmark's own server command, no shell
            [sys.executable, "-m", "serving", "--index", str(index), "--port", str(port)],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**env, **doors_env},
        )  # fmt: skip
        try:
            wait_for_port(port, server, 180)
            doors = asyncio.run(_over_http(f"http://127.0.0.1:{port}", rounds, peer, bf))
        finally:
            stop(server)
            bf.close()
    # stdio is its own process: timed alone, with the HTTP server stopped (two idle model servers on two cores
    # slowed each other's answers in a first, interleaved version of this benchmark)
    doors.update(asyncio.run(_over_stdio(index, env, rounds)))
    base = doors["v1"]["p50_ms"]
    for row in doors.values():
        row["p50_vs_v1_ms"] = round(row["p50_ms"] - base, 1)
    result = {"questions": len(QUESTIONS), "rounds": rounds, "doors": doors}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result

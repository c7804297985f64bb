"""The /v1 chat completions, retrieve, rerank, models, files and health routes (serving/web/api.py) in process:
FastAPI's TestClient behind the real authentication gate, real stores in a temporary folder, the fake embedder,
the in-memory vector store and a scripted model (the same app as test_responses_routes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.llm.fake import ScriptedChatModel
from tests.unit.test_responses_routes import LEAVE, REPLY, Server, _server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from _server(tmp_path, ScriptedChatModel(REPLY))


def _chat(server: Server, **body: object) -> httpx.Response:
    return server.client.post("/v1/chat/completions", json=body, headers=server.alice)


def test_a_chat_completion_answers_the_last_user_message_with_its_citations(server: Server) -> None:
    got = _chat(server, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": LEAVE}])
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["object"] == "chat.completion" and body["model"] == "kb-assistant"
    assert "25 days" in body["choices"][0]["message"]["content"]
    [cited] = [c for c in body["citations"] if c["cited"]]
    assert cited["relpath"] == "hr/leave.md" and "25 days" in cited["text"]
    assert body["kb"]["parts"][0]["status"] == "answered"


def test_a_streamed_chat_completion_is_chunks_then_done(server: Server) -> None:
    got = _chat(server, messages=[{"role": "user", "content": LEAVE}], stream=True)
    assert got.headers["content-type"].startswith("text/event-stream")
    lines = [line[len("data: ") :] for line in got.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert "25 days" in text and chunks[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"messages": [{"role": "system", "content": "hi"}]}, 400, "must contain a user message"),
        ({"messages": [{"role": "user", "content": "   "}]}, 400, "the question is empty"),
        ({"messages": [{"role": "user", "content": LEAVE}], "model": "gpt-4o"}, 404, "is not served here"),
        ({"messages": [{"role": "user", "content": LEAVE}], "filters": {"colection": ["hr"]}}, 400, "unknown filter"),
        ({"messages": [{"role": "user", "content": LEAVE}], "filters": {"collections": ["it"]}}, 400, "unknown"),
    ],
)
def test_a_bad_chat_request_gets_its_status_and_a_one_line_message(
    server: Server, body: dict[str, object], status: int, says: str
) -> None:
    got = _chat(server, **body)
    assert got.status_code == status, got.text
    assert says in got.json()["error"]["message"]


def test_retrieve_returns_the_hits_the_reader_may_see(server: Server) -> None:
    c = server.client
    got = c.post("/v1/retrieve", json={"query": LEAVE, "top_k": 3}, headers=server.alice).json()
    assert (
        got["relevant"]
        and got["hits"][0]["metadata"]["relpath"] == "hr/leave.md"
        and "25 days" in got["hits"][0]["text"]
    )
    unknown = c.post("/v1/retrieve", json={"query": LEAVE, "filters": {"collections": ["it"]}}, headers=server.alice)
    assert unknown.status_code == 400
    assert c.post("/v1/retrieve", json={"query": LEAVE}).status_code == 401  # no credential


def test_models_files_rerank_and_health_answer_as_documented(server: Server) -> None:
    c, alice = server.client, server.alice
    assert c.get("/v1/models", headers=alice).json()["data"][0]["id"] == "kb-assistant"
    refused = c.get("/v1/files", params={"source": "/etc/passwd"}, headers=alice)
    assert refused.status_code == 404 and refused.json()["error"]["type"] == "not_found"
    no_reranker = c.post("/v1/rerank", json={"query": "leave", "documents": ["a", "b"]}, headers=alice)
    assert no_reranker.status_code == 404 and "no reranker" in no_reranker.json()["error"]["message"]
    assert c.get("/v1/health", headers=alice).json()["status"] == "ok"


def test_over_the_rate_limit_a_request_gets_429_with_retry_after(tmp_path: Path) -> None:
    from configs.settings import LimitsSettings

    for server in _server(tmp_path, ScriptedChatModel(REPLY), limits=LimitsSettings(requests_per_minute=1)):
        assert server.client.get("/v1/models", headers=server.alice).status_code == 200
        over = server.client.get("/v1/models", headers=server.alice)
        assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
        assert over.json()["error"]["type"] == "rate_limit_error"
        assert server.client.get("/v1/models", headers=server.bob).status_code == 200  # each user has their own

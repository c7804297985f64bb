"""The Responses and Conversations routes (serving/web/responses.py, conversations.py, events.py) in process:
FastAPI's TestClient behind the real authentication gate, with real stores in a temporary folder, the fake
embedder, the in-memory vector store and a scripted model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from configs.settings import (
    AccessSettings,
    AnswerSettings,
    AuthSettings,
    LLMSettings,
    RetrievalSettings,
    Settings,
    ToolAction,
    ToolsSettings,
)
from retrieval import lexical_writer
from retrieval.embeddings import FakeEmbedder
from retrieval.retriever import Retriever
from retrieval.store import InMemoryStore
from retrieval.types import Chunk, ChunkMeta
from serving.access.auth import Authenticator, AuthGate
from serving.access.identity import Access, Identity
from serving.access.keys import KeyStore
from serving.access.quotas import Quotas
from serving.actions.tools import Toolbox
from serving.answer.chain import AnswerChain
from serving.answer.extractive import ExtractiveAnswerer
from serving.answer.verify.verifier import FeatureVerifier
from serving.llm.fake import ScriptedChatModel, ScriptedToolChatModel
from serving.llm.protocol import ToolCall, ToolReply
from serving.observability.metrics import Metrics
from serving.observability.recorder import Recorder
from serving.store.conversations import ConversationStore
from serving.store.feedback import FeedbackStore
from serving.web.api import Api, build_router
from serving.web.conversations import ConversationsApi, add_conversation_routes
from serving.web.errors import install_error_handlers
from serving.web.responses import ResponsesApi, add_response_routes

LEAVE = "How many days of paid annual leave do employees get?"
REPLY = "Every full-time employee gets 25 days of paid annual leave per calendar year [1]."
TEXT = "Every full-time employee gets 25 days of paid annual leave per calendar year."


def TicketModel(reply: str) -> ScriptedToolChatModel:  # noqa: N802  # reads as the model it builds
    """A scripted model that can be offered tools and always asks to open a ticket."""
    call = ToolCall("call_1", "open_ticket", json.dumps({"title": "VPN is down"}))
    return ScriptedToolChatModel(reply, lambda _: ToolReply("", (call,)))


@dataclass
class Services:
    """The part of the object graph the /v1 routes use (ApiServices), built from real parts and fakes."""

    settings: Settings
    chain: AnswerChain
    access: Access
    recorder: Recorder
    toolbox: Toolbox
    quotas: Quotas
    metrics: Metrics

    def facets(self, identity: Identity) -> dict[str, list[str]]:
        return self.chain.retriever.facets(self.access.read_scope(identity))

    def may_read_file(self, identity: Identity, source: str) -> bool:
        return False


@dataclass
class Server:
    client: TestClient
    alice: dict[str, str]
    bob: dict[str, str]


def _server(tmp_path: Path, model: ScriptedChatModel, **settings: Any) -> Iterator[Server]:
    config = Settings(**settings)
    embedder, store = FakeEmbedder(), InMemoryStore()
    chunk = Chunk("leave", TEXT, "/kb/leave.md", ChunkMeta(relpath="hr/leave.md", title="Leave", collection="hr"))
    store.upsert([chunk], embedder.embed_documents([TEXT]))
    lexical_writer.build(tmp_path / "index", [(chunk.id, TEXT, TEXT, chunk.to_record())], generation=1)
    retrieval = RetrievalSettings(min_dense_score=0.3, lexical_floor=0.5)
    retriever = Retriever(retrieval, embedder, store, tmp_path / "index")
    chain = AnswerChain(retriever, model, ExtractiveAnswerer(FakeEmbedder()), FeatureVerifier(), AnswerSettings(),
                        LLMSettings())  # type: ignore[arg-type]  # fmt: skip
    services = Services(
        config,
        chain,
        Access(AccessSettings(groups={"hr": ("hr",)})),
        Recorder(None, FeedbackStore(tmp_path / "feedback.sqlite"), None),
        Toolbox(config.tools, lambda query, scope: [], lambda kind, who, details: None, tmp_path),
        Quotas(config.limits),
        Metrics(),
    )
    conversations = ConversationStore(tmp_path / "conversations.sqlite")
    api = Api(services)
    responses, conversation_routes = ResponsesApi(api, conversations), ConversationsApi(api, conversations)

    def more(router: APIRouter) -> None:
        add_response_routes(router, responses)
        add_conversation_routes(router, conversation_routes)

    app = FastAPI()
    app.include_router(build_router(api, more))
    install_error_handlers(app)
    keys = KeyStore(tmp_path / "auth.sqlite")
    _, alice = keys.create("alice", frozenset({"hr"}))
    _, bob = keys.create("bob", frozenset({"hr"}))
    authenticator = Authenticator(AuthSettings(required=True, keys_db=tmp_path / "auth.sqlite"), keys, None)
    app.add_middleware(AuthGate, authenticator=authenticator)
    with TestClient(app) as client:
        yield Server(client, {"Authorization": f"Bearer {alice}"}, {"Authorization": f"Bearer {bob}"})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from _server(tmp_path, ScriptedChatModel(REPLY))


def _events(body: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in body.strip().split("\n\n"):
        kind, data = block.split("\n")
        assert kind.startswith("event: ") and data.startswith("data: ")
        out.append((kind[len("event: ") :], json.loads(data[len("data: ") :])))
    return out


def test_a_conversation_is_created_read_updated_listed_and_deleted_by_its_owner_only(server: Server) -> None:
    c, alice, bob = server.client, server.alice, server.bob
    made = c.post("/v1/conversations", json={"items": [{"role": "user", "content": "hello"}],
                                             "metadata": {"topic": "leave"}}, headers=alice)  # fmt: skip
    assert made.status_code == 200, made.text
    cid = made.json()["id"]
    assert made.json()["object"] == "conversation" and made.json()["metadata"] == {"topic": "leave"}
    assert c.get(f"/v1/conversations/{cid}", headers=alice).json()["id"] == cid
    assert c.get(f"/v1/conversations/{cid}", headers=bob).status_code == 404
    updated = c.post(f"/v1/conversations/{cid}", json={"metadata": {"topic": "vpn"}}, headers=alice)
    assert updated.json()["metadata"] == {"topic": "vpn"}
    parts = [{"type": "output_text", "text": "hi "}, {"type": "output_text", "text": "there"}]
    added = c.post(f"/v1/conversations/{cid}/items", json={"items": [{"role": "assistant", "content": parts}]},
                   headers=alice).json()  # fmt: skip
    assert added["object"] == "list" and added["has_more"] is False and added["first_id"] == added["last_id"]
    listed = c.get(f"/v1/conversations/{cid}/items", params={"order": "desc", "limit": 1}, headers=alice).json()
    assert listed["has_more"] is True and listed["first_id"] == added["first_id"]
    item = c.get(f"/v1/conversations/{cid}/items/{added['first_id']}", headers=alice).json()
    assert item["role"] == "assistant" and item["content"][0]["text"] == "hi there"
    assert c.get(f"/v1/conversations/{cid}/items", params={"limit": 0}, headers=alice).status_code == 400
    deleted = c.delete(f"/v1/conversations/{cid}", headers=alice).json()
    assert deleted == {"id": cid, "object": "conversation.deleted", "deleted": True}
    assert c.get(f"/v1/conversations/{cid}", headers=alice).status_code == 404


def test_a_response_answers_into_its_conversation_and_is_stored(server: Server) -> None:
    c, alice = server.client, server.alice
    cid = c.post("/v1/conversations", headers=alice).json()["id"]
    got = c.post("/v1/responses", json={"input": LEAVE, "conversation": cid}, headers=alice)
    assert got.status_code == 200, got.text
    response = got.json()
    assert response["object"] == "response" and response["status"] == "completed"
    assert response["conversation"] == {"id": cid} and response["tools"] == [] and response["tool_choice"] == "auto"
    [message] = response["output"]
    assert "25 days" in message["content"][0]["text"] and response["usage"]["total_tokens"] >= 0
    assert c.get(f"/v1/responses/{response['id']}", headers=alice).json()["output"] == response["output"]
    assert c.get(f"/v1/responses/{response['id']}", headers=server.bob).status_code == 404
    items = c.get(f"/v1/conversations/{cid}/items", headers=alice).json()["data"]
    assert [i["role"] for i in items] == ["user", "assistant"] and items[1]["id"] == message["id"]
    both = c.post("/v1/responses", json={"input": LEAVE, "conversation": cid, "previous_response_id": "resp_1"},
                  headers=alice)  # fmt: skip
    assert both.status_code == 400
    other = c.post("/v1/responses", json={"input": LEAVE, "model": "gpt-4o"}, headers=alice)
    assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"


def test_a_streamed_response_sends_the_responses_events_in_order(server: Server) -> None:
    got = server.client.post("/v1/responses", json={"input": LEAVE, "stream": True}, headers=server.alice)
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/event-stream")
    events = _events(got.text)
    kinds = [k for k, _ in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas >= 1
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert all(d["type"] == k for k, d in events)
    done = events[-1][1]["response"]
    text = "".join(d["delta"] for k, d in events if k == "response.output_text.delta")
    assert text == done["output"][0]["content"][0]["text"] == events[-4][1]["text"]


def test_an_action_is_replayed_as_events_and_its_approval_runs_once(tmp_path: Path) -> None:
    ticket = ToolAction(name="open_ticket", description="Open a ticket", method="POST",
                        url="http://127.0.0.1:9/tickets",
                        parameters={"type": "object", "properties": {"title": {"type": "string"}}})  # fmt: skip
    for server in _server(tmp_path, TicketModel(REPLY), tools=ToolsSettings(actions=[ticket])):
        c, alice = server.client, server.alice
        got = c.post("/v1/responses", json={"input": "Open a ticket: VPN is down", "stream": True}, headers=alice)
        events = _events(got.text)
        assert [k for k, _ in events] == ["response.created", "response.in_progress", "response.output_item.added",
                                          "response.output_item.done", "response.incomplete"]  # fmt: skip
        waiting = events[-1][1]["response"]
        [request] = waiting["output"]
        assert request["type"] == "mcp_approval_request" and request["name"] == "open_ticket"
        assert waiting["incomplete_details"] == {"reason": "confirmation_required"}
        approval = {"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": False}
        body = {"input": [approval], "previous_response_id": waiting["id"]}
        declined = c.post("/v1/responses", json=body, headers=alice).json()
        assert [i["type"] for i in declined["output"]] == ["function_call", "function_call_output", "message"]
        assert declined["kb"]["mode"] == "action" and declined["previous_response_id"] == waiting["id"]
        again = c.post("/v1/responses", json=body, headers=alice)
        assert again.status_code == 400 and "already confirmed or declined" in again.json()["error"]["message"]
        unknown = {**approval, "approval_request_id": "apr_none"}
        missing = c.post("/v1/responses", json={**body, "input": [unknown]}, headers=alice)
        assert missing.status_code == 404

"""The page's handlers in process, each with only the services it uses: real stores in a temporary folder, the
fake embedder, the in-memory vector store and a scripted model. The page's identity comes from the authentication
gate: the last tests run the gate in front of the mounted page (FastAPI's TestClient, Gradio's own queue)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from starlette.requests import Request

from configs.settings import (
    AccessSettings,
    AnswerSettings,
    LimitsSettings,
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
from serving.access.identity import LOCAL, Access, Identity
from serving.access.quotas import Quotas
from serving.actions.tools import Toolbox
from serving.answer.chain import AnswerChain
from serving.answer.extractive import ExtractiveAnswerer
from serving.answer.verify.verifier import FeatureVerifier
from serving.llm.fake import ScriptedChatModel, ScriptedToolChatModel
from serving.llm.protocol import ToolCall, ToolReply
from serving.observability.recorder import Recorder
from serving.store.conversations import ConversationStore
from serving.store.feedback import FeedbackStore
from serving.ui.handlers import PageHandlers
from serving.ui.services import who

ALICE = Identity("alice", frozenset({"hr"}), "key", "k1")
BOB = Identity("bob", frozenset({"hr"}), "key", "k2")
LEAVE = "How many days of paid annual leave do employees get?"
REPLY = "Every full-time employee gets 25 days of paid annual leave per calendar year [1]."
DOCS = {
    "leave": ("Leave Policy", "Every full-time employee gets 25 days of paid annual leave per calendar year.", "hr"),
    "vpn": ("VPN Setup Guide", "The VPN connection times out after 12 hours and must be activated again.", "it"),
}


def TicketModel(reply: str) -> ScriptedToolChatModel:  # noqa: N802  # reads as the model it builds
    """A scripted model that can be offered tools and always asks to open a ticket."""
    call = ToolCall("call_1", "open_ticket", json.dumps({"title": "VPN is down"}))
    return ScriptedToolChatModel(reply, lambda _: ToolReply("", (call,)))


@dataclass
class Services:
    """The part of the object graph the page uses (PageServices), built from real parts and fakes."""

    settings: Settings
    chain: AnswerChain
    access: Access
    recorder: Recorder
    toolbox: Toolbox
    quotas: Quotas
    conversations: ConversationStore
    uploaded: list[tuple[list[Path], str, Identity]] = field(default_factory=list)
    upload_keys: list[str | None] = field(default_factory=list)

    def facets(self, identity: Identity) -> dict[str, list[str]]:
        return self.chain.retriever.facets(self.access.read_scope(identity))

    def status(self, identity: Identity) -> str:
        return f"index ready · signed in as **{identity.display}**"

    def ingest_upload(
        self, paths: list[Path], collection: str, identity: Identity, limit_key: str | None = None
    ) -> str:
        self.uploaded.append((paths, collection, identity))
        self.upload_keys.append(limit_key)
        return f"Indexed {len(paths)} file(s) into **{collection}**"


def _retriever(folder: Path) -> Retriever:
    embedder, store = FakeEmbedder(), InMemoryStore()
    chunks = [
        Chunk(key, text, f"/kb/{key}.md", ChunkMeta(relpath=f"{col}/{key}.md", title=title, collection=col))
        for key, (title, text, col) in DOCS.items()
    ]
    store.upsert(chunks, embedder.embed_documents([c.text for c in chunks]))
    rows = [(c.id, c.text, f"{c.meta.title} {c.text}", c.to_record()) for c in chunks]
    lexical_writer.build(folder, rows, generation=1)
    return Retriever(RetrievalSettings(min_dense_score=0.3, lexical_floor=0.5), embedder, store, folder)


def _services(tmp_path: Path, model: ScriptedChatModel | None = None, **settings: Any) -> Services:
    config = Settings(**settings)
    chain = AnswerChain(
        _retriever(tmp_path / "index"),
        model or ScriptedChatModel(REPLY),
        ExtractiveAnswerer(FakeEmbedder()),
        FeatureVerifier(),
        AnswerSettings(),
        LLMSettings(),  # type: ignore[arg-type]
    )
    recorder = Recorder(None, FeedbackStore(tmp_path / "feedback.sqlite"), None)
    toolbox = Toolbox(config.tools, lambda query, scope: [], lambda kind, who, details: None, tmp_path)
    access = Access(AccessSettings(groups={"hr": ("hr",), "it": ("it",)}))
    conversations = ConversationStore(tmp_path / "conversations.sqlite")
    return Services(config, chain, access, recorder, toolbox, Quotas(config.limits), conversations)


def _request(identity: Identity | None, headers: dict[str, str] | None = None) -> gr.Request:
    """A page request as Gradio hands it to a handler, with what the authentication gate left in its state."""
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "headers": raw,
                             "client": ("192.0.2.7", 5000), "query_string": b""}  # fmt: skip
    if identity is not None:  # and the gate's check that the credential still holds, asked again when an event runs
        scope["state"] = {"identity": identity, "signed_in": lambda: True}
    return gr.Request(request=Request(scope))


def _ask(page: PageHandlers, identity: Identity, question: str = LEAVE, conv_id: str | None = None, **kw: Any) -> Any:
    filters = {"cols": [], "types": [], "tag_list": [], "since": "", "until": "", **kw}
    turns = list(page.respond(question, [], [], conv_id, request=_request(identity), **filters))
    assert turns, "respond yielded nothing"
    return turns[-1]


# --- identity -----------------------------------------------------------------------------------------------


def test_the_page_acts_for_the_identity_the_gate_set_and_refuses_a_request_without_one() -> None:
    assert who(_request(ALICE)) == ALICE
    # The page never authenticates from the headers itself: without the gate's identity the request is refused.
    forged = {"Authorization": "Bearer kb-anything", "Cookie": "kb_session=whatever"}
    with pytest.raises(gr.Error, match="sign-in has expired"):
        who(_request(None, forged))
    with pytest.raises(gr.Error, match="sign-in has expired"):
        who(None)
    unchecked = Request({"type": "http", "headers": [], "state": {"identity": ALICE}})  # no gate's check: no one
    with pytest.raises(gr.Error, match="sign-in has expired"):
        who(gr.Request(request=unchecked))


def test_an_event_queued_before_a_sign_out_or_a_key_revocation_is_refused_when_it_runs(tmp_path: Path) -> None:
    """Gradio's queue runs a page event when its turn comes, after the request that queued it passed the gate: a
    session signed out, or a key revoked, in between stops the event there, before it answers, audits or stores."""
    from fastapi.testclient import TestClient
    from starlette.responses import PlainTextResponse
    from starlette.types import Receive, Scope, Send

    from configs.audit import AuditLog
    from configs.settings import AuthSettings
    from serving.access.auth import Authenticator, AuthGate
    from serving.access.keys import KeyStore

    model = ScriptedChatModel(REPLY)
    services = _services(tmp_path, model)
    services.recorder.audit = AuditLog(tmp_path / "audit.sqlite")
    page = PageHandlers(services)
    keys = KeyStore(tmp_path / "auth.sqlite")
    (record, secret), (second, other) = keys.create("alice", frozenset({"hr"})), keys.create("alice", frozenset({"hr"}))
    authenticator = Authenticator(AuthSettings(required=True), keys, None)
    cookie = authenticator.session_cookie(Identity("alice", frozenset({"hr"}), "key", record.id))
    queued: list[Scope] = []

    async def join(scope: Scope, receive: Receive, send: Send) -> None:  # Gradio's /gradio_api/queue/join
        queued.append(scope)
        await PlainTextResponse("queued")(scope, receive, send)

    gate = TestClient(AuthGate(join, authenticator))
    for credential in ({"Cookie": f"kb_session={cookie}"}, {"Authorization": f"Bearer {other}"}):
        assert gate.post("/gradio_api/queue/join", headers=credential).status_code == 200
    by_cookie, by_key = (gr.Request(request=Request(scope)) for scope in queued)
    assert who(by_cookie).user == "alice" and who(by_key).user == "alice"  # both queued while signed in

    authenticator.end_session(cookie)  # signed out in another tab
    keys.revoke(second.id)  # and the key of the other request revoked
    for request in (by_cookie, by_key):
        with pytest.raises(gr.Error, match="sign-in has expired"):
            list(page.respond(LEAVE, [], [], None, [], [], [], "", "", request=request))
        with pytest.raises(gr.Error, match="sign-in has expired"):
            page.on_new(request)
    assert model.calls == [] and services.conversations.recent("alice") == []
    assert list(services.recorder.audit.records()) == []
    # a request that still holds its credential goes on being answered
    fresh = TestClient(AuthGate(join, authenticator)).post("/gradio_api/queue/join",
                                                          headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    assert fresh.status_code == 200
    turns = list(page.respond(LEAVE, [], [], None, [], [], [], "", "", request=gr.Request(request=Request(queued[-1]))))
    assert "25 days" in turns[-1][0][-1]["content"] and services.conversations.recent("alice")
    assert [r["kind"] for r in services.recorder.audit.records()] == ["answer"]


# --- asking -------------------------------------------------------------------------------------------------


def test_an_answer_streams_with_its_sources_and_is_stored_in_a_new_conversation(tmp_path: Path) -> None:
    services = _services(tmp_path)
    page = PageHandlers(services)
    chat, kept, sources, question, conv_id, listed, pending, confirm_row, note = _ask(page, ALICE)
    assert "25 days" in chat[-1]["content"] and "**Sources**" in chat[-1]["content"]
    assert "kb-source" in sources and "hr/leave.md" in sources and "<mark>" in sources
    assert question == "" and pending is None and confirm_row["visible"] is False
    assert len(kept) == 1 and kept[0][0].text.startswith("Every full-time employee")
    assert listed["value"] == conv_id and listed["choices"] == [(LEAVE, conv_id)]
    items, _ = services.conversations.items("alice", conv_id, "asc", 10)
    assert [i["role"] for i in items] == ["user", "assistant"] and "25 days" in items[1]["kb_markdown"]
    # a follow-up goes into the same conversation
    assert _ask(page, ALICE, "And part-time employees?", conv_id)[4] == conv_id
    assert len(services.conversations.items("alice", conv_id, "asc", 10)[0]) == 4


def test_the_answer_slot_is_given_back_once_the_answer_is_done(tmp_path: Path) -> None:
    page = PageHandlers(_services(tmp_path, limits=LimitsSettings(concurrent_answers=1)))
    for _ in range(3):  # a slot kept after an answer would refuse the second question
        assert "25 days" in _ask(page, ALICE)[0][-1]["content"]


def test_bad_filters_and_collections_the_reader_may_not_see_are_refused(tmp_path: Path) -> None:
    page = PageHandlers(_services(tmp_path))
    with pytest.raises(gr.Error, match="YYYY-MM-DD|date"):
        _ask(page, ALICE, since="last week")
    with pytest.raises(gr.Error, match="unknown collection 'it'"):
        _ask(page, ALICE, cols=["it"])  # alice reads hr only: the it collection is not among her filter values


def test_an_action_that_changes_something_waits_for_confirmation_and_can_be_declined(tmp_path: Path) -> None:
    ticket = ToolAction(name="open_ticket", description="Open a ticket", method="POST",
                        url="http://127.0.0.1:9/tickets",
                        parameters={"type": "object", "properties": {"title": {"type": "string"}}})  # fmt: skip
    services = _services(tmp_path, TicketModel(REPLY), tools=ToolsSettings(actions=[ticket]))
    page = PageHandlers(services)
    chat, kept, _, _, conv_id, _, waiting, confirm_row, note = _ask(page, ALICE, "Open a ticket: VPN is down")
    assert "**open_ticket** would change something" in note and chat[-1]["content"] == note
    assert waiting == ("open_ticket", json.dumps({"title": "VPN is down"}), "Open a ticket: VPN is down")
    assert confirm_row["visible"] is True and conv_id is None  # nothing stored while it waits
    chat, kept, pending, confirm_row, conv_id, _ = page.on_decide(False)(waiting, chat, kept, None, _request(ALICE))
    assert "declined open_ticket; nothing was done" in chat[-1]["content"] and len(chat) == 2
    assert pending is None and confirm_row["visible"] is False and kept == [None]
    items, _ = services.conversations.items("alice", conv_id, "asc", 10)
    assert items[0]["content"][0]["text"] == "Open a ticket: VPN is down" and "declined" in items[1]["kb_markdown"]
    with pytest.raises(gr.Error, match="no action is waiting"):
        page.on_decide(True)(None, chat, kept, conv_id, _request(ALICE))


# --- conversations ------------------------------------------------------------------------------------------


def test_conversations_are_listed_reopened_renamed_and_deleted_for_their_owner_only(tmp_path: Path) -> None:
    services = _services(tmp_path)
    page = PageHandlers(services)
    conv_id = _ask(page, ALICE)[4]
    status, collections, _, _, *shown = page.visitor(conv_id, _request(ALICE))
    assert "alice" in status and status.endswith("[sign out](/logout)") and collections["choices"] == ["hr"]
    chat, kept, sources, current, listed = shown
    assert chat[0]["content"] == LEAVE and "25 days" in chat[1]["content"] and kept == [None]
    assert "hr/leave.md" in sources and current == conv_id
    # bob's browser holding alice's id opens a fresh conversation, and lists nothing of hers
    chat, kept, _, current, listed = page.on_pick(conv_id, _request(BOB))
    assert chat == [] and current is None and listed["choices"] == []
    with pytest.raises(gr.Error, match="no longer exists"):
        page.on_rename("Mine now", conv_id, _request(BOB))
    listed, title = page.on_rename("Leave questions", conv_id, _request(ALICE))
    assert listed["choices"] == [("Leave questions", conv_id)] and title == ""
    page.on_delete(conv_id, _request(BOB))  # not his: nothing happens
    assert services.conversations.recent("alice")
    chat, _, _, current, listed = page.on_delete(conv_id, _request(ALICE))
    assert chat == [] and current is None and listed["choices"] == [] and not services.conversations.recent("alice")


# --- feedback and upload ------------------------------------------------------------------------------------


def test_feedback_is_stored_with_the_answer_it_rates(tmp_path: Path) -> None:
    services = _services(tmp_path)
    page = PageHandlers(services)
    with pytest.raises(gr.Error, match="ask a question first"):
        page.on_comment("great", [], _request(ALICE))
    kept = _ask(page, ALICE)[1]
    page.on_like(gr.LikeData(None, {"index": [1, 0], "value": "", "liked": False}), kept, _request(ALICE))
    assert page.on_comment("the answer was right", kept, _request(ALICE)) == ""
    rows = services.recorder.feedback.all()
    rated = [(r["rating"], r["comment"], r["user"]) for r in rows]
    assert rated == [(-1, "", "alice"), (0, "the answer was right", "alice")]
    assert all("25 days" in r["answer"] for r in rows)


def test_only_files_in_the_pages_upload_folder_are_ingested(tmp_path: Path) -> None:
    services = _services(tmp_path)
    folder = tmp_path / "gradio-uploads"
    (folder / "abc").mkdir(parents=True)
    mine = folder / "abc" / "notes.md"
    mine.write_text("# Notes\n")
    page = PageHandlers(services, upload_folder=lambda: str(folder))
    with pytest.raises(gr.Error, match="choose one or more files"):
        page.on_upload([], "team", _request(ALICE))
    secret = tmp_path / "auth.sqlite"
    secret.write_text("keys")
    with pytest.raises(gr.Error, match="was not uploaded"):  # a client can post any server path here
        page.on_upload([str(secret)], "team", _request(ALICE))
    assert services.uploaded == []
    message, status, collections, _, _ = page.on_upload([str(mine)], "team notes!", _request(ALICE))
    [(paths, collection, identity)] = services.uploaded
    assert [p.resolve() for p in paths] == [mine.resolve()] and collection == "team-notes-" and identity == ALICE
    assert message == "Indexed 1 file(s) into **team-notes-**" and "alice" in status
    page.on_upload([str(mine)], "team", _request(LOCAL))  # without sign-in, uploads count per client address
    assert services.upload_keys == ["user:alice", "ip:192.0.2.7"]


# --- the gate in front of the page ----------------------------------------------------------------------------


def test_the_mounted_page_acts_for_whom_the_gate_let_in(tmp_path: Path) -> None:
    """The authentication gate resolves the key once; the page's queued call acts for that user (it reads the gate's
    identity from the request), and a call without a credential never reaches the page."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from configs.settings import AuthSettings
    from serving.access.auth import Authenticator, AuthGate
    from serving.access.keys import KeyStore
    from serving.ui.page import build_page

    services = _services(tmp_path)
    keys = KeyStore(tmp_path / "auth.sqlite")
    _, secret = keys.create("alice", frozenset({"hr"}))
    authenticator = Authenticator(AuthSettings(required=True, keys_db=tmp_path / "auth.sqlite"), keys, None)
    app = gr.mount_gradio_app(FastAPI(), build_page(services), path="/")
    app.add_middleware(AuthGate, authenticator=authenticator)
    with TestClient(app) as client:
        config = client.get("/config", headers={"Authorization": f"Bearer {secret}"}).json()
        [visitor] = [d for d in config["dependencies"] if d.get("api_name") == "visitor"]
        body = {"data": [None], "fn_index": visitor["id"], "session_hash": "s1", "event_data": None, "trigger_id": None}
        assert client.post("/gradio_api/queue/join", json=body).status_code == 401
        joined = client.post("/gradio_api/queue/join", json=body, headers={"Authorization": f"Bearer {secret}"})
        assert joined.status_code == 200, joined.text
        done = None
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": "s1"},
                           headers={"Authorization": f"Bearer {secret}"}) as stream:  # fmt: skip
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    done = message
                    break
    assert done is not None and done["success"], done
    assert "signed in as **alice**" in done["output"]["data"][0]

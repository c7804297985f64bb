"""The conversation store with the redactor (privacy.redact): what it redacts, what it keeps as the documents hold
it, citations that still point at their markers, a pending action's arguments held apart and handed out once, and
a store written before version 2 (its version in a schema_version table) migrated in place."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from configs.settings import PrivacySettings
from serving.access.pii import Redactor
from serving.store.conversations import MIGRATIONS, ConversationStore

EMAIL, PHONE = "maria.gonzalez@northwind.example", "+44 20 7946 0958"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(PrivacySettings())


def test_texts_are_redacted_and_documents_kept(redactor: Redactor, tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite", clean=redactor.redact)
    conv = store.create("ann", {"title": f"Leave for {EMAIL}"})
    answer = f"Write to {EMAIL} for the form [1]; full-time staff get 25 days [2]."
    notes = [{"type": "file_citation", "index": answer.index(f"[{n}]"), "source_index": n} for n in (1, 2)]
    item = {"type": "message", "role": "assistant", "kb_markdown": answer, "kb_sources_html": f"<p>{EMAIL}</p>",
            "content": [{"type": "output_text", "text": answer, "annotations": notes}]}  # fmt: skip
    stored = store.add_items("ann", conv["id"], [item])[0]
    assert item["content"][0]["text"] == answer  # the caller's own copy is left as it was
    text = stored["content"][0]["text"]
    assert EMAIL not in text and "<EMAIL_ADDRESS>" in text and EMAIL not in stored["kb_markdown"]
    assert [text[n["index"] : n["index"] + 3] for n in stored["content"][0]["annotations"]] == ["[1]", "[2]"]
    assert stored["kb_sources_html"] == f"<p>{EMAIL}</p>"  # a document's own passage, as the index holds it
    assert store.get("ann", conv["id"])["metadata"] == {"title": "Leave for <EMAIL_ADDRESS>"}
    assert store.items("ann", conv["id"])[0] == [stored]


def test_a_pending_action_keeps_its_arguments_until_answered(redactor: Redactor, tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite", clean=redactor.redact)
    arguments = json.dumps({"contact": EMAIL})
    request = {"type": "mcp_approval_request", "id": "apr_1", "name": "submit_ticket", "arguments": arguments,
               "kb_question": f"Open a ticket, reach me at {EMAIL}"}  # fmt: skip
    response = {"id": "resp_1", "output": [request], "kb": {"standalone_question": f"ticket for {EMAIL}"},
                "citations": [{"text": f"HR desk: {PHONE}"}]}  # fmt: skip
    asked = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": request["kb_question"]}]}
    store.save_response("ann", response, [asked])
    kept = store.response("ann", "resp_1")
    assert EMAIL not in json.dumps(kept["output"]) and EMAIL not in kept["kb"]["standalone_question"]
    assert kept["citations"] == response["citations"]  # the documents' passages, as the index holds them
    assert EMAIL not in json.dumps(store.thread("ann", "resp_1"))
    assert store.take_held("ann", "resp_1", "apr_1") == {"arguments": arguments, "kb_question": request["kb_question"]}
    assert store.take_held("ann", "resp_1", "apr_1") is None  # handed out once: the action runs once
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        assert EMAIL not in json.dumps(db.execute("SELECT * FROM responses").fetchall())


def test_a_version_1_store_is_migrated_with_its_conversations(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as db:  # as the store was written before retention
        db.executescript(MIGRATIONS[0])
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO conversations VALUES ('conv_1', 'ann', 100.0, '{}')")
        db.execute("INSERT INTO items VALUES ('msg_1', 'conv_1', 1, '{\"id\": \"msg_1\"}', 200.0)")
        db.execute("INSERT INTO conversations VALUES ('conv_2', 'ann', 300.0, '{}')")
    store = ConversationStore(path)
    assert store.get("ann", "conv_1")["metadata"] == {}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, updated FROM conversations ORDER BY id").fetchall() == [
            ("conv_1", 200.0),
            ("conv_2", 300.0),
        ]
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)  # configs.sqlstore's version
    assert store.prune(365)["conversations"] == 2  # written in 1970

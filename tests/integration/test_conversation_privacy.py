"""The conversation store under privacy.redact: personal data in questions, titles, items and stored responses is
redacted before it is stored (real Presidio), on SQLite and PostgreSQL; `python -m serving audit erase --user`
deletes one user's conversations, responses and feedback and no one else's; storage.retention_days prunes
conversations and responses not touched within it, at start-up and with `audit prune`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import PYTHON, profile_env
from tests.integration.conftest import AppServer, start_app

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
NAME, EMAIL = "Maria Gonzalez", "maria.gonzalez@northwind.example"
PHONE, CARD = "+44 20 7946 0958", "4111 1111 1111 1111"
PII = (NAME, EMAIL, PHONE, CARD)
QUESTION = f"I am {NAME} ({EMAIL}, phone {PHONE}, card {CARD}): how many days of paid annual leave do I get?"
LEAVE = "How many days of paid annual leave do full-time employees get?"
FOLLOW_UP = "And part-time staff?"
YEAR_AGO = time.time() - 400 * 86400


@dataclass
class Deployment:
    """A keyed team setup whose state (keys, audit, feedback, conversations) lives in one folder."""

    tmp: Path
    keys: dict[str, str]
    url: str | None  # PostgreSQL, or None for the SQLite file

    @property
    def sections(self) -> dict[str, Any]:
        storage: dict[str, Any] = {"conversations_db": str(self.tmp / "conversations.sqlite")}
        if self.url:
            storage["url"] = self.url
        return {
            "llm": {"backend": "extractive"},
            "auth": {"keys_db": str(self.tmp / "auth.sqlite")},
            "access": {"groups": {"staff": ["*"]}},
            "audit": {"path": str(self.tmp / "audit.sqlite")},
            "serving": {"feedback_db": str(self.tmp / "feedback.sqlite")},
            "storage": storage,
        }

    def start(self, kb_index: Path, **storage: Any) -> AppServer:
        sections = self.sections
        sections["storage"] = {**sections["storage"], **storage}
        return start_app(kb_index, self.tmp / f"run-{time.monotonic_ns()}", **sections)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m serving ...` as an operator runs it, on this deployment's profile."""
        profile = self.tmp / "team.yaml"
        sections = self.sections
        url = sections["storage"].pop("url", None)
        profile.write_text(yaml.safe_dump(sections))
        env = profile_env(profile)
        if url:
            env["KB_STORAGE__URL"] = url  # as a deployment passes it: from the environment
        return subprocess.run(
            [PYTHON, "-m", "serving", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
        )

    def sql(self, query: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Reads or writes the store directly (the way an attacker with the file, or an operator, would)."""
        if self.url:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as db:
                cur = db.execute(query.replace("?", "%s"), args)
                return list(cur.fetchall()) if cur.description else []
        with sqlite3.connect(self.tmp / "conversations.sqlite") as db:
            return list(db.execute(query, args).fetchall())

    def stored(self) -> str:
        """Everything the store holds: the SQLite files' bytes (WAL included), or every PostgreSQL row."""
        if not self.url:
            return _sqlite_bytes(self.tmp)
        rows = self.sql("SELECT metadata FROM conversations") + self.sql("SELECT body FROM items")
        rows += self.sql("SELECT input, body, COALESCE(held, '') FROM responses")
        return "\n".join(str(value) for row in rows for value in row)


def _deployment(tmp_path: Path, database: str, request: pytest.FixtureRequest) -> Deployment:
    from serving.access.keys import KeyStore

    keys = KeyStore(tmp_path / "auth.sqlite")
    url = None
    if database == "postgresql":  # a real server: a throwaway cluster on loopback, its own database per test
        import psycopg

        server = request.getfixturevalue("postgres")
        name = f"kb_{time.monotonic_ns()}"
        with psycopg.connect(server, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        url = server.rsplit("/", 1)[0] + "/" + name
    return Deployment(tmp_path, {u: keys.create(u, frozenset({"staff"}))[1] for u in ("alice", "bob")}, url)


def _post(app: AppServer, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(f"{app.url}/v1{path}", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=300)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _get(app: AppServer, key: str, path: str) -> httpx.Response:
    return httpx.get(f"{app.url}/v1{path}", headers={"Authorization": f"Bearer {key}"}, timeout=60)


def _leaks(text: str) -> list[str]:
    return [v for v in PII if v in text or v.replace(" ", "") in text]


def _output_text(response: dict[str, Any]) -> str:
    return "".join(p["text"] for i in response["output"] if i["type"] == "message" for p in i["content"])


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_personal_data_never_reaches_the_conversation_store(
    kb_index: Path, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    team = _deployment(tmp_path, database, request)
    alice = team.keys["alice"]
    with team.start(kb_index) as app:
        # the Conversations API: a title and a first message, more items, a new title
        conv = _post(app, alice, "/conversations", {"metadata": {"title": f"Leave for {EMAIL}"},
                                                    "items": [{"role": "user", "content": QUESTION}]})  # fmt: skip
        cid = conv["id"]
        added = _post(app, alice, f"/conversations/{cid}/items",
                      {"items": [{"role": "user", "content": f"Call me on {PHONE} please"}]})  # fmt: skip
        assert not _leaks(str(added))
        _post(app, alice, f"/conversations/{cid}", {"metadata": {"title": f"{NAME}, card {CARD}"}})
        # the Responses API: a turn in the conversation, then a follow-up that reads the (redacted) history
        first = _post(app, alice, "/responses", {"conversation": cid, "input": QUESTION})
        assert "25" in _output_text(first)
        follow = _post(app, alice, "/responses", {"conversation": cid, "input": FOLLOW_UP})
        assert "leave" in follow["kb"]["standalone_question"].lower()
        assert "part-time" in _output_text(follow).lower() or "pro rata" in _output_text(follow).lower()
        # a stored response, then one continuing it (previous_response_id reads the stored, redacted input)
        stored = _post(app, alice, "/responses", {"input": QUESTION, "store": True, "metadata": {"who": EMAIL}})
        chained = _post(app, alice, "/responses", {"previous_response_id": stored["id"], "input": FOLLOW_UP})
        assert "leave" in chained["kb"]["standalone_question"].lower()
        # the streamed answer is stored the same way
        with httpx.stream("POST", f"{app.url}/v1/responses", json={"input": QUESTION, "stream": True},
                          headers={"Authorization": f"Bearer {alice}"}, timeout=300) as events:  # fmt: skip
            assert events.status_code == 200 and "response.completed" in "".join(events.iter_text())

        # what the API gives back from the store is redacted too, and says what was there
        title = _get(app, alice, f"/conversations/{cid}").json()["metadata"]["title"]
        assert "<CREDIT_CARD>" in title and not _leaks(title), title
        items = _get(app, alice, f"/conversations/{cid}/items").json()["data"]
        assert [i["role"] for i in items] == ["user", "user", "user", "assistant", "user", "assistant"]
        texts = [i["content"][0]["text"] for i in items]
        assert "<EMAIL_ADDRESS>" in texts[0] and "<PHONE_NUMBER>" in texts[1] and "25" in texts[3], texts
        again = _get(app, alice, f"/responses/{stored['id']}").json()
        assert again["output"][0]["content"][0]["text"] and not _leaks(str(again))
        for note in again["output"][0]["content"][0]["annotations"]:  # citations still point at their markers
            assert again["output"][0]["content"][0]["text"][note["index"]] == "["

    everything = team.stored()
    assert "<EMAIL_ADDRESS>" in everything and "annual leave" in everything  # the turns were stored, redacted
    assert not _leaks(everything)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_erase_deletes_one_users_conversations_responses_and_feedback(
    kb_index: Path, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    from serving.store.feedback import FeedbackStore

    team = _deployment(tmp_path, database, request)
    made: dict[str, tuple[str, str]] = {}
    with team.start(kb_index) as app:
        for user, key in team.keys.items():
            conv = _post(app, key, "/conversations", {"metadata": {"title": f"Leave plans {user}-{user}"}})
            _post(app, key, "/responses", {"conversation": conv["id"], "input": LEAVE})
            made[user] = conv["id"], _post(app, key, "/responses", {"input": LEAVE})["id"]
        feedback = FeedbackStore(tmp_path / "feedback.sqlite")  # as the page stores a thumbs-down
        for user in team.keys:
            feedback.add(-1, LEAVE, "25 days", [], "extractive", "wrong", user)

        erased = team.cli("audit", "erase", "--user", "alice")
        assert erased.returncode == 0, erased.stderr
        # alice's conversation (2 items), her 2 stored responses and her feedback
        assert "deleted 1 conversations, 2 items, 2 responses and 1 feedback entries of alice" in erased.stdout

        alice, bob = team.keys["alice"], team.keys["bob"]
        assert _get(app, alice, f"/conversations/{made['alice'][0]}").status_code == 404
        assert _get(app, alice, f"/responses/{made['alice'][1]}").status_code == 404
        assert _get(app, bob, f"/conversations/{made['bob'][0]}").status_code == 200
        assert len(_get(app, bob, f"/conversations/{made['bob'][0]}/items").json()["data"]) == 2
        assert _get(app, bob, f"/responses/{made['bob'][1]}").status_code == 200
    assert team.sql("SELECT owner, COUNT(*) FROM conversations GROUP BY owner") == [("bob", 1)]
    assert team.sql("SELECT owner, COUNT(*) FROM responses GROUP BY owner") == [("bob", 2)]
    assert team.sql("SELECT COUNT(*) FROM items")[0][0] == 2
    assert [row["user"] for row in FeedbackStore(tmp_path / "feedback.sqlite").all()] == ["bob"]
    if database == "sqlite":  # gone from the file itself, not only from its tables
        assert "alice-alice" not in _sqlite_bytes(tmp_path) and "bob-bob" in _sqlite_bytes(tmp_path)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_conversations_older_than_the_retention_period_are_pruned(
    kb_index: Path, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    team = _deployment(tmp_path, database, request)
    alice = team.keys["alice"]
    with team.start(kb_index) as app:
        old = _post(app, alice, "/conversations", {"items": [{"role": "user", "content": LEAVE}]})["id"]
        recent = _post(app, alice, "/conversations", {"items": [{"role": "user", "content": LEAVE}]})["id"]
        old_response = _post(app, alice, "/responses", {"input": LEAVE})["id"]
        newer = _post(app, alice, "/responses", {"previous_response_id": old_response, "input": FOLLOW_UP})["id"]
    # a year and more without a word: as if written then
    team.sql("UPDATE conversations SET created = ?, updated = ? WHERE id = ?", (YEAR_AGO, YEAR_AGO, old))
    team.sql("UPDATE items SET created = ? WHERE conversation_id = ?", (YEAR_AGO, old))
    team.sql("UPDATE responses SET created = ? WHERE id = ?", (YEAR_AGO, old_response))

    with team.start(kb_index, retention_days=0) as app:  # 0 keeps everything
        assert _get(app, alice, f"/conversations/{old}").status_code == 200
        assert _get(app, alice, f"/responses/{old_response}").status_code == 200
    with team.start(kb_index) as app:  # the default, 365 days: pruned at start-up
        assert _get(app, alice, f"/conversations/{old}").status_code == 404
        assert _get(app, alice, f"/responses/{old_response}").status_code == 404
        assert _get(app, alice, f"/conversations/{recent}/items").json()["data"][0]["content"][0]["text"] == LEAVE
        assert _get(app, alice, f"/responses/{newer}").status_code == 200
        # continuing a chain whose oldest response was pruned still answers (the history is what is left)
        _post(app, alice, "/responses", {"previous_response_id": newer, "input": FOLLOW_UP})
    assert team.sql("SELECT COUNT(*) FROM items WHERE conversation_id = ?", (old,))[0][0] == 0

    # the operator's prune does the same between restarts
    team.sql("UPDATE conversations SET updated = ? WHERE id = ?", (YEAR_AGO, recent))
    pruned = team.cli("audit", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "pruned 1 conversations, 1 items, 0 responses" in pruned.stdout
    assert team.sql("SELECT id FROM conversations") == []


class Tickets(BaseHTTPRequestHandler):
    """A ticket service on loopback: POST /tickets opens one and echoes what it was given."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
        type(self).received.append(body)
        data = json.dumps({"id": f"T-{len(type(self).received)}", "title": body.get("title")}).encode()
        self.send_response(201)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def tickets() -> Iterator[str]:
    Tickets.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tickets)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tickets"
    server.shutdown()


def test_a_confirmed_action_runs_with_what_the_user_gave_while_the_store_keeps_it_redacted(
    kb_index: Path, tmp_path: Path, tickets: str
) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    action = {"name": "submit_ticket", "description": "Open a ticket", "method": "POST", "url": tickets}
    db = tmp_path / "conversations.sqlite"
    sections = {
        "llm": {"backend": "extractive"},
        "tools": {"actions": [{**action, "parameters": schema}]},
        "storage": {"conversations_db": str(db)},
    }
    title = f"VPN down, call {PHONE} or write to {EMAIL}"
    request = {"type": "mcp_approval_request", "id": "apr_1", "server_label": "kb-actions", "name": "submit_ticket",
               "arguments": json.dumps({"title": title}), "kb_question": f"Open a ticket: {title}"}  # fmt: skip
    answer = {"type": "mcp_approval_response", "approval_request_id": "apr_1", "approve": True}
    approval = {"previous_response_id": "resp_waiting", "input": [answer]}
    with start_app(kb_index, tmp_path, **sections) as app:
        # The response the model's call left waiting for confirmation, kept as the Responses API keeps it.
        store = app._server.config.app.state.assistant.conversations
        store.save_response("local", {"id": "resp_waiting", "status": "incomplete", "output": [request]}, [])
        with sqlite3.connect(db) as conn:  # held apart until answered; the response itself is redacted
            [(body, held)] = conn.execute("SELECT body, held FROM responses").fetchall()
        assert "<EMAIL_ADDRESS>" in body and not _leaks(body) and EMAIL in held
        done = httpx.post(f"{app.url}/v1/responses", json=approval, timeout=300)
        assert done.status_code == 200, done.text
        assert Tickets.received == [{"title": title}]  # the service got the real values
        assert "T-1" in done.json()["output"][1]["output"]
        again = httpx.post(f"{app.url}/v1/responses", json=approval, timeout=60)
        assert again.status_code == 400 and "already" in again.text and len(Tickets.received) == 1
        stored = httpx.get(f"{app.url}/v1/responses/{done.json()['id']}", timeout=60).json()
        assert "<EMAIL_ADDRESS>" in json.dumps(stored) and not _leaks(json.dumps(stored))
    assert not _leaks(_sqlite_bytes(tmp_path))  # once answered, not even in the file's free space or its log


def _sqlite_bytes(folder: Path) -> str:
    return b"".join(p.read_bytes() for p in folder.glob("conversations.sqlite*")).decode("latin-1")


def test_a_question_asked_on_the_page_is_stored_redacted(kb_index: Path, tmp_path: Path) -> None:
    """The page (Gradio's own client on its queue, as the browser talks to it): the conversation's title, the
    question and the answer are stored redacted, and the reopened conversation shows them so."""
    from gradio_client import Client

    # The address straddles the title's 80th character: cut first, it would no longer read as an address.
    question = f"How many days of paid annual leave do I get? Reach me at {EMAIL} or {PHONE}, card {CARD}"
    assert question.index(EMAIL) < 80 < question.index(EMAIL) + len(EMAIL)
    db = tmp_path / "conversations.sqlite"
    with start_app(kb_index, tmp_path, llm={"backend": "extractive"}, storage={"conversations_db": str(db)}) as app:
        client = Client(app.url, verbose=False)
        answered = client.predict(message=question, history=[], conv_id=None, cols=[], types=[], tag_list=[],
                                  since="", until="", api_name="/respond")  # fmt: skip
        assert "25 days" in str(answered)
        with sqlite3.connect(db) as conn:
            [(conv_id, title)] = conn.execute("SELECT id, metadata FROM conversations").fetchall()
            bodies = [row[0] for row in conn.execute("SELECT body FROM items ORDER BY seq")]
        reopened = str(client.predict(conv_id=conv_id, api_name="/on_pick"))
    assert "<EMAIL_ADDRESS>" in title and "maria.gonzalez" not in title, title
    assert len(bodies) == 2 and "<CREDIT_CARD>" in bodies[0] and "25 days" in bodies[1]
    stored = _sqlite_bytes(tmp_path)
    assert not _leaks(stored) and "maria.gonzalez" not in stored
    assert "<EMAIL_ADDRESS>" in reopened and "25 days" in reopened and not _leaks(reopened)

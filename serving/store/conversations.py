"""Conversations and responses stored server-side, per user: SQLite under data/ by default, PostgreSQL when
storage.url is set (KB_STORAGE__URL=postgresql://user@host:5432/db; the password from PGPASSWORD or ~/.pgpass).

The shapes follow OpenAI's Conversations and Responses APIs: a conversation holds items (messages, each with
`input_text` or `output_text` content); a stored response can be continued with `previous_response_id`. Every
read and write names the user: another user's conversation is "not found", never "forbidden" (its existence is
not confirmed). The schema is versioned (configs.sqlstore: SQLite's user_version, PostgreSQL's table
schema_version); migrations run once, in order, on open, on either database.

Personal data: with privacy.redact on, the store is given the redactor (`clean`) and applies it to every text it
keeps (titles and other metadata, messages, answers, tool arguments and results, rewritten questions), so no
caller can forget it; only the documents' own passages (`citations`, the page's `kb_sources_html`) are kept as
the index holds them. A pending action's arguments are the exception while it waits: they are held apart, in
clear, until the user confirms or declines it, then dropped. `erase_user` removes everything of one user and
`prune` what was not touched within storage.retention_days.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from configs.errors import NotFound
from configs.sqlstore import Db, Store

MIGRATIONS = (
    # 1: conversations, their items, stored responses
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, metadata TEXT NOT NULL
    );
    CREATE INDEX conversations_owner ON conversations(owner, created);
    CREATE TABLE items (
        id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL, body TEXT NOT NULL, created DOUBLE PRECISION NOT NULL
    );
    CREATE UNIQUE INDEX items_order ON items(conversation_id, seq);
    CREATE TABLE responses (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, previous_id TEXT,
        input TEXT NOT NULL, body TEXT NOT NULL
    );
    """,
    # 2: when a conversation was last written (retention), a pending action's arguments held apart (redaction)
    """
    ALTER TABLE conversations ADD COLUMN updated DOUBLE PRECISION;
    UPDATE conversations SET updated = COALESCE(
        (SELECT MAX(items.created) FROM items WHERE items.conversation_id = conversations.id), created
    );
    CREATE INDEX conversations_updated ON conversations(updated);
    ALTER TABLE responses ADD COLUMN held TEXT;
    CREATE INDEX responses_owner ON responses(owner, created);
    CREATE INDEX responses_created ON responses(created)
    """,
)
# Keys whose string values are what people and the model wrote: redacted before they are stored.
TEXT_KEYS = frozenset(
    {"text", "kb_markdown", "kb_question", "arguments", "output", "standalone_question", "instructions"}
)
# The documents' own passages, as the index holds them (readable by the same user through /v1/files).
DOCUMENT_KEYS = frozenset({"citations", "kb_sources_html"})


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def _moved(annotations: list[Any], before: str, after: str) -> list[Any]:
    """Annotations whose `index` pointed into `before`, pointing at the same text in `after` (the text with some
    spans replaced: the unchanged runs between them map one to one)."""
    runs = SequenceMatcher(None, before, after, autojunk=False).get_opcodes()

    def position(index: int) -> int:
        for tag, i1, i2, j1, _ in runs:
            if i1 <= index < i2:
                return j1 + (index - i1 if tag == "equal" else 0)
        return len(after)

    return [
        {**a, "index": position(a["index"])} if isinstance(a, dict) and isinstance(a.get("index"), int) else a
        for a in annotations
    ]


def _legacy_version(db: Db) -> int:
    """A SQLite file written before the helper kept its version in user_version: its schema_version table."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_version'").fetchone():
        return 0
    return int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])


class ConversationStore:
    """SQLite (a path) or PostgreSQL (a postgresql:// URL); each call opens its own connection, so the store is
    safe across threads and processes."""

    def __init__(self, path: Path, url: str | None = None, clean: Callable[[str], str] | None = None) -> None:
        self.path = path
        self.url = url
        self._clean = clean  # privacy.redact: the redactor, applied to every text stored
        self._lock = threading.Lock()
        self._store = Store(
            "conversation store", "storage.conversations_db or KB_STORAGE__URL", path, MIGRATIONS, url=url, wal=True,
            pragmas=("foreign_keys = ON", "secure_delete = ON"),  # secure_delete: what is deleted is zeroed
            legacy=_legacy_version,
        )  # fmt: skip

    def clean(self, text: str) -> str:
        """The text as the store would keep it (personal data redacted when the store was given a redactor)."""
        return self._clean(text) if self._clean is not None and text.strip() else text

    def _scrub(self, value: Any, key: str = "") -> Any:
        """A copy of an item, response or metadata with its texts cleaned (the original is left as it was)."""
        if self._clean is None or key in DOCUMENT_KEYS:
            return value
        if isinstance(value, str):
            return self.clean(value) if key in TEXT_KEYS else value
        if isinstance(value, dict):
            if key == "metadata":  # whatever a client puts there is its own text
                return {k: self.clean(v) if isinstance(v, str) else v for k, v in value.items()}
            out = {k: self._scrub(v, k) for k, v in value.items()}
            text, notes = value.get("text"), value.get("annotations")
            if isinstance(text, str) and text != out.get("text") and isinstance(notes, list):
                out["annotations"] = _moved(notes, text, str(out["text"]))  # citations keep pointing at markers
            return out
        if isinstance(value, list):
            return [self._scrub(v, key) for v in value]
        return value

    @property
    def where(self) -> str:
        """Where conversations are kept, for messages (never the URL's password)."""
        return self._store.where

    # --- conversations ---------------------------------------------------------------------------------
    def create(
        self, user: str, metadata: dict[str, str] | None = None, items: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        conv: dict[str, Any] = {
            "id": new_id("conv"), "object": "conversation", "created_at": int(time.time()),
            "metadata": self._scrub(metadata or {}, "metadata"),
        }  # fmt: skip
        now = time.time()
        with self._lock, closing(self._store.connect()) as db:
            db.execute(
                "INSERT INTO conversations (id, owner, created, metadata, updated) VALUES (?, ?, ?, ?, ?)",
                (conv["id"], user, now, json.dumps(conv["metadata"]), now),
            )
        if items:
            self.add_items(user, conv["id"], items)
        return conv

    def get(self, user: str, conversation_id: str) -> dict[str, Any]:
        with closing(self._store.connect()) as db:
            row = db.execute(
                "SELECT id, created, metadata FROM conversations WHERE id = ? AND owner = ?", (conversation_id, user)
            ).fetchone()
        if row is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return {"id": row[0], "object": "conversation", "created_at": int(row[1]), "metadata": json.loads(row[2])}

    def update(self, user: str, conversation_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        self.get(user, conversation_id)
        with self._lock, closing(self._store.connect()) as db:
            db.execute(
                "UPDATE conversations SET metadata = ?, updated = ? WHERE id = ?",
                (json.dumps(self._scrub(metadata, "metadata")), time.time(), conversation_id),
            )
        return self.get(user, conversation_id)

    def delete(self, user: str, conversation_id: str) -> None:
        with self._lock, closing(self._store.connect()) as db:
            gone = db.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, user)).rowcount
            db.flush()
        if not gone:
            raise NotFound(f"no conversation {conversation_id!r}")

    def recent(self, user: str, limit: int = 50) -> list[dict[str, Any]]:
        with closing(self._store.connect()) as db:
            rows = db.execute(
                "SELECT id FROM conversations WHERE owner = ? ORDER BY created DESC LIMIT ?", (user, limit)
            ).fetchall()
        return [self.get(user, r[0]) for r in rows]

    # --- items ---------------------------------------------------------------------------------------------
    def add_items(self, user: str, conversation_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.get(user, conversation_id)
        stored = []
        with self._lock, closing(self._store.connect()) as db, db.transaction():
            if db.postgres:  # SQLite's IMMEDIATE transaction already holds the whole database
                db.execute("SELECT id FROM conversations WHERE id = ? FOR UPDATE", (conversation_id,))
            last = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM items WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()[0]
            now = time.time()
            for n, item in enumerate(items, start=int(last) + 1):
                body = self._scrub({**item, "id": item.get("id") or new_id("msg")})
                db.execute(
                    "INSERT INTO items (id, conversation_id, seq, body, created) VALUES (?, ?, ?, ?, ?)",
                    (body["id"], conversation_id, n, json.dumps(body), now),
                )
                stored.append(body)
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
        return stored

    def items(
        self, user: str, conversation_id: str, order: str = "asc", limit: int = 20, after: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of items and whether more follow."""
        self.get(user, conversation_id)
        direction = "ASC" if order == "asc" else "DESC"
        query = "SELECT seq, body FROM items WHERE conversation_id = ?"
        args: list[Any] = [conversation_id]
        with closing(self._store.connect()) as db:
            if after:
                row = db.execute(
                    "SELECT seq FROM items WHERE id = ? AND conversation_id = ?", (after, conversation_id)
                ).fetchone()
                if row is None:
                    raise NotFound(f"no item {after!r} in this conversation")
                query += " AND seq > ?" if direction == "ASC" else " AND seq < ?"
                args.append(row[0])
            rows = db.execute(f"{query} ORDER BY seq {direction} LIMIT ?", [*args, limit + 1]).fetchall()
        return [json.loads(r[1]) for r in rows[:limit]], len(rows) > limit

    def item(self, user: str, conversation_id: str, item_id: str) -> dict[str, Any]:
        self.get(user, conversation_id)
        with closing(self._store.connect()) as db:
            row = db.execute(
                "SELECT body FROM items WHERE id = ? AND conversation_id = ?", (item_id, conversation_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"no item {item_id!r} in this conversation")
        return dict(json.loads(row[0]))

    # --- responses -------------------------------------------------------------------------------------------
    def save_response(self, user: str, response: dict[str, Any], input_items: list[dict[str, Any]]) -> None:
        # An action waiting for confirmation runs with what the user gave once confirmed: held apart, in clear.
        held = {
            str(i["id"]): {"arguments": i.get("arguments", ""), "kb_question": i.get("kb_question", "")}
            for i in response.get("output", [])
            if isinstance(i, dict) and i.get("type") == "mcp_approval_request" and i.get("id")
        }
        with self._lock, closing(self._store.connect()) as db:
            db.execute(
                "INSERT INTO responses (id, owner, created, previous_id, input, body, held) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    response["id"],
                    user,
                    time.time(),
                    response.get("previous_response_id"),
                    json.dumps(self._scrub(input_items)),
                    json.dumps(self._scrub(response)),
                    json.dumps(held) if held else None,
                ),
            )

    def take_held(self, user: str, response_id: str, request_id: str) -> dict[str, str] | None:
        """The clear arguments and question of the action a stored response waits to have confirmed, handed out
        once (then dropped); None when it was already confirmed or declined."""
        with self._lock, closing(self._store.connect()) as db:
            with db.transaction():
                lock = " FOR UPDATE" if db.postgres else ""  # SQLite's IMMEDIATE transaction holds the file
                query = f"SELECT held, body FROM responses WHERE id = ? AND owner = ?{lock}"  # nosec B608  # a constant clause
                row = db.execute(query, (response_id, user)).fetchone()  # values are bound
                if row is None:
                    raise NotFound(f"no stored response {response_id!r}")
                if row[0] is None:  # stored before arguments were held apart: its body has them as they were given
                    item = next((i for i in json.loads(row[1]).get("output", []) if i.get("id") == request_id), None)
                    found = {k: str(item.get(k, "")) for k in ("arguments", "kb_question")} if item else None
                else:
                    found = json.loads(row[0]).get(request_id)
                if found:
                    db.execute("UPDATE responses SET held = '{}' WHERE id = ?", (response_id,))
            if found:
                db.flush()
        return dict(found) if found else None

    def response(self, user: str, response_id: str) -> dict[str, Any]:
        with closing(self._store.connect()) as db:
            row = db.execute("SELECT body FROM responses WHERE id = ? AND owner = ?", (response_id, user)).fetchone()
        if row is None:
            raise NotFound(f"no stored response {response_id!r}")
        return dict(json.loads(row[0]))

    def followed(self, user: str, response_id: str) -> bool:
        """Whether a stored response was already continued (an approval is answered once)."""
        with closing(self._store.connect()) as db:
            row = db.execute(
                "SELECT 1 FROM responses WHERE previous_id = ? AND owner = ? LIMIT 1", (response_id, user)
            ).fetchone()
        return row is not None

    def thread(self, user: str, response_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The items of a chain of responses, oldest first: each one's input, then its output. The chain ends
        where an earlier response was pruned (storage.retention_days)."""
        chain: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        current: str | None = response_id
        with closing(self._store.connect()) as db:
            while current and len(chain) < limit:
                row = db.execute(
                    "SELECT previous_id, input, body FROM responses WHERE id = ? AND owner = ?", (current, user)
                ).fetchone()
                if row is None and chain:
                    break
                if row is None:
                    raise NotFound(f"no stored response {current!r}")
                chain.append((json.loads(row[1]), json.loads(row[2]).get("output", [])))
                current = row[0]
        return [item for inputs, outputs in reversed(chain) for item in [*inputs, *outputs]]

    # --- a data subject's request, retention -----------------------------------------------------------------
    def erase_user(self, user: str) -> dict[str, int]:
        """Deletes every conversation (with its items) and stored response of `user`; returns how many of each."""
        theirs = "SELECT id FROM conversations WHERE owner = ?"
        with self._lock, closing(self._store.connect()) as db:
            with db.transaction():
                items = db.execute(f"SELECT COUNT(*) FROM items WHERE conversation_id IN ({theirs})", (user,))  # nosec B608  # a constant subquery; values are bound
                items = items.fetchone()[0]
                db.execute(f"DELETE FROM items WHERE conversation_id IN ({theirs})", (user,))  # nosec B608  # a constant subquery; values are bound
                conversations = db.execute("DELETE FROM conversations WHERE owner = ?", (user,)).rowcount
                responses = db.execute("DELETE FROM responses WHERE owner = ?", (user,)).rowcount
            db.flush()
        return {"conversations": int(conversations), "items": int(items), "responses": int(responses)}

    def prune(self, retention_days: int) -> dict[str, int]:
        """Deletes conversations (with their items) not written to, and responses not stored, within the
        retention period (0: keep everything); returns how many of each."""
        if retention_days <= 0:
            return {"conversations": 0, "items": 0, "responses": 0}
        cutoff = (datetime.now(UTC) - timedelta(days=retention_days)).timestamp()
        old = "SELECT id FROM conversations WHERE updated < ?"
        with self._lock, closing(self._store.connect()) as db:
            with db.transaction():
                items = db.execute(f"SELECT COUNT(*) FROM items WHERE conversation_id IN ({old})", (cutoff,))  # nosec B608  # a constant subquery; values are bound
                items = items.fetchone()[0]
                db.execute(f"DELETE FROM items WHERE conversation_id IN ({old})", (cutoff,))  # nosec B608  # a constant subquery; values are bound
                conversations = db.execute("DELETE FROM conversations WHERE updated < ?", (cutoff,)).rowcount
                responses = db.execute("DELETE FROM responses WHERE created < ?", (cutoff,)).rowcount
            if conversations or responses:
                db.flush()
        return {"conversations": int(conversations), "items": int(items), "responses": int(responses)}

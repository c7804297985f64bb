"""Conversations and responses stored server-side, per user (SQLite under data/ by default).

The shapes follow OpenAI's Conversations and Responses APIs: a conversation holds items (messages, each with
`input_text` or `output_text` content); a stored response can be continued with `previous_response_id`. Every
read and write names the user: another user's conversation is "not found", never "forbidden" (its existence is
not confirmed). The schema is versioned (PRAGMA user_version); migrations run once, in order, on open.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from configs.errors import ConfigError

MIGRATIONS = (
    # 1: conversations, their items, stored responses
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY, user TEXT NOT NULL, created REAL NOT NULL, metadata TEXT NOT NULL
    );
    CREATE INDEX conversations_user ON conversations(user, created);
    CREATE TABLE items (
        id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL, body TEXT NOT NULL, created REAL NOT NULL
    );
    CREATE UNIQUE INDEX items_order ON items(conversation_id, seq);
    CREATE TABLE responses (
        id TEXT PRIMARY KEY, user TEXT NOT NULL, created REAL NOT NULL, previous_id TEXT,
        input TEXT NOT NULL, body TEXT NOT NULL
    );
    """,
)


class NotFound(LookupError):
    """No such conversation, item or response for this user."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


class ConversationStore:
    """One SQLite file; each call opens its own connection (safe across threads and processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA journal_mode = WAL")
            if not self._ready:
                version = int(db.execute("PRAGMA user_version").fetchone()[0])
                for n, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                    db.executescript(f"BEGIN; {migration}; PRAGMA user_version = {n}; COMMIT;")
                self._ready = True
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(
                f"cannot open the conversation store {self.path} ({exc}); check storage.conversations_db"
            ) from exc
        return db

    # --- conversations ---------------------------------------------------------------------------------
    def create(
        self, user: str, metadata: dict[str, str] | None = None, items: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        conv: dict[str, Any] = {
            "id": new_id("conv"), "object": "conversation", "created_at": int(time.time()), "metadata": metadata or {}
        }  # fmt: skip
        with self._lock, closing(self._connect()) as db:
            db.execute(
                "INSERT INTO conversations (id, user, created, metadata) VALUES (?, ?, ?, ?)",
                (conv["id"], user, time.time(), json.dumps(conv["metadata"])),
            )
        if items:
            self.add_items(user, conv["id"], items)
        return conv

    def get(self, user: str, conversation_id: str) -> dict[str, Any]:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, created, metadata FROM conversations WHERE id = ? AND user = ?", (conversation_id, user)
            ).fetchone()
        if row is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        return {"id": row[0], "object": "conversation", "created_at": int(row[1]), "metadata": json.loads(row[2])}

    def update(self, user: str, conversation_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        self.get(user, conversation_id)
        with self._lock, closing(self._connect()) as db:
            db.execute("UPDATE conversations SET metadata = ? WHERE id = ?", (json.dumps(metadata), conversation_id))
        return self.get(user, conversation_id)

    def delete(self, user: str, conversation_id: str) -> None:
        with self._lock, closing(self._connect()) as db:
            gone = db.execute("DELETE FROM conversations WHERE id = ? AND user = ?", (conversation_id, user)).rowcount
        if not gone:
            raise NotFound(f"no conversation {conversation_id!r}")

    def recent(self, user: str, limit: int = 50) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id FROM conversations WHERE user = ? ORDER BY created DESC LIMIT ?", (user, limit)
            ).fetchall()
        return [self.get(user, r[0]) for r in rows]

    # --- items ---------------------------------------------------------------------------------------------
    def add_items(self, user: str, conversation_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.get(user, conversation_id)
        stored = []
        with self._lock, closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                last = db.execute(
                    "SELECT COALESCE(MAX(seq), 0) FROM items WHERE conversation_id = ?", (conversation_id,)
                ).fetchone()[0]
                for n, item in enumerate(items, start=int(last) + 1):
                    body = {**item, "id": item.get("id") or new_id("msg")}
                    db.execute(
                        "INSERT INTO items (id, conversation_id, seq, body, created) VALUES (?, ?, ?, ?, ?)",
                        (body["id"], conversation_id, n, json.dumps(body), time.time()),
                    )
                    stored.append(body)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return stored

    def items(
        self, user: str, conversation_id: str, order: str = "asc", limit: int = 20, after: str | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """A page of items and whether more follow."""
        self.get(user, conversation_id)
        direction = "ASC" if order == "asc" else "DESC"
        query = "SELECT seq, body FROM items WHERE conversation_id = ?"
        args: list[Any] = [conversation_id]
        with closing(self._connect()) as db:
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
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT body FROM items WHERE id = ? AND conversation_id = ?", (item_id, conversation_id)
            ).fetchone()
        if row is None:
            raise NotFound(f"no item {item_id!r} in this conversation")
        return dict(json.loads(row[0]))

    # --- responses -------------------------------------------------------------------------------------------
    def save_response(self, user: str, response: dict[str, Any], input_items: list[dict[str, Any]]) -> None:
        with self._lock, closing(self._connect()) as db:
            db.execute(
                "INSERT INTO responses (id, user, created, previous_id, input, body) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    response["id"],
                    user,
                    time.time(),
                    response.get("previous_response_id"),
                    json.dumps(input_items),
                    json.dumps(response),
                ),
            )

    def response(self, user: str, response_id: str) -> dict[str, Any]:
        with closing(self._connect()) as db:
            row = db.execute("SELECT body FROM responses WHERE id = ? AND user = ?", (response_id, user)).fetchone()
        if row is None:
            raise NotFound(f"no stored response {response_id!r}")
        return dict(json.loads(row[0]))

    def thread(self, user: str, response_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The items of a chain of responses, oldest first: each one's input, then its output."""
        chain: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        current: str | None = response_id
        with closing(self._connect()) as db:
            while current and len(chain) < limit:
                row = db.execute(
                    "SELECT previous_id, input, body FROM responses WHERE id = ? AND user = ?", (current, user)
                ).fetchone()
                if row is None:
                    raise NotFound(f"no stored response {current!r}")
                chain.append((json.loads(row[1]), json.loads(row[2]).get("output", [])))
                current = row[0]
        return [item for inputs, outputs in reversed(chain) for item in [*inputs, *outputs]]

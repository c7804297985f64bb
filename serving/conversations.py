"""Conversations and responses stored server-side, per user: SQLite under data/ by default, PostgreSQL when
storage.url is set (KB_STORAGE__URL=postgresql://user@host:5432/db; the password from PGPASSWORD or ~/.pgpass).

The shapes follow OpenAI's Conversations and Responses APIs: a conversation holds items (messages, each with
`input_text` or `output_text` content); a stored response can be continued with `previous_response_id`. Every
read and write names the user: another user's conversation is "not found", never "forbidden" (its existence is
not confirmed). The schema is versioned (table schema_version); migrations run once, in order, on open, in
one transaction each, on either database.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from configs.errors import ConfigError

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
)


class NotFound(LookupError):
    """No such conversation, item or response for this user."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def _retry_locked(step: Callable[[], None], tries: int = 100) -> None:
    """SQLite answers "database is locked" at once, without waiting, when several processes switch a new file to
    WAL or create its tables together; the first open retries for up to about ten seconds."""
    for attempt in range(tries):
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.1)


class _Db:
    """One connection to SQLite or PostgreSQL behind the few calls the store makes (`?` placeholders)."""

    def __init__(self, conn: Any, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, tuple(args))

    def begin(self) -> None:
        """A write transaction (SQLite: IMMEDIATE, so that two writers never interleave)."""
        self.conn.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")

    def lock_conversation(self, conversation_id: str) -> None:
        if self.postgres:  # SQLite's IMMEDIATE transaction already holds the whole database
            self.execute("SELECT id FROM conversations WHERE id = ? FOR UPDATE", (conversation_id,))

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()


class ConversationStore:
    """SQLite (a path) or PostgreSQL (a postgresql:// URL); each call opens its own connection, so the store is
    safe across threads and processes."""

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = path
        self.url = url
        self._lock = threading.Lock()
        self._ready = False

    @property
    def where(self) -> str:
        """Where conversations are kept, for messages (never the URL's password)."""
        if not self.url:
            return str(self.path)
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"

    def _connect(self) -> _Db:
        try:
            if self.url:
                import psycopg

                db = _Db(psycopg.connect(self.url, autocommit=True, connect_timeout=10), True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA foreign_keys = ON")
                db = _Db(conn, False)
            if not self._ready:
                _retry_locked(lambda: self._first_open(db))
                self._ready = True
        except ImportError as exc:
            raise ConfigError("storage.url needs psycopg: run `make setup`") from exc
        except Exception as exc:  # sqlite3 and psycopg raise their own kinds; all mean the same to the caller
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(
                f"cannot open the conversation store {self.where} ({type(exc).__name__}: {exc}); check "
                "storage.conversations_db or KB_STORAGE__URL"
            ) from exc
        return db

    def _first_open(self, db: _Db) -> None:
        if not db.postgres:
            db.execute("PRAGMA journal_mode = WAL")  # once per file; it persists
        self._migrate(db)

    @staticmethod
    def _migrate(db: _Db) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        db.begin()
        try:
            if db.postgres:  # two servers starting at once: one migrates, the other waits and finds it done
                db.execute("SELECT pg_advisory_xact_lock(7301)")
            version = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])
            for n, migration in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in (s.strip() for s in migration.split(";")):
                    if statement:
                        db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (n,))
        except BaseException:
            db.rollback()
            raise
        db.commit()

    # --- conversations ---------------------------------------------------------------------------------
    def create(
        self, user: str, metadata: dict[str, str] | None = None, items: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        conv: dict[str, Any] = {
            "id": new_id("conv"), "object": "conversation", "created_at": int(time.time()), "metadata": metadata or {}
        }  # fmt: skip
        with self._lock, closing(self._connect()) as db:
            db.execute(
                "INSERT INTO conversations (id, owner, created, metadata) VALUES (?, ?, ?, ?)",
                (conv["id"], user, time.time(), json.dumps(conv["metadata"])),
            )
        if items:
            self.add_items(user, conv["id"], items)
        return conv

    def get(self, user: str, conversation_id: str) -> dict[str, Any]:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, created, metadata FROM conversations WHERE id = ? AND owner = ?", (conversation_id, user)
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
            gone = db.execute("DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, user)).rowcount
        if not gone:
            raise NotFound(f"no conversation {conversation_id!r}")

    def recent(self, user: str, limit: int = 50) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id FROM conversations WHERE owner = ? ORDER BY created DESC LIMIT ?", (user, limit)
            ).fetchall()
        return [self.get(user, r[0]) for r in rows]

    # --- items ---------------------------------------------------------------------------------------------
    def add_items(self, user: str, conversation_id: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.get(user, conversation_id)
        stored = []
        with self._lock, closing(self._connect()) as db:
            db.begin()
            try:
                db.lock_conversation(conversation_id)
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
                db.rollback()
                raise
            db.commit()
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
                "INSERT INTO responses (id, owner, created, previous_id, input, body) VALUES (?, ?, ?, ?, ?, ?)",
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
            row = db.execute("SELECT body FROM responses WHERE id = ? AND owner = ?", (response_id, user)).fetchone()
        if row is None:
            raise NotFound(f"no stored response {response_id!r}")
        return dict(json.loads(row[0]))

    def followed(self, user: str, response_id: str) -> bool:
        """Whether a stored response was already continued (an approval is answered once)."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT 1 FROM responses WHERE previous_id = ? AND owner = ? LIMIT 1", (response_id, user)
            ).fetchone()
        return row is not None

    def thread(self, user: str, response_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The items of a chain of responses, oldest first: each one's input, then its output."""
        chain: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
        current: str | None = response_id
        with closing(self._connect()) as db:
            while current and len(chain) < limit:
                row = db.execute(
                    "SELECT previous_id, input, body FROM responses WHERE id = ? AND owner = ?", (current, user)
                ).fetchone()
                if row is None:
                    raise NotFound(f"no stored response {current!r}")
                chain.append((json.loads(row[1]), json.loads(row[2]).get("output", [])))
                current = row[0]
        return [item for inputs, outputs in reversed(chain) for item in [*inputs, *outputs]]

"""Personal API keys: created, listed and revoked with `python -m serving keys`, stored hashed.

A key is `kb-<id>-<secret>`: the id finds the row, the secret (256 random bits) is compared by its SHA-256 in
constant time. A fast hash is enough for secrets this long (no dictionary to attack); the plain key is shown
once, when it is created, and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from configs.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    groups TEXT NOT NULL,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
"""


@dataclass(frozen=True)
class KeyRecord:
    """A stored key, without its secret."""

    id: str
    user: str
    groups: frozenset[str]
    created: float
    revoked: float | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """The keys table in one SQLite file (auth.keys_db); opened per call, so a key created or revoked by the
    CLI takes effect in a running server at its next request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA busy_timeout=30000")
            db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the key store {self.path} ({exc}); check auth.keys_db") from exc
        return db

    def create(self, user: str, groups: frozenset[str]) -> tuple[KeyRecord, str]:
        """A new key for the user; returns its record and the key itself (shown once, never stored)."""
        user = user.strip()
        if not user:
            raise ConfigError("a key needs a user name: python -m serving keys create USER --groups G1,G2")
        key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        record = KeyRecord(key_id, user, groups, time.time(), None)
        with self._lock, closing(self._connect()) as db:
            db.execute(
                "INSERT INTO keys (id, user, groups, hash, created) VALUES (?, ?, ?, ?, ?)",
                (key_id, user, json.dumps(sorted(groups)), _hash(secret), record.created),
            )
        return record, f"kb-{key_id}-{secret}"

    def records(self) -> list[KeyRecord]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, user, groups, created, revoked FROM keys ORDER BY created").fetchall()
        return [KeyRecord(r[0], r[1], frozenset(json.loads(r[2])), r[3], r[4]) for r in rows]

    def revoke(self, id_or_user: str) -> list[KeyRecord]:
        """Revokes the key with this id, or every key of this user; returns what was revoked."""
        now = time.time()
        with self._lock, closing(self._connect()) as db:
            targets = [k for k in self.records() if k.revoked is None and id_or_user in (k.id, k.user, f"kb-{k.id}")]
            for k in targets:
                db.execute("UPDATE keys SET revoked = ? WHERE id = ?", (now, k.id))
        return targets

    def any_active(self) -> bool:
        """True once any unrevoked key exists: from then on the server requires authentication."""
        if not self.path.exists():
            return False
        with closing(self._connect()) as db:
            return db.execute("SELECT 1 FROM keys WHERE revoked IS NULL LIMIT 1").fetchone() is not None

    def verify(self, key: str) -> KeyRecord | None:
        """The active key's record, or None for an unknown, malformed or revoked key."""
        parts = key.split("-", 2)
        if len(parts) != 3 or parts[0] != "kb" or not self.path.exists():
            return None
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, user, groups, hash, created, revoked FROM keys WHERE id = ?", (parts[1],)
            ).fetchone()
        if row is None or not hmac.compare_digest(row[3], _hash(parts[2])) or row[5] is not None:
            return None
        return KeyRecord(row[0], row[1], frozenset(json.loads(row[2])), row[4], row[5])

    def is_active(self, key_id: str) -> bool:
        with closing(self._connect()) as db:
            row = db.execute("SELECT revoked FROM keys WHERE id = ?", (key_id,)).fetchone()
        return row is not None and row[0] is None

"""The authentication database (auth.keys_db): personal API keys, created, listed and revoked with
`python -m serving keys`, and the page's sign-in sessions (`python -m serving sessions`), both stored hashed.

A key is `kb-<id>-<secret>`: the id finds the row, the secret (256 random bits) is compared by its SHA-256 in
constant time. A fast hash is enough for secrets this long (no dictionary to attack); the plain key is shown
once, when it is created, and never stored. A session id (256 random bits) lives in the signed cookie; the
database keeps only its SHA-256, so a copy of the database opens no session. Sign-out, expiry and revocation
delete the row, and a cookie without its row is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from configs.errors import ConfigError
from configs.sqlstore import Db, Store
from serving.access.identity import OIDC_PREFIX, Identity

MIGRATIONS = (
    # 1: keys and sessions (IF NOT EXISTS: a file written before versioning has them already)
    """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    groups TEXT NOT NULL,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    name TEXT,
    groups TEXT NOT NULL,
    via TEXT NOT NULL,
    key_id TEXT,
    created REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user);
""",
)


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


def _store(path: Path) -> Store:
    return Store("key store", "auth.keys_db", path, MIGRATIONS)


class KeyStore:
    """The keys table in one SQLite file (auth.keys_db); opened per call, so a key created or revoked by the
    CLI takes effect in a running server at its next request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._store = _store(path)
        self.sessions = SessionStore(path, self._lock)

    def _connect(self) -> Db:
        return self._store.connect()

    def create(self, user: str, groups: frozenset[str]) -> tuple[KeyRecord, str]:
        """A new key for the user; returns its record and the key itself (shown once, never stored)."""
        user = user.strip()
        if not user:
            raise ConfigError("a key needs a user name: python -m serving keys create USER --groups G1,G2")
        if user.startswith(OIDC_PREFIX):
            raise ConfigError(f"user names starting with {OIDC_PREFIX!r} are kept for sign-ins through the provider")
        key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        record = KeyRecord(key_id, user, groups, time.time(), None)
        with self._lock, closing(self._connect()) as db:
            db.execute(
                "INSERT INTO keys (id, user, groups, hash, created) VALUES (?, ?, ?, ?, ?)",
                (key_id, user, json.dumps(sorted(groups)), _hash(secret), record.created),
            )
        self._mark_keyed()
        return record, f"kb-{key_id}-{secret}"

    @property
    def marker(self) -> Path:
        """A file beside the database saying that this server has been keyed: losing or emptying the database
        must not switch authentication off."""
        return self.path.with_name(self.path.name + ".keyed")

    def _mark_keyed(self) -> None:
        if not self.marker.exists():
            self.marker.write_text(
                "API keys were created for this server, so it requires authentication (auth.required: auto).\n"
                "Deleting this file does not switch that off while keys, revoked or not, remain in the database.\n"
            )

    def ever_keyed(self) -> bool:
        """True once a key was ever created here (revoked or not, the database kept or lost)."""
        if self.marker.exists():
            return True
        if not self.path.exists():
            return False
        with closing(self._connect()) as db:
            return db.execute("SELECT 1 FROM keys LIMIT 1").fetchone() is not None

    def records(self) -> list[KeyRecord]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, user, groups, created, revoked FROM keys ORDER BY created").fetchall()
        return [KeyRecord(r[0], r[1], frozenset(json.loads(r[2])), r[3], r[4]) for r in rows]

    def revoke(self, id_or_user: str) -> list[KeyRecord]:
        """Revokes the key with this id, or every key of this user, and ends the page sessions opened with them;
        returns what was revoked."""
        now = time.time()
        with self._lock, closing(self._connect()) as db:
            targets = [k for k in self.records() if k.revoked is None and id_or_user in (k.id, k.user, f"kb-{k.id}")]
            for k in targets:
                db.execute("UPDATE keys SET revoked = ? WHERE id = ?", (now, k.id))
                db.execute("DELETE FROM sessions WHERE key_id = ?", (k.id,))
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


@dataclass(frozen=True)
class SessionRecord:
    """An open page session, without its id."""

    user: str
    name: str | None
    via: str
    key_id: str | None
    created: float
    expires: float


class SessionStore:
    """The sessions table beside the keys: a session opened at sign-in is found by its id's hash on every
    request, until it is ended (sign-out, `sessions revoke`, `keys revoke`) or expires (auth.session_hours)."""

    def __init__(self, path: Path, lock: threading.Lock) -> None:
        self.path = path
        self._lock = lock  # the key store's: one writer at a time in this process
        self._store = _store(path)

    def open(self, identity: Identity, seconds: float) -> str:
        """A new session for the identity, valid for `seconds`; returns its id (for the signed cookie only)."""
        session_id, now = secrets.token_urlsafe(32), time.time()
        row = (_hash(session_id), identity.user, identity.name, json.dumps(sorted(identity.groups)), identity.via)
        with self._lock, closing(self._store.connect()) as db:
            db.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            db.execute(
                "INSERT INTO sessions (hash, user, name, groups, via, key_id, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, identity.key_id, now, now + seconds),
            )
        return session_id

    def find(self, session_id: str) -> Identity | None:
        """The identity of an open, unexpired session; None once it was ended, expired, or its key revoked."""
        if not self.path.exists():
            return None
        with closing(self._store.connect()) as db:
            row = db.execute(
                "SELECT s.user, s.groups, s.via, s.key_id, s.name FROM sessions s LEFT JOIN keys k ON k.id = s.key_id "
                "WHERE s.hash = ? AND s.expires > ? AND (s.via != 'key' OR (k.id IS NOT NULL AND k.revoked IS NULL))",
                (_hash(session_id), time.time()),
            ).fetchone()
        if row is None:
            return None
        return Identity(row[0], frozenset(json.loads(row[1])), row[2], row[3], row[4])

    def end(self, session_id: str) -> None:
        """Ends one session (sign-out)."""
        with self._lock, closing(self._store.connect()) as db:
            db.execute("DELETE FROM sessions WHERE hash = ?", (_hash(session_id),))

    def end_user(self, user: str) -> list[SessionRecord]:
        """Ends every session of the user (by user id, or by the name the page shows); returns what was ended."""
        ended = [r for r in self.records() if user in (r.user, r.name)]
        with self._lock, closing(self._store.connect()) as db:
            db.execute("DELETE FROM sessions WHERE user = ? OR name = ?", (user, user))
        return ended

    def records(self) -> list[SessionRecord]:
        """Open, unexpired sessions, oldest first."""
        if not self.path.exists():
            return []
        with closing(self._store.connect()) as db:
            rows = db.execute(
                "SELECT user, name, via, key_id, created, expires FROM sessions WHERE expires > ? ORDER BY created",
                (time.time(),),
            ).fetchall()
        return [SessionRecord(*r) for r in rows]

"""The audit trail: an append-only, hash-chained record of answered questions, feedback and admin actions.

Each record carries the hash of the one before it, so editing, deleting, inserting or reordering a record breaks
the chain, and `python -m serving audit check` reports where. The chained hash covers a salted digest of the
record's content (user and body), not the content itself: erasing a person's records on request blanks their
user, body and salt and appends an `erase` record naming what was blanked, so the chain still verifies and the
check can tell an erasure from tampering (a blanked record that no erase record names is tampering). Retention
pruning removes the oldest records and keeps the hash of the last one removed as the chain's new anchor.

A hash chain proves the records were not changed after the fact by anyone who did not also rewrite every later
record; to rule that out too, keep `audit check`'s head hash somewhere else (a ticket, a log server) now and then.
Any stage may append (ingest records removals, serving the rest); callers redact personal data first.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from configs.sqlstore import Db, Store

MIGRATIONS = (
    # 1: the chain and its anchor (IF NOT EXISTS: a file written before versioning has them already)
    """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    user TEXT,
    body TEXT,
    salt TEXT,
    digest TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_user ON records(user);
CREATE INDEX IF NOT EXISTS records_ts ON records(ts);
CREATE TABLE IF NOT EXISTS anchor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
""",
)


def cli_operator() -> str:
    """Who ran a command-line admin action, for the record."""
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # no user name in this environment (some containers)
        return "cli"


def _digest(salt: str, user: str, body: str) -> str:
    return hashlib.sha256(f"{salt}\x1f{user}\x1f{body}".encode()).hexdigest()


def _chain(seq: int, ts: str, kind: str, digest: str, prev: str) -> str:
    return hashlib.sha256(f"{seq}\x1f{ts}\x1f{kind}\x1f{digest}\x1f{prev}".encode()).hexdigest()


@dataclass(frozen=True)
class Check:
    """The outcome of verifying the chain."""

    ok: bool
    records: int
    erased: int
    head: str  # hash of the newest record: keep a copy elsewhere to detect a rewritten chain later
    problem: str | None = None


class AuditLog:
    """One SQLite file; safe for several threads and processes (each append is one IMMEDIATE transaction)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._store = Store("audit trail", "audit.path", path, MIGRATIONS, wal=True)

    def _connect(self) -> Db:
        return self._store.connect()

    def append(self, kind: str, user: str, body: dict[str, Any]) -> int:
        """Adds a record after the newest one; returns its sequence number."""
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, default=str)
        salt = secrets.token_hex(16)
        ts = datetime.now(UTC).isoformat(timespec="milliseconds")
        digest = _digest(salt, user, text)
        with self._lock, closing(self._connect()) as db, db.transaction():
            seq, prev = self._head(db)
            seq += 1
            db.execute(
                "INSERT INTO records (seq, ts, kind, user, body, salt, digest, prev, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (seq, ts, kind, user, text, salt, digest, prev, _chain(seq, ts, kind, digest, prev)),
            )
        return seq

    @staticmethod
    def _head(db: Db) -> tuple[int, str]:
        row = db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            row = db.execute("SELECT seq, hash FROM anchor WHERE id = 1").fetchone()
        return (int(row[0]), str(row[1])) if row else (0, "")

    def records(
        self, kind: str | None = None, user: str | None = None, since: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Records in order (erased ones left out), each {"seq", "time", "kind", "user", **body}."""
        query = "SELECT seq, ts, kind, user, body FROM records WHERE body IS NOT NULL"
        args: list[Any] = []
        if kind:
            query += " AND kind = ?"
            args.append(kind)
        if user:
            query += " AND user = ?"
            args.append(user)
        if since:
            query += " AND ts >= ?"
            args.append(since.astimezone(UTC).isoformat(timespec="milliseconds"))
        with closing(self._connect()) as db:
            for seq, ts, k, u, body in db.execute(query + " ORDER BY seq", args):
                yield {"seq": seq, "time": ts, "kind": k, "user": u, **json.loads(body)}

    def check(self) -> Check:
        """Verifies every link and every digest; the first problem found is reported with its record."""
        with closing(self._connect()) as db:
            anchor = db.execute("SELECT seq, hash FROM anchor WHERE id = 1").fetchone()
            expected_seq, expected_prev = (int(anchor[0]), str(anchor[1])) if anchor else (0, "")
            named: set[int] = set()
            blanked: list[int] = []
            count = 0
            head = expected_prev
            rows = db.execute("SELECT seq, ts, kind, user, body, salt, digest, prev, hash FROM records ORDER BY seq")
            for seq, ts, kind, user, body, salt, digest, prev, stored in rows:
                count += 1
                where = f"record {seq} ({kind}, {ts})"
                if seq != expected_seq + 1:
                    return Check(
                        False, count, len(blanked), head, f"{where}: records {expected_seq + 1}..{seq - 1} are missing"
                    )
                if prev != expected_prev:
                    return Check(False, count, len(blanked), head, f"{where}: does not follow the record before it")
                if _chain(seq, ts, kind, digest, prev) != stored:
                    return Check(False, count, len(blanked), head, f"{where}: its time, kind or digest was changed")
                if body is None:
                    if user is not None or salt is not None:
                        return Check(False, count, len(blanked), head, f"{where}: partly blanked")
                    blanked.append(seq)
                elif _digest(salt or "", user or "", body) != digest:
                    return Check(False, count, len(blanked), head, f"{where}: its user or content was changed")
                elif kind == "erase":
                    named.update(int(n) for n in json.loads(body).get("records", []))
                expected_seq, expected_prev, head = seq, stored, stored
            unexplained = [n for n in blanked if n not in named]
            if unexplained:
                return Check(
                    False, count, len(blanked), head, f"record {unexplained[0]} was blanked without an erase record"
                )
            return Check(True, count, len(blanked), head)

    def erase_user(self, user: str, by: str) -> int:
        """Blanks every record of `user` (a data subject's request) and records that it did; returns how many."""
        with self._lock, closing(self._connect()) as db, db.transaction():
            # Their own records, and admin records about them (a key created for them).
            where = "WHERE user = ? OR (body IS NOT NULL AND json_extract(body, '$.for') = ?)"
            seqs = [int(r[0]) for r in db.execute(f"SELECT seq FROM records {where}", (user, user))]  # nosec B608  # a constant WHERE clause; values are bound
            db.execute(f"UPDATE records SET user = NULL, body = NULL, salt = NULL {where}", (user, user))  # nosec B608  # a constant WHERE clause; values are bound
        if seqs:
            self.append("erase", by, {"records": seqs})
        return len(seqs)

    def prune(self, retention_days: int, by: str = "retention") -> int:
        """Removes records older than the retention period (0: keep all); the chain is re-anchored after them."""
        if retention_days <= 0:
            return 0
        cutoff = (datetime.now(UTC) - timedelta(days=retention_days)).isoformat(timespec="milliseconds")
        with self._lock, closing(self._connect()) as db, db.transaction():
            # Only a run of the oldest records: the chain must stay unbroken after the anchor.
            newest = db.execute("SELECT seq FROM records WHERE ts >= ? ORDER BY seq LIMIT 1", (cutoff,)).fetchone()
            limit_row = db.execute("SELECT MAX(seq) FROM records").fetchone()
            last = (int(newest[0]) - 1) if newest else int(limit_row[0] or 0)
            gone = db.execute("SELECT seq, hash FROM records WHERE seq <= ? ORDER BY seq DESC LIMIT 1", (last,))
            row = gone.fetchone()
            removed = 0
            if row is not None:
                removed = db.execute("DELETE FROM records WHERE seq <= ?", (last,)).rowcount
                db.execute("INSERT OR REPLACE INTO anchor (id, seq, hash) VALUES (1, ?, ?)", (row[0], row[1]))
        if removed:
            self.append("prune", by, {"removed": removed, "older_than": cutoff})
        return removed

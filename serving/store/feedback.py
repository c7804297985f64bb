"""Thumbs up/down with an optional comment, stored with the question, answer and sources (SQLite), and the review
queue: a thumbs-down flags the answer; a reviewer records the correct answer and its sources (`python -m eval
feedback`), and reviewed items become a QA set the nightly evaluation answers (data/eval/feedback.jsonl).

The schema is versioned (PRAGMA user_version, configs.sqlstore); each migration runs once, in order, when the store
is opened.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from configs.errors import InvalidRequest, NotFound
from configs.sqlstore import Db, Store

MIGRATIONS = (
    # 1: the original table
    "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, ts REAL, rating INTEGER, "
    "comment TEXT, question TEXT, answer TEXT, sources TEXT, model TEXT)",
    # 2: who gave it (sign-in)
    "ALTER TABLE feedback ADD COLUMN user TEXT",
    # 3: the review queue, linked to the answer's audit record
    "ALTER TABLE feedback ADD COLUMN answer_seq INTEGER; "
    "ALTER TABLE feedback ADD COLUMN status TEXT; "
    "ALTER TABLE feedback ADD COLUMN reference TEXT; "
    "ALTER TABLE feedback ADD COLUMN gold_sources TEXT; "
    "ALTER TABLE feedback ADD COLUMN reviewed_by TEXT; "
    "ALTER TABLE feedback ADD COLUMN reviewed_at REAL; "
    "UPDATE feedback SET status = 'flagged' WHERE rating < 0",
)
COLUMNS = (
    "id", "ts", "rating", "comment", "question", "answer", "sources", "model", "user", "answer_seq", "status",
    "reference", "gold_sources", "reviewed_by", "reviewed_at",
)  # fmt: skip


def _legacy_version(db: Db) -> int:
    """A store written before versioning: version 1, or 2 when it already has the user column."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'feedback'").fetchone():
        return 0
    columns = {r[1] for r in db.execute("PRAGMA table_info(feedback)")}
    return 2 if "user" in columns else 1


class FeedbackStore:
    """Append-only feedback; only a review's own columns (status, reference, gold sources) are ever updated."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store = Store("feedback store", "serving.feedback_db", path, MIGRATIONS, legacy=_legacy_version)
        self._db: Db | None = None
        self._lock = threading.Lock()

    def _conn(self) -> Db:
        if self._db is None:
            self._db = self._store.connect()
        return self._db

    def add(
        self,
        rating: int,
        question: str,
        answer: str,
        sources: list[dict[str, Any]],
        model: str,
        comment: str = "",
        user: str = "local",
        answer_seq: int | None = None,
    ) -> int:
        """rating: +1 (helpful), -1 (not helpful: flagged for review) or 0 (a comment alone). Callers redact
        personal data first."""
        rating = (rating > 0) - (rating < 0)
        with self._lock:
            cur = self._conn().execute(
                "INSERT INTO feedback (ts, rating, comment, question, answer, sources, model, user, answer_seq, "
                "status) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    time.time(),
                    rating,
                    comment[:2000],
                    question,
                    answer,
                    json.dumps(sources),
                    model,
                    user,
                    answer_seq,
                    "flagged" if rating < 0 else None,
                ),
            )
            return int(cur.lastrowid or 0)

    def erase_user(self, user: str) -> int:
        """Deletes every piece of feedback `user` gave (a data subject's request); returns how many."""
        with self._lock:
            return int(self._conn().execute("DELETE FROM feedback WHERE user = ?", (user,)).rowcount)

    def _rows(self, where: str = "", args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        rows = self._conn().execute(f"SELECT {', '.join(COLUMNS)} FROM feedback {where} ORDER BY id", args)  # nosec B608  # constant columns and WHERE clauses (callers below); values are bound
        out = []
        for r in rows:
            row = dict(zip(COLUMNS, r, strict=True))
            row["sources"] = json.loads(row["sources"] or "[]")
            row["gold_sources"] = json.loads(row["gold_sources"]) if row["gold_sources"] else []
            out.append(row)
        return out

    def all(self) -> list[dict[str, Any]]:
        return self._rows()

    def since(self, ts: float) -> list[dict[str, Any]]:
        return self._rows("WHERE ts >= ?", (ts,))

    def queue(self) -> list[dict[str, Any]]:
        """Flagged answers waiting for a review, oldest first."""
        return self._rows("WHERE status = 'flagged'")

    def reviewed(self) -> list[dict[str, Any]]:
        return self._rows("WHERE status = 'reviewed'")

    def review(self, fid: int, reference: str, gold_sources: list[str], by: str) -> None:
        """Records the correct answer (and the files it comes from) for a flagged item."""
        if not reference.strip():
            raise InvalidRequest("a review needs the correct answer: --reference 'TEXT'")
        self._set(fid, "reviewed", by, reference.strip(), json.dumps(gold_sources))

    def dismiss(self, fid: int, by: str) -> None:
        """Takes an item off the queue without making it a test (the answer was right after all, or spam)."""
        self._set(fid, "dismissed", by, None, None)

    def _set(self, fid: int, status: str, by: str, reference: str | None, gold: str | None) -> None:
        with self._lock:
            cur = self._conn().execute(
                "UPDATE feedback SET status = ?, reference = ?, gold_sources = ?, reviewed_by = ?, reviewed_at = ? "
                "WHERE id = ? AND status IN ('flagged', 'reviewed', 'dismissed')",
                (status, reference, gold, by, time.time(), fid),
            )
        if cur.rowcount != 1:
            raise NotFound(f"no flagged feedback #{fid}; `python -m eval feedback list` shows the queue")

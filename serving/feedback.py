"""Thumbs up/down with an optional comment, stored with the question, answer and sources (SQLite)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class FeedbackStore:
    """Append-only feedback table."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS feedback (id INTEGER PRIMARY KEY, ts REAL, rating INTEGER, "
                "comment TEXT, question TEXT, answer TEXT, sources TEXT, model TEXT)"
            )
            columns = {r[1] for r in self._db.execute("PRAGMA table_info(feedback)")}
            if "user" not in columns:  # stores written before sign-in existed
                self._db.execute("ALTER TABLE feedback ADD COLUMN user TEXT")
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
    ) -> int:
        """rating: +1 (helpful), -1 (not helpful) or 0 (a comment alone). Callers redact personal data first."""
        with self._lock:
            cur = self._conn().execute(
                "INSERT INTO feedback (ts, rating, comment, question, answer, sources, model, user) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    time.time(),
                    (rating > 0) - (rating < 0),
                    comment[:2000],
                    question,
                    answer,
                    json.dumps(sources),
                    model,
                    user,
                ),
            )
            return int(cur.lastrowid or 0)

    def all(self) -> list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT id, ts, rating, comment, question, answer, sources, model, user FROM feedback"
        )
        keys = ("id", "ts", "rating", "comment", "question", "answer", "sources", "model", "user")
        return [dict(zip(keys, r, strict=True)) | {"sources": json.loads(r[6])} for r in rows]

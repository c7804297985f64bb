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
        return self._db

    def add(
        self, rating: int, question: str, answer: str, sources: list[dict[str, Any]], model: str, comment: str = ""
    ) -> int:
        """rating: +1 or -1."""
        with self._lock:
            cur = self._conn().execute(
                "INSERT INTO feedback (ts, rating, comment, question, answer, sources, model) VALUES (?,?,?,?,?,?,?)",
                (time.time(), 1 if rating > 0 else -1, comment[:2000], question, answer, json.dumps(sources), model),
            )
            return int(cur.lastrowid or 0)

    def all(self) -> list[dict[str, Any]]:
        rows = self._conn().execute("SELECT id, ts, rating, comment, question, answer, sources, model FROM feedback")
        keys = ("id", "ts", "rating", "comment", "question", "answer", "sources", "model")
        return [dict(zip(keys, r, strict=True)) | {"sources": json.loads(r[6])} for r in rows]

"""The manifest: what is indexed (files by content hash, their chunks), plus the pending-ids log that the index
writer (ingest/writer.py) uses to keep Chroma and the manifest consistent across crashes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.types import ChunkMeta

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, hash TEXT NOT NULL, fingerprint TEXT NOT NULL, size INTEGER NOT NULL,
    mtime REAL NOT NULL, file_type TEXT NOT NULL, pages INTEGER NOT NULL, chars INTEGER NOT NULL,
    n_chunks INTEGER NOT NULL, indexed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_hash ON files(hash);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL, embed_text TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE TABLE IF NOT EXISTS pending (id TEXT NOT NULL, op TEXT NOT NULL, PRIMARY KEY (id, op));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class FileRecord:
    """One indexed file."""

    path: str
    hash: str
    fingerprint: str
    size: int
    mtime: float
    file_type: str
    pages: int
    chars: int
    n_chunks: int
    indexed_at: float = 0.0


@dataclass(frozen=True)
class ChunkRow:
    """A chunk as the manifest keeps it (the lexical index is built from these rows)."""

    id: str
    path: str
    seq: int
    text: str
    embed_text: str  # what the embedder and BM25 saw: title/heading prefix + text
    meta: ChunkMeta

    @property
    def record(self) -> dict[str, Any]:
        """The flat metadata record the stores keep."""
        return self.meta.to_record(self.path)


class Manifest:
    """SQLite (WAL) file beside the index."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All-or-nothing: a crash inside leaves the manifest as it was before."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- reading -------------------------------------------------------------------------------------
    def files(self) -> dict[str, FileRecord]:
        rows = self._db.execute(
            "SELECT path, hash, fingerprint, size, mtime, file_type, pages, chars, n_chunks, indexed_at FROM files"
        )
        return {r[0]: FileRecord(*r) for r in rows}

    def chunk_ids(self, path: str) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT id FROM chunks WHERE path=? ORDER BY seq", (path,))]

    def chunk_rows(self, path: str | None = None) -> Iterator[ChunkRow]:
        query = "SELECT id, path, seq, text, embed_text, meta FROM chunks"
        args: tuple[Any, ...] = ()
        if path is not None:
            query += " WHERE path=?"
            args = (path,)
        for r in self._db.execute(query + " ORDER BY path, seq", args):
            yield ChunkRow(r[0], r[1], r[2], r[3], r[4], ChunkMeta.from_record(json.loads(r[5])))

    def all_chunk_ids(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT id FROM chunks")}

    def generation(self) -> int:
        """Bumped by every committed change; derived indexes (BM25) record the generation they were built at."""
        row = self._db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return int(row[0]) if row else 0

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def pending(self) -> list[tuple[str, str]]:
        return list(self._db.execute("SELECT id, op FROM pending"))

    # --- writing -------------------------------------------------------------------------------------
    def log_pending(self, ids: Iterable[str], op: str) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO pending(id, op) VALUES (?, ?)", [(i, op) for i in ids])

    def clear_pending(self, ids: Sequence[str] | None = None, op: str | None = None) -> None:
        with self.transaction() as db:
            if ids is None:
                db.execute("DELETE FROM pending")
            else:
                db.executemany("DELETE FROM pending WHERE id=? AND op=?", [(i, op) for i in ids])

    def commit_files(
        self, records: Sequence[FileRecord], chunks: Sequence[ChunkRow], removed_paths: Sequence[str] = ()
    ) -> list[str]:
        """Replace the given files' chunks and drop removed_paths; returns the chunk ids that became garbage."""
        touched = [r.path for r in records] + list(removed_paths)
        now = time.time()
        new_ids = {c.id for c in chunks}
        with self.transaction() as db:
            old_ids: list[str] = []
            for path in touched:
                old_ids += [r[0] for r in db.execute("SELECT id FROM chunks WHERE path=?", (path,))]
                db.execute("DELETE FROM chunks WHERE path=?", (path,))
                db.execute("DELETE FROM files WHERE path=?", (path,))
            db.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (r.path, r.hash, r.fingerprint, r.size, r.mtime, r.file_type, r.pages, r.chars, r.n_chunks, now)
                    for r in records
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                [(c.id, c.path, c.seq, c.text, c.embed_text, json.dumps(c.record, sort_keys=True)) for c in chunks],
            )
            garbage = [i for i in old_ids if i not in new_ids]
            db.executemany("INSERT OR IGNORE INTO pending(id, op) VALUES (?, 'del')", [(i,) for i in garbage])
            db.executemany("DELETE FROM pending WHERE id=? AND op='add'", [(i,) for i in new_ids])
            gen = self.generation() + 1
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('generation', ?)", (str(gen),))
        return garbage

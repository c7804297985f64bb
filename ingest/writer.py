"""The index writer: the only code that changes an index, so Chroma, the manifest and the lexical index agree.

The protocol, for every batch: the new chunk ids are logged as pending 'add' before Chroma sees them; Chroma is
written (ids are deterministic, so a repeat replaces); one SQLite transaction then commits the files and their
chunks and logs the ids they replaced as pending 'del'; those are deleted from Chroma and the log is cleared.
A run marks the manifest 'running' while it works and 'clean' when done. After a crash, `recover` deletes from
Chroma every pending id the manifest does not own; after a crash mid-run it also reconciles fully: chunks in
Chroma that the manifest does not own go, and files whose chunks are not all in Chroma are forgotten so the next
pass indexes them again. The lexical index is rebuilt from the manifest and published atomically under the
manifest's generation (retrieval/lexical.py), so readers never see a half-written one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.manifest import ChunkRow, FileRecord, Manifest
from retrieval.lexical import LexicalIndex
from retrieval.store import VectorStore
from retrieval.types import Chunk

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    """What one write did."""

    chunks_written: int
    chunks_removed: int


class IndexWriter:
    """Writes batches of files (with their chunks and vectors) and removals, crash-safely."""

    def __init__(self, manifest: Manifest, store: VectorStore, index_dir: Path) -> None:
        self.manifest = manifest
        self.store = store
        self.index_dir = index_dir

    def begin(self) -> None:
        self.manifest.set_meta("run_state", "running")

    def finish(self) -> None:
        self.manifest.set_meta("run_state", "clean")

    def write(
        self, records: Sequence[FileRecord], rows: Sequence[ChunkRow], vectors: np.ndarray, removed: Sequence[str] = ()
    ) -> Written:
        """Replace the given files (and drop `removed` files) with the given chunks and their vectors."""
        ids = [r.id for r in rows]
        self.manifest.log_pending(ids, "add")
        if rows:
            self.store.upsert([Chunk.from_record(r.id, r.text, r.record) for r in rows], vectors)
        garbage = self.manifest.commit_files(records, rows, removed)
        if garbage:
            self.store.delete(garbage)
            self.manifest.clear_pending(garbage, "del")
        return Written(len(rows), len(garbage))

    def remove(self, paths: Sequence[str]) -> Written:
        """Drop files from the index (the files themselves are not touched)."""
        return self.write([], [], np.zeros((0, 1), dtype=np.float32), removed=paths)

    def recover(self) -> bool:
        """Undo what a killed run left half-done; True when there was something to repair."""
        manifest = self.manifest
        pending = manifest.pending()
        crashed = manifest.get_meta("run_state") == "running"
        if not pending and not crashed:
            return False
        owned = manifest.all_chunk_ids()
        stray = {cid for cid, _op in pending if cid not in owned}
        if crashed:
            in_store = self.store.all_ids()
            stray |= in_store - owned
            missing = owned - in_store
            if missing:
                lost = {row.path for row in manifest.chunk_rows() if row.id in missing}
                logger.warning("re-indexing %d file(s) whose chunks were not all stored", len(lost))
                manifest.commit_files([], [], sorted(lost))
        if stray:
            logger.warning("removing %d chunk(s) left by an interrupted run", len(stray))
            self.store.delete(sorted(stray))
        manifest.clear_pending()
        return True

    def publish_lexical(self) -> None:
        """Rebuild and publish BM25 when the manifest changed since it was last built."""
        generation = self.manifest.generation()
        if LexicalIndex.published_generation(self.index_dir) == generation:
            return
        rows = ((r.id, r.text, r.embed_text, r.record) for r in self.manifest.chunk_rows())
        LexicalIndex.build(rows, generation).save(self.index_dir)

"""The index writer: the only code that changes an index, so Chroma, the manifest and the lexical index agree.

The protocol, for every batch: the new chunk ids are logged as pending 'add' before Chroma sees them; Chroma is
written (ids are deterministic, so a repeat replaces); one SQLite transaction then commits the files and their
chunks and logs the ids they replaced as pending 'del'; those are deleted from Chroma and the log is cleared.
A run marks the manifest 'running' while it works and 'clean' when done. After a crash, `recover` deletes from
Chroma every pending id the manifest does not own; after a crash mid-run it also reconciles fully: chunks in
Chroma that the manifest does not own go, and files whose chunks are not all in Chroma are forgotten so the next
pass indexes them again.

The lexical index (retrieval/lexical.py, written through retrieval/lexical_writer.py) follows the manifest: each
write deletes the replaced chunks and adds the new ones in tantivy's buffer, and `publish_lexical` commits them
(atomically) and records the manifest generation. When a run starts from a lexical index whose generation is not the
manifest's (a run was killed between a manifest commit and the lexical commit, or the index predates this format),
the writes are not mirrored and publishing reconciles instead: chunks the manifest does not own are deleted, owned
ones that are missing are added.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ingest.manifest import ChunkRow, FileRecord, Manifest
from retrieval import lexical
from retrieval.lexical_writer import LexicalWriter
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
        self._lexical: LexicalWriter | None = None
        self._lexical_synced = False

    @property
    def lexical(self) -> LexicalWriter:
        """tantivy's writer, opened on first use in a run; whether it may be updated incrementally is decided
        then, before this run changes the manifest."""
        if self._lexical is None:
            exists = (self.index_dir / lexical.FOLDER / "meta.json").exists()
            published = lexical.published_generation(self.index_dir)
            self._lexical_synced = exists and published == self.manifest.generation()
            self._lexical = LexicalWriter(self.index_dir)
        return self._lexical

    def begin(self) -> None:
        self.manifest.set_meta("run_state", "running")

    def finish(self) -> None:
        self.manifest.set_meta("run_state", "clean")

    def write(
        self, records: Sequence[FileRecord], rows: Sequence[ChunkRow], vectors: np.ndarray, removed: Sequence[str] = ()
    ) -> Written:
        """Replace the given files (and drop `removed` files) with the given chunks and their vectors."""
        ids = [r.id for r in rows]
        lex = self.lexical
        self.manifest.log_pending(ids, "add")
        if rows:
            self.store.upsert([Chunk.from_record(r.id, r.text, r.record) for r in rows], vectors)
        garbage = self.manifest.commit_files(records, rows, removed)
        if self._lexical_synced:
            lex.delete(garbage)
            lex.add((r.id, r.text, r.embed_text, r.record) for r in rows)
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
        """Commit the lexical side of this run's writes (or reconcile it with the manifest) and record the
        manifest's generation; then release tantivy's writer lock."""
        generation = self.manifest.generation()
        if self._lexical is None and lexical.published_generation(self.index_dir) == generation:
            return
        lex = self.lexical
        try:
            if not self._lexical_synced:
                owned = {lexical.key_of(cid): cid for cid in self.manifest.all_chunk_ids()}
                added, deleted = lex.reconcile(owned, self._rows)
                if added or deleted:
                    logger.info("lexical index reconciled with the manifest: %d added, %d removed", added, deleted)
            lex.commit(generation)
        finally:
            self.close()

    def _rows(self, ids: Sequence[str]) -> Iterator[tuple[str, str, str, dict[str, object]]]:
        wanted = set(ids)
        for r in self.manifest.chunk_rows():
            if r.id in wanted:
                yield r.id, r.text, r.embed_text, r.record

    def close(self) -> None:
        """Release tantivy's writer (uncommitted lexical changes are dropped; the next run reconciles)."""
        if self._lexical is not None:
            self._lexical.close()
            self._lexical = None

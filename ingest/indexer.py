"""The ingest run: discover files, plan the changes, parse what changed, embed and write it.

Each job has its own module; the Indexer only orchestrates them:
discovery.py (which files) -> plan.py (unchanged / moved / to index / to delete) -> parsing.py (read once, parse,
chunk, in a background thread) -> records.py (ids and metadata) -> the embedder -> writer.py (the crash-safe
write to Chroma, the manifest and the lexical index) under lock.py (one writer per index).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from configs.errors import IngestError
from configs.settings import ChunkingSettings, IngestSettings, Settings
from ingest.archives import ArchiveLimits
from ingest.chunking import CHUNKER_VERSION, Chunker
from ingest.discovery import Candidate, discover, is_under
from ingest.executors import Executor, LocalExecutor
from ingest.formats import default_loaders
from ingest.loaders import Loader
from ingest.lock import IndexLock
from ingest.manifest import ChunkRow, FileRecord, Manifest
from ingest.ocr import OcrOptions
from ingest.parsing import FileParser, Parsed, ParseStage
from ingest.plan import ChangePlan
from ingest.records import Fingerprint, chunk_id, chunk_meta, moved_meta
from ingest.runlog import append_run
from ingest.writer import IndexWriter, Written
from retrieval.embeddings import Embedder, build_embedder
from retrieval.store import ChromaStore, VectorStore

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (event, amount): "total" files to go through, "file" one done


@dataclass
class IngestReport:
    """What one run did; serialised as the CLI's --json line."""

    files_seen: int = 0
    new: int = 0
    changed: int = 0
    moved: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)  # parts of indexed files left out (a hidden sheet)
    warnings: list[dict[str, str]] = field(default_factory=list)  # indexed files with parts not read (OCR pages)
    chunks_written: int = 0
    chunks_removed: int = 0
    pages: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    write_seconds: float = 0.0
    lexical_seconds: float = 0.0
    recovered: bool = False

    def skip(self, path: Path | str, reason: str) -> None:
        self.skipped.append({"path": str(path), "reason": reason})

    def note(self, path: Path | str, note: str) -> None:
        self.notes.append({"path": str(path), "note": note})

    def warn(self, path: Path | str, message: str) -> None:
        self.warnings.append({"path": str(path), "warning": message})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class Indexer:
    """Builds and maintains one index (Chroma collection + manifest + BM25) from folders of documents."""

    def __init__(
        self,
        ingest: IngestSettings,
        chunking: ChunkingSettings,
        index_dir: Path,
        embedder: Embedder,
        store: VectorStore,
        loaders: dict[str, Loader] | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.settings = ingest
        self.chunking = chunking
        self.index_dir = index_dir
        self.embedder = embedder
        self.store = store
        self.loaders = loaders or default_loaders(ArchiveLimits.of(ingest), OcrOptions.of(ingest))
        self.executor = executor or LocalExecutor(embedder)
        self._manifest: Manifest | None = None
        self._urls: Mapping[str, str] = {}  # this run's crawled pages: saved copy's path -> URL

    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest(self.index_dir / "manifest.sqlite")
        return self._manifest

    @property
    def writer(self) -> IndexWriter:
        return IndexWriter(self.manifest, self.store, self.index_dir)

    def fingerprint(self) -> Fingerprint:
        """Everything that shapes a file's chunks and vectors, per file type: a change re-indexes the files it
        affects (a new chunker or embedder: all of them; a new PDF loader: the PDFs)."""
        base = {
            "chunking": self.chunking.model_dump(mode="json"),
            "chunker": CHUNKER_VERSION,
            "embedder": self.embedder.fingerprint(),
        }
        return Fingerprint(base)

    def close(self) -> None:
        self.executor.close()
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = None

    def run(
        self, roots: Sequence[Path], progress: Progress | None = None, urls: Mapping[str, str] | None = None
    ) -> IngestReport:
        """Bring the index in line with the files under roots (new, changed, moved and deleted files). `urls` maps
        the saved copy of a crawled web page (its path) to the page's URL, which becomes its chunks' source."""
        missing = [str(r) for r in roots if not r.exists()]
        if missing:
            raise IngestError(f"path(s) not found: {', '.join(missing)}; pass existing files or folders")
        # Canonical roots: one folder reached through a symlink and directly must not be indexed twice.
        roots = [Path(os.path.realpath(r)) for r in roots]
        started = time.perf_counter()
        report = IngestReport()
        progress = progress or (lambda _event, _n: None)
        self._urls = urls or {}
        writer = self.writer
        with IndexLock(self.index_dir), contextlib.closing(writer):
            report.recovered = writer.recover()
            writer.begin()
            fingerprint = self.fingerprint()
            found = list(discover(roots, self.settings, report.skip))
            report.files_seen = len(found)
            skipped = {s["path"] for s in report.skipped}
            plan = ChangePlan(self.manifest.files(), found, roots, skipped)
            progress("total", len(found))
            self._pass(found, plan, fingerprint, writer, report, progress)
            gone = plan.deletions()
            if gone:
                self._count(report, writer.remove(gone), 0.0)
                report.deleted += len(gone)
            t0 = time.perf_counter()
            writer.publish_lexical()
            report.lexical_seconds = time.perf_counter() - t0
            writer.finish()
            report.seconds = time.perf_counter() - started
            append_run(self.index_dir, asdict(report))
        return report

    def _pass(
        self,
        found: list[Candidate],
        plan: ChangePlan,
        fingerprint: Fingerprint,
        writer: IndexWriter,
        report: IngestReport,
        progress: Progress,
    ) -> None:
        """One pass over the files: count the unchanged, carry out moves, index the rest in batches."""
        parser = FileParser(self.loaders, Chunker(self.chunking, self.embedder, self.embedder.max_tokens))
        stage = ParseStage(parser, plan, fingerprint)
        indexed = {p: r.hash for p, r in self.manifest.files().items() if r.fingerprint == fingerprint.of(p)}
        writes = _WriteBehind(report)
        try:
            self._stream(stage, found, indexed, plan, fingerprint, writer, report, progress, writes)
            writes.wait()
        finally:
            writes.close()

    def _stream(
        self,
        stage: ParseStage,
        found: list[Candidate],
        indexed: dict[str, str],
        plan: ChangePlan,
        fingerprint: Fingerprint,
        writer: IndexWriter,
        report: IngestReport,
        progress: Progress,
        writes: _WriteBehind,
    ) -> None:
        """The parsed files as they come: unchanged counted, moves carried out, the rest embedded in batches."""
        batch: list[Parsed] = []
        pending = 0
        for item in self.executor.parse(stage, found, indexed):
            progress("file", 1)
            if item.error is not None or item.decision is None:
                report.skip(item.candidate.path, item.error or "not read")
                continue
            if item.decision.action == "unchanged":
                report.unchanged += 1
                continue
            if item.decision.action == "move":
                assert item.decision.moved_from is not None
                writes.wait()  # the moved file's old chunks are read back from what is written
                if self._move(item, fingerprint, writer, report):
                    report.moved += 1
                    continue
                plan.release(item.decision.moved_from)
                read = FileParser.read(item.candidate)
                if isinstance(read, Parsed):
                    report.skip(item.candidate.path, read.error or "not read")
                    continue
                item = stage.load(item.candidate, item.decision, item.file_hash, read[0])
                if item.error is not None:
                    report.skip(item.candidate.path, item.error)
                    continue
            for note in item.doc.notes if item.doc is not None else ():
                report.note(item.candidate.path, note)
            batch.append(item)
            for message in item.doc.warnings if item.doc is not None else ():
                report.warn(item.candidate.path, message)
            pending += len(item.pieces)
            if item.decision is not None and item.decision.changed:
                report.changed += 1
            else:
                report.new += 1
            if pending >= self.settings.batch_chunks:
                self._flush(batch, fingerprint, writer, report, writes)
                batch, pending = [], 0
        if batch:
            self._flush(batch, fingerprint, writer, report, writes)

    def _flush(
        self,
        batch: list[Parsed],
        fingerprint: Fingerprint,
        writer: IndexWriter,
        report: IngestReport,
        writes: _WriteBehind,
    ) -> None:
        records: list[FileRecord] = []
        rows: list[ChunkRow] = []
        for item in batch:
            cand, doc = item.candidate, item.doc
            assert doc is not None
            path = str(cand.path)
            fp = fingerprint.of(cand.path)
            for seq, piece in enumerate(item.pieces):
                meta = chunk_meta(cand, item.file_hash, doc, piece, seq, self._urls.get(path, ""))
                rows.append(
                    ChunkRow(chunk_id(path, item.file_hash, fp, seq), path, seq, piece.text, piece.embed_text, meta)
                )
            pages = doc.pages or 1
            report.pages += pages
            records.append(
                FileRecord(
                    path,
                    item.file_hash,
                    fp,
                    cand.size,
                    cand.mtime,
                    doc.file_type,
                    pages,
                    doc.chars,
                    len(item.pieces),
                )
            )
        report.tokens_embedded += sum(p.tokens for item in batch for p in item.pieces)
        t0 = time.perf_counter()
        vectors = self.executor.embed([r.embed_text for r in rows])
        report.embed_seconds += time.perf_counter() - t0
        writes.submit(lambda: writer.write(records, rows, vectors))

    def _move(self, item: Parsed, fingerprint: Fingerprint, writer: IndexWriter, report: IngestReport) -> bool:
        """A file whose content an indexed file that is gone had: reuse its vectors, re-embed nothing."""
        assert item.decision is not None and item.decision.moved_from is not None
        old_path = item.decision.moved_from
        old = self.manifest.files()[old_path]
        rows = list(self.manifest.chunk_rows(old_path))
        vectors = self.store.get_vectors([r.id for r in rows])
        if len(vectors) != len(rows):
            return False
        cand = item.candidate
        new_path = str(cand.path)
        fp = fingerprint.of(cand.path)
        new_rows = [
            ChunkRow(
                chunk_id(new_path, item.file_hash, fp, r.seq),
                new_path,
                r.seq,
                r.text,
                r.embed_text,
                moved_meta(r.meta, cand, self._urls.get(new_path, "")),
            )
            for r in rows
        ]
        matrix = np.stack([vectors[r.id] for r in rows]) if rows else np.zeros((0, 1), dtype=np.float32)
        record = FileRecord(
            new_path, item.file_hash, fp, cand.size, cand.mtime, old.file_type, old.pages, old.chars, len(rows)
        )
        t0 = time.perf_counter()
        self._count(report, writer.write([record], new_rows, matrix, removed=[old_path]), time.perf_counter() - t0)
        return True

    @staticmethod
    def _count(report: IngestReport, written: Written, seconds: float) -> None:
        report.write_seconds += seconds
        report.chunks_written += written.chunks_written
        report.chunks_removed += written.chunks_removed

    def remove(self, prefixes: Sequence[Path]) -> IngestReport:
        """Drop every indexed file under the given paths (the files themselves are not touched)."""
        started = time.perf_counter()
        report = IngestReport()
        writer = self.writer
        with IndexLock(self.index_dir), contextlib.closing(writer):
            writer.recover()
            targets = sorted({f(p) for p in prefixes for f in (os.path.abspath, os.path.realpath)})
            paths = [p for p in self.manifest.files() if any(is_under(p, t) for t in targets)]
            if paths:
                self._count(report, writer.remove(paths), 0.0)
            report.deleted = len(paths)
            writer.publish_lexical()
        report.seconds = time.perf_counter() - started
        return report

    def publish_lexical(self) -> None:
        self.writer.publish_lexical()

    def indexed_files(self) -> list[FileRecord]:
        return sorted(self.manifest.files().values(), key=lambda r: r.path)


class _WriteBehind:
    """A batch's write (Chroma, the manifest, tantivy: 5% of a SciFact ingest) runs on one thread while the next
    batch is embedded, so the encoder does not wait for it. At most one write is in flight and writes keep their
    order, so a killed run leaves what it left before (writer.py's pending log); a write's counts are added, or its
    error raised, before the next write, before a move reads the index back, and at the end of the pass."""

    def __init__(self, report: IngestReport) -> None:
        self._report = report
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-ingest-write")
        self._pending: Future[tuple[Written, float]] | None = None

    def submit(self, write: Callable[[], Written]) -> None:
        self.wait()

        def timed() -> tuple[Written, float]:
            t0 = time.perf_counter()
            return write(), time.perf_counter() - t0

        self._pending = self._pool.submit(timed)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            written, seconds = pending.result()
            Indexer._count(self._report, written, seconds)

    def close(self) -> None:
        """Waits for a write still in flight (after an error elsewhere: the store is not closed under it); that
        write's own error, which the run's error hides, is logged."""
        self._pool.shutdown(wait=True)
        if self._pending is not None and self._pending.exception() is not None:
            logger.error("a batch write failed too: %s", self._pending.exception())


def build_indexer(
    settings: Settings,
    index_dir: Path | None = None,
    embedder: Embedder | None = None,
    store: VectorStore | None = None,
) -> Indexer:
    """The object graph for writing an index, from Settings (on a Ray cluster when ingest.ray_address is set)."""
    index_dir = index_dir or settings.resolve(settings.index.path)
    cache_dir = settings.resolve(settings.embedding.cache_dir)
    embedder = embedder or build_embedder(settings.embedding, cache_dir)
    executor: Executor | None = None
    if settings.ingest.ray_address:
        from ingest.executors import RayExecutor

        embedding = settings.embedding
        if embedding.precision == "auto" and embedding.device == "cpu":
            # The workers and CPU encoders use this process's verdict, the one the index's fingerprint names: each
            # measuring on its own busy node could choose another arithmetic and mix the index.
            embedding = embedding.model_copy(update={"precision": getattr(embedder, "precision", "auto")})
        executor = RayExecutor(
            settings.ingest.ray_address,
            settings.chunking,
            embedding,
            cache_dir,
            actors=settings.ingest.ray_encoders,
            limits=ArchiveLimits.of(settings.ingest),
            ocr=OcrOptions.of(settings.ingest),
        )
    return Indexer(
        settings.ingest,
        settings.chunking,
        index_dir,
        embedder,
        store or ChromaStore(settings.index, index_dir),
        executor=executor,
    )

"""The ingest run: walk folders, diff against the manifest by content hash, parse, chunk, embed, write.

Crash safety: see ingest/manifest.py. Concurrency: one writer per index, enforced with an flock.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from configs.errors import IndexBusy, IngestError
from configs.settings import Settings
from ingest.chunking import Chunker, Piece
from ingest.loaders import LOADER_VERSION, Document, Loader, SkipFile, default_loaders, file_type_of
from ingest.manifest import ChunkRow, FileRecord, Manifest
from retrieval.embeddings import Embedder, build_embedder
from retrieval.lexical import LexicalIndex
from retrieval.store import ChromaStore
from retrieval.types import TAG_PREFIX, Chunk

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (event, amount): "total" files to parse, "file" one parsed


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class Candidate:
    """A file found under an ingest root."""

    path: Path
    root: Path
    size: int
    mtime: float
    hash: str = ""


@dataclass
class _Parsed:
    candidate: Candidate
    doc: Document | None
    pieces: list[Piece]
    error: str | None = None


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_id(path: str, file_hash: str, fingerprint: str, seq: int) -> str:
    """Deterministic: the same file content at the same path with the same config gives the same ids."""
    return hashlib.sha256(f"{path}\0{file_hash}\0{fingerprint}\0{seq}".encode()).hexdigest()[:32]


def folder_metadata(path: Path, root: Path) -> dict[str, Any]:
    """collection = first folder under the root (or the root's own name); tags = every folder name."""
    rel = path.relative_to(root)
    folders = list(rel.parent.parts)
    meta: dict[str, Any] = {
        "relpath": rel.as_posix(),
        "filename": path.name,
        "folder": "/".join(folders),
        "collection": folders[0] if folders else (root.name or "default"),
    }
    for tag in folders or [meta["collection"]]:
        meta[TAG_PREFIX + tag] = True
    return meta


class IndexLock:
    """Exclusive, non-blocking lock on an index directory (released by the OS if the process dies)."""

    def __init__(self, index_dir: Path) -> None:
        self._path = index_dir / "ingest.lock"
        self._fh: Any = None

    def __enter__(self) -> IndexLock:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self._path, "a+")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._fh.seek(0)
            holder = self._fh.read().strip() or "another process"
            self._fh.close()
            raise IndexBusy(
                f"index {self._path.parent} is being written by {holder}; wait for it to finish or use another --index"
            ) from exc
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(f"pid {os.getpid()}")
        self._fh.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


class Indexer:
    """Builds and maintains one index (Chroma collection + manifest + BM25) from folders of documents."""

    def __init__(
        self,
        settings: Settings,
        index_dir: Path | None = None,
        embedder: Embedder | None = None,
        store: ChromaStore | None = None,
        loaders: dict[str, Loader] | None = None,
    ) -> None:
        self.settings = settings
        self.index_dir = index_dir or settings.resolve(settings.index.path)
        self.embedder = embedder or build_embedder(settings)
        self.store = store or ChromaStore(settings.index, self.index_dir)
        self.loaders = loaders or default_loaders()
        self._manifest: Manifest | None = None
        self._chunker: Chunker | None = None

    # --- wiring --------------------------------------------------------------------------------------
    @property
    def manifest(self) -> Manifest:
        if self._manifest is None:
            self._manifest = Manifest(self.index_dir / "manifest.sqlite")
        return self._manifest

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            # A private copy: the parse thread counts tokens while the embedder pads batches, and a fast
            # tokenizer's padding/truncation state is shared mutable state.
            tokenizer = copy.deepcopy(getattr(self.embedder, "tokenizer", None))
            self._chunker = Chunker(self.settings.chunking, tokenizer, self.embedder.max_tokens)
        return self._chunker

    def fingerprint(self) -> str:
        """Everything that shapes a file's chunks and vectors; a change re-indexes every file."""
        fingerprint = getattr(self.embedder, "fingerprint", lambda: self.embedder.name)()
        spec = {
            "loader": LOADER_VERSION,
            "chunking": self.settings.chunking.model_dump(mode="json"),
            "embedder": fingerprint,
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def close(self) -> None:
        if self._manifest is not None:
            self._manifest.close()
            self._manifest = None

    # --- discovery -----------------------------------------------------------------------------------
    def _walk(self, roots: Sequence[Path], report: IngestReport) -> Iterator[Candidate]:
        cfg = self.settings.ingest
        limit = int(cfg.max_file_mb * 1024 * 1024)
        seen_dirs: set[tuple[int, int]] = set()
        for root in roots:
            if root.is_file():
                files: Iterator[tuple[Path, Path]] = iter([(root, root.parent)])
            else:
                files = self._files_under(root, seen_dirs, report)
            for path, base in files:
                try:
                    st = path.stat()
                except OSError as exc:
                    report.skip(path, f"cannot read file ({exc.strerror or exc}); check the link or permissions")
                    continue
                if file_type_of(path) is None or path.suffix.lower() not in cfg.extensions:
                    report.skip(path, f"unsupported file type '{path.suffix or '(none)'}'")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    report.skip(path, "not a regular file")
                    continue
                if st.st_size > limit:
                    report.skip(
                        path,
                        f"file is {st.st_size / 1048576:.1f} MB, over ingest.max_file_mb={cfg.max_file_mb:g}; "
                        "raise the limit to index it",
                    )
                    continue
                yield Candidate(path, base, st.st_size, st.st_mtime)

    def _files_under(
        self, root: Path, seen_dirs: set[tuple[int, int]], report: IngestReport
    ) -> Iterator[tuple[Path, Path]]:
        def onerror(exc: OSError) -> None:
            report.skip(exc.filename or root, f"cannot list folder ({exc.strerror or exc})")

        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
            try:
                st = os.stat(dirpath)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:  # a symlink loop or a folder reached twice
                dirnames[:] = []
                continue
            seen_dirs.add(key)
            if self.settings.ingest.skip_hidden:
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            dirnames.sort()
            for name in sorted(filenames):
                if self.settings.ingest.skip_hidden and name.startswith("."):
                    continue
                yield Path(dirpath) / name, root

    # --- the run -------------------------------------------------------------------------------------
    def run(self, roots: Sequence[Path], progress: Progress | None = None) -> IngestReport:
        """Bring the index in line with the files under roots (new, changed, moved and deleted files)."""
        missing = [str(r) for r in roots if not r.exists()]
        if missing:
            raise IngestError(f"path(s) not found: {', '.join(missing)}; pass existing files or folders")
        # Canonical roots: one folder reached through a symlink and directly must not be indexed twice.
        roots = [Path(os.path.realpath(r)) for r in roots]
        started = time.perf_counter()
        report = IngestReport()
        progress = progress or (lambda _event, _n: None)
        with IndexLock(self.index_dir):
            report.recovered = self._recover()
            self.manifest.set_meta("run_state", "running")
            fingerprint = self.fingerprint()
            known = self.manifest.files()
            work: list[Candidate] = []
            seen: set[str] = set()
            for cand in self._walk(roots, report):
                key = str(cand.path)
                if key in seen:
                    continue
                seen.add(key)
                report.files_seen += 1
                try:
                    data = cand.path.read_bytes()
                except OSError as exc:
                    report.skip(cand.path, f"cannot read file ({exc.strerror or exc}); check permissions")
                    continue
                cand = Candidate(cand.path, cand.root, cand.size, cand.mtime, content_hash(data))
                old = known.get(key)
                if old is not None and old.hash == cand.hash and old.fingerprint == fingerprint:
                    report.unchanged += 1
                    continue
                work.append(cand)
            skipped_paths = {s["path"] for s in report.skipped}
            gone = [
                p for p in known if p not in seen and p not in skipped_paths and any(_is_under(p, r) for r in roots)
            ]
            # A file that vanished from outside these roots may have moved into them (a renamed root folder):
            # it is a move source too, but is never deleted by a run that was not given its folder.
            vanished = [
                p for p in known if p not in seen and not any(_is_under(p, r) for r in roots) and not os.path.lexists(p)
            ]
            deletable = set(gone)
            work, sources_left = self._apply_moves(work, gone + vanished, known, fingerprint, report)
            gone = [p for p in sources_left if p in deletable]
            progress("total", len(work))
            self._index_files(work, fingerprint, report, progress, set(known))
            if gone:
                self._remove_paths(gone, report)
                report.deleted += len(gone)
            t0 = time.perf_counter()
            self.publish_lexical()
            report.lexical_seconds = time.perf_counter() - t0
            self.manifest.set_meta("run_state", "clean")
        report.seconds = time.perf_counter() - started
        return report

    def _apply_moves(
        self,
        work: list[Candidate],
        gone: list[str],
        known: dict[str, FileRecord],
        fingerprint: str,
        report: IngestReport,
    ) -> tuple[list[Candidate], list[str]]:
        """A new file whose content equals a vanished file's is a move: reuse its vectors, re-embed nothing."""
        by_hash: dict[str, list[str]] = {}
        for path in gone:
            rec = known[path]
            if rec.fingerprint == fingerprint:
                by_hash.setdefault(rec.hash, []).append(path)
        remaining: list[Candidate] = []
        for cand in work:
            olds = by_hash.get(cand.hash)
            if str(cand.path) in known or not olds:
                remaining.append(cand)
                continue
            # Several vanished copies of this content: the one whose path ends most like the new one moved.
            old_path = max(olds, key=lambda p: (_common_tail(p, str(cand.path)), p))
            olds.remove(old_path)
            if self._move(old_path, cand, known[old_path], fingerprint, report):
                gone.remove(old_path)
                report.moved += 1
            else:
                olds.append(old_path)
                remaining.append(cand)
        return remaining, gone

    def _move(self, old_path: str, cand: Candidate, rec: FileRecord, fingerprint: str, report: IngestReport) -> bool:
        rows = list(self.manifest.chunk_rows(old_path))
        vectors = self.store.get_vectors([r.id for r in rows])
        if len(vectors) != len(rows):
            return False
        new_path = str(cand.path)
        place = {**folder_metadata(cand.path, cand.root), "mtime": int(cand.mtime), "modified": _iso(cand.mtime)}
        chunks, new_rows = [], []
        for row in rows:
            meta = {k: v for k, v in row.meta.items() if not k.startswith(TAG_PREFIX)}
            meta.update(place)
            cid = chunk_id(new_path, cand.hash, fingerprint, row.seq)
            meta["source"] = new_path
            new_rows.append(ChunkRow(cid, new_path, row.seq, row.text, row.embed_text, meta))
            chunks.append(Chunk.from_record(cid, row.text, meta))
        matrix = np.stack([vectors[r.id] for r in rows]) if rows else np.zeros((0, 1), dtype=np.float32)
        record = FileRecord(
            new_path, cand.hash, fingerprint, cand.size, cand.mtime, rec.file_type, rec.pages, rec.chars, len(chunks)
        )
        self._write(chunks, matrix, [record], new_rows, removed=[old_path], report=report)
        return True

    def _parse(self, cand: Candidate) -> _Parsed:
        file_type = file_type_of(cand.path) or ""
        try:
            data = cand.path.read_bytes()
            if content_hash(data) != cand.hash:
                raise SkipFile("file changed while it was being indexed; run ingest again")
            if not data.strip():
                raise SkipFile(f"empty file ({cand.size} bytes)")
            doc = self.loaders[file_type].load(cand.path, data)
            return _Parsed(cand, doc, self.chunker.split(doc))
        except SkipFile as exc:
            return _Parsed(cand, None, [], str(exc))
        except OSError as exc:
            return _Parsed(cand, None, [], f"cannot read file ({exc.strerror or exc})")
        except RecursionError:
            return _Parsed(cand, None, [], "document nesting too deep to parse")
        except Exception as exc:  # a parser bug on one file must not stop the run
            logger.exception("unexpected error parsing %s", cand.path)
            return _Parsed(cand, None, [], f"parser error ({type(exc).__name__}: {str(exc)[:120]})")

    def _parsed_stream(self, work: list[Candidate]) -> Iterator[_Parsed]:
        """Parse and chunk in a background thread so the CPU-heavy embedder never waits on I/O or parsing."""
        out: queue.Queue[_Parsed | None] = queue.Queue(maxsize=64)
        stop = threading.Event()

        def produce() -> None:
            try:
                for cand in work:
                    if stop.is_set():
                        return
                    out.put(self._parse(cand))
            finally:
                out.put(None)

        thread = threading.Thread(target=produce, name="ingest-parse", daemon=True)
        thread.start()
        try:
            while (item := out.get()) is not None:
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # drain so the producer can finish
                with contextlib.suppress(queue.Empty):
                    out.get(timeout=0.1)

    def _index_files(
        self, work: list[Candidate], fingerprint: str, report: IngestReport, progress: Progress, known: set[str]
    ) -> None:
        if not work:
            return
        _ = self.chunker  # load the tokenizer before the parse thread needs it
        batch: list[_Parsed] = []
        pending_chunks = 0
        for parsed in self._parsed_stream(work):
            progress("file", 1)
            if parsed.error is not None:
                report.skip(parsed.candidate.path, parsed.error)
                continue
            batch.append(parsed)
            pending_chunks += len(parsed.pieces)
            if str(parsed.candidate.path) in known:
                report.changed += 1
            else:
                report.new += 1
            if pending_chunks >= self.settings.ingest.batch_chunks:
                self._flush(batch, fingerprint, report)
                batch, pending_chunks = [], 0
        if batch:
            self._flush(batch, fingerprint, report)

    def _flush(self, batch: list[_Parsed], fingerprint: str, report: IngestReport) -> None:
        chunks: list[Chunk] = []
        rows: list[ChunkRow] = []
        records: list[FileRecord] = []
        embed_texts: list[str] = []
        for parsed in batch:
            cand, doc = parsed.candidate, parsed.doc
            assert doc is not None
            path = str(cand.path)
            base = {
                **folder_metadata(cand.path, cand.root),
                "file_type": doc.file_type,
                "title": doc.title,
                "mtime": int(cand.mtime),
                "modified": _iso(cand.mtime),
                "content_hash": cand.hash,
            }
            for seq, piece in enumerate(parsed.pieces):
                meta = {
                    **base,
                    "source": path,
                    "chunk_index": seq,
                    "section": piece.heading,
                    "section_index": piece.section_index,
                    "start": piece.start,
                    "end": piece.end,
                }
                if piece.page is not None:
                    meta["page"] = piece.page
                cid = chunk_id(path, cand.hash, fingerprint, seq)
                chunks.append(Chunk.from_record(cid, piece.text, meta))
                rows.append(ChunkRow(cid, path, seq, piece.text, piece.embed_text, meta))
                embed_texts.append(piece.embed_text)
            pages = doc.pages or 1
            report.pages += pages
            records.append(
                FileRecord(
                    path,
                    cand.hash,
                    fingerprint,
                    cand.size,
                    cand.mtime,
                    doc.file_type,
                    pages,
                    doc.chars,
                    len(parsed.pieces),
                )
            )
        t0 = time.perf_counter()
        vectors = self.embedder.embed_documents(embed_texts)
        report.embed_seconds += time.perf_counter() - t0
        self._write(chunks, vectors, records, rows, removed=[], report=report)

    def _write(
        self,
        chunks: list[Chunk],
        vectors: np.ndarray,
        records: list[FileRecord],
        rows: list[ChunkRow],
        removed: list[str],
        report: IngestReport,
    ) -> None:
        """The crash-safe write: log ids, write Chroma, commit the manifest, then delete what was replaced."""
        t0 = time.perf_counter()
        ids = [c.id for c in chunks]
        self.manifest.log_pending(ids, "add")
        if chunks:
            self.store.upsert(chunks, vectors)
        garbage = self.manifest.commit_files(records, rows, removed)
        if garbage:
            self.store.delete(garbage)
            self.manifest.clear_pending(garbage, "del")
        report.write_seconds += time.perf_counter() - t0
        report.chunks_written += len(chunks)
        report.chunks_removed += len(garbage)

    def _remove_paths(self, paths: list[str], report: IngestReport) -> None:
        self._write([], np.zeros((0, 1), dtype=np.float32), [], [], removed=paths, report=report)

    # --- maintenance ---------------------------------------------------------------------------------
    def _recover(self) -> bool:
        """Undo what a killed run left half-done; returns True when there was something to repair."""
        manifest = self.manifest
        pending = manifest.pending()
        crashed = manifest.get_meta("run_state") == "running"
        if not pending and not crashed:
            return False
        owned = manifest.all_chunk_ids()
        stray = {cid for cid, _op in pending if cid not in owned}
        if crashed:
            # A full reconciliation: anything in Chroma the manifest does not own goes; any file whose chunks
            # are not all in Chroma is forgotten so this run indexes it again.
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
        rows = ((r.id, r.text, r.embed_text, {**r.meta}) for r in self.manifest.chunk_rows())
        LexicalIndex.build(rows, generation).save(self.index_dir)

    def remove(self, prefixes: Sequence[Path]) -> IngestReport:
        """Drop every indexed file under the given paths (the files themselves are not touched)."""
        started = time.perf_counter()
        report = IngestReport()
        with IndexLock(self.index_dir):
            self._recover()
            targets = sorted({f(p) for p in prefixes for f in (os.path.abspath, os.path.realpath)})
            paths = [p for p in self.manifest.files() if any(_is_under(p, t) for t in targets)]
            if paths:
                self._remove_paths(paths, report)
            report.deleted = len(paths)
            self.publish_lexical()
        report.seconds = time.perf_counter() - started
        return report

    def indexed_files(self) -> list[FileRecord]:
        return sorted(self.manifest.files().values(), key=lambda r: r.path)


def _common_tail(a: str, b: str) -> int:
    """How many trailing path components two paths share."""
    n = 0
    for x, y in zip(reversed(Path(a).parts), reversed(Path(b).parts), strict=False):
        if x != y:
            break
        n += 1
    return n


def _is_under(path: str, root: Path | str) -> bool:
    root = str(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _iso(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

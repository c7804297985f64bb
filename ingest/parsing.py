"""The parse stage: each file is read once, hashed, checked against the change plan, and parsed and chunked only
when it must be (re)indexed; it runs in a background thread so the CPU-heavy embedder never waits on it."""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ingest.chunking import Chunker, Piece
from ingest.discovery import Candidate
from ingest.loaders import Document, Loader, SkipFile, file_type_of
from ingest.plan import ChangePlan, Decision
from ingest.records import Fingerprint, content_hash

logger = logging.getLogger(__name__)


@dataclass
class Parsed:
    """One file after the parse stage: what the plan decided and, for a file to index, its chunks."""

    candidate: Candidate
    decision: Decision | None = None  # None when the file could not be read or parsed (see error)
    file_hash: str = ""
    doc: Document | None = None
    pieces: list[Piece] = field(default_factory=list)
    error: str | None = None


class FileParser:
    """Reads, hashes, parses and chunks one file: the work of the parse stage, wherever it runs (the ingest
    process's parse thread, or a Ray task on another machine)."""

    def __init__(self, loaders: dict[str, Loader], chunker: Chunker) -> None:
        self._loaders = loaders
        self._chunker = chunker

    @staticmethod
    def read(candidate: Candidate) -> tuple[bytes, str] | Parsed:
        """The file's bytes and content hash, or a Parsed with the reason it cannot be read. The file read is the one
        discovery checked (candidate.real), opened without following a link that has replaced it since."""
        try:
            fd = os.open(candidate.real or candidate.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return Parsed(candidate, error=f"cannot read file ({exc.strerror or exc}); check permissions")
        return data, content_hash(data)

    def load(self, candidate: Candidate, file_hash: str, data: bytes, decision: Decision | None = None) -> Parsed:
        """Parse and chunk one file's bytes; a failure is the file's skip reason, never the run's end."""
        try:
            if not data.strip():
                raise SkipFile(f"empty file ({candidate.size} bytes)")
            doc = self._loaders[file_type_of(candidate.path) or ""].load(candidate.path, data)
            return Parsed(candidate, decision, file_hash, doc, self._chunker.split(doc))
        except SkipFile as exc:
            return Parsed(candidate, file_hash=file_hash, error=str(exc))
        except RecursionError:
            return Parsed(candidate, file_hash=file_hash, error="document nesting too deep to parse")
        except Exception as exc:  # a parser bug on one file must not stop the run
            logger.exception("unexpected error parsing %s", candidate.path)
            return Parsed(
                candidate, file_hash=file_hash, error=f"parser error ({type(exc).__name__}: {str(exc)[:120]})"
            )

    def parse_unless(self, candidate: Candidate, indexed_as: str | None) -> Parsed:
        """Read and hash the file; parse it unless its hash is indexed_as (then it is most likely unchanged and
        the plan, applied later, decides). No decision is attached."""
        read = self.read(candidate)
        if isinstance(read, Parsed):
            return read
        data, file_hash = read
        if file_hash == indexed_as:
            return Parsed(candidate, file_hash=file_hash)
        return self.load(candidate, file_hash, data)


class ParseStage:
    """Turns candidates into Parsed items, in order: the plan's decision for each, and chunks where needed."""

    def __init__(self, parser: FileParser, plan: ChangePlan, fingerprint: Fingerprint) -> None:
        self.parser = parser
        self._plan = plan
        self.fingerprint = fingerprint

    def parse(self, candidate: Candidate) -> Parsed:
        read = self.parser.read(candidate)
        if isinstance(read, Parsed):
            return read
        data, file_hash = read
        decision = self._plan.decide(candidate, file_hash, self.fingerprint.of(candidate.path))
        if decision.action != "index":
            return Parsed(candidate, decision, file_hash)
        return self.parser.load(candidate, file_hash, data, decision)

    def load(self, candidate: Candidate, decision: Decision, file_hash: str, data: bytes) -> Parsed:
        return self.parser.load(candidate, file_hash, data, decision)

    def settle(self, item: Parsed) -> Parsed:
        """The plan's decision for an item parsed elsewhere (FileParser.parse_unless), in candidate order."""
        if item.error is not None and not item.file_hash:
            return item  # unreadable
        candidate = item.candidate
        decision = self._plan.decide(candidate, item.file_hash, self.fingerprint.of(candidate.path))
        if decision.action != "index":
            return Parsed(candidate, decision, item.file_hash)
        if item.error is not None:
            return item
        if item.doc is None:  # skipped as unchanged, yet the plan indexes it: parse it here
            return self.parse(candidate)
        item.decision = decision
        return item

    def stream(self, candidates: Sequence[Candidate]) -> Iterator[Parsed]:
        """Parsed items in candidate order, produced by a background thread a bounded queue ahead."""
        out: queue.Queue[Parsed | None] = queue.Queue(maxsize=64)
        stop = threading.Event()

        def produce() -> None:
            try:
                for candidate in candidates:
                    if stop.is_set():
                        return
                    out.put(self.parse(candidate))
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

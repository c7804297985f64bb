"""The parse stage: each file is read once, hashed, checked against the change plan, and parsed and chunked only
when it must be (re)indexed; it runs in a background thread so the CPU-heavy embedder never waits on it."""

from __future__ import annotations

import contextlib
import logging
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


class ParseStage:
    """Turns candidates into Parsed items, in order."""

    def __init__(
        self, loaders: dict[str, Loader], chunker: Chunker, plan: ChangePlan, fingerprint: Fingerprint
    ) -> None:
        self._loaders = loaders
        self._chunker = chunker
        self._plan = plan
        self._fingerprint = fingerprint

    def parse(self, candidate: Candidate) -> Parsed:
        try:
            data = candidate.path.read_bytes()
        except OSError as exc:
            return Parsed(candidate, error=f"cannot read file ({exc.strerror or exc}); check permissions")
        file_hash = content_hash(data)
        decision = self._plan.decide(candidate, file_hash, self._fingerprint.of(candidate.path))
        if decision.action != "index":
            return Parsed(candidate, decision, file_hash)
        return self.load(candidate, decision, file_hash, data)

    def load(self, candidate: Candidate, decision: Decision, file_hash: str, data: bytes) -> Parsed:
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

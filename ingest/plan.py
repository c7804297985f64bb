"""The change plan: what a run does with each file found, and with each indexed file that was not found.

Files are compared with the manifest by content hash: the same content and configuration is unchanged; a new
path whose content equals an indexed file that is gone is a move (its vectors are reused, nothing is embedded);
anything else is (re)indexed. Indexed files under the run's roots that were not found are deleted after the
pass, unless a move consumed them. A vanished file outside the roots may be the source of a move (a renamed
root folder), but a run that was not given its folder never deletes it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.discovery import Candidate, is_under
from ingest.manifest import FileRecord

Action = Literal["unchanged", "move", "index"]


@dataclass(frozen=True)
class Decision:
    """What to do with one file; `moved_from` names the indexed file whose vectors a move reuses."""

    action: Action
    moved_from: str | None = None
    changed: bool = False  # index: the path was indexed before (a changed file), not a new one


class ChangePlan:
    """Decisions for one run. `decide` may be called from the parse thread while the writer runs."""

    def __init__(
        self, known: dict[str, FileRecord], found: Sequence[Candidate], roots: Sequence[Path], skipped: set[str]
    ) -> None:
        self._known = known
        seen = {str(c.path) for c in found}
        unseen = [p for p in known if p not in seen and p not in skipped]
        self._deletable = {p for p in unseen if any(is_under(p, r) for r in roots)}
        vanished = [p for p in unseen if p not in self._deletable and not os.path.lexists(p)]
        self._sources: dict[str, list[str]] = {}  # content hash -> gone paths a new file may have moved from
        for path in [*sorted(self._deletable), *vanished]:
            self._sources.setdefault(known[path].hash, []).append(path)
        self._consumed: set[str] = set()
        self._lock = threading.Lock()

    def decide(self, candidate: Candidate, content_hash: str, fingerprint: str) -> Decision:
        key = str(candidate.path)
        old = self._known.get(key)
        if old is not None:
            if old.hash == content_hash and old.fingerprint == fingerprint:
                return Decision("unchanged")
            return Decision("index", changed=True)
        with self._lock:
            sources = [
                p
                for p in self._sources.get(content_hash, [])
                if p not in self._consumed and self._known[p].fingerprint == fingerprint
            ]
            if not sources:
                return Decision("index")
            # Several gone copies of this content: the one whose path ends most like the new one moved.
            source = max(sources, key=lambda p: (_common_tail(p, key), p))
            self._consumed.add(source)
        return Decision("move", moved_from=source)

    def release(self, source: str) -> None:
        """A move that could not be carried out: its source is deleted at the end like any gone file."""
        with self._lock:
            self._consumed.discard(source)

    def deletions(self) -> list[str]:
        """Indexed files under the roots that were not found and not moved: removed after the pass."""
        with self._lock:
            return sorted(p for p in self._deletable if p not in self._consumed)


def _common_tail(a: str, b: str) -> int:
    """How many trailing path components two paths share."""
    n = 0
    for x, y in zip(reversed(Path(a).parts), reversed(Path(b).parts), strict=False):
        if x != y:
            break
        n += 1
    return n

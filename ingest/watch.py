"""Folders kept in sync: one batch run, then another after each burst of changes (watchdog: inotify on Linux).

Every change is applied by the same incremental batch run as `python -m ingest PATH` (files hashed, new, changed,
moved and deleted ones found by the change plan, written crash-safely), so a watcher killed at any moment leaves
an index that its next start, or any batch run, completes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from configs.errors import IndexBusy, KBError

if TYPE_CHECKING:
    from ingest.indexer import Indexer, IngestReport

logger = logging.getLogger(__name__)

_IGNORED_SUFFIXES = (".swp", ".swx", ".tmp", ".part", ".crdownload", "~")


def _relevant(path: str, ignore: Sequence[Path]) -> bool:
    """Whether a changed path can change the index: not an editor's swap or partial download, nor the index itself
    (an index kept inside a watched folder would otherwise wake the watcher with its own writes)."""
    name = path.rsplit("/", 1)[-1]
    if name.endswith(_IGNORED_SUFFIXES) or name.startswith((".#", "~$")):
        return False
    return not any(path == str(p) or path.startswith(f"{p}/") for p in ignore)


class FolderWatch:
    """Applies changes under the roots to the index within `debounce_s` of the last one of a burst (at most
    `max_delay_s` after the first, so a folder that never stops changing is still indexed)."""

    def __init__(
        self,
        indexer: Indexer,
        roots: Sequence[Path],
        debounce_s: float = 1.0,
        max_delay_s: float = 30.0,
        on_report: Callable[[IngestReport], None] | None = None,
        writing: threading.Lock | None = None,
    ) -> None:
        self.indexer = indexer
        self.roots = [r.resolve() for r in roots]
        self.debounce_s = debounce_s
        self.max_delay_s = max(max_delay_s, debounce_s)
        self.on_report = on_report or (lambda _report: None)
        self.stop = threading.Event()
        self._changed = threading.Event()
        self._first = 0.0
        self._last = 0.0
        self._lock = threading.Lock()
        self._writing = writing or threading.Lock()  # shared with other writers in this process (uploads)
        self._ignore = [indexer.index_dir.resolve()]
        self._missing = ""
        self._devices: dict[Path, int] = {}  # each root's device when first seen
        self._held: dict[Path, bool] = {}  # whether each root held anything at its last applied run
        self.runs = 0

    def changed(self, path: str) -> None:
        """Note a change at path (called from the observer's thread)."""
        if not _relevant(path, self._ignore):
            return
        now = time.monotonic()
        with self._lock:
            if not self._changed.is_set():
                self._first = now
            self._last = now
            self._changed.set()

    def run(self) -> None:
        """Index the roots now, then watch them until stop is set (from another thread, or Ctrl-C in the CLI)."""
        from watchdog.observers import Observer

        observer = Observer()
        handler = _Handler(self)
        for root in self.roots:
            observer.schedule(handler, str(root if root.is_dir() else root.parent), recursive=root.is_dir())
        observer.start()  # before the first run: a change made while it runs is seen and applied after it
        try:
            self._apply()
            while not self.stop.is_set():
                if not self._changed.wait(timeout=0.5):
                    continue
                self._settle()
                if self.stop.is_set():
                    break
                self._apply()
        finally:
            observer.stop()
            observer.join(timeout=5)

    def _settle(self) -> None:
        """Wait until the burst of changes is over (debounce_s without one, or max_delay_s since its first)."""
        while not self.stop.is_set():
            with self._lock:
                now = time.monotonic()
                quiet = now - self._last >= self.debounce_s
                overdue = now - self._first >= self.max_delay_s
                if quiet or overdue:
                    self._changed.clear()
                    return
                wait = min(self.debounce_s - (now - self._last), self.max_delay_s - (now - self._first))
            self.stop.wait(max(wait, 0.01))

    def _gone(self) -> list[Path]:
        """Roots that are not there as they were: missing, on another device than when the watch began (a share
        unmounted, its mount point left behind), or empty where they held files (a share that vanished)."""
        gone = []
        for root in self.roots:
            try:
                device = root.stat().st_dev
            except OSError:
                gone.append(root)
                continue
            moved = self._devices.setdefault(root, device) != device
            emptied = root.is_dir() and self._held.get(root, False) and not any(root.iterdir())
            if moved or emptied:
                gone.append(root)
        return gone

    def _apply(self) -> None:
        gone = self._gone()
        if gone:
            # A run without these roots' files would delete what they hold from the index: nothing is applied
            # until they are back. Emptying a watched folder on purpose: `python -m ingest --remove PATH`.
            names = ", ".join(str(r) for r in gone)
            if names != self._missing:
                logger.error(
                    "watched folder missing, empty or on another device (unmounted?): %s; nothing is applied until it "
                    "is back (to drop its files from the index: python -m ingest --remove PATH)",
                    names,
                )
            self._missing = names
            self._changed.set()
            self.stop.wait(max(self.debounce_s, 1.0))
            return
        existing = self.roots
        self._missing = ""
        try:
            with self._writing:
                report = self.indexer.run(existing)
        except IndexBusy as exc:  # another run holds the index: try again shortly
            logger.warning("%s; retrying", exc)
            self._changed.set()
            self.stop.wait(max(self.debounce_s, 1.0))
            return
        except KBError as exc:
            logger.error("watch: %s", exc)
            return
        except Exception:  # a store error must not end the watch: the next change tries again
            logger.exception("watch: the run failed; the next change retries it")
            return
        self.runs += 1
        for root in self.roots:
            try:
                self._held[root] = root.is_file() or any(root.iterdir())
            except OSError:
                self._held[root] = False
        self.on_report(report)


class _Handler(FileSystemEventHandler):
    """Every event reduced to 'something changed at these paths'."""

    def __init__(self, watch: FolderWatch) -> None:
        self._watch = watch

    def dispatch(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads (including the indexer's own) change nothing
        if event.is_directory and event.event_type == "modified":
            return  # a folder's mtime: its files' own events follow
        self._watch.changed(str(event.src_path))
        dest = event.dest_path
        if dest:
            self._watch.changed(str(dest))

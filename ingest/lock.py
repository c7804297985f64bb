"""One writer per index: an exclusive, non-blocking lock on the index folder, released by the OS if we die."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from configs.errors import IndexBusy


class IndexLock:
    """`with IndexLock(index_dir):` holds the index for one run; a second run is refused with the holder's pid."""

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

"""What one file may spend while it is read, shared by everything read out of it.

A spreadsheet's rows, an e-mail's attachments and the messages attached to it all draw on the one budget of the file
the user gave: table cells (ingest.max_table_cells), characters of text (ingest.max_unpacked_mb, counted as rendered,
so a repeated row or a shared string cannot multiply a small file into gigabytes) and OCR time
(ingest.ocr_file_timeout_s, counted from the moment the file began to be read).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ingest.archives import MB, ArchiveLimits
from ingest.documents import SkipFile

if TYPE_CHECKING:
    from ingest.documents import Document


class FileBudget:
    """Cells and characters used so far by one file (with all its parts), and when it began to be read."""

    def __init__(self, limits: ArchiveLimits | None = None, scope: str = "") -> None:
        limits = limits or ArchiveLimits()
        self.max_cells = limits.max_table_cells
        self.max_chars = int(limits.max_unpacked_mb * MB)
        self._mb = limits.max_unpacked_mb
        self.scope = scope  # how the limit is counted, for the reason: "" or ", the e-mail and all its attachments"
        self.cells = self.chars = 0
        self.started = time.monotonic()

    def take_cells(self, cells: int, kind: str) -> None:
        """Count `cells` more; refuse the file once over ingest.max_table_cells."""
        self.cells += cells
        if self.cells > self.max_cells:
            raise SkipFile(
                f"{kind} has more than {self.max_cells} cells (ingest.max_table_cells{self.scope}); split the file "
                "or raise the limit"
            )

    def check_cells(self, more: int, kind: str) -> None:
        """Refuse the file if `more` cells on top of those counted would be over the limit (nothing is counted)."""
        if self.cells + more > self.max_cells:
            self.take_cells(more, kind)

    def room(self) -> int:
        """Characters left before the limit."""
        return self.max_chars - self.chars

    def take_chars(self, chars: int, kind: str) -> None:
        """Count `chars` more characters of text; refuse the file once over ingest.max_unpacked_mb."""
        self.chars += chars
        if self.chars > self.max_chars:
            raise SkipFile(
                f"{kind} gives more than {self._mb:g} MB of text (ingest.max_unpacked_mb{self.scope}); split the "
                "file or raise the limit"
            )


@runtime_checkable
class SharedBudgetLoader(Protocol):
    """A loader that can read a file within a budget it shares with other files (an e-mail's attachments)."""

    def load_within(self, path: Path, data: bytes, budget: FileBudget) -> Document: ...

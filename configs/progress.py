"""Progress bars for the entry points (library code reports progress through a callback, never draws it)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Progress = Callable[[str, int], None]  # (event, amount): "total" to expect, or one or more done


@contextmanager
def progress_bar(desc: str, unit: str) -> Iterator[Progress]:
    """A tqdm bar on stderr (hidden when stderr is not a terminal) driven by the library's callback."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit=unit, desc=desc, disable=None, file=sys.stderr)

    def progress(event: str, amount: int) -> None:
        if event == "total":
            bar.total = amount
            bar.refresh()
        else:
            bar.update(amount)

    try:
        yield progress
    finally:
        bar.close()

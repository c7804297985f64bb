"""Files uploaded from the page: copied into their collection's folder, within the size limit, then indexed."""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_uploads(paths: list[Path], folder: Path, max_mb: float) -> tuple[list[Path], list[str]]:
    """Copy uploaded files into the collection folder; too-large files are refused with a reason."""
    folder.mkdir(parents=True, exist_ok=True)
    copied, refused = [], []
    for p in paths:
        size_mb = p.stat().st_size / 1048576
        if size_mb > max_mb:
            refused.append(f"{p.name}: {size_mb:.1f} MB is over serving.upload_max_mb={max_mb:g}")
            continue
        target = folder / Path(p.name).name
        shutil.copyfile(p, target)
        copied.append(target)
    return copied, refused

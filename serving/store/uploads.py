"""Files uploaded from the page: copied into their collection's folder, within the size limit, then indexed. A copy
the index refuses is taken out again (the file it replaced is put back), so the folder keeps only what is indexed."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Staged:
    """One upload's copies: what was copied, refused before copying, and the files copies replaced (kept aside)."""

    copied: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    replaced: dict[Path, Path] = field(default_factory=dict)  # copy -> the previous file, until settled


def copy_uploads(paths: list[Path], folder: Path, max_mb: float, aside: Path) -> Staged:
    """Copy uploaded files into the collection folder (too-large files are refused with a reason); a file of the
    same name already there is moved to `aside` (outside every ingest root) until `settle`."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = Staged()
    for p in paths:
        size_mb = p.stat().st_size / 1048576
        if size_mb > max_mb:
            staged.refused.append(f"{p.name}: {size_mb:.1f} MB is over serving.upload_max_mb={max_mb:g}")
            continue
        target = folder / Path(p.name).name
        if target in staged.replaced or target in staged.copied:  # the same name twice in one upload: last wins
            shutil.copyfile(p, target)
            continue
        if os.path.lexists(target):
            aside.mkdir(parents=True, exist_ok=True)
            previous = aside / target.name
            os.replace(target, previous)  # a link stays a link: the new copy never writes through one
            staged.replaced[target] = previous
        shutil.copyfile(p, target)
        staged.copied.append(target)
    return staged


def settle(staged: Staged, refused: set[str]) -> None:
    """After indexing: copies whose (real) path is in `refused` are removed and what they replaced is put back;
    the replaced files of accepted copies are dropped."""
    for target in staged.copied:
        previous = staged.replaced.get(target)
        if os.path.realpath(target) in refused or str(target) in refused:
            if previous is not None:
                os.replace(previous, target)
            else:
                target.unlink(missing_ok=True)
        elif previous is not None:
            previous.unlink(missing_ok=True)

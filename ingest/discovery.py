"""Discovery: the files under the ingest roots that may be indexed, each with its place (collection, tags)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from configs.settings import IngestSettings
from ingest.loaders import file_type_of

Skip = Callable[[Path | str, str], None]  # (path, reason): a file left out, reported with its reason


@dataclass(frozen=True)
class Candidate:
    """A file found under an ingest root."""

    path: Path
    root: Path  # the folder it was found under: its collection and tags are relative to it
    size: int
    mtime: float
    real: Path | None = None  # the file read: path with the links followed inside the root resolved (None: path)


@dataclass(frozen=True)
class Place:
    """Where a file sits below the folder it was ingested from."""

    relpath: str
    filename: str
    folder: str
    collection: str  # the first folder below the root, or the root's own name
    tags: tuple[str, ...]  # every folder name

    @classmethod
    def of(cls, path: Path, root: Path) -> Place:
        rel = path.relative_to(root)
        folders = list(rel.parent.parts)
        collection = folders[0] if folders else (root.name or "default")
        return cls(rel.as_posix(), path.name, "/".join(folders), collection, tuple(folders or [collection]))


def discover(roots: Sequence[Path], settings: IngestSettings, skip: Skip) -> Iterator[Candidate]:
    """Every indexable file under the roots, once, in a stable order; anything else is reported to skip.

    Roots are canonical (symlinks resolved). Below them a symlink is followed only to a target inside the same root
    and the same collection as the link itself: a link must not index /etc, the keys database or another
    collection's file into this one."""
    limit = int(settings.max_file_mb * 1024 * 1024)
    seen_dirs: set[tuple[int, int]] = set()
    seen: set[Path] = set()
    for root in roots:
        files = iter([(root, root.parent, root)]) if root.is_file() else _files_under(root, settings, seen_dirs, skip)
        for path, base, real in files:
            if path in seen:
                continue
            seen.add(path)
            try:
                st = real.stat()
            except OSError as exc:
                skip(path, f"cannot read file ({exc.strerror or exc}); check the link or permissions")
                continue
            if file_type_of(path) is None or path.suffix.lower() not in settings.extensions:
                skip(path, f"unsupported file type '{path.suffix or '(none)'}'")
            elif not stat.S_ISREG(st.st_mode):
                skip(path, "not a regular file")
            elif st.st_size > limit:
                skip(
                    path,
                    f"file is {st.st_size / 1048576:.1f} MB, over ingest.max_file_mb={settings.max_file_mb:g}; "
                    "raise the limit to index it",
                )
            else:
                yield Candidate(path, base, st.st_size, st.st_mtime, real)


def link_refusal(link: Path, target: Path, root: Path, is_dir: bool) -> str | None:
    """Why a symlink at `link` (below root) may not be followed to its resolved `target`, or None if it may: the
    target must lie inside the root and in the collection the link itself is in (what is found through a link takes
    its collection from the link's place, so a link from hr/ into it/ would put the it/ files in hr)."""
    if not is_under(str(target), root):
        return "symlink points outside the ingest root; links are followed only to files inside the folder ingested"
    # Where a file below (or at) the link sits, and where it really is.
    found, really = (link / "_", target / "_") if is_dir else (link, target)
    theirs = Place.of(really, root).collection
    if Place.of(found, root).collection != theirs:
        return f"symlink points into another collection ({theirs!r}); links are followed only within their own"
    return None


def _files_under(
    root: Path, settings: IngestSettings, seen_dirs: set[tuple[int, int]], skip: Skip
) -> Iterator[tuple[Path, Path, Path]]:
    """(path, root, real file) for every file below root; folders are walked through their real paths, so a link
    swapped in while walking is never followed unchecked, and each real folder once (links cannot loop)."""
    stack: list[tuple[Path, Path]] = [(root, root)]  # (the folder as found, its real path)
    while stack:
        folder, real_folder = stack.pop()
        try:  # O_NOFOLLOW: a folder swapped for a link since it was listed is not entered
            fd = os.open(real_folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            skip(folder, f"cannot list folder ({exc.strerror or exc})")
            continue
        try:
            st = os.fstat(fd)
            with os.scandir(fd) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skip(folder, f"cannot list folder ({exc.strerror or exc})")
            continue
        finally:
            os.close(fd)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a folder reached twice (through a link)
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        subfolders: list[tuple[Path, Path]] = []
        for entry in entries:
            if settings.skip_hidden and entry.name.startswith("."):
                continue
            path, real = folder / entry.name, real_folder / entry.name
            try:
                is_link = entry.is_symlink()
                if is_link:
                    real = Path(os.path.realpath(real, strict=True))
                is_dir = real.is_dir() if is_link else entry.is_dir(follow_symlinks=False)
            except OSError as exc:  # a dangling link, or a link loop
                skip(path, f"cannot read file ({exc.strerror or exc}); check the link or permissions")
                continue
            why = link_refusal(path, real, root, is_dir) if is_link else None
            if why is not None:
                skip(path, why)
                continue
            if is_dir:
                subfolders.append((path, real))
            else:
                yield path, root, real
        stack.extend(reversed(subfolders))


def is_under(path: str, root: Path | str) -> bool:
    root = str(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

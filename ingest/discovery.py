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
    """Every indexable file under the roots, once, in a stable order; anything else is reported to skip."""
    limit = int(settings.max_file_mb * 1024 * 1024)
    seen_dirs: set[tuple[int, int]] = set()
    seen: set[Path] = set()
    for root in roots:
        files = iter([(root, root.parent)]) if root.is_file() else _files_under(root, settings, seen_dirs, skip)
        for path, base in files:
            if path in seen:
                continue
            seen.add(path)
            try:
                st = path.stat()
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
                yield Candidate(path, base, st.st_size, st.st_mtime)


def _files_under(
    root: Path, settings: IngestSettings, seen_dirs: set[tuple[int, int]], skip: Skip
) -> Iterator[tuple[Path, Path]]:
    def onerror(exc: OSError) -> None:
        skip(exc.filename or root, f"cannot list folder ({exc.strerror or exc})")

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=onerror):
        try:
            st = os.stat(dirpath)
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # a symlink loop or a folder reached twice
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        if settings.skip_hidden:
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        dirnames.sort()
        for name in sorted(filenames):
            if settings.skip_hidden and name.startswith("."):
                continue
            yield Path(dirpath) / name, root


def is_under(path: str, root: Path | str) -> bool:
    root = str(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)

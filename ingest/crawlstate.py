"""What a crawl keeps between runs: each page's saved copy (the mirror, inside the index) and its validators.

The mirror is IDX/web/<site folder>/<hash of the URL>.html, the page's bytes as fetched; crawl.sqlite beside it holds
per URL the copy's file, the ETag / Last-Modified to send next time, the content hash and the crawl (site) that
owns it. A copy is written atomically before its row; a row is deleted before its copy. `reconcile` repairs what a
killed run left (a copy without a row, a row without a copy), so the indexer only ever sees copies with a URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

FOLDER = "web"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY, site TEXT NOT NULL, file TEXT NOT NULL, etag TEXT NOT NULL, last_modified TEXT NOT NULL,
    hash TEXT NOT NULL, title TEXT NOT NULL, fetched_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_site ON pages(site);
"""

# What a crawled URL's path and query keep unescaped (the crawler normalizes to it; a chunk's source link too).
PATH_SAFE = "/:@!$&'()*+,;=%-._~"
QUERY_SAFE = PATH_SAFE + "?"


@dataclass(frozen=True)
class PageRow:
    """One saved page."""

    url: str
    site: str  # the crawl that owns it (its start scope)
    file: str  # the copy, relative to the mirror root
    etag: str
    last_modified: str
    hash: str
    title: str
    fetched_at: float


def site_folder(url: str) -> str:
    """The mirror folder (and so the collection) of a URL's host: 'docs.example.com', or 'host_8080' with a port."""
    return urlsplit(url).netloc.lower().replace(":", "_")


def copy_name(url: str) -> str:
    """The saved copy's path below the mirror root."""
    return f"{site_folder(url)}/{hashlib.sha256(url.encode()).hexdigest()[:32]}.html"


class CrawlState:
    """The mirror folder and its SQLite state, inside one index."""

    def __init__(self, index_dir: Path) -> None:
        self.root = index_dir / FOLDER
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.root / "crawl.sqlite"), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def get(self, url: str) -> PageRow | None:
        row = self._db.execute("SELECT * FROM pages WHERE url = ?", (url,)).fetchone()
        return PageRow(*row) if row else None

    def rows(self, site: str | None = None) -> list[PageRow]:
        query, args = ("SELECT * FROM pages WHERE site = ?", (site,)) if site else ("SELECT * FROM pages", ())
        return [PageRow(*r) for r in self._db.execute(query + " ORDER BY url", args)]

    def path(self, row: PageRow) -> Path:
        return self.root / row.file

    def save(self, row: PageRow, data: bytes | None) -> None:
        """Record a page; with data, its copy is (re)written first, atomically."""
        if data is not None:
            target = self.root / row.file
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        self._db.execute(
            "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.url, row.site, row.file, row.etag, row.last_modified, row.hash, row.title, row.fetched_at),
        )

    def forget(self, row: PageRow) -> None:
        """Drop a page: its row, then its copy (the next index run removes its chunks)."""
        self._db.execute("DELETE FROM pages WHERE url = ?", (row.url,))
        with contextlib.suppress(FileNotFoundError):
            (self.root / row.file).unlink()

    def reconcile(self) -> int:
        """Remove copies without a row (and temporary files) and rows without a copy; how many were removed."""
        rows = self.rows()
        owned = {r.file for r in rows}
        removed = 0
        for r in rows:
            if not (self.root / r.file).is_file():
                self._db.execute("DELETE FROM pages WHERE url = ?", (r.url,))
                removed += 1
        for folder in (p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()):
            for path in folder.iterdir():
                if f"{folder.name}/{path.name}" not in owned and path.is_file():
                    path.unlink()
                    removed += 1
        return removed

    def urls(self, folders: set[str]) -> dict[str, str]:
        """Saved copy's absolute path -> URL, for the pages in these site folders."""
        real = Path(os.path.realpath(self.root))  # the indexer names files by their canonical path
        return {str(real / r.file): r.url for r in self.rows() if r.file.split("/", 1)[0] in folders}

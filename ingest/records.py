"""What ingest stores for a chunk: its deterministic id and its typed metadata, built in one place."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ingest.chunking import Piece
from ingest.discovery import Candidate, Place
from ingest.loaders import Document, file_type_of, loader_version
from retrieval.types import ChunkMeta


class Fingerprint:
    """What shapes a file's chunks and vectors, per file type: the chunking and embedder settings (base) and the
    version of the loader that reads that type. A file indexed under another fingerprint is indexed again."""

    def __init__(self, base: dict[str, Any]) -> None:
        self._base = base
        self._cache: dict[str, str] = {}

    def of(self, path: Path | str) -> str:
        version = loader_version(file_type_of(Path(path)) or "")
        if version not in self._cache:
            spec = {**self._base, "loader": version}
            self._cache[version] = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        return self._cache[version]


def chunk_id(path: str, file_hash: str, fingerprint: str, seq: int) -> str:
    """Deterministic: the same file content at the same path with the same config gives the same ids, so a
    repeated write (a retried batch, a run after a crash) replaces rather than duplicates."""
    return hashlib.sha256(f"{path}\0{file_hash}\0{fingerprint}\0{seq}".encode()).hexdigest()[:32]


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _placed(meta: ChunkMeta, candidate: Candidate, url: str = "") -> ChunkMeta:
    place = Place.of(candidate.path, candidate.root)
    placed = replace(
        meta,
        relpath=place.relpath,
        filename=place.filename,
        folder=place.folder,
        collection=place.collection,
        tags=place.tags,
        mtime=int(candidate.mtime),
        modified=datetime.fromtimestamp(candidate.mtime, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        url=url,
    )
    return _at_url(placed, url) if url else placed


def _at_url(meta: ChunkMeta, url: str) -> ChunkMeta:
    """A crawled page's chunk is named by its URL (host and path), not by the saved copy's file name; its
    collection stays the site's folder (the host)."""
    from ingest.crawlstate import PATH_SAFE, QUERY_SAFE

    parts = urlsplit(url)
    path = quote(parts.path or "/", safe=PATH_SAFE)  # a page crawled before URLs were normalized so: no markup in it
    where = parts.netloc + path + (f"?{quote(parts.query, safe=QUERY_SAFE)}" if parts.query else "")
    folder = parts.netloc + path.rsplit("/", 1)[0]
    return replace(meta, relpath=where, filename=path.rsplit("/", 1)[-1] or parts.netloc, folder=folder)


def chunk_meta(candidate: Candidate, file_hash: str, doc: Document, piece: Piece, seq: int, url: str = "") -> ChunkMeta:
    """The metadata of one new chunk; `url` for a crawled page's saved copy (then the chunk's source)."""
    meta = ChunkMeta(
        file_type=doc.file_type,
        title=doc.title,
        content_hash=file_hash,
        chunk_index=seq,
        section=piece.heading,
        section_index=piece.section_index,
        start=piece.start,
        end=piece.end,
        page=piece.page,
        ocr=doc.sections[piece.section_index].ocr,
    )
    return _placed(meta, candidate, url)


def moved_meta(meta: ChunkMeta, candidate: Candidate, url: str = "") -> ChunkMeta:
    """The metadata of a chunk whose file moved: the same content, a new place."""
    return _placed(meta, candidate, url)

"""The values that pass between stages: frozen dataclasses, no behaviour beyond conversions."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

# Stores keep metadata as flat scalar records (Chroma allows nothing else). Tags become one boolean key per tag,
# so that a tag filter is an ordinary equality test in Chroma and in the lexical index alike.
TAG_PREFIX = "tag:"


@dataclass(frozen=True)
class ChunkMeta:
    """Where a chunk comes from and what it is: the one definition of chunk metadata.

    Written by ingest, read by filters, retrieval metrics, the answer chain, the page and the API; stored flat
    (to_record) in Chroma, the manifest and the lexical index under the same key names as these fields.
    """

    relpath: str = ""  # path below the ingested folder, e.g. "hr/leave-policy.md"
    filename: str = ""
    folder: str = ""  # folders below the ingested folder, "/"-joined
    collection: str = ""  # the first folder below the ingested folder
    tags: tuple[str, ...] = ()  # every folder name
    file_type: str = ""  # pdf, docx, pptx, html, md, txt
    title: str = ""
    mtime: int = 0  # file modification time, epoch seconds (date filters compare it)
    modified: str = ""  # the same as ISO 8601 UTC
    content_hash: str = ""  # SHA-256 of the file
    chunk_index: int = 0  # position of the chunk in its file
    section: str = ""  # heading path, e.g. "Leave Policy > Sick leave"
    section_index: int = 0
    start: int = 0  # character offsets of the chunk within its page/section text
    end: int = 0
    page: int | None = None  # PDF page or slide number, from 1
    url: str = ""  # a crawled web page's URL (ingest/crawl.py); it is then the chunk's source, not the copy's path
    ocr: bool = False  # the text was read by OCR (a scanned page or an image); stored only when true

    def to_record(self, source: str) -> dict[str, Any]:
        """The flat record the stores keep (with the file's absolute path, or a web page's URL, under `source`)."""
        record: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "tags":
                record.update({TAG_PREFIX + t: True for t in value})
            elif f.name == "ocr":
                if value:  # absent otherwise: records of text files stay as they were before OCR existed
                    record["ocr"] = True
            elif value is not None and (value or f.name != "url"):  # a file's record has no url key
                record[f.name] = value
        record["source"] = self.url or source
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ChunkMeta:
        """Inverse of to_record (unknown keys, such as `source`, are not metadata)."""
        known = {f.name for f in fields(cls)} - {"tags"}
        values = {k: v for k, v in record.items() if k in known}
        tags = tuple(sorted(k[len(TAG_PREFIX) :] for k, v in record.items() if k.startswith(TAG_PREFIX) and v is True))
        if values.get("page") is not None:
            values["page"] = int(values["page"])
        if "ocr" in values:
            values["ocr"] = values["ocr"] is True
        return cls(tags=tags, **values)


@dataclass(frozen=True)
class Chunk:
    """A piece of one document, as indexed."""

    id: str
    text: str  # verbatim text of the chunk, a slice of its page/section text
    source: str  # absolute path of the original file, or a web page's URL
    meta: ChunkMeta = field(default_factory=ChunkMeta, hash=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        """Flat metadata for the stores (Chroma, lexical index, manifest)."""
        return self.meta.to_record(self.source)

    @classmethod
    def from_record(cls, chunk_id: str, text: str, record: dict[str, Any]) -> Chunk:
        """Inverse of to_record."""
        return cls(id=chunk_id, text=text, source=str(record.get("source", "")), meta=ChunkMeta.from_record(record))


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its final score and how each retriever ranked it (1-based)."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict, hash=False, compare=False)
    scores: dict[str, float] = field(default_factory=dict, hash=False, compare=False)

"""What every loader shares: the Document of Sections it returns, SkipFile with its one-line reason, the Loader
protocol, text decoding, and which file type a path is read as (ingest.formats maps the types to loaders)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

logger = logging.getLogger("ingest.loaders")


class SkipFile(Exception):
    """This file cannot be indexed; str() is the one-line reason shown in the run report."""


@dataclass(frozen=True)
class Section:
    """A page (PDF, slide) or a heading's section, with its verbatim text."""

    text: str
    page: int | None = None
    heading: str = ""
    ocr: bool = False  # the text was read by OCR from an image of the page


@dataclass(frozen=True)
class Document:
    """What a loader extracted from one file."""

    path: Path
    file_type: str
    title: str
    sections: tuple[Section, ...]
    pages: int = 0  # pages (PDF) or slides (PPTX); 0 where the format has none
    notes: tuple[str, ...] = ()  # what was left out of a file that is indexed (a hidden sheet), for the run report
    warnings: tuple[str, ...] = ()  # what was not read, e.g. "page 3: no text found by OCR" (in the run report)

    @property
    def chars(self) -> int:
        return sum(len(s.text) for s in self.sections)


class Loader(Protocol):
    """Parses one file format."""

    file_types: tuple[str, ...]

    def load(self, path: Path, data: bytes) -> Document: ...


def _check_not_binary(data: bytes, kind: str) -> None:
    head = data[:8192]
    if head.startswith(b"%PDF"):
        raise SkipFile(f"content is a PDF, not {kind}; rename it to .pdf")
    if head.startswith(b"PK\x03\x04"):
        raise SkipFile(f"content is a zip/Office file, not {kind}; give it its real extension")
    if b"\x00" in head:
        raise SkipFile(f"binary content in a {kind} file; remove it or give it its real extension")


def decode_text(data: bytes, kind: str = "text") -> str:
    """UTF-8 when it is, else the most likely encoding (charset-normalizer); binary content is refused."""
    _check_not_binary(data, kind)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise SkipFile(f"not decodable as text in any known encoding; convert it to UTF-8 ({kind})")
    logger.debug("decoded as %s", best.encoding)
    return str(best)


def _clean(text: str) -> str:
    return text.replace("\x00", "").strip()


_FILE_TYPES = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".csv": "csv",
    ".tsv": "tsv",
    ".xlsx": "xlsx",
    ".ods": "ods",
    ".eml": "eml",
    # converted to HTML by pandoc (ingest/pandoc.py)
    ".epub": "epub",
    ".odt": "odt",
    ".rtf": "rtf",
    # images, read by OCR (ingest/images.py)
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".webp": "webp",
    ".bmp": "bmp",
}


def file_type_of(path: Path) -> str | None:
    """The format a file is parsed as, by extension; None if unsupported."""
    return _FILE_TYPES.get(path.suffix.lower())

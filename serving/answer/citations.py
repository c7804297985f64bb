"""Citations: the numbered source shown under an answer, and its [n] markers, checked while streaming so that a
marker pointing at no source never reaches the user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from retrieval.text import sentences
from serving.answer.markers import MARKER, attach_markers, marker_numbers, strip_markers

_MAX_PENDING = 12  # longest marker we wait for, e.g. "[12, 13, 14]"
# Characters a crawled page's URL keeps as they are in a link; anything else (spaces, quotes, brackets, parentheses,
# '|' and '<>' that end a markdown or Slack link) is percent-encoded.
_URL_SAFE = ":/?#@!$&*+,;=%~"
# What ends or starts markdown markup inside link text or a list line: a page's title or URL shows as text, never as a
# second link, an image or an HTML tag.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>])")


def markdown_text(text: str) -> str:
    """text as itself in markdown (a source's name, path or section): one line, its markup characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def source_link(source: str, base_url: str = "", page: int | None = None) -> str:
    """Where a source opens: a crawled web page at its own URL; an indexed file through /v1/files (behind the same
    authentication) under base_url, at its page for a PDF."""
    if source.startswith(("http://", "https://")):
        return quote(source, safe=_URL_SAFE)
    return f"{base_url.rstrip('/')}/v1/files?source={quote(source)}" + (f"#page={page}" if page else "")


@dataclass(frozen=True)
class Citation:
    """A numbered source shown under an answer."""

    index: int
    source: str
    relpath: str
    title: str
    page: int | None
    section: str
    text: str  # the chunk's verbatim text
    start: int  # offsets of the chunk within its page/section text
    end: int
    score: float
    withheld: bool = False  # the passage contained text addressed to the assistant, withheld from the model
    chunk: int = 0  # the chunk's position in its file: reading order across sections
    ocr: bool = False  # the passage was read by OCR from a scan or an image (it may hold misread characters)

    @property
    def where(self) -> str:
        """'page 3' or 'section Sick leave' or '', with ' (OCR)' after text read by OCR."""
        where = f"page {self.page}" if self.page else (f"section {self.section}" if self.section else "")
        if self.ocr:
            return f"{where} (OCR)" if where else "read by OCR"
        return where

    @property
    def label(self) -> str:
        """File, page or section: 'hr/leave-policy.md, section Sick leave'."""
        return f"{self.relpath}, {self.where}" if self.where else self.relpath

    @property
    def context(self) -> str:
        """The passage under its document title and section, as the verifier reads it: a heading line is
        evidence for every sentence under it ("VPN Setup Guide > Connecting" tells what 'the connection' is)."""
        heading = " > ".join(p for p in (self.title, self.section.removeprefix(self.title + " > ")) if p)
        if self.section == self.title:
            heading = self.title
        return f"{heading}\n{self.text}" if heading else self.text

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class CitationFilter:
    """Feed streamed text; get it back with out-of-range [n] markers removed and the valid ones recorded."""

    def __init__(self, n_sources: int) -> None:
        self._n = n_sources
        self._pending = ""
        self.cited: list[int] = []
        self.removed = 0

    def _clean(self, text: str) -> str:
        def fix(match: re.Match[str]) -> str:
            numbers = [int(x) for x in match.group(1).split(",")]
            valid = [n for n in numbers if 1 <= n <= self._n]
            self.removed += len(numbers) - len(valid)
            for n in valid:
                if n not in self.cited:
                    self.cited.append(n)
            return "".join(f"[{n}]" for n in valid)

        return MARKER.sub(fix, text)

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        # Hold back a possibly unfinished marker at the end.
        if cut != -1 and "]" not in text[cut:] and len(text) - cut <= _MAX_PENDING:
            self._pending = text[cut:]
            text = text[:cut]
        else:
            self._pending = ""
        return self._clean(text)

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self._clean(text)


def claims(text: str) -> list[tuple[str, list[int]]]:
    """(sentence with its markers, source numbers it cites) per sentence; a marker written after the full stop
    ("... a receipt. [1]") belongs to the sentence before it."""
    out = []
    for part in attach_markers(sentences(text)):
        if strip_markers(part):
            out.append((part, list(dict.fromkeys(marker_numbers(part)))))
    return out


def with_markers(sentence: str, markers: str) -> str:
    """'Text.' -> 'Text [1].': markers go before the closing punctuation, as the prompt asks the model to write."""
    body = sentence.rstrip()
    end = len(body)
    while end and body[end - 1] in ".!?":
        end -= 1
    return body[:end] + markers + body[end:]

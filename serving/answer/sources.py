"""Numbered sources: what the reader sees under an answer, and what the model and the verifier are given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.types import Hit
from serving.answer.prompts import PromptSource, withhold_instructions


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

    @property
    def where(self) -> str:
        """'page 3' or 'section Sick leave' or ''."""
        return f"page {self.page}" if self.page else (f"section {self.section}" if self.section else "")

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


def number_hits(hits: list[Hit], max_chars: int) -> list[tuple[Citation, PromptSource]]:
    """Citations numbered from 1 in retrieval order, with the text each gives the model."""
    return [_citation(n, hit, max_chars) for n, hit in enumerate(hits, start=1)]


def _citation(number: int, hit: Hit, max_chars: int) -> tuple[Citation, PromptSource]:
    meta = hit.chunk.meta
    text, withheld = withhold_instructions(hit.chunk.text[:max_chars])
    citation = Citation(
        index=number,
        source=hit.chunk.source,
        relpath=meta.relpath or Path(hit.chunk.source).name,
        title=meta.title,
        page=meta.page or None,
        section=meta.section,
        text=hit.chunk.text,
        start=meta.start,
        end=meta.end,
        score=round(float(hit.score), 4),
        withheld=withheld,
        chunk=meta.chunk_index,
    )
    return citation, PromptSource(number, citation.label, text)

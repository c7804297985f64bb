"""Numbered sources: the retrieved hits as the citations the reader sees under an answer, and the text the model
is given for each."""

from __future__ import annotations

from pathlib import Path

from retrieval.types import Hit
from serving.answer.citations import Citation
from serving.answer.prompts import PromptSource, withhold_instructions


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
        ocr=meta.ocr,
    )
    return citation, PromptSource(number, citation.label, text)

"""A question of several parts, part by part: one search per part merged so that each part keeps the sources its
own search found; the extractive answer composed part by part in the question's order; and, after a generated
answer, what it did not cover answered from the sources (marked as such) or named as not found."""

from __future__ import annotations

import re
from collections.abc import Sequence

from retrieval.filters import Filter, Scope
from retrieval.retriever import Retrieval, Retriever
from retrieval.text import content_stems
from serving.answer.citations import Citation, CitationFilter
from serving.answer.extractive import ExtractiveAnswerer
from serving.answer.markers import marker_numbers
from serving.answer.question import Part
from serving.answer.results import PartResult, cited_numbers, not_found


def search_parts(
    retriever: Retriever, k: int, standalone: str, asked: Sequence[Part], filters: Filter | None, scope: Scope
) -> tuple[Retrieval, list[set[int]]]:
    """One search for a simple question; for a question of several parts, one per part, merged (each part's
    best hits first, in turn) so that a part answered in another document is found. Returns the merged
    retrieval and, per part, the source numbers (1-based) its own search found."""
    if len(asked) <= 1:
        retrieval = retriever.search(standalone, filters, top_k=k, scope=scope)
        return retrieval, [set(range(1, len(retrieval.hits) + 1))]
    searches = [retriever.search(p.query, filters, top_k=k, scope=scope) for p in asked]
    cap = k + 2 * (len(asked) - 1)
    hits, where, per_part = [], {}, [set() for _ in asked]  # type: ignore[var-annotated]
    for rank in range(k):
        for i, found in enumerate(searches):
            if rank >= len(found.hits) or not found.relevant:
                continue
            hit = found.hits[rank]
            key = hit.chunk.id
            if key not in where:
                if len(hits) == cap:
                    continue
                hits.append(hit)
                where[key] = len(hits)
            per_part[i].add(where[key])
    timings: dict[str, float] = {}
    for found in searches:
        for stage, ms in found.timings_ms.items():
            timings[stage] = timings.get(stage, 0.0) + ms
    warnings = tuple(dict.fromkeys(w for found in searches for w in found.warnings))
    return Retrieval(hits, any(f.relevant for f in searches), timings, warnings), per_part


def extract_parts(
    extractive: ExtractiveAnswerer,
    standalone: str,
    asked: Sequence[Part],
    per_part: Sequence[set[int]],
    citations: Sequence[Citation],
) -> tuple[str, tuple[PartResult, ...]]:
    """The extractive answer, part by part in the question's order; a part nothing answers is named."""
    if len(asked) <= 1:
        checker = CitationFilter(len(citations))
        text = checker.feed(extractive.answer(standalone, citations)) + checker.flush()
        kind = asked[0].kind if asked else "fact"
        return text, (PartResult(standalone, kind, bool(text.strip()), cited_numbers(text)),)
    lines: list[str] = []
    results = []
    for part, numbers in zip(asked, per_part, strict=True):
        own = [c for c in citations if c.index in numbers]
        checker = CitationFilter(len(citations))
        text = (checker.feed(extractive.answer_part(part, own)) + checker.flush()).strip() if own else ""
        if text in lines and not content_stems(part.text) & content_stems(text):
            text = ""  # the sentences that answer an earlier part, sharing no word with this one: not an answer
        shown = text or not_found(part)
        if shown not in lines:
            lines.append(shown)
        results.append(PartResult(part.text, part.kind, bool(text), cited_numbers(text), False, shown))
    return "\n\n".join(lines), tuple(results)


def cover_parts(
    extractive: ExtractiveAnswerer,
    text: str,
    asked: Sequence[Part],
    per_part: Sequence[set[int]],
    citations: Sequence[Citation],
) -> tuple[str, tuple[PartResult, ...]]:
    """What to add to the verified generated answer, and how each part was answered. A part is covered by a
    sentence citing one of the part's own sources and sharing a word with the part or with the sources' answer
    to it; the others are answered from the sources (marked) or named as not found."""
    said = [s for s in re.split(r"(?<=[.!?\]])\s+", text) if s.strip()]
    results, fills = [], []
    for part, numbers in zip(asked, per_part, strict=True):
        own = [c for c in citations if c.index in numbers]
        checker = CitationFilter(len(citations))
        extract = (checker.feed(extractive.answer_part(part, own)) + checker.flush()).strip() if own else ""
        wanted = content_stems(part.text) | content_stems(extract)
        covering = [s for s in said if set(marker_numbers(s)) & numbers and content_stems(s) & wanted]
        if covering:
            results.append(PartResult(part.text, part.kind, True, cited_numbers(" ".join(covering))))
        elif extract:
            fills.append(f'From the sources, on "{part.text.rstrip("?.! ")}": {extract}')
            results.append(PartResult(part.text, part.kind, True, cited_numbers(extract), True, extract))
        else:
            fills.append(not_found(part))
            results.append(PartResult(part.text, part.kind, False))
    return ("\n\n" + "\n\n".join(fills)) if fills else "", tuple(results)

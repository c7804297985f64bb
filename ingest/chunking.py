"""Structure-aware chunking: sections -> paragraphs -> sentences, packed to a budget in the embedder's tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from configs.settings import ChunkingSettings
from ingest.loaders import Document, Section

# Paragraphs first, then lines, sentences, clauses, words: structure is kept wherever the budget allows.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


@dataclass(frozen=True)
class Piece:
    """A chunk before it has an id: verbatim text, where it sits, and the text actually embedded."""

    text: str
    embed_text: str
    page: int | None
    heading: str
    section_index: int
    start: int  # character offsets of text within its section's text
    end: int


class Chunker:
    """Splits Documents into Pieces no longer than the embedder can see (nothing is truncated at embed time)."""

    def __init__(self, settings: ChunkingSettings, tokenizer: Any, model_max_tokens: int) -> None:
        self._settings = settings
        self._tokenizer = tokenizer
        self._limit = min(settings.max_tokens, model_max_tokens)
        self._splitters: dict[int, Any] = {}

    def count(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def _splitter(self, budget: int) -> Any:
        if budget not in self._splitters:
            from langchain_text_splitters import RecursiveCharacterTextSplitter

            self._splitters[budget] = RecursiveCharacterTextSplitter(
                chunk_size=budget,
                chunk_overlap=min(self._settings.overlap_tokens, budget // 2),
                length_function=self.count,
                separators=SEPARATORS,
                keep_separator="end",
                add_start_index=True,
                strip_whitespace=True,
            )
        return self._splitters[budget]

    def _prefix(self, doc: Document, section: Section) -> str:
        if not self._settings.prepend_title:
            return ""
        parts = [doc.title] if doc.title else []
        heading = section.heading
        if doc.title and heading.startswith(doc.title + " > "):
            heading = heading[len(doc.title) + 3 :]
        if heading and heading != doc.title:
            parts.append(heading)
        return " > ".join(parts)[:300]

    def _hard_split(self, text: str, start: int, budget: int) -> list[tuple[str, int]]:
        """Last resort for text the separators cannot split (e.g. a long token run): cut at token offsets."""
        enc = self._tokenizer(text, add_special_tokens=False, truncation=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        out = []
        for i in range(0, len(offsets), budget):
            window = offsets[i : i + budget]
            a, b = window[0][0], window[-1][1]
            out.append((text[a:b], start + a))
        return out

    def _split_section(self, text: str, budget: int) -> list[tuple[str, int]]:
        parts: list[tuple[str, int]] = []
        for lc_doc in self._splitter(budget).create_documents([text]):
            piece = lc_doc.page_content
            start = int(lc_doc.metadata.get("start_index", -1))
            if start < 0:  # the splitter could not locate it; find it ourselves
                start = max(0, text.find(piece))
            if self.count(piece) > budget:
                parts += self._hard_split(piece, start, budget)
            else:
                parts.append((piece, start))
        return parts

    def _merge_small(
        self, text: str, parts: list[tuple[str, int]], budget: int, title: str
    ) -> list[tuple[str, int]]:
        """Join neighbours that fit together: the recursive splitter leaves a heading or short paragraph alone
        whenever the next paragraph is long, which wastes an embedding on a fragment without context."""
        merged: list[tuple[str, int]] = []
        for piece, start in parts:
            if merged:
                prev, prev_start = merged[-1]
                end = max(start + len(piece), prev_start + len(prev))
                joined = text[prev_start:end]
                # A chunk that opens with the document title is embedded without the prefix: full budget.
                allowed = self._limit if title and joined.startswith(title) else budget
                if self.count(joined) <= allowed:
                    merged[-1] = (joined, prev_start)
                    continue
            merged.append((piece, start))
        return merged

    def split(self, doc: Document) -> list[Piece]:
        """All pieces of a document, in reading order."""
        pieces: list[Piece] = []
        for index, section in enumerate(doc.sections):
            prefix = self._prefix(doc, section)
            prefix_tokens = self.count(prefix) + 1 if prefix else 0
            budget = max(16, self._limit - prefix_tokens)
            parts = self._merge_small(section.text, self._split_section(section.text, budget), budget, doc.title)
            for part, part_start in parts:
                # The first chunk of a text that opens with its own title needs no prefix.
                use_prefix = prefix and not part.startswith(doc.title)
                pieces.append(
                    Piece(
                        text=part,
                        embed_text=f"{prefix}\n{part}" if use_prefix else part,
                        page=section.page,
                        heading=section.heading,
                        section_index=index,
                        start=part_start,
                        end=part_start + len(part),
                    )
                )
        return pieces

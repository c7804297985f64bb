"""Structure-aware chunking: sections -> paragraphs -> sentences, packed to a budget in the embedder's tokens."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from configs.settings import ChunkingSettings
from ingest.loaders import Document, Section

# Paragraphs first, then lines, sentences, clauses, words: structure is kept wherever the budget allows.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


# Part of every index's fingerprint: a change to how pieces are cut re-chunks every file on the next ingest.
# 2: a heading line at the end of a piece moves to the next piece; 3: so does a sentence ending on a colon.
CHUNKER_VERSION = 4

# The last line of a piece that names what follows it: a heading, a defined term ("work_mem (integer)", "ort"),
# an API signature ("getpass.getpass(prompt='Password: ', stream=None)¶"). It goes with what it names.
_TERMINAL = frozenset(".!?;:,")
MAX_HEADING_WORDS = 10
MAX_QUESTION_WORDS = 20


# The last sentence of a piece when it ends on a colon: after a sentence end or a line break, at most 400 characters
_INTRO = re.compile(r"(?:(?<=[.!?])\s+|\n\s*)(?=\S)(?:(?![.!?]\s)[^\n]){1,400}:$")


INTRO_SEARCH = 1200  # characters at a piece's end where the sentence introducing the next piece is looked for


def _stands_alone(before: str, line: str, following: str) -> bool:
    """A heading is a line of its own, not the last line of a hard-wrapped paragraph ("configuration file and
    restart the server so that"): the text before it ends a paragraph or a sentence, and what follows it starts
    anew (not with a lower-case word that goes on with it), unless it is marked as a heading (a pilcrow)."""
    if line.endswith("\u00b6"):
        return True
    previous = before.rstrip(" \t")
    ends = previous.endswith("\n") or not previous.strip() or previous.rstrip()[-1:] in ".!?:"
    goes_on = following.lstrip()[:1].islower()
    return ends and not goes_on


def _heading_line(line: str) -> bool:
    words = line.split()
    if not words or len(line) > 300 or line.startswith(("-", "*", "•", "|", "$", ">>>")):
        return False
    return line.endswith("\u00b6") or (len(words) <= MAX_HEADING_WORDS and line[-1] not in _TERMINAL)


def _question_line(before: str, line: str) -> bool:
    """A question that is a paragraph of its own ("How do I know if I want to do a fetch or a pull?" in a FAQ):
    it heads the answer that follows it, like a heading."""
    return line.endswith("?") and len(line.split()) <= MAX_QUESTION_WORDS and before.rstrip(" \t").endswith("\n")


def _carry_headings(
    text: str, parts: list[tuple[str, int]], budget: int, length: Callable[[str], int]
) -> tuple[list[tuple[str, int]], dict[int, str]]:
    """A piece that ends on a heading line gives that line to the next piece, where what it names is: moved into
    its text when it still fits the budget, else named as the next piece's heading (a description is never
    embedded or read without its term). Returns the pieces and, by their start, the headings carried over."""
    out = list(parts)
    carried: dict[int, str] = {}
    for i in range(len(out) - 1):
        piece, start = out[i]
        following, next_start = out[i + 1]
        body = piece.rstrip()
        cut = body.rfind("\n")
        line = body[cut + 1 :].strip()
        if body.endswith(":"):  # "The supplied actions are:" introduces the list the next piece starts with
            tail = max(0, len(body) - INTRO_SEARCH)  # (only the end is searched: a run of blank lines stays cheap)
            intro = _INTRO.search(body, tail)
            if intro is None or not body[: intro.start()].strip():  # the whole piece is the intro: keep it
                continue
            cut = intro.start()
            moved = text[start + cut : next_start + len(following)]
            if next_start > start + cut and length(moved) <= budget:
                out[i] = (body[:cut].rstrip(), start)
                out[i + 1] = (moved.lstrip(), start + cut + (len(moved) - len(moved.lstrip())))
            continue
        heads = _heading_line(line) or _question_line(body[:cut], line)
        if cut < 0 or not heads or not _stands_alone(body[:cut], line, following):
            continue
        line_start = start + cut + 1
        moved = text[line_start : next_start + len(following)]
        if next_start <= line_start:
            continue
        if length(moved) <= budget:
            out[i] = (body[:cut].rstrip(), start)
            out[i + 1] = (moved.lstrip(), line_start + (len(moved) - len(moved.lstrip())))
        else:
            carried[next_start] = line.replace("\u00b6", "").strip()
    return out, carried


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
    tokens: int = 0  # tokens the embedder sees in embed_text (prefix included, special tokens not)


class TokenSpans(Protocol):
    """What the chunker needs of the embedder: where its tokens are in a text (Embedder.token_spans)."""

    def token_spans(self, text: str) -> list[tuple[int, int]]: ...


class Chunker:
    """Splits Documents into Pieces no longer than the embedder can see (nothing is truncated at embed time)."""

    def __init__(self, settings: ChunkingSettings, tokens: TokenSpans, model_max_tokens: int) -> None:
        self._settings = settings
        self._tokens = tokens
        self._limit = min(settings.max_tokens, model_max_tokens)
        self._splitters: dict[int, Any] = {}

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one Chunker per run; pieces are measured repeatedly
    def count(self, text: str) -> int:
        """Tokens in text as the embedder counts them (no special tokens)."""
        return len(self._tokens.token_spans(text))

    def _splitter(self, budget: int, length: Callable[[str], int]) -> Any:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        return RecursiveCharacterTextSplitter(
            chunk_size=budget,
            chunk_overlap=min(self._settings.overlap_tokens, budget // 2),
            length_function=length,
            separators=SEPARATORS,
            keep_separator="end",
            add_start_index=True,
            strip_whitespace=True,
        )

    def _section_counter(self, text: str) -> Callable[[str], int]:
        """Token counts of substrings of one section from a single tokenization of the whole section.

        Pieces cut at the splitter's separators start and end on token boundaries, so counting the tokens whose
        offsets fall inside the piece is exact; the final pieces are still checked with a real count.
        """
        offsets = self._tokens.token_spans(text)
        starts = [a for a, _ in offsets]
        ends = [b for _, b in offsets]

        def count(piece: str) -> int:
            pos = text.find(piece)
            if pos < 0:
                return self.count(piece)
            return max(0, bisect.bisect_right(ends, pos + len(piece)) - bisect.bisect_left(starts, pos))

        return count

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
        offsets = self._tokens.token_spans(text)
        out = []
        for i in range(0, len(offsets), budget):
            window = offsets[i : i + budget]
            a, b = window[0][0], window[-1][1]
            out.append((text[a:b], start + a))
        return out

    def _split_section(self, text: str, budget: int, length: Callable[[str], int]) -> list[tuple[str, int]]:
        parts: list[tuple[str, int]] = []
        for lc_doc in self._splitter(budget, length).create_documents([text]):
            piece = lc_doc.page_content
            start = int(lc_doc.metadata.get("start_index", -1))
            if start < 0:  # the splitter could not locate it; find it ourselves
                start = max(0, text.find(piece))
            parts.append((piece, start))
        return parts

    def _merge_small(
        self, text: str, parts: list[tuple[str, int]], budget: int, title: str, length: Callable[[str], int]
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
                if length(joined) <= allowed:
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
            length = self._section_counter(section.text)
            parts = self._split_section(section.text, budget, length)
            parts = self._merge_small(section.text, parts, budget, doc.title, length)
            parts, carried = _carry_headings(section.text, parts, budget, length)
            checked: list[tuple[str, int]] = []
            for part, part_start in parts:
                # The real count guards the budget where a piece was cut inside a word (separator "").
                limit = self._limit if doc.title and part.startswith(doc.title) else budget
                if length(part) > limit - 8 and self.count(part) > limit:
                    checked += self._hard_split(part, part_start, budget)
                else:
                    checked.append((part, part_start))
            for part, part_start in checked:
                # The first chunk of a text that opens with its own title needs no prefix.
                use_prefix = bool(prefix) and not part.startswith(doc.title)
                heading, piece_prefix, piece_prefix_tokens = section.heading, prefix, prefix_tokens
                term = carried.get(part_start)
                if term:  # the heading line the piece before ends on names what this one describes
                    heading = f"{section.heading} > {term}" if section.heading else term
                    longer = f"{prefix} > {term}" if prefix else term
                    # read with the piece always (its heading); embedded with it where the budget allows
                    if self.count(longer) + 1 + length(part) <= self._limit:
                        piece_prefix, piece_prefix_tokens, use_prefix = longer, self.count(longer) + 1, True
                pieces.append(
                    Piece(
                        text=part,
                        embed_text=f"{piece_prefix}\n{part}" if use_prefix else part,
                        page=section.page,
                        heading=heading,
                        section_index=index,
                        start=part_start,
                        end=part_start + len(part),
                        tokens=(piece_prefix_tokens if use_prefix else 0) + length(part),
                    )
                )
        return pieces

"""What a sentence of a passage brings along: the list, code block or table its colon introduces (bullets lost
in HTML extraction are found from the lines themselves), a list item's whole list, a table row's header row; and
a passage that ends inside such a list, read on into the next passage of its file."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from retrieval.text import sentence_spans
from retrieval.types import Chunk, Hit

Role = Literal["prose", "heading", "item", "row", "code"]
TERMINAL = re.compile(r"[.!?:;][\"'”’)\]]*$|[.!?][\"'”’)\]]*\s*(?:\[\d+\])?$")

MAX_BLOCK_LINES = 12  # a list or code block brought by its colon is kept whole up to this many lines


MAX_LIST_ITEM_WORDS = 60  # an unmarked paragraph longer than this after a colon is prose, not a list item


BULLET = re.compile(r"^\s*(?:[-*•◦▪]|\d{1,2}[.)])\s+\S")


TABLE_ROW = re.compile(r"^\s*\|.*\||\S\t+\S")


TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}")


# A row as ingest/tables.py writes it, its headers beside its values: "Lead times - Supplier: Acme GmbH; Lead time
# (days): 14; Country: DE" (a title, then at least two "Header: value" cells). It reads on its own: no header row.
_CELL = r"[^\n:;]{1,80}: [^\n;]*"
RENDERED_ROW = re.compile(rf"^(?:[^\n]{{1,200}}? - )?{_CELL}(?:; {_CELL})+$")


CODE = re.compile(
    r"^(?:\t| {4,})\S"  # indented
    r"|^\s*(?:\$|#!|>>>)\s"  # a shell or Python prompt
    r"|[;{}(\\]\s*$"  # a statement or block that goes on
    r"|^\s*[\w.-]+\s*=\s*\S+\s*(?:#.*)?$"  # key = value
)


def code_lines(raw: str) -> bool:
    lines = [ln for ln in raw.split("\n") if ln.strip()]
    return len(lines) > 1 and sum(bool(CODE.search(ln)) for ln in lines) * 2 >= len(lines)


def line_span(text: str, at: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    return start, len(text) if end < 0 else end


def block_after(text: str, at: int, unmarked: bool = True) -> tuple[tuple[str, ...], str]:
    """The lines after a colon that belong to it: a list (its bullets lost in extraction, when `unmarked`), a code
    block or a table."""
    rest = text[at:]
    if "\n" not in rest or rest.split("\n", 1)[0].strip():
        return (), ""
    lines = rest.split("\n")[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return (), ""
    first = lines[0]
    kind = "list"
    if BULLET.match(first):
        keep = take_lines(lines, lambda ln: bool(BULLET.match(ln)), lambda ln: ln[:1] in " \t" and bool(ln.strip()))
    elif TABLE_ROW.search(first):
        kind = "table"
        keep = take_lines(lines, lambda ln: bool(TABLE_ROW.search(ln) or TABLE_RULE.match(ln)), lambda ln: False)
        return tuple(ln.rstrip() for ln in keep), kind
    elif CODE.search(first) or code_lines("\n".join(lines[:3])):
        kind = "code"
        keep = code_block(lines)
        return tuple(ln.rstrip() for ln in keep), kind
    elif unmarked:
        keep = unmarked_items(lines)
    else:
        return (), ""
    if keep and cut_line(keep[-1], text):
        keep = keep[:-1]
    return tuple(ln.strip() for ln in keep), (kind if keep else "")


def cut_line(line: str, text: str) -> bool:
    """The block's last line is where the passage ends, mid-sentence."""
    norm = line.strip()
    return text.rstrip().endswith(norm) and not TERMINAL.search(norm) and len(norm.split()) >= 6


def take_lines(
    lines: list[str],
    starts: Callable[[str], bool],
    goes_on: Callable[[str], bool],
    resumes: Callable[[str], bool] | None = None,
) -> list[str]:
    """Lines while each starts an item or continues the one before; a blank line ends the block unless what
    follows it resumes the block (by default: starts an item)."""
    resumes = resumes or starts
    keep: list[str] = []
    for i, line in enumerate(lines):
        if len(keep) == MAX_BLOCK_LINES:
            break
        if not line.strip():
            nxt = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
            if nxt and resumes(nxt):
                continue
            break
        if starts(line) or (keep and goes_on(line)):
            keep.append(line)
        else:
            break
    return keep


def code_block(lines: list[str]) -> list[str]:
    """Every line up to a blank one that no more code (or an indented line) follows."""
    return take_lines(lines, lambda _ln: True, lambda _ln: True, lambda ln: bool(CODE.search(ln)) or ln[:1] in " \t")


def unmarked_items(lines: list[str]) -> list[str]:
    """A list whose bullets the extraction dropped: the short paragraphs after the colon, one line each, until a
    paragraph that introduces something else or reads as prose again."""
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    keep: list[str] = []
    for para in paragraphs:
        if not para:
            continue
        joined = " ".join(" ".join(para).split())
        words = len(joined.split())
        sentences = len(sentence_spans(joined))
        if words > MAX_LIST_ITEM_WORDS or (keep and (sentences > 1 or joined.endswith(":"))):
            break
        if len(keep) + 1 > MAX_BLOCK_LINES:
            break
        keep.append(joined)
        if sentences > 1:  # one prose paragraph after the colon: it is what the colon introduces
            break
    return keep


def list_of(
    text: str, spans: Sequence[tuple[int, int]], roles: Sequence[Role], position: int
) -> tuple[str, tuple[str, ...]]:
    """A list item's whole list (its run of items, bounded) and the sentence whose colon introduces it."""
    first = position
    while first > 0 and roles[first - 1] == "item":
        first -= 1
    last = position
    while last + 1 < len(roles) and roles[last + 1] == "item":
        last += 1
    lines: list[str] = []  # an item is its whole bulleted line, of however many sentences
    starts: list[int] = []
    mine = 0
    for at, (a, b) in enumerate(spans[first : last + 1], start=first):
        start = line_span(text, a)[0]
        piece = " ".join(text[a:b].split())
        if starts and starts[-1] == start:
            lines[-1] = f"{lines[-1]} {piece}"
        else:
            lines.append(piece)
            starts.append(start)
        if at == position:
            mine = len(lines) - 1
    if len(lines) < 2:  # one item alone is not a list to bring along
        return "", ()
    items = tuple(lines)
    if len(items) > MAX_BLOCK_LINES:  # keep the window around the item
        lo = max(0, min(mine - MAX_BLOCK_LINES // 2, len(items) - MAX_BLOCK_LINES))
        items = items[lo : lo + MAX_BLOCK_LINES]
    intro = ""
    if first > 0 and roles[first - 1] == "prose":
        before = " ".join(text[slice(*spans[first - 1])].split())
        if before.endswith(":"):
            intro = before
    return intro, items


def header_row(text: str, at: int) -> str:
    """The first row of the table a row belongs to (itself when it is the header)."""
    start, _ = line_span(text, at)
    header = text[start : line_span(text, start)[1]]
    while start > 0:
        prev_start, prev_end = line_span(text, start - 1)
        line = text[prev_start:prev_end]
        if not (TABLE_ROW.search(line) or TABLE_RULE.match(line)):
            break
        if not TABLE_RULE.match(line):
            header = line
        start = prev_start
    own = text[line_span(text, at)[0] : line_span(text, at)[1]]
    return "" if header.strip() == own.strip() else " ".join(header.split())


RUN_ON_CHARS = 2400  # a passage and the next one it runs on into, together, at most


MAX_RUN_TERM_CHARS = 80  # an entry's term line ("--soft", "spawn", "work_mem (integer)") is at most this long


def run_on(hits: Sequence[Hit], following: Callable[[Chunk], Chunk | None]) -> list[Hit]:
    """The hits, each passage that ends inside a list or a run of entries its colon introduced ("The <mode> must be
    one of the following:", "--soft", its description, "--mixed", ... to the passage's end) joined with the next
    passage of its file, where the rest of the list is: an overview of the modes or the reasons a maintenance task
    is needed is otherwise cut at a chunk boundary."""
    out = []
    for hit in hits:
        chunk = hit.chunk
        after = following(chunk) if runs_on(chunk.text) else None
        if after is None or len(chunk.text) + len(after.text) > RUN_ON_CHARS:
            out.append(hit)
            continue
        meta = chunk.meta
        if after.meta.section == meta.section and after.meta.page == meta.page and after.meta.start >= meta.end:
            meta = replace(meta, end=after.meta.end)
        joined = replace(chunk, text=f"{chunk.text.rstrip()}\n\n{after.text.lstrip()}", meta=meta)
        out.append(replace(hit, chunk=joined))
    return out


def runs_on(text: str) -> bool:
    """Whether a passage ends on a colon, or inside the list or run of term-and-description entries that its last
    colon introduces."""
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    last = next((i for i in range(len(paragraphs) - 1, -1, -1) if paragraphs[i].endswith(":")), None)
    if last is None:
        return False
    tail = paragraphs[last + 1 :]
    if not tail:
        return True
    if all(all(BULLET.match(line) for line in p.splitlines() if line.strip()) for p in tail):
        return True  # a marked list to the end
    # term, description, term, description ...: each term a short line of its own that ends no sentence
    terms = tail[0::2]
    return all("\n" not in t and len(t) <= MAX_RUN_TERM_CHARS and not re.search(r"[.!?:;]$", t) for t in terms)

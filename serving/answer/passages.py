"""A retrieved passage read as a reader reads it: each sentence with the heading it sits under, the sentence it
refers back to, the list or code block its colon introduces, and a table row with its header row.

A manual states a setting's default as "The default is four megabytes (4MB)." under a line naming the setting;
read alone, that sentence answers nothing. Lists and code lose their bullets in HTML extraction but keep their
lines, so a block is read from the lines after the colon, whatever marks them. A passage cut mid-sentence at
either end (chunks overlap and are cut at a budget) leaves a fragment that is never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from retrieval.text import content_stems, sentence_spans
from serving.answer.blocks import (
    BULLET,
    CODE,
    RENDERED_ROW,
    TABLE_ROW,
    TERMINAL,
    Role,
    block_after,
    code_lines,
    header_row,
    line_span,
    list_of,
)
from serving.answer.citations import Citation

_ANAPHOR = re.compile(
    r"^(?:it|its|this|these|they|their|that|those|such|he|she|then|however|also|in addition|"
    r"for (?:example|instance))\b"
    r"|\bthe (?:preceding|previous|above|former|latter|aforementioned)\b",
    re.I,
)
# "Applications using this level ...": a demonstrative early in the sentence, naming a thing the sentence before
# named ("... the Repeatable Read isolation level ...")
_DEMONSTRATIVE = re.compile(r"^(?:\S+\s+){0,5}?(?:this|these|such)\s+(\w+)(?:\s+(\w+))?", re.I)
# "this study", "this document": the text itself, not something the sentence before named
_SELF = frozenset(
    "study studies paper article report work trial review analysis document page guide section chapter "
    "manual policy survey".split()
)
# An API reference entry's line: "getpass.getpass(prompt='Password: ', stream=None)", "class
# selectors.DefaultSelector", "exception subprocess.TimeoutExpired" (Sphinx marks it with a pilcrow, often kept by
# HTML extraction). What follows it ("Prompt the user for a password without echoing.") is about it.
_SIGNATURE = re.compile(
    r"^(?:(?:class|exception|async|abstractmethod|classmethod|staticmethod|coroutine|method|function|attribute|"
    r"data|property)\s+)*[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*(?:\(.*\))?(?:\s*->\s*\S.*)?$"
)
_PILCROW = "\u00b6"
_FOLLOWING = re.compile(r"\b(?:the|as) following\b|\bas follows\b", re.I)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage with what a reader needs to understand it."""

    source: int  # citation number
    position: int  # sentence number within the passage
    offset: int  # character offset within the passage
    text: str  # whitespace-normalised
    role: Role
    heading: str = ""  # the heading line it sits under in the passage, else the passage's section
    stems: frozenset[str] = frozenset()
    heading_stems: frozenset[str] = frozenset()  # the heading's words
    referent: str = ""  # the sentence before, when this one opens by referring to it ("This level ...")
    block: tuple[str, ...] = ()  # the list or code lines its colon introduces (for a list item: its whole list)
    block_kind: str = ""  # "list", "code" or "table"
    intro: str = ""  # for a list item: the sentence whose colon introduces its list
    header: str = ""  # for a table row: the table's header row
    paragraph: int = 0  # paragraph number within the passage (blank lines separate them)
    fragment: bool = False  # cut by the passage's edge: never quoted

    @property
    def dangling(self) -> bool:
        """Ends on a colon with nothing after it in the sources: never the end of an answer."""
        return self.text.endswith(":") and not self.block


def heading_name(heading: str) -> str:
    """The words a heading names its subject with: 'Resource Consumption > 20.4.1. Memory' -> 'Memory',
    'work_mem (integer)' -> 'work_mem'."""
    last = heading.rsplit(" > ", 1)[-1].replace(_PILCROW, "").strip().lstrip("#").strip()
    if is_signature(last):
        return last
    last = re.sub(r"^(?:\d+(?:\.\d+)*\.?|[A-Z]\.(?:\d+\.)*)\s+", "", last)  # section numbers
    named = re.sub(r"\s*\([^()]*\)\s*$", "", last).strip()  # "(integer)", "(boolean)"
    return named or last


def is_signature(line: str) -> bool:
    """An API reference entry's heading line: a dotted name with its parameters, or a class / exception name."""
    norm = " ".join(line.replace(_PILCROW, "").split())
    if not norm or len(norm) > 300 or not _SIGNATURE.match(norm):
        return False
    return "(" in norm or "." in norm.split()[-1] or norm.split()[0] in ("class", "exception")


_TERM = re.compile(r"^(?:-{1,2}[\w-]+(?:[ =][\w<>\[\]-]+)?|[a-z][\w.-]*|[\w.-]*[_.][\w.-]*|[A-Z][A-Z0-9_]{2,})$")


def signature_name(heading: str) -> str:
    """The name an entry's heading defines: 'class tempfile.TemporaryDirectory(suffix=None)' -> 'TemporaryDirectory';
    a term of a definition list or a reference entry ('spawn', 'work_mem', '--no-ensure-ascii') -> itself; ''
    for a heading that titles a section ('Sick leave', 'Contexts and start methods')."""
    last = heading.rsplit(" > ", 1)[-1].replace(_PILCROW, "").strip()
    if not is_signature(last):
        return last if _TERM.match(last) else ""
    heading = last
    bare = heading.replace(_PILCROW, "").split("(", 1)[0].split()
    return bare[-1].rsplit(".", 1)[-1] if bare else ""


def read(citation: Citation, neighbours: Sequence[Citation] = ()) -> list[Sentence]:
    """The sentences of one passage in order, each with its context. `neighbours` are other passages of the same
    document: a colon at the very end of this one finds its list at the start of the next."""
    text = citation.text
    row = rendered_row(text)
    spans = [row] if row else sentence_spans(text)
    roles: list[Role] = ["row"] if row else [_role(text, a, b, citation) for a, b in spans]
    section = heading_name(citation.section) if citation.section else ""
    out: list[Sentence] = []
    heading = _carried_heading(citation, neighbours)
    previous = ""  # the last prose or item sentence, for a referent
    for position, ((a, b), role) in enumerate(zip(spans, roles, strict=True)):
        raw = text[a:b]
        norm = " ".join(raw.replace(_PILCROW, "").split())
        if role == "heading":
            line_start, line_end = line_span(text, a)
            heading = heading_name(" ".join(text[line_start:line_end].split()))
            previous = ""
            continue
        under = heading or section or citation.title
        block: tuple[str, ...] = ()
        block_kind = intro = header = ""
        if role in ("prose", "item") and norm.endswith(":"):
            block, block_kind = block_after(text, b)
            if not block and not text[b:].strip():
                block, block_kind = _continued(citation, b, neighbours)
        elif role == "prose" and _FOLLOWING.search(norm):  # "The following table shows ...": what follows, if marked
            block, block_kind = block_after(text, b, unmarked=False)
        if role == "item":
            intro, items = list_of(text, spans, roles, position)
            if items:
                block, block_kind = items, "list"
        if role == "row":
            header = header_row(text, a)
        bare = norm.endswith(":") and len(norm.split()) < 4  # "For example:" says nothing without what precedes
        refers = bool(_ANAPHOR.search(norm)) or bare or _names_again(norm, previous)
        referent = previous if role == "prose" and previous and refers else ""
        out.append(
            Sentence(
                source=citation.index,
                position=position,
                offset=a,
                text=norm,
                role=role,
                heading=under,
                stems=frozenset(content_stems(" ".join((norm, *block)))),
                heading_stems=frozenset(content_stems(under)),
                referent=referent,
                block=block,
                block_kind=block_kind,
                intro=intro,
                header=header,
                paragraph=len(re.findall(r"\n[ \t]*\n", text[:a])),
                fragment=_fragment(text, a, b, role, citation, position, len(spans)),
            )
        )
        if role in ("prose", "item"):
            previous = norm
    return _members(out)


def rendered_row(text: str) -> tuple[int, int] | None:
    """The span of a passage that is one table row as the loaders write it, headers beside values ("Lead times -
    Supplier: Acme GmbH; Lead time (days): 14"): one sentence whatever full stops its cells hold. The loaders give
    each row a chunk of its own, so only a whole passage of one line is taken for a row, never a line of prose."""
    body = text.strip()
    if not body or "\n" in body or BULLET.match(body) or not RENDERED_ROW.match(body):
        return None
    start = text.index(body)
    return start, start + len(body)


def _carried_heading(citation: Citation, neighbours: Sequence[Citation]) -> str:
    """The API entry heading the passage before this one ends on: a chunk cut between an entry's signature and its
    description leaves the description's heading in the previous chunk."""
    before = next((o for o in neighbours if o.chunk == citation.chunk - 1 and o.relpath == citation.relpath), None)
    if before is None:
        return ""
    lines = [line for line in before.text.splitlines() if line.strip()]
    return heading_name(" ".join(lines[-1].split())) if lines and is_signature(lines[-1]) else ""


def _members(sentences: list[Sentence]) -> list[Sentence]:
    """The sentences of an unmarked list (bullets lost in extraction) know the colon that introduces them."""
    out = list(sentences)
    for i, s in enumerate(out):
        if s.role != "prose" or s.block_kind != "list" or not s.text.endswith(":"):
            continue
        lines = {" ".join(line.split()) for line in s.block}
        for j in range(i + 1, len(out)):
            other = out[j]
            if other.role != "prose" or not any(other.text in line for line in lines):
                break
            out[j] = replace(other, intro=s.text, block=s.block, block_kind="list", referent="")
    return out


def _names_again(sentence: str, previous: str) -> bool:
    """'Applications using this level must ...' after a sentence about 'the Repeatable Read isolation level'."""
    m = _DEMONSTRATIVE.match(sentence)
    if not m or not previous or m.group(1).lower() in _SELF:
        return False
    named = content_stems(" ".join(w for w in m.groups() if w))
    return bool(named & content_stems(previous))


def _role(text: str, a: int, b: int, citation: Citation) -> Role:
    line_start, line_end = line_span(text, a)
    first_line = text[line_start:line_end]
    starts_line = not text[line_start:a].strip()
    one_line = b <= line_end
    if starts_line and one_line and TABLE_ROW.search(first_line) and not BULLET.match(first_line):
        return "row"
    if one_line and _is_heading(first_line, citation):
        return "heading"
    if BULLET.match(first_line):  # every sentence of a bulleted line belongs to its item
        return "item"
    if starts_line and (CODE.search(first_line) or code_lines(text[a:b])):
        return "code"
    return "prose"


def _is_heading(line: str, citation: Citation) -> bool:
    """A line of its own that names what follows: short, no sentence punctuation at its end ('## Freeze',
    'work_mem (integer)', '20.4.1. Memory'), or the document's title or section."""
    norm = " ".join(line.split())
    if not norm or BULLET.match(line):
        return False
    if is_signature(norm):
        return True
    if CODE.search(line):
        return False
    if norm.startswith("#") or norm in (citation.title, heading_name(citation.section)):
        return True
    return norm[-1] not in ".!?;:," and len(norm.split()) <= 8


def _fragment(text: str, a: int, b: int, role: Role, citation: Citation, position: int, count: int) -> bool:
    """A sentence the passage's edge cuts: the last one stops mid-sentence, or the first one starts mid-sentence."""
    if role != "prose":
        return False
    norm = " ".join(text[a:b].split())
    if position == count - 1 and not text[b:].strip() and not TERMINAL.search(norm):
        return norm.endswith((",", ";", "-")) or len(norm.split()) >= 6 or not _line_starts(text, a)
    return position == 0 and citation.start > 0 and norm[:1].islower()


def _line_starts(text: str, a: int) -> bool:
    return a == 0 or text[a - 1] == "\n"


def _continued(citation: Citation, at: int, neighbours: Sequence[Citation]) -> tuple[tuple[str, ...], str]:
    """The block that a colon at the end of a passage introduces, read from the next passage of the document."""
    where = citation.start + at
    for other in neighbours:
        if other is citation or other.relpath != citation.relpath or other.section != citation.section:
            continue
        if other.start < where <= other.end:
            offset = where - other.start
            return block_after(other.text[:offset] + "\n" + other.text[offset:].lstrip(" \t"), offset)
    return (), ""

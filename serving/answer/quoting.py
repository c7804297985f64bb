"""How a chosen sentence is quoted in an extractive answer: with its marker, the heading or signature it needs,
the sentence it refers back to, the list or code its colon introduces, the value the next sentence gives.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from retrieval.text import content_stems
from serving.answer.candidates import Candidate, Scoring, near_duplicate
from serving.answer.citations import with_markers
from serving.answer.passages import read, signature_name

logger = logging.getLogger(__name__)

LONG_LIST = 6  # a list item asked as a fact brings its whole list up to this many lines, else only itself


def mark(text: str, marker: str) -> str:
    """'Text.' -> 'Text [1].'; 'for several reasons:' -> 'for several reasons [1]:' (never a marker after a
    colon that a list follows)."""
    if text.endswith(":"):
        return text[:-1].rstrip() + marker + ":"
    return with_markers(text, marker)


def top(
    candidates: Sequence[Candidate],
    scores: np.ndarray,
    limit: int,
    margin: float,
    among: Sequence[int] | None = None,
) -> list[int]:
    """Indices of the best candidates, best first: within margin of the best, no near duplicates, none that ends
    on a colon its list does not follow."""
    order = list(among) if among is not None else [int(i) for i in np.argsort(-scores, kind="stable")]
    usable = [i for i in order if not candidates[i].sentence.dangling] or order
    chosen: list[int] = []
    for i in usable:
        if len(chosen) == limit or scores[i] < scores[usable[0]] - margin:
            break
        if any(near_duplicate(candidates[i], candidates[j]) for j in chosen):
            continue
        chosen.append(i)
    return chosen


def render_all(chosen: Sequence[Candidate], scoring: Scoring, whole_lists: bool) -> list[str]:
    """Each chosen sentence quoted with what it needs; a sentence another one already brought is not repeated."""
    lines: list[str] = []
    shown: set[str] = set()
    own_line = {c.text for c in chosen}  # a referent chosen in its own right is not brought twice
    for c in chosen:
        # already quoted: itself, or inside a list or code line another sentence brought
        if c.text in shown or any(c.text in line for line in shown if len(line) > len(c.text)):
            continue
        line, brought = render(c, scoring, whole_lists, shown | own_line)
        shown |= brought
        lines.append(line)
    return lines


def render(c: Candidate, scoring: Scoring, whole_lists: bool, shown: set[str]) -> tuple[str, set[str]]:
    """The sentence with its marker, and with its heading when that names what was asked and the sentence does
    not, the sentence it refers back to, the list or code its colon introduces, the header of its table row."""
    s = c.sentence
    marker = f" [{s.source}]"
    brought = {s.text}
    if s.role == "row":
        return f"{s.header}\n{with_markers(s.text, marker)}" if s.header else with_markers(s.text, marker), brought
    pieces: list[str] = []
    if s.referent and s.referent not in shown:
        pieces.append(mark(s.referent, marker))
        brought.add(s.referent)
    lines: tuple[str, ...] = ()
    kind = s.block_kind
    if s.block and (s.role == "item" or s.intro):  # a list item: its introduction and its list
        if s.intro and s.intro not in shown:
            pieces.append(mark(s.intro, marker))
            brought.add(s.intro)
        lines = s.block if (whole_lists or len(s.block) <= LONG_LIST) else (s.text,)
    else:
        pieces.append(mark(s.text, marker))
        lines = s.block
        if scoring.wants_value and not s.block and not VALUE.search(s.text):
            # "The number of statements ... to cache." states no value; "By default, 128 statements." after it does
            follow = value_after(c)
            if follow and follow not in shown:
                pieces.append(mark(follow, marker))
                brought.add(follow)
    said = set(s.stems) | content_stems(s.referent) | content_stems(s.intro)
    supplied = (scoring.asked & s.heading_stems) - said
    named = any(t.lower() in s.heading.lower() and t.lower() not in s.text.lower() for t in scoring.terms)
    text = " ".join(pieces)
    # An API entry's description ("Prompt the user for a password without echoing.") is about the entry its
    # heading defines, which it rarely names: the heading is shown once, before the first line quoted from it.
    entry = signature_name(s.heading)  # an API entry or a defined term ("spawn", "work_mem")
    defines = bool(entry) and not names(text, entry)
    once = f"\0heading {s.source} {s.heading}"
    if s.heading and (supplied or named or defines) and not names(text, s.heading) and once not in shown:
        heading = short_signature(s.heading, scoring.asked)
        text = f"{heading}: {text}" if text else f"{heading}:"
        brought.add(once)
    if lines:
        brought |= set(lines)
        if kind == "code":
            block = "```\n" + "\n".join(lines) + "\n```"
        elif kind == "table":
            block = "\n".join(lines)
        else:
            block = "\n".join(item_line(line, marker) for line in lines)
        text = f"{text}\n{block}" if text else block
    return text, brought


# A value a sentence states: a number, a literal (None, True, 'excel'), a constant (ZIP_STORED), a call (cpu_count())
VALUE = re.compile(
    r"(?<![\w.])\d|\b(?:None|True|False|zero|two|three|four|five|six|seven|eight|nine|ten|twelve|hundred|thousand|million)\b"
    r"|['\"‘“][^'\"’”]{1,40}['\"’”]|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b|\w\(\)",
)

# "If not specified, fall back to the default name (currently master ...)": the sentence that states a default
DEFAULT_STATEMENT = re.compile(
    r"\bdefaults? (?:to|is|value|name)\b|\b(?:if|when) (?:not|un)\w* (?:specified|given|set|configured)\b|"
    r"\bby default\b",
    re.I,
)
FOLLOW_SENTENCES = 2  # how far after a sentence stating no value its value may come


def value_after(c: Candidate) -> str:
    """The sentence that gives the value a chosen sentence announces, within the next FOLLOW_SENTENCES of the same
    passage, under the same heading and in the same paragraph; "" when none does."""
    s = c.sentence
    for other in read(c.citation):
        if other.position <= s.position or other.position > s.position + FOLLOW_SENTENCES:
            continue
        if other.role != "prose" or other.fragment or other.paragraph != s.paragraph:
            return ""
        if VALUE.search(other.text) or DEFAULT_STATEMENT.search(other.text):
            return other.text
    return ""


def names(text: str, name: str) -> bool:
    """Whether text says name as a word of its own ('ort' is not in 'supports'); a name with capitals in its case
    ('Lock' is a class, 'lock' a word)."""
    identifier = " " not in name.strip() and any(ch.isupper() for ch in name) and not name.isupper()
    flags = 0 if identifier else re.I
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, flags) is not None


LONG_SIGNATURE = 90  # characters: a longer API signature shows its first parameters and the ones asked about

SIGNATURE_PARAMETERS = 3


def short_signature(heading: str, asked: frozenset[str]) -> str:
    """'textwrap.wrap(text, width=70, *, initial_indent='', ... 14 more)' -> its first parameters and those whose
    name the question uses, the rest elided."""
    m = re.match(r"^(?P<name>[^(]+)\((?P<params>.*)\)(?P<rest>.*)$", heading)
    if len(heading) <= LONG_SIGNATURE or not m:
        return heading
    params = [p.strip() for p in re.split(r",\s*(?![^()\[\]{}]*[)\]}])", m.group("params"))]
    kept = [
        p
        for i, p in enumerate(params)
        if i < SIGNATURE_PARAMETERS or content_stems(p.split("=", 1)[0].replace("_", " ")) & asked
    ]
    shown = ", ".join(kept) + (", …" if len(kept) < len(params) else "")
    return f"{m.group('name')}({shown}){m.group('rest')}"


def item_line(line: str, marker: str) -> str:
    """A list line as a Markdown item with its citation: a bullet the extraction dropped is put back."""
    body = line if re.match(r"^(?:[-*•]|\d{1,2}[.)])\s", line) else f"- {line}"
    return with_markers(body, marker)

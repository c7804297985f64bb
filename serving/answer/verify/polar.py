"""A bare "yes" or "no" claims the question's own statement: "Are both A and B family films?" answered "yes" says
"A is a family film" and "B is a family film". This module turns a yes/no question into the statements its answer
asserts, so the verifier can check an answer that has no words of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUESTION = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|may|might|must)\s+(.+?)[\s?.!]*$",
    re.IGNORECASE | re.DOTALL,
)
_ANSWER = re.compile(
    r"^\s*(yes|no)\b[\s,.!;:]*(?:(?:it|they|he|she|this|that|there|both|neither|you|we|i)\s+"
    r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|must|may)(?:\s*n't|\s+not)?[\s.!]*)?$",
    re.IGNORECASE,
)
_BOTH = re.compile(r"^(?:both|either)\s+(.+?)\s+(?:and|or)\s+(.+)$", re.IGNORECASE | re.DOTALL)
_PAIR_BOTH = re.compile(r"^(.+?)\s+(?:and|or)\s+(.+?)\s+both\s+(.+)$", re.IGNORECASE | re.DOTALL)
_PAIR = re.compile(r"^(.+?)\s+and\s+(.+)$", re.IGNORECASE | re.DOTALL)
_SAME = re.compile(r"\b(?:same|different)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """What a yes/no answer asserts: `parts` all hold ("both"), or the `subjects` share a value ("the same year")."""

    parts: tuple[str, ...]
    subjects: tuple[str, ...] = ()
    predicate: str = ""
    compares: bool = False
    differ: bool = False  # "different" asks whether the values differ


def polar_answer(claim: str) -> bool | None:
    """True for a bare yes ("Yes.", "Yes, they are."), False for a bare no, None for anything that says more."""
    m = _ANSWER.match(claim)
    if m is None:
        return None
    return m.group(1).lower() == "yes"


def _subject_then_rest(text: str, sources_lower: str) -> tuple[str, str] | None:
    """Split "Kings of Leon American rock bands" into the longest leading run of words the sources name and the
    rest: the second subject of a pair ends where the sources stop naming it."""
    words = text.split()
    for n in range(len(words) - 1, 0, -1):
        head = " ".join(words[:n])
        if head.lower().strip("\"'") in sources_lower:
            return head, " ".join(words[n:])
    return None


def statement(question: str, sources: list[str]) -> Statement | None:
    """The statement a yes/no question asks about, split per subject where it asks about two ("both A and B P",
    "A and B both P", "A and B ... the same P"); None when the question is not a yes/no question."""
    m = _QUESTION.match(question.strip())
    if m is None:
        return None
    body = m.group(1).strip()
    lower = " ".join(s.lower() for s in sources)
    both = _BOTH.match(body)
    if both:
        split = _subject_then_rest(both.group(2), lower)
        if split is not None:
            a, (b, predicate) = both.group(1), split
            return Statement((f"{a} {predicate}", f"{b} {predicate}"), (a, b), predicate)
    pair = _PAIR_BOTH.match(body)
    if pair:
        a, b, predicate = pair.groups()
        return Statement((f"{a} {predicate}", f"{b} {predicate}"), (a, b), predicate)
    if _SAME.search(body):
        pair = _PAIR.match(body)
        split = _subject_then_rest(pair.group(2), lower) if pair else None
        if pair and split is not None:
            a, (b, predicate) = pair.group(1), split
            differ = "different" in body.lower() and "same" not in body.lower()
            return Statement((), (a, b), predicate, compares=True, differ=differ)
    return Statement((body,))

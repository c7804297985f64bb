"""Cheap answer metrics that need no judge: citation validity, abstention, length, gold-source hit."""

from __future__ import annotations

import re
from collections.abc import Sequence

from serving.chain import Answer
from serving.citations import claims, strip_markers
from serving.prompts import NO_CONTEXT, REFUSAL

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(  # noqa: SIM905 - a word list reads better as text
    """a an the and or of to in on for with is are was were be been by as at it its this that these those from
    which what how who when where why not no yes do does did can could should would may might will""".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def citation_validity(text: str, sources: Sequence[str], min_overlap: float = 0.3) -> float | None:
    """Share of citations that point at an existing source sharing >= min_overlap of the sentence's content words.

    None when the answer cites nothing (that is measured by the abstention and faithfulness metrics instead).
    """
    checks = []
    for sentence, numbers in claims(text):
        if not numbers:
            continue
        words = content_words(sentence)
        for n in numbers:
            if not 1 <= n <= len(sources):
                checks.append(False)
                continue
            overlap = len(words & content_words(sources[n - 1])) / max(1, len(words))
            checks.append(overlap >= min_overlap)
    return sum(checks) / len(checks) if checks else None


def abstained(answer: Answer) -> bool:
    return answer.mode == "no-context" or REFUSAL in answer.text or NO_CONTEXT in answer.text


def answer_length(text: str) -> int:
    return len(strip_markers(text).split())


def gold_hit(answer: Answer, gold_docs: Sequence[str]) -> float | None:
    """1.0 when a gold document is among the answer's sources (by file stem), None without gold labels."""
    if not gold_docs:
        return None
    stems = {c.relpath.rsplit("/", 1)[-1].rsplit(".", 1)[0] for c in answer.citations}
    return 1.0 if stems & set(gold_docs) else 0.0

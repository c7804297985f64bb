"""How an answer of `python -m eval answers` is scored against its question (answer_sets.py): each part's facts
found (in order where it asks), an unanswerable part said to be missing, declines, numbers no cited source states
and wrong values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eval.quality.answer_facts import earliest, find, normalise, unsupported_numbers
from eval.quality.answer_sets import PartSpec, QuestionRow
from retrieval.text import content_stems, sentences
from serving.answer.markers import strip_markers

# What an answer says when it has nothing for the whole question or for one part of it.
DECLINE = re.compile(
    r"could ?n[o']t find|can ?n[o']t find|did ?n[o']t find|found nothing|find nothing|nothing (about|on)|"
    r"no (answer|information)|not contain an answer|not (been )?found|not covered|no mention",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PartMatch:
    """How one part fared in one answer."""

    found: int  # fact groups present
    needed: int
    covered: bool
    out_of_order: bool = False  # every step is there, but not in the order the source gives them
    wrong: tuple[str, ...] = ()  # wrong values stated while the right one is missing


def match_part(answer: Sequence[str], part: PartSpec, others: Sequence[PartSpec] = ()) -> PartMatch:
    """Score one answerable part against the normalised answer; `others` are the question's other parts, whose
    right values are never counted as this part's wrong ones."""
    needed = part.min_facts or len(part.facts)
    present = [earliest(answer, group) for group in part.facts]
    found = sum(p is not None for p in present)
    covered = found >= needed
    out_of_order = False
    if covered and part.in_order:
        pos = 0
        for group in part.facts:
            at = earliest(answer, group, pos)
            if at is None:
                out_of_order, covered = True, False
                break
            pos = at + 1
    wrong: tuple[str, ...] = ()
    if not covered:
        theirs = [normalise(alt) for p in others for group in p.facts for alt in group]
        wrong = tuple(
            w
            for w in part.wrong
            if find(answer, normalise(w)) is not None
            and not any(find(t, normalise(w)) is not None or find(normalise(w), t) is not None for t in theirs)
        )
    return PartMatch(found, needed, covered, out_of_order, wrong)


# --- what the answer says -------------------------------------------------------------------------------------


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def answer_parts(answer: Any) -> list[Any]:
    """The answer's own parts (kb.parts), where the chain reports them; [] before it does."""
    return list(getattr(answer, "parts", None) or [])


def _not_found(part: Any) -> bool:
    """A part of the answer reported as not found: status "not found" (kb.parts) or found False (Answer.parts)."""
    status = _field(part, "status")
    if status is not None:
        return str(status).replace("_", " ").lower() == "not found"
    return _field(part, "found") is False


def declined(answer: Any) -> bool:
    """The answer says it could not find an answer: no context at all, the model's refusal, every part reported
    not found, or a decline that cites nothing."""
    from serving.answer.prompts import NO_CONTEXT, REFUSAL

    text = str(answer.text)
    if answer.mode == "no-context" or NO_CONTEXT in text or REFUSAL in text:
        return True
    parts = answer_parts(answer)
    if parts and all(_not_found(p) for p in parts):
        return True
    return not answer.cited and bool(DECLINE.search(text))


def named_missing(answer: Any, part: PartSpec, index: int, n_parts: int) -> bool:
    """The answer says this part was not found: the whole answer declines, its own part for this one is reported
    not found, or a sentence saying something was not found names words of this part."""
    if declined(answer):
        return True
    theirs = answer_parts(answer)
    ours = content_stems(part.text)
    if theirs:
        if len(theirs) == n_parts and _not_found(theirs[index]):
            return True
        if any(_not_found(p) and ours & content_stems(str(_field(p, "text") or "")) for p in theirs):
            return True
    return any(DECLINE.search(s) and ours & content_stems(s) for s in sentences(strip_markers(answer.text)))


def cited_texts(answer: Any) -> list[str]:
    """The texts of the sources the answer cites (all of its sources when it cites none), with the title and
    section each sits under: an answer may quote a heading ("base64 — Base16, Base32, Base64, Base85 ...")."""
    citations = list(answer.citations)
    chosen = [citations[n - 1] for n in answer.cited if 1 <= n <= len(citations)]
    return [
        "\n".join(filter(None, (getattr(c, "title", ""), getattr(c, "section", ""), c.text)))
        for c in (chosen or citations)
    ]


@dataclass
class QuestionResult:
    """One question answered and scored."""

    id: str
    split: str
    category: str
    question: str
    answer: str
    mode: str
    ms: float
    words: int
    parts: list[dict[str, Any]] = field(default_factory=list)  # per part: text, kind, status, found, missing...
    covered: bool = False  # every answerable part covered and every unanswerable part said to be missing
    declined: bool = False
    unsupported_numbers: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def score(row: QuestionRow, answer: Any, ms: float) -> QuestionResult:
    """Score one answer (an Answer of serving.answer.chain, or anything with its fields)."""
    text = str(answer.text)
    words = normalise(text)
    result = QuestionResult(
        row.id,
        row.split,
        row.category,
        row.question,
        text,
        str(answer.mode),
        round(ms, 1),
        len(strip_markers(text).split()),
        declined=declined(answer),
        unsupported_numbers=unsupported_numbers(text, cited_texts(answer), row.question),
        sources=[c.relpath for c in answer.citations],
    )
    shown: list[str] | None = None  # the sources shown with the answer, normalised once when a part is missed
    for i, part in enumerate(row.parts):
        entry: dict[str, Any] = {"text": part.text, "kind": part.kind, "answerable": part.answerable}
        if part.answerable:
            m = match_part(words, part, [p for p in row.parts if p is not part])
            entry.update(
                covered=m.covered,
                found=m.found,
                needed=m.needed,
                out_of_order=m.out_of_order,
                wrong=list(m.wrong),
                missing=[g[0] for g in part.facts if earliest(words, g) is None],
            )
            if not m.covered:
                entry["named_missing"] = named_missing(answer, part, i, len(row.parts))
                # Was it there to be taken? Separates choosing the wrong sentence from retrieving the wrong passage.
                shown = shown if shown is not None else normalise("\n".join(c.text for c in answer.citations))
                entry["in_sources"] = match_part(shown, part.model_copy(update={"ordered": False})).covered
            result.wrong += list(m.wrong)
        else:
            entry["covered"] = entry["named_missing"] = named_missing(answer, part, i, len(row.parts))
        result.parts.append(entry)
    result.covered = all(p["covered"] for p in result.parts)
    return result

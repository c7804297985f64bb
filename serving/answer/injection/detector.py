"""The prompt-injection detector: a sentence's score from the intent groups of patterns it matches (a group adds its
strongest match), and the sentences of a text whose score reaches THRESHOLD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from retrieval.text import sentence_spans
from serving.answer.injection.control import (
    ADDRESS,
    AI_STRONG,
    CLAIM,
    OVERRIDE,
    ROLE,
    SECOND_PERSON,
    SQUASHED,
    TURN,
)
from serving.answer.injection.demands import (
    AGENT_TOOL,
    CALL_WITH_ARGUMENTS,
    EXFIL,
    RESPONSE,
    REVEAL,
    TOOL,
    TOOL_ACTION,
    TOOL_NAMED,
    URL_OR_MAIL,
)
from serving.answer.injection.folding import fold

# Chosen on the tune half of the labelled set (`python -m eval injection` prints the sweep): the lowest score at
# which no ordinary documentation sentence of that half is flagged.
THRESHOLD = 2.0


def _compile(patterns: Iterable[str | tuple[float, str]], weight: float) -> list[tuple[float, re.Pattern[str]]]:
    """Each pattern with its weight: its own where given, else the group's."""
    return [(p[0], re.compile(p[1])) if isinstance(p, tuple) else (weight, re.compile(p)) for p in patterns]


_GROUPS: list[tuple[str, list[tuple[float, re.Pattern[str]]]]] = [
    ("address", _compile(ADDRESS, 2.0)),
    ("override", _compile(OVERRIDE, 2.0)),
    ("role", _compile(ROLE, 2.0)),
    ("reveal", _compile(REVEAL, 2.0)),
    ("response", _compile(RESPONSE, 2.0)),
    ("exfiltration", _compile(EXFIL, 1.5)),
    ("turn", _compile(TURN, 2.0)),
    ("tool", _compile(TOOL, 1.0)),
    ("claim", _compile(CLAIM, 1.0)),
    ("second-person", _compile(SECOND_PERSON, 1.0)),
    ("ai", [(0.5, re.compile(AI_STRONG))]),
]
_SYSTEM_PROMPT = re.compile(r"\bsystem ?prompt(?!s? (?:you|the|users?|for|when)\b)|\bsystemprompt\b")


# Every pattern at once: a sentence that matches none of them scores nothing but its disguise.
_ANY = re.compile(
    "|".join(f"(?:{p.pattern})".replace("(?P<name>", "(?:") for _, group in _GROUPS for _, p in group)
    + f"|{_SYSTEM_PROMPT.pattern}"
)


def score(sentence: str) -> tuple[float, dict[str, float]]:
    """The sentence's score and what each intent group contributed."""
    folded = fold(sentence)
    text = folded.text
    parts: dict[str, float] = {}
    if not folded.squashed and not _ANY.search(text):  # most sentences: one search instead of one per pattern
        return (1.0, {"disguised": 1.0}) if folded.disguised else (0.0, parts)
    for name, patterns in _GROUPS:
        best = max((w for w, p in patterns if p.search(text)), default=0.0)
        if best:
            parts[name] = best
    named = TOOL_NAMED.search(text)
    acts = named and TOOL_ACTION.search(named.group("name"))
    if acts and (AGENT_TOOL.search(text) or CALL_WITH_ARGUMENTS.search(text)):
        parts["tool"] = 2.0  # a call of a tool whose name says it acts (submit_, send_, delete_, search_web ...)
    if "exfiltration" in parts and (URL_OR_MAIL.search(sentence) or URL_OR_MAIL.search(text)):
        parts["exfiltration"] = 2.0  # data to a named address
    if "response" in parts and (URL_OR_MAIL.search(sentence) or URL_OR_MAIL.search(text)):
        parts["response"] = 2.0  # an address to put in the answer
    if _SYSTEM_PROMPT.search(text):
        parts["reveal"] = max(parts.get("reveal", 0.0), 1.0)
    if folded.squashed and SQUASHED.search(folded.squashed):
        parts["spaced"] = 2.0
    if folded.disguised:
        parts["disguised"] = 1.0
    return sum(parts.values()), parts


def is_addressed_to_ai(sentence: str, threshold: float = THRESHOLD) -> bool:
    """Whether one sentence is addressed to an AI rather than to a reader."""
    return score(sentence)[0] >= threshold


def flagged_sentences(text: str, threshold: float = THRESHOLD) -> list[tuple[int, int]]:
    """(start, end) of each sentence of the text addressed to an AI. A sentence right after one that addresses an
    AI ("Note to AI systems:") counts its signals one point higher: it is what the address introduced."""
    out: list[tuple[int, int]] = []
    addressed = False
    for start, end in sentence_spans(text):
        total, parts = score(text[start:end])
        if addressed and total > 0:
            total += 1.0
        flagged = total >= threshold
        if flagged:
            out.append((start, end))
        addressed = flagged and "address" in parts
    return out

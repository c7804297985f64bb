"""The shape of a question, without a language model: its parts, in order, and the kind of answer each asks for.

"What must I do if my laptop is stolen, and how long must passwords be?" is two questions; "What are the amount,
the deadline and who approves a claim?" is three. Each part is answered (and retrieved for) on its own, so a part
answered in another document is found and a part nothing answers is named as missing instead of dropped.
A part that leans on an earlier one ("... and who do I tell about it?") is retrieved with that part's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["fact", "procedure", "summary", "comparison", "yesno", "definition"]

_WH = r"(?:who|whom|whose|what|which|when|where|why|how)"
_AUX = (
    r"(?:is|are|was|were|do|does|did|can|could|may|might|must|shall|should|will|would|has|have|had|am|"
    r"isn't|aren't|don't|doesn't|can't|won't)"
)
# Where a question goes on to ask something else: "..., and how long ...", "... and who do I tell ...",
# "...; also, what ...", "... or when ..."
_SPLIT = re.compile(
    rf"(?:[,;]\s*(?:and\s+|or\s+|also,?\s+|plus\s+)?|\s+(?:and|or|also|plus)\s+)(?=(?:{_WH}|{_AUX})\b)", re.I
)
# "what are the amount, the deadline and who approves ..." / "tell me the X, the Y and the Z of ..."
_LIST_LEAD = re.compile(
    r"^(?P<lead>(?:what|which)\s+(?:is|are|were|was)|tell me|give me|list|name)\s+(?P<rest>.+)$", re.I
)
_PRONOUN = re.compile(r"\b(it|its|this|that|these|those|they|them|their|there|one|ones)\b", re.I)

_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        "procedure",
        re.compile(
            r"\b(how (do|can|should|would|must|could) (i|we|you|one)|how to|steps?\b|procedure|process for|"
            r"what (do|should|must|can) (i|we) do|walk me through|set ?up|install|configure)",
            re.I,
        ),
    ),
    (
        "summary",
        re.compile(r"\b(summar|overview|outline|key points|main points|in short|tl;?dr|what does .+ cover)", re.I),
    ),
    (
        "comparison",
        re.compile(
            r"\b(compare|comparison|differen(ce|t)|versus|vs\.?|which is (more|less|higher|lower|larger|smaller|"
            r"longer|shorter|better|bigger|cheaper)|(more|less|higher|lower|longer|shorter) than)\b",
            re.I,
        ),
    ),
    (
        "definition",
        re.compile(r"^(what (is|are) (an? )?(?!the\b)\S+( \S+)?\??$|define|what does .+ mean|meaning of)", re.I),
    ),
    ("yesno", re.compile(rf"^{_AUX}\b", re.I)),
)


@dataclass(frozen=True)
class Part:
    """One thing the question asks: its words as asked, the kind of answer, and what to search for."""

    text: str
    kind: Kind
    query: str  # the part with the words of the part it leans on, for retrieval


def kind_of(text: str) -> Kind:
    """The kind of answer a (part of a) question asks for."""
    t = text.strip()
    for kind, pattern in _KINDS:
        if pattern.search(t):
            return kind
    return "fact"


def parts(question: str, max_parts: int = 4) -> list[Part]:
    """The question's parts in the order asked (one part for a simple question)."""
    pieces: list[tuple[str, str]] = []  # (the part as asked, words of the question it leans on)
    for sentence in re.split(r"(?<=[?!.])\s+", question.strip()):
        sentence = sentence.strip()
        if not sentence:
            continue
        listed = _listed(sentence)
        if len(listed) > 1:  # "the amount, the deadline and who approves a claim": one part per item
            shared = _topic(listed[-1])  # the last item usually names what all of them are about
            pieces.extend((item, "" if item == listed[-1] else shared) for item in listed)
            continue
        for clause in _SPLIT.split(sentence):
            clause = clause.strip(" ,;")
            if clause:
                pieces.append((clause, ""))
    pieces = [p for p in pieces if len(re.findall(r"\w+", p[0])) >= 2] or [(question.strip(), "")]
    if len(pieces) > max_parts:  # more pieces than a person asks at once: a list, not several questions
        pieces = [(question.strip(), "")]
    out: list[Part] = []
    for i, (piece, context) in enumerate(pieces):
        text = piece if piece.endswith(("?", ".", "!")) else piece + ("?" if _asks(piece) else "")
        text = text[:1].upper() + text[1:]
        query = text
        if context:
            query = f"{text} {context}"
        elif i and (_PRONOUN.search(piece) or len(re.findall(r"\w+", piece)) <= 4):
            query = f"{_topic(pieces[i - 1][0])} {text}"
        out.append(Part(text, kind_of(piece), query))
    return out


def _asks(piece: str) -> bool:
    return bool(re.match(rf"^({_WH}|{_AUX})\b", piece, re.I))


def _listed(clause: str) -> list[str]:
    """'what are the amount, the deadline and who approves X' -> one question per listed item, sharing the tail."""
    m = _LIST_LEAD.match(clause.rstrip("?"))
    if not m:
        return [clause]
    items = re.split(r",\s*(?:and\s+|or\s+)?|\s+and\s+", m.group("rest"))
    items = [i.strip() for i in items if i.strip()]
    if len(items) < 3 or any(len(i.split()) > 8 for i in items[:-1]):
        return [clause]
    # The last item usually carries the shared tail: "... and the approver of a travel claim"
    tail = ""
    last = items[-1]
    m_tail = re.search(r"\s+(of|for|about|on|in)\s+(.+)$", last)
    if m_tail:
        tail = f" {m_tail.group(1)} {m_tail.group(2)}"
    lead = m.group("lead").lower()
    out = []
    for item in items:
        if re.match(rf"^({_WH})\b", item, re.I):
            out.append(item if not tail or tail.strip() in item else item + tail)
        else:
            body = item if (not tail or item.endswith(tail.strip())) else item + tail
            verb = "what is" if lead.startswith(("what", "which")) else lead
            out.append(f"{verb} {body}")
    return out


def _topic(piece: str) -> str:
    """The content words of a part, to carry into the next one's search when it says "it" or "them"."""
    words = re.findall(r"[\w'-]+", piece)
    stop = {"what", "who", "how", "when", "where", "which", "why", "do", "does", "did", "i", "we", "you", "is",
            "are", "the", "a", "an", "of", "to", "for", "my", "our", "must", "should", "can", "get", "many", "much",
            "long", "if", "and", "or", "in", "on", "be"}  # fmt: skip
    return " ".join(w for w in words if w.lower() not in stop)

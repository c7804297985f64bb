"""The shape of a question, without a language model: its parts, in order, and the kind of answer each asks for.

"What must I do if my laptop is stolen, and how long must passwords be?" is two questions; "What are the amount,
the deadline and who approves a claim?" is three. Each part is answered (and retrieved for) on its own, so a part
answered in another document is found and a part nothing answers is named as missing instead of dropped.
A part that leans on an earlier one ("... and who do I tell about it?") is retrieved with that part's words.
What only frames a question is no part of its own: a statement before it ("My laptop was stolen. What should I
do?") stays in the part it leads to, and a title or label ("Travel policy: ...") goes into the search of the parts
it heads.
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
# "by when", "to whom", "for how long", "in which", "after how many": a question word behind its preposition
_PREP = r"(?:by|to|for|from|in|at|on|with|within|after|before|until|since|during|under)"
_ASKS = rf"(?:(?:{_PREP}\s+)?{_WH}|{_AUX})\b"
# Where a question goes on to ask something else: "..., and how long ...", "... and who do I tell ...",
# "...; also, what ...", "... or when ...", "..., and by when ..."
_SPLIT = re.compile(rf"(?:[,;]\s*(?:and\s+|or\s+|also,?\s+|plus\s+)?|\s+(?:and|or|also|plus)\s+)(?={_ASKS})", re.I)
# Sentences; a line break ends one only before a capital or a question word, so a wrapped question stays whole.
_SENTENCES = re.compile(
    rf"(?<=[?!])\s+|(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bvs\.)(?<=\.)\s+|[ \t]*\n\s*(?=[A-Z]|(?i:{_ASKS}))"
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
# "what are the amount, the deadline and who approves ..." / "tell me the X, the Y and the Z of ..."
_LIST_LEAD = re.compile(
    r"^(?P<lead>(?:what|which)\s+(?:is|are|were|was)|tell me|give me|list|name)\s+(?P<rest>.+)$", re.I
)
_PRONOUN = re.compile(r"\b(it|its|this|that|these|those|they|them|their|there|one|ones)\b", re.I)
# A sentence that asks for something without a question mark: "Summarize the policy.", "Install the client"
_REQUEST = re.compile(
    r"^(?:(?:please|now|also|and|so|then)\s+)*(?:summari[sz]e|compare|contrast|give|tell|list|explain|describe|show|"
    r"name|define|outline|walk|help|install|configure|set\s?up|setup|reset|enable|disable|upgrade|uninstall|deploy|"
    r"find|provide|state|enumerate|detail|recommend|suggest|let)\b",
    re.I,
)
# A label in front of a question: "Travel policy: ...", "Question 3 - ..."
_LABEL_MARK = re.compile(r"\s*(?::|\s[-–—]+)\s+")
_FIRST_PERSON_OR_VERB = re.compile(rf"\b(?:{_AUX}|i|i'm|i've|my|me|we|our|us)\b", re.I)

# A procedure asked for politely, as a yes/no question: "Can you walk me through ...", "Could you tell me how to ..."
_PROCEDURE_REQUEST = re.compile(
    r"\b(?:walk (?:me|us) through|guide (?:me|us) through|(?:show|tell|teach) (?:me|us) how|explain how|"
    r"know how to)\b",
    re.I,
)
_PROCEDURE = re.compile(
    r"\b(?:how (?:do|can|should|would|must|could|may|shall) (?:i|we|you|one)\b|how to\b|steps\b|"
    r"step[- ]by[- ]step\b|(?:what|which)(?:'s| is| are)? (?:the )?(?:[\w-]+ )?(?:procedure|process)(?:es)?"
    r"(?=\s+(?:for|to|of|when|if|after|in)\b|\s+(?:do|should|must) (?:i|we)\b|\s*[?.!]?\s*$)|"
    r"what (?:do|should|must|can) (?:i|we) (?:do|follow)\b|what to do\b)"
    r"|^(?:(?:please|now|then)\s+)?(?:install|configure|set\s?up|setup|reset|enable|disable|upgrade|uninstall|deploy)\b",
    re.I,
)
_SUMMARY = re.compile(r"\b(summar|overview|outline|key points|main points|in short|tl;?dr|what does .+ cover)", re.I)
_COMPARATIVE = (
    r"(?:more|less|fewer|higher|lower|larger|smaller|bigger|longer|shorter|cheaper|faster|slower|sooner|earlier|"
    r"later|better|worse|greater|wider|narrower|newer|older|safer|heavier|lighter|stricter|preferred|preferable)"
)
# "more than 500 euros", "longer than a week": a threshold, not two things weighed against each other
_AMOUNT = (
    r"(?:\d|(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|fifty|hundred|"
    r"thousand)\b|an? (?:few|day|week|month|year|hour|minute)\b)"
)
_COMPARE = re.compile(
    rf"\b(?:(?:compare|comparison|contrast|differences?|differ|differs|different (?:from|than|between)|versus|vs|"
    rf"which (?:one )?is {_COMPARATIVE})\b|{_COMPARATIVE} than (?!{_AMOUNT}))",
    re.I,
)
_WEIGHED = re.compile(rf"(?<!\bor )\b{_COMPARATIVE}\b(?! than {_AMOUNT})(?! or\b)", re.I)  # not "or more"
_DEFINITION = re.compile(
    r"^(?:what (?:is|are) (?:an? )?(?!(?:the|its|their|my|our|your|his|her|this|that|these|those|it|there)\b)"
    r"\S+(?: \S+)?\??$|define\b|what does .+ mean|meaning of)",
    re.I,
)


@dataclass(frozen=True)
class Part:
    """One thing the question asks: its words as asked, the kind of answer, and what to search for."""

    text: str
    kind: Kind
    query: str  # the part with the words of the part it leans on, for retrieval


def kind_of(text: str) -> Kind:
    """The kind of answer a (part of a) question asks for."""
    t = _asking(text)
    if _PROCEDURE_REQUEST.search(t):
        return "procedure"
    if re.match(rf"^{_AUX}\b", t, re.I):  # yes/no, unless it asks to summarize or weighs two things
        if _SUMMARY.search(t):
            return "summary"
        return "comparison" if _compares(t) else "yesno"
    if _PROCEDURE.search(t):
        return "procedure"
    if _SUMMARY.search(t):
        return "summary"
    if _compares(t):
        return "comparison"
    if _DEFINITION.search(t):
        return "definition"
    return "fact"


def parts(question: str, max_parts: int = 4) -> list[Part]:
    """The question's parts in the order asked (one part for a simple question)."""
    # (the part as asked, words of the question it leans on, label words that head it)
    pieces: list[tuple[str, str, str]] = []
    statements: list[str] = []  # what the asker says before asking: it belongs to the part it leads to
    heading = ""  # a title or label: it heads every part after it
    for sentence in _sentences(question):
        role = _role(sentence)
        if role == "statement":
            statements.append(sentence)
            continue
        if role == "label":
            heading = sentence.rstrip(" .:!-–—")
            continue
        label, sentence = _label(sentence)
        if label:
            heading = label
        clauses = [(clause, context, heading) for clause, context in _clauses(sentence)]
        if clauses:
            first, context, _ = clauses[0]
            said = " ".join(statements)
            if heading and not _says(first):  # "Laptop stolen: what should I do?": the label says what is asked
                said, clauses[0] = f"{heading}: {said}".strip(), (first, context, "")
            if said:
                clauses[0] = (f"{said} {_as_asked(first)}", *clauses[0][1:])
            statements = []
        pieces.extend(clauses)
    if statements and pieces:  # "What is X? I ask because ...": the reason is searched with the last part
        clause, context, label = pieces[-1]
        pieces[-1] = (clause, " ".join([context, *statements]).strip(), label)
    pieces = [p for p in pieces if len(re.findall(r"\w+", p[0])) >= 2] or [(question.strip(), "", "")]
    if len(pieces) > max_parts:  # more pieces than a person asks at once: a list, not several questions
        pieces = [(question.strip(), "", "")]
    out: list[Part] = []
    for i, (piece, context, label) in enumerate(pieces):
        text = _as_asked(piece)
        query = text
        if context:
            query = f"{text} {context}"
        elif i and (_PRONOUN.search(piece) or len(re.findall(r"\w+", piece)) <= 4):
            query = f"{_topic(pieces[i - 1][0])} {text}"
        if label and label not in query:
            query = f"{label}: {query}"
        out.append(Part(text, kind_of(piece), query))
    return out


def _as_asked(piece: str) -> str:
    """The piece as a sentence: capitalised, with a question mark where it asks."""
    piece = piece.strip()
    text = piece if piece.endswith(("?", ".", "!")) else piece + ("?" if _asks(piece) else "")
    return text[:1].upper() + text[1:]


def _clauses(sentence: str) -> list[tuple[str, str]]:
    """One question sentence's parts: (the part, words of the question it shares), in order."""
    listed = _listed(sentence)
    if len(listed) > 1:  # "the amount, the deadline and who approves a claim": one part per item
        shared = _topic(listed[-1])  # the last item usually names what all of them are about
        return [(item, "" if item == listed[-1] else shared) for item in listed]
    out = []
    for clause in _SPLIT.split(sentence):
        clause = clause.strip(" ,;")
        if clause:
            out.append((clause, ""))
    return out


def _sentences(text: str) -> list[str]:
    out = []
    for s in _SENTENCES.split(text.strip()):
        s = re.sub(r"\s+", " ", _BULLET.sub("", s)).strip()
        if s:
            out.append(s)
    return out


def _role(sentence: str) -> Literal["question", "statement", "label"]:
    """A question or request (a part), a statement (context for the next question), or a title or label."""
    s = sentence.strip()
    if s.endswith("?") or _REQUEST.match(s) or re.match(_ASKS, s, re.I):
        return "question"
    if len(re.findall(r"\w+", s)) <= 6 and not _FIRST_PERSON_OR_VERB.search(s):
        return "label"
    return "statement"


def _label(sentence: str) -> tuple[str, str]:
    """("Travel policy", "what is the per diem?") from "Travel policy: what is the per diem?"; ("", sentence) when
    nothing labels it. "Which is sooner: X or Y?" is a question with a colon, not a label."""
    for m in _LABEL_MARK.finditer(sentence):
        label, rest = sentence[: m.start()].strip(), sentence[m.end() :].strip()
        if not label or len(re.findall(r"\w+", label)) > 6:
            return "", sentence
        if re.match(_ASKS, label, re.I) or _REQUEST.match(label):
            return "", sentence
        if re.match(_ASKS, rest, re.I) or _REQUEST.match(rest):
            return label, rest
    return "", sentence


def _asking(text: str) -> str:
    """What a text asks, without the statements and labels around it: its last question."""
    sentences = _sentences(text)
    questions = [s for s in sentences if _role(s) == "question"]
    return _label(questions[-1] if questions else text.strip())[1]


def _compares(text: str) -> bool:
    """Two things weighed: "compare X and Y", "X versus Y", "longer than the probation period", "higher in Paris or
    in Berlin"; not a threshold ("more than 500 euros", "500 euros or more")."""
    return bool(_COMPARE.search(text)) or bool(re.search(r"\bor\b", text, re.I) and _WEIGHED.search(text))


def _says(piece: str) -> bool:
    """Whether a part names something of its own ("what is the per diem"), unlike "what should I do about it"."""
    vague = {"about", "with", "from", "by", "at", "then", "now", "need", "happen", "happens", "next", "there"}
    return any(len(w) > 2 and w.lower() not in vague for w in _PRONOUN.sub("", _topic(piece)).split())


def _asks(piece: str) -> bool:
    return bool(re.match(_ASKS, piece, re.I))


def _listed(clause: str) -> list[str]:
    """'what are the amount, the deadline and who approves X' -> one question per listed item, sharing the tail."""
    m = _LIST_LEAD.match(clause.rstrip("?"))
    if not m:
        return [clause]
    items = re.split(r",\s*(?:and\s+|or\s+)?|\s+and\s+", m.group("rest"))
    items = [i.strip() for i in items if i.strip()]
    if len(items) < 3 or any(len(i.split()) > 8 for i in items[:-1]):
        return [clause]
    if any(re.match(rf"^{_AUX}\b", i, re.I) for i in items):  # "..., and does unused budget carry over": a question
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

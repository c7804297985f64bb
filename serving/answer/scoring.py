"""How well each candidate sentence answers one part of a question: meaning (embedding similarity), the part's
words it or its heading says (weighted by rarity), and bonuses for what the part asks for (a number, a default,
the asked setting's own entry, the case of a rule the asked amount meets); and when a part is not answered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

from retrieval.embeddings import Embedder
from retrieval.text import content_stems, numbers, stem
from serving.answer.candidates import Candidate, Scoring, faq_matches, rarity
from serving.answer.citations import Citation
from serving.answer.cues import applies, asked_values, conditions
from serving.answer.passages import Sentence
from serving.answer.question import Part
from serving.answer.steps import StepReader

logger = logging.getLogger(__name__)

QUANTITY = re.compile(
    r"\b(how (many|much|long|often|far|soon|old|large|big|high)|when|what time|what year|what date|which year|"
    r"limit|maximum|minimum|price|cost|deadline|percent|rate|number of|amount|default)\b",
    re.IGNORECASE,
)

WH = re.compile(r"^(?:who|whom|whose|what|which|when|where|why|how)\b", re.I)

# Words that ask rather than name what is asked: no source need contain them.
ASKING = frozenset(
    stem(w)
    for w in "many much long soon often get got need needs happen happens take takes last lasts stay stays tell know "
    "give find kind type way like please exactly".split()
)

IDENTIFIER_NAME = re.compile(r"^[A-Za-z][\w]*(?:[_.][\w]+)+$|^[a-z]+[A-Z]\w*$|^[A-Z][a-z0-9]+[A-Z]\w*$")

LEXICAL_WEIGHT = 0.6  # with rarity weighting; chosen on PubMedQA train + handbook questions (BENCHMARKS.md)

HEADING_WEIGHT = 0.5  # a question word found only in the sentence's heading counts this much of one in the sentence

NUMBER_BONUS = 0.1

DEFAULT_BONUS = 0.15  # a sentence stating what holds when nothing is set, for a question asking that

RANK_PENALTY = 0.02

MARGIN = 0.15  # a further sentence must score within this of the best one

FAQ_BONUS = 0.8  # for the answer under an FAQ question that matches the user's question

SUBJECT_BONUS = 0.3  # under a heading naming the asked setting

OTHER_SUBJECT = 1.0  # under a heading naming another setting, when one names the asked setting: not an answer

CASE_BONUS = 0.3  # the case of a rule whose condition the asked amount meets (minus, for the case it fails)

STEP_BONUS = 0.25  # for a procedure: a step (list item, imperative sentence, colon with its list)

LEANED_ON = 0.5  # weight of the words a part borrows from the part it leans on

SUPERSEDED = 2.0  # a "Changed in version" note a later one about the same asked words replaces: history, not the answer

VERSION_NOTE = re.compile(r"^(?:Changed|New|Deprecated) (?:in|since) version (\d+(?:\.\d+)*)", re.I)


def replaced_notes(candidates: Sequence[Candidate], asked: frozenset[str]) -> list[bool]:
    """'Changed in version 3.5: ... default to ... multiplied by 5' is history once 'Changed in version 3.8: Default
    value of max_workers is changed to ...' follows it in the same section about the same asked words."""
    notes: list[tuple[int, tuple[int, ...], frozenset[str]]] = []
    for i, c in enumerate(candidates):
        m = VERSION_NOTE.match(c.text)
        if m:
            notes.append((i, tuple(int(x) for x in m.group(1).split(".")), c.stems & asked))
    out = [False] * len(candidates)
    for i, version, words in notes:
        ci = candidates[i]
        out[i] = any(
            v > version
            and w & words
            and candidates[j].citation.relpath == ci.citation.relpath
            and candidates[j].sentence.heading == ci.sentence.heading
            for j, v, w in notes
        )
    return out


def asking_part(text: str) -> str:
    """The question a part asks, without the statements before it that give its context."""
    sentences = [t for t in re.split(r"(?<=[.!?])\s+", text.strip()) if t]
    if len(sentences) > 1 and sentences[-1].endswith("?"):
        return sentences[-1]
    return text


UNANSWERED_SCORE = 0.75  # a wh-part whose best sentence scores below this ...

UNANSWERED_COVERAGE = 0.3  # ... and says less than this share of its (rarity-weighted) words is not found


def unanswered(part: Part, candidates: Sequence[Candidate], scoring: Scoring) -> bool:
    """A wh-question none of the sources answers: its best sentence scores low and says little of what the part
    asks with ("What is the notice period when I resign?" finds only "the probation period of three months").
    Yes/no questions, titles ("The nurse cystoscopist: a feasible option?") and requests for an overview are left
    alone: their words describe a claim or a document, and sources say those in words of their own."""
    asking = part.text.rsplit(":", 1)[-1].strip(" \"'“”‘’(")
    if part.kind == "summary" or not WH.match(asking):
        return False
    best = int(np.argmax(scoring.scores))
    if scoring.scores[best] >= UNANSWERED_SCORE:
        return False
    asked = {w: weight for w, weight in scoring.weights.items() if w not in ASKING}
    total = sum(scoring.idf(w) * weight for w, weight in asked.items())
    if not total:
        return False
    s = candidates[best].sentence
    codes = {t for t in _STATED.findall(asking) if _CODE.match(t)}
    holding = [c for c in candidates if c.sentence.role == "row" and codes and not lacks(c, codes)]
    if s.role == "row" and holding == [candidates[best]]:
        return False  # the one row of the code asked about ("Who maintains the Boiler A9?")
    said = candidates[best].stems | s.heading_stems | content_stems(s.referent)
    return sum(scoring.idf(w) * weight for w, weight in asked.items() if w in said) / total < UNANSWERED_COVERAGE


def subject_of(s: Sentence, terms: Sequence[str]) -> float:
    """+1 when the sentence's heading names an asked term (work_mem), -1 when it names another setting while the
    question asks about a setting, else 0."""
    if not terms or not s.heading:
        return 0.0
    heading = s.heading.lower()
    if any(re.search(rf"(?<![\w]){re.escape(t.lower())}(?![\w])", heading) for t in terms):
        return 1.0
    named = s.heading.split()[0] if s.heading.split() else ""
    if IDENTIFIER_NAME.match(named) and any(IDENTIFIER_NAME.match(t) for t in terms):
        return -1.0
    return 0.0


# "... when no name is configured", "if I do not set it": the question asks for the default
UNSET = re.compile(
    r"\b(?:no \w+ is|nothing is|(?:is|are|was) not|(?:have|has|do|does|did)(?:n't| not))\s+(?:\w+\s+)?"
    r"(?:configured|set|given|specified|provided|passed)\b|\bunless\b|\bby itself\b",
    re.I,
)


# "... the default behavior is used, which corresponds to the simple value", "This mode is the default since Git 2.0",
# "When neither the command-line nor the configuration specify what to push, ...": what holds when nothing is set
# (not the verb: "to default to pushing only the current branch, use ...")
STATES_DEFAULT = re.compile(
    r"(?<!to )\bdefaults? (?:to|is|value|name)\b|\b(?:is|are|was|be) the default\b|\bthe default \w+ (?:is|are)\b"
    r"|\bby default\b"
    r"|\b(?:if|when|unless) (?:neither|no|nothing|not|none)\b[^.;]{0,80}?\b(?:specif|configur|given|set)\w*",
    re.I,
)


ROW_MISMATCH = 0.5  # per stated value a table row lacks, beyond the fewest any retrieved row lacks

# What a question states literally, that a row must hold to be the row asked about: numbers and codes ("46 days",
# "MC-5708", "Boiler A9") and upper-case abbreviations ("in FI"); the case is kept, so "it" is not Italy
_STATED = re.compile(r"(?<![\w.-])(?:[\w-]*\d(?:[\w.-]*\w)?|[A-Z]{2,})(?![\w-])")


# A code: letters and digits in one word ("A9", "MC-5708", "ISO-27001"), not a year or an amount alone
_CODE = re.compile(r"^(?=[\w.-]*\d)(?=[\w.-]*[A-Za-z])[\w.-]+$")


def lacks(candidate: Candidate, stated: set[str]) -> int:
    """How many of the stated values the candidate's text does not hold as a word of its own (any case)."""
    words = {w.rstrip(".").lower() for w in re.findall(r"[\w.-]+", candidate.text)}
    return sum(1 for t in stated if t.rstrip(".").lower() not in words)


def row_mismatch(candidates: Sequence[Candidate], asking: str) -> list[int]:
    """For each table row among the candidates, how many of the values the question states it lacks, less the
    fewest any retrieved row lacks (0 for every other sentence): "Which textiles supplier in FI has a lead time of
    46 days?" is answered by the row that says FI and 46, not by the textiles supplier whose row reads most alike."""
    stated = set(_STATED.findall(asking))
    rows = [i for i, c in enumerate(candidates) if c.sentence.role == "row"]
    out = [0] * len(candidates)
    if not stated or len(rows) < 2:
        return out
    for i in rows:
        out[i] = lacks(candidates[i], stated)
    fewest = min(out[i] for i in rows)
    return [n - fewest if candidates[i].sentence.role == "row" else 0 for i, n in enumerate(out)]


def score(
    embedder: Embedder,
    steps_reader: StepReader,
    candidates: Sequence[Candidate],
    part: Part,
    citations: Sequence[Citation],
    terms: tuple[str, ...],
) -> Scoring:
    """Each candidate's score as an answer to the part, with what rendering and the answer's shapes need."""
    # A part that leans on an earlier one ("... and who do I tell about it?") is searched with that part's words
    # (part.query); here they count half, or the earlier part's own answer would answer this one too.
    # A statement before the question ("A file matches a pattern in .gitignore but Git still tracks it. How do I
    # stop tracking it?") is its context: its words count like borrowed ones, the question's own in full.
    query = part.query or part.text
    asking = asking_part(part.text)
    weight = dict.fromkeys(content_stems(query) | content_stems(part.text), LEANED_ON)
    weight.update(dict.fromkeys(content_stems(asking), 1.0))
    q_stems = frozenset(weight)
    wants_number = bool(QUANTITY.search(asking) or UNSET.search(asking))
    wants_default = bool(UNSET.search(asking) or re.search(r"\bdefaults?\b", asking, re.I))
    q_vector = embedder.embed_query(part.text)
    vectors = embedder.embed_documents([c.reading for c in candidates])
    similarity = vectors @ q_vector
    if query != part.text:
        similarity = (similarity + vectors @ embedder.embed_query(query)) / 2
    if asking != part.text:
        similarity = (similarity + vectors @ embedder.embed_query(asking)) / 2
    idf = rarity(candidates)
    asked_weight = sum(idf(s) * w for s, w in weight.items()) or 1.0
    faq = faq_matches(candidates, part.text, embedder, q_vector)
    rank = {c.index: i for i, c in enumerate(citations)}
    values = asked_values(part.text)
    cases = [applies(conditions(c.text), values) if values else None for c in candidates]
    competing = True in cases and False in cases  # a rule with cases, one of which fits the asked amount
    # A heading's words speak for the sentences under it only where none of them says those words itself: under
    # "work_mem", "The default is 4MB" is about work_mem; under "Rollback", "A rollback must be followed by a
    # review" already names its subject, and the heading does not make its neighbour more about rollbacks.
    said: dict[tuple[int, str], set[str]] = {}
    for c in candidates:
        said.setdefault((c.sentence.source, c.sentence.heading), set()).update(c.stems)
    steps = steps_reader.steps([c.sentence for c in candidates]) if part.kind == "procedure" else []
    about = [subject_of(c.sentence, terms) for c in candidates]
    named = 1.0 in about  # some heading names the asked setting: the others' values are other settings'
    subjects = [SUBJECT_BONUS if a > 0 else (-OTHER_SUBJECT if a < 0 and named else 0.0) for a in about]
    superseded = replaced_notes(candidates, q_stems)
    mismatched = row_mismatch(candidates, asking)
    scores = []
    for i, c in enumerate(candidates):
        s = c.sentence
        own = c.stems & q_stems
        supplied = (s.heading_stems & q_stems) - said[(s.source, s.heading)]
        lexical = sum(idf(w) * weight[w] for w in own) + HEADING_WEIGHT * sum(idf(w) * weight[w] for w in supplied)
        score = (
            float(similarity[i])
            + LEXICAL_WEIGHT * lexical / asked_weight
            + (NUMBER_BONUS if wants_number and numbers(c.text) else 0.0)
            + (DEFAULT_BONUS if wants_default and STATES_DEFAULT.search(c.text) else 0.0)
            + FAQ_BONUS * faq.get(c.asked, 0.0)
            - RANK_PENALTY * rank.get(s.source, 0)
            + subjects[i]
        )
        if competing and cases[i] is not None:
            score += CASE_BONUS if cases[i] else -CASE_BONUS
        if steps and steps[i]:
            score += STEP_BONUS
        if superseded[i]:
            score -= SUPERSEDED
        score -= ROW_MISMATCH * mismatched[i]
        scores.append(score)
    return Scoring(np.asarray(scores), q_stems, terms, q_vector, tuple(steps), weight, idf, wants_number, faq)

"""Whether the claim's numbers and names belong to the subject the sources give them: the words around a number or
a name in the claim against the words around it in the sources, a short answer against the sentence stating it,
and a value asked for one setting but stated for another.
"""

from __future__ import annotations

import re

from retrieval.text import STOPWORDS, Token, is_content, stem
from serving.answer.verify.analysis import Sentence, Text, identifiers

_ANAPHOR = frozenset("it its he his she her they their them this these those".split())
_MONTHS = frozenset("january february march april may june july august september october november december".split())


def _followers(toks: list[Token], i: int, before: bool = True) -> set[str]:
    """The content words right after a number (what it counts: "47% of the detorsion cases"), or right before it
    when nothing follows (and `before`); month names say nothing of what a number is about."""
    after = [stem(t.lower) for t in toks[i + 1 : i + 5] if is_content(t) and t.lower not in _MONTHS][:2]
    if after or not before:
        return set(after)
    return {stem(t.lower) for t in toks[max(0, i - 3) : i] if is_content(t) and t.lower not in _MONTHS}


def number_followers(claim: list[Token], sources: list[list[Token]]) -> float:
    """Share of the claim's numbers whose followers are the followers of the same number somewhere in the
    sources: a value moved to another subject of the same sentence ("47% of A and 94% of B" swapped) fails."""
    checked = bound = 0
    for i, t in enumerate(claim):
        if t.number is None:
            continue
        mine = _followers(claim, i)
        if not mine:
            continue
        checked += 1
        bound += any(
            s.number == t.number and mine & _followers(toks, j) for toks in sources for j, s in enumerate(toks)
        )
    return bound / checked if checked else 1.0


def _clause_followers(toks: list[Token], text: str, i: int) -> set[str]:
    """The first two content words after a number or a name within its clause (up to a comma, a semicolon or a
    bracket), the rest of a name left out."""
    out: list[str] = []
    end = toks[i].start + len(toks[i].text)
    for t in toks[i + 1 : i + 12]:
        if re.search(r"[,;:()\[\]]", text[end : t.start]):
            break
        end = t.start + len(t.text)
        if is_content(t) and t.lower not in _MONTHS and not t.capitalised:
            out.append(stem(t.lower))
        if len(out) == 2:
            break
    return set(out)


def swapped(claim: list[Token], text: str, sources: list[tuple[list[Token], str]], keys: set[str]) -> list[str]:
    """Numbers and names of the claim that the sources give to another subject of the same sentence: what follows
    it in the claim follows a different number (name) there, and never this one ("47% of A and 94% of B" told as
    "94% of A"; "A acquired B" told as "B acquired A")."""

    def key(t: Token) -> str:
        return f"#{t.number}" if t.number is not None else stem(t.lower)

    def kind(t: Token) -> bool:
        return t.number is not None

    stated = [{key(s) for s in toks} for toks, _ in sources]
    out = []
    for i, t in enumerate(claim):
        if key(t) not in keys:
            continue
        mine = _clause_followers(claim, text, i)
        if not mine:
            continue
        own = other = told = False
        for (toks, sentence), have in zip(sources, stated, strict=True):
            if key(t) not in have:
                continue
            for j, s in enumerate(toks):
                name = s.capitalised and j > 0 and s.lower not in STOPWORDS
                if kind(s) != kind(t) or not (kind(s) or name):
                    continue
                theirs = _clause_followers(toks, sentence, j)
                told = told or (key(s) == key(t) and bool(theirs))
                if mine & theirs:
                    own = own or key(s) == key(t)
                    other = other or key(s) != key(t)
        if other and told and not own:  # a source that says nothing after it leaves the question open
            out.append(t.text)
    return out


def name_contexts(claim: list[Token], names: list[Token], sources: list[list[Token]], skip: set[str]) -> float:
    """For the claim's names (not the question's), the lowest share of their neighbouring words that a source
    sentence naming them also has: a name moved into another statement ("founded by Nutella") fails."""
    scores = []
    positions = {id(t): i for i, t in enumerate(claim)}
    for name in names:
        key = stem(name.lower)
        if key in skip:
            continue
        i = positions[id(name)]
        around = _near(claim, i, 4) - {key}
        around -= {stem(t.lower) for t in names}
        if not around:
            continue
        best = 0.0
        for toks in sources:  # the whole sentence that names it: a reworded claim may reorder its words
            if any(s.number is None and stem(s.lower) == key for s in toks):
                best = max(best, len(around & {stem(s.lower) for s in toks if is_content(s)}) / len(around))
        scores.append(best)
    return min(scores, default=1.0)


def answer_binding(novel: set[str], question: Text, sents: list[Text], per_source_sizes: list[int]) -> float:
    """For a short answer, how well the sentences that state it (with the one before when they start with a pronoun)
    match the question, against
    the best match anywhere: the right value from the wrong sentence ("a doctor's note: 10:00") scores low."""
    asked = {s for s in question.stems if s not in STOPWORDS} | {f"#{n}" for n in question.numbers}
    if not asked or not novel:
        return 1.0
    windows, pairs, offset = [], [], 0
    for size in per_source_sizes:
        for i in range(size):
            have = sents[offset + i].have
            if i and _ANAPHOR & {t.lower for t in sents[offset + i].tokens[:8]}:
                have = have | sents[offset + i - 1].have  # "It was founded in 1946": the sentence before names "it"
            windows.append((sents[offset + i].have, have))
            if i:
                before = windows[-2]
                pairs.append((before[0] | windows[-1][0], before[1] | have))
        offset += size
    best = max((len(asked & have) for _, have in windows), default=0)
    if best == 0:
        return 1.0
    # The sentence that states the answer; or, when no one sentence does, two adjacent ones ("above 500 euros your
    # manager and also Finance approve" told from "up to 500 euros: your manager" and "above: also Finance").
    stating_in = [have for own, have in windows if novel <= own] or [have for own, have in pairs if novel <= own]
    stating = max((len(asked & have) for have in stating_in), default=0)
    # The shortfall as a share of the question: a multi-hop question that no sentence matches well loses little
    # when its answer's sentence matches a little less; a value from the wrong sentence of a close match loses much.
    return min(1.0, 1.0 - (best - stating) / len(asked))


def _near(toks: list[Token], i: int, reach: int) -> set[str]:
    return {stem(t.lower) for t in toks[max(0, i - reach) : i + reach + 1] if is_content(t)}


def number_contexts(
    claim: list[Token], sources: list[tuple[list[Token], set[str]]], reach: int = 4
) -> dict[float, float]:
    """For each number of the claim, the share of its neighbouring words that also neighbour the same number in
    a source ("the fourth day of sick leave" vs "the first day of illness"); the term a sentence is listed under
    neighbours every number in it ("work_mem (integer) ... The default is four megabytes")."""
    scores: dict[float, float] = {}
    for i, t in enumerate(claim):
        if t.number is None:
            continue
        around = _near(claim, i, reach)
        if not around:
            continue
        best = 0.0
        for toks, context in sources:
            for j, s in enumerate(toks):
                if s.number == t.number:
                    best = max(best, len(around & (_near(toks, j, reach + 1) | context)) / len(around))
        scores[t.number] = min(best, scores.get(t.number, 1.0))
    return scores


def other_subject(claim: Text, question: str, per_source: list[list[Sentence]]) -> str | None:
    """A value the sources state only for another setting than the one the question names: asked for work_mem's
    default, "The default value is 2.0" under hash_mem_multiplier is not an answer, even though it mentions
    work_mem. A sentence's subject is the term it is listed under, else the identifiers it names; a sentence that
    names none says nothing about its subject, and the check stays silent."""
    asked = identifiers(question)
    if not asked:
        return None
    for n in sorted(claim.numbers):
        subjects: set[str | None] = set()
        for group in per_source:
            for text, t, term in group:
                if any(x.number == n for x in t.tokens):
                    subjects.update({term} if term else identifiers(text) or {None})
        if subjects and None not in subjects and not subjects & asked:
            named = ", ".join(sorted(x for x in subjects if x))
            return f"{number_text(n)} is stated for {named}, not for {', '.join(sorted(asked))}"
    return None


def number_text(n: float) -> str:
    """A number as a finding prints it: 14, not 14.0."""
    return str(int(n)) if n == int(n) else str(n)

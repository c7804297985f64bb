"""What the sources say about a claim: the verifier's evidence, as numbers (features) and decisive findings.

A claim is compared with its sources on what a wrong answer gets wrong: numbers and their units, names,
negation, polar words (more/less, paid/unpaid) and content that appears nowhere in the sources, both against
all the cited text and against the source sentence that matches it best (a right number taken from the wrong
sentence is still wrong). serving/verify.py weighs the features; the findings decide on their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.text import (
    ANTONYMS,
    NEGATING_PREFIXES,
    NEGATIONS,
    STOPWORDS,
    UNITS,
    Token,
    is_content,
    sentences,
    stem,
    strip_markers,
    tokens,
)

NUMBER_CONTEXT_FLOOR = 0.3

_CLAUSE = re.compile(r";\s+|,\s+(?=(?:and|but|while|whereas|so|although|though|yet)\s)")

FEATURES = (
    "unsupported_share",  # content words of the claim (not from the question) that no source contains
    "window_coverage",  # best share of the claim's words and numbers found in two adjacent source sentences
    "best_sentence_missing_numbers",  # numbers of the claim its best sentence does not state
    "number_binding",  # how well the sentences that state the claim's numbers match the rest of the claim
    "number_context",  # how well the words around each number match the words around it in the sources
    "unit_mismatch",  # a number whose unit differs from the unit the sources give it
    "names_apart",  # the claim's names and numbers never occur together in one source sentence
    "negated_claim",  # the claim negates where the source clause it matches best does not
    "negated_passage",  # the source clause it matches best negates where the claim does not
    "polarity_conflict",  # the claim says "more" / "unpaid" where the source says "less" / "paid"
    "adds_nothing",  # every content word of the claim is already in the question
    "log_words",
)
# Which way each feature may push the score (+1 towards supported, -1 away, 0 either): the fit respects it.
DIRECTION = {
    "unsupported_share": -1,
    "window_coverage": 1,
    "best_sentence_missing_numbers": -1,
    "number_binding": 1,
    "number_context": 1,
    "unit_mismatch": -1,
    "names_apart": -1,
    "negated_claim": -1,
    "negated_passage": -1,
    "polarity_conflict": -1,
    "adds_nothing": 0,
    "log_words": 0,
}


@dataclass
class _Text:
    """A text analysed once: its tokens, content stems, numbers, and numbers paired with their units."""

    tokens: list[Token]
    stems: set[str]
    numbers: set[float]
    measures: set[tuple[float, str]]

    @classmethod
    def of(cls, text: str) -> _Text:
        toks = tokens(text)
        measures = set()
        for i, t in enumerate(toks):
            if t.number is not None:
                for u in toks[i + 1 : i + 4]:
                    if stem(u.lower) in UNITS:
                        measures.add((t.number, stem(u.lower)))
        return cls(
            toks,
            {stem(t.lower) for t in toks if t.number is None},
            {t.number for t in toks if t.number is not None},
            measures,
        )

    @property
    def have(self) -> set[str]:
        """Stems and numbers, as one set to compare coverage."""
        return self.stems | {f"#{n}" for n in self.numbers}


def clauses(claim: str) -> list[str]:
    """A sentence cut at semicolons and at ", and" / ", but" ...: each clause is checked on its own, so two true
    statements from two source sentences make a true sentence, and a false half is not hidden by a true one."""
    parts = [p.strip(" ,;") for p in _CLAUSE.split(claim)]
    out: list[str] = []
    for part in parts:
        if out and sum(1 for t in tokens(part) if is_content(t) or t.number is not None) < 2:
            out[-1] = f"{out[-1]}, {part}"
        elif part:
            out.append(part)
    return out or [claim]


def _names(claim: list[Token]) -> list[Token]:
    """Capitalised words inside the sentence: names, places, products, acronyms. The first word is left out (any
    word is capitalised there: "Findings suggest ...", "Mumbai, the capital"); the soft features still weigh it."""
    out = []
    for t in claim[1:]:
        if t.number is not None or len(t.lower) < 2 or not t.capitalised:
            continue
        if t.lower not in STOPWORDS or t.text.isupper():  # "US" and "IT" are names, "The" is not
            out.append(t)
    return out


def _negated(text: str, toks: list[Token]) -> bool:
    """A negation cue; not "No. 19", and not a yes/no that answers a question ("No, ..." / "no")."""
    for i, t in enumerate(toks):
        if not (t.lower in NEGATIONS or t.lower.endswith("n't")):
            continue
        if t.lower == "no":
            after = text[t.start + 2 : t.start + 4].lstrip()
            if (i + 1 < len(toks) and toks[i + 1].number is not None) or (i == 0 and after[:1] in ("", ",", ".", "!")):
                continue
        return True
    return False


def _opposite(word: str, against: set[str]) -> bool:
    """The source says the opposite of this stem: an antonym, or the word without its negating prefix."""
    if ANTONYMS.get(word, set()) & against and word not in against:
        return True
    for prefix in NEGATING_PREFIXES:
        if word.startswith(prefix) and len(word) > len(prefix) + 3 and word[len(prefix) :] in against:
            return word not in against
    return any(prefix + word in against for prefix in NEGATING_PREFIXES) and word not in against


def _content_stems(t: _Text) -> set[str]:
    return {stem(x.lower) for x in t.tokens if is_content(x)}


def _analyse(source: str) -> list[tuple[str, _Text]]:
    """A source's sentences, each analysed; a heading line ("VPN Setup Guide > Connecting") is context for every
    sentence under it (its words count as said there), not a sentence of its own."""
    parts = sentences(source)
    heading = None
    if len(parts) > 1 and parts[0][-1:] not in ".!?:;" and len(parts[0].split()) <= 12:
        heading = _Text.of(parts[0])
        parts = parts[1:]
    out = []
    for part in parts:
        t = _Text.of(part)
        if heading is not None:
            t = _Text(t.tokens, t.stems | heading.stems, t.numbers | heading.numbers, t.measures | heading.measures)
        out.append((part, t))
    return out


def _near(toks: list[Token], i: int, reach: int) -> set[str]:
    return {stem(t.lower) for t in toks[max(0, i - reach) : i + reach + 1] if is_content(t)}


def _number_contexts(claim: list[Token], sources: list[list[Token]], reach: int = 4) -> dict[float, float]:
    """For each number of the claim, the share of its neighbouring words that also neighbour the same number in
    a source ("the fourth day of sick leave" vs "the first day of illness")."""
    scores: dict[float, float] = {}
    for i, t in enumerate(claim):
        if t.number is None:
            continue
        around = _near(claim, i, reach)
        if not around:
            continue
        best = 0.0
        for toks in sources:
            for j, s in enumerate(toks):
                if s.number == t.number:
                    best = max(best, len(around & _near(toks, j, reach + 1)) / len(around))
        scores[t.number] = min(best, scores.get(t.number, 1.0))
    return scores


def features(claim: str, sources: Sequence[str], question: str = "") -> tuple[dict[str, float], list[str]]:
    """The verifier's feature vector for one clause, and what a hard check found wrong with it.

    Hard findings (a number or a name that no source contains) make a claim unsupported whatever the model
    says: the question does not count as evidence for them, so a leading question cannot smuggle a number in.
    """
    claim = strip_markers(claim)
    c = _Text.of(claim)
    q = _Text.of(question)
    per_source = [_analyse(source) for source in sources]
    sents = [t for group in per_source for _, t in group]
    src_stems: set[str] = set().union(*(t.stems for t in sents)) if sents else set()
    src_numbers: set[float] = set().union(*(t.numbers for t in sents)) if sents else set()
    content = [t for t in c.tokens if is_content(t)]
    claim_stems = {stem(t.lower) for t in content}
    novel = [t for t in content if stem(t.lower) not in q.stems]
    missing = [t for t in novel if stem(t.lower) not in src_stems]
    names = _names(c.tokens)
    missing_names = sorted({t.text for t in names if stem(t.lower) not in src_stems})
    missing_numbers = sorted(n for n in c.numbers if n not in src_numbers)

    wanted = claim_stems | {f"#{n}" for n in c.numbers}

    def cover(have: set[str]) -> float:
        return len(wanted & have) / max(1, len(wanted))

    haves = [t.have for t in sents]
    best_i = max(range(len(sents)), key=lambda i: cover(haves[i]), default=-1)
    best = sents[best_i] if best_i >= 0 else _Text.of("")
    sentence_cover = cover(haves[best_i]) if best_i >= 0 else 0.0
    window_cover, offset = sentence_cover, 0
    for group in per_source:
        for i in range(len(group) - 1):
            window_cover = max(window_cover, cover(haves[offset + i] | haves[offset + i + 1]))
        offset += len(group)
    # A number is bound to the claim when a sentence stating it also states the rest of the claim: "a doctor's
    # note from the first day" is unbound when "first day" belongs to another rule than the doctor's note.
    # The ratio compares the best sentence that states the number with the best sentence overall, so a claim
    # told from two sentences keeps its numbers bound while a number lifted from an unrelated rule does not.
    binding = [
        max((cover(h) for t, h in zip(sents, haves, strict=True) if n in t.numbers), default=0.0)
        / max(sentence_cover, 1e-9)
        for n in c.numbers
    ]
    contexts = _number_contexts(c.tokens, [t.tokens for t in sents])
    src_measures = set().union(*(t.measures for t in sents)) if sents else set()
    unit_mismatch = [
        (n, u) for n, u in c.measures if n in src_numbers and (n, u) not in src_measures and u not in q.stems
    ]
    # Names and numbers that no single source sentence mentions together: "Hot Rod was founded in 1987" when
    # 1987 is the founding year of the other magazine.
    keys = {stem(t.lower) for t in names} | {f"#{n}" for n in c.numbers}
    apart = len(keys) >= 2 and not any(keys <= h for h in haves)
    # Negation is judged against the source clause that matches the claim best ("Shared accounts are not allowed;
    # every person uses their own account" holds a negated clause and a plain one); among equally good
    # clauses a plain one wins, so a claim is only contradicted when its best match says the opposite.
    claim_neg = _negated(claim, c.tokens)
    best_clause_neg, best_shared = False, -1.0
    for group in per_source:
        for s, _ in group:
            for part in clauses(s):
                p = _Text.of(part)
                shared = len(_content_stems(p) & claim_stems) / max(1, len(claim_stems))
                neg = _negated(part, p.tokens)
                if shared > best_shared or (shared == best_shared and best_clause_neg and not neg):
                    best_shared, best_clause_neg = shared, neg
    contradicted = best_clause_neg and not claim_neg and best_shared * len(claim_stems) >= 2
    polarity = any(_opposite(s, best.stems) for s in claim_stems if s not in q.stems)
    values = {
        "unsupported_share": len(missing) / max(1, len(novel)),
        "window_coverage": window_cover,
        "best_sentence_missing_numbers": float(min(3, sum(1 for n in c.numbers if n not in best.numbers))),
        "number_binding": min(1.0, min(binding, default=1.0)),
        "number_context": min(contexts.values(), default=1.0),
        "unit_mismatch": float(min(2, len(unit_mismatch))),
        "names_apart": float(apart),
        "negated_claim": float(claim_neg and not best_clause_neg and best_shared > 0),
        "negated_passage": float(contradicted),
        "polarity_conflict": float(polarity),
        "adds_nothing": float(not novel and not c.numbers),
        "log_words": math.log1p(len(content)),
    }
    findings = []
    if missing_numbers:
        findings.append("numbers not in the sources: " + ", ".join(_fmt(n) for n in missing_numbers))
    if missing_names:
        findings.append("names not in the sources: " + ", ".join(missing_names))
    # A number the sources state, but of something else: below this share of shared neighbouring words, 0.6% of
    # supported and 60% of number-swapped validation claims fall (eval/train_verifier.py reports it).
    misplaced = sorted(n for n, share in contexts.items() if share < NUMBER_CONTEXT_FLOOR and n not in missing_numbers)
    if misplaced:
        findings.append("numbers the sources state about something else: " + ", ".join(_fmt(n) for n in misplaced))
    return values, findings


def explain(values: dict[str, float]) -> list[str]:
    """Reasons a reader understands, for a claim the model rejected."""
    out = []
    if values["best_sentence_missing_numbers"] or values["number_binding"] < 0.5:
        out.append("its numbers belong to another statement of the source")
    if values["unit_mismatch"]:
        out.append("a number has another unit in the source")
    if values["names_apart"]:
        out.append("the source never mentions its names and numbers together")
    if values["negated_claim"] or values["negated_passage"]:
        out.append("the source says the opposite (negation)")
    if values["polarity_conflict"]:
        out.append("the source says the opposite (e.g. more/less)")
    if values["unsupported_share"] > 0:
        out.append(f"{values['unsupported_share']:.0%} of its words are not in the sources")
    return out or ["too little of it is in the sources"]


def _fmt(n: float) -> str:
    return str(int(n)) if n == int(n) else str(n)

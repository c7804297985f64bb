"""What the sources say about a claim: the verifier's evidence, as numbers (features) and decisive findings.

A claim is compared with its sources on what a wrong answer gets wrong: numbers and their units, names,
negation, polar words (more/less, paid/unpaid) and content that appears nowhere in the sources, both against
all the cited text and against the source sentence that matches it best (a right number taken from the wrong
sentence is still wrong). serving/answer/verify/verifier.py weighs the features; the findings decide on their own.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.text import Token, is_content, stem, tokens
from serving.answer.markers import strip_markers
from serving.answer.verify.analysis import (
    Sentence,
    Text,
    analyse,
    clauses,
    content_stems,
    name_tokens,
    negated,
    opposite,
    term_stems,
)
from serving.answer.verify.binding import (
    answer_binding,
    name_contexts,
    number_contexts,
    number_followers,
    number_text,
    other_subject,
    swapped,
)
from serving.answer.verify.paraphrase import StemIndex, align_numbers, align_words
from serving.answer.verify.slots import out_of_place

NUMBER_CONTEXT_FLOOR = 0.3

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
    "number_follower",  # share of the claim's numbers followed by what follows them in the sources ("47% of X")
    "name_context",  # how well the words around each name match the words around it in the sources
    "answer_binding",  # a short answer: how well the sentences stating it match the question (vs the best)
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
    "number_follower": 1,
    "name_context": 1,
    "answer_binding": 1,
}
SHORT_ANSWER = 4  # a claim of at most this many content words and numbers besides the question's is a short answer


@dataclass
class _Sources:
    """The cited sources read once: each one's sentences, and what they state together."""

    per_source: list[list[Sentence]]
    sents: list[Text]
    haves: list[set[str]]  # each sentence's stems and numbers
    stems: set[str]
    numbers: set[float]
    measures: set[tuple[float, str]]

    @classmethod
    def read(cls, sources: Sequence[str]) -> _Sources:
        per_source = [analyse(source) for source in sources]
        sents = [t for group in per_source for _, t, _ in group]
        return cls(
            per_source,
            sents,
            [t.have for t in sents],
            set().union(*(t.stems for t in sents)) if sents else set(),
            set().union(*(t.numbers for t in sents)) if sents else set(),
            set().union(*(t.measures for t in sents)) if sents else set(),
        )

    @property
    def token_lists(self) -> list[list[Token]]:
        return [t.tokens for t in self.sents]

    @property
    def texts(self) -> list[tuple[list[Token], str]]:
        """Each sentence's tokens with its text."""
        return [(t.tokens, part) for group in self.per_source for part, t, _ in group]


@dataclass
class _Claim:
    """A clause read in the sources' wording where it means the same: "14 days" for "two weeks", "European" for
    "Europe"."""

    text: str  # citation markers stripped
    read: Text
    content: list[Token]
    stems: set[str]  # of its content words
    novel: list[Token]  # content words the question does not have
    names: list[Token]

    @classmethod
    def read_against(cls, claim: str, src: _Sources, question: Text) -> _Claim:
        words = {stem(t.lower): t.lower for s in src.sents for t in s.tokens if t.number is None and t.lower.isalpha()}
        aligned = align_numbers(tokens(claim), src.token_lists)
        c = Text.from_tokens(align_words(aligned, src.stems, StemIndex(src.stems), words))
        content = [t for t in c.tokens if is_content(t)]
        novel = [t for t in content if stem(t.lower) not in question.stems]
        return cls(claim, c, content, {stem(t.lower) for t in content}, novel, name_tokens(c.tokens))


@dataclass(frozen=True)
class _Coverage:
    """How much of the claim the sources state: in the best sentence, in two adjacent ones, and for each number in
    the best sentence that states it (relative to the best sentence overall)."""

    best: Text
    sentence: float
    window: float
    binding: list[float]


def _coverage(claim: _Claim, src: _Sources) -> _Coverage:
    c, sents, haves = claim.read, src.sents, src.haves
    wanted = claim.stems | {f"#{n}" for n in c.numbers}

    def cover(have: set[str]) -> float:
        return len(wanted & have) / max(1, len(wanted))

    best_i = max(range(len(sents)), key=lambda i: cover(haves[i]), default=-1)
    best = sents[best_i] if best_i >= 0 else Text.of("")
    sentence_cover = cover(haves[best_i]) if best_i >= 0 else 0.0
    window_cover, offset = sentence_cover, 0
    for group in src.per_source:
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
    return _Coverage(best, sentence_cover, window_cover, binding)


@functools.lru_cache(maxsize=8192)
def _clause_polarity(sentence: str) -> tuple[tuple[frozenset[str], bool], ...]:
    """Each clause of a source sentence: its content stems, and whether it is negated (read once per sentence)."""
    out = []
    for part in clauses(sentence):
        p = Text.of(part)
        out.append((frozenset(content_stems(p)), negated(part, p.tokens)))
    return tuple(out)


def _best_clause_negation(claim_stems: set[str], src: _Sources) -> tuple[bool, float]:
    """Whether the source clause that matches the claim best is negated, and the share of the claim it shares.
    Among equally good clauses a plain one wins, so a claim is only contradicted when its best match says the
    opposite ("Shared accounts are not allowed; every person uses their own account" holds both)."""
    best_clause_neg, best_shared = False, -1.0
    for group in src.per_source:
        for s, _, _ in group:
            for stems, neg in _clause_polarity(s):
                shared = len(stems & claim_stems) / max(1, len(claim_stems))
                if shared > best_shared or (shared == best_shared and best_clause_neg and not neg):
                    best_shared, best_clause_neg = shared, neg
    return best_clause_neg, best_shared


def features(
    claim: str, sources: Sequence[str], question: str = "", alone: bool = True
) -> tuple[dict[str, float], list[str]]:
    """The verifier's feature vector for one clause, and what a hard check found wrong with it.

    Hard findings (a number or a name that no source contains) make a claim unsupported whatever the model
    says: the question does not count as evidence for them, so a leading question cannot smuggle a number in.
    `alone` is False for a clause of a longer sentence: it is not a short answer to the question, whatever its length
    ("Gifts over 75 euros must be declined; meals during business meetings are allowed").
    """
    q = Text.of(question)
    src = _Sources.read(sources)
    cl = _Claim.read_against(strip_markers(claim), src, q)
    c = cl.read
    missing = [t for t in cl.novel if stem(t.lower) not in src.stems]
    missing_numbers = sorted(n for n in c.numbers if n not in src.numbers)
    cov = _coverage(cl, src)
    terms = [term_stems(term) for group in src.per_source for _, _, term in group]
    contexts = number_contexts(c.tokens, list(zip(src.token_lists, terms, strict=True)))
    unit_mismatch = [
        (n, u) for n, u in c.measures if n in src.numbers and (n, u) not in src.measures and u not in q.stems
    ]
    # Names and numbers that no single source sentence mentions together: "Hot Rod was founded in 1987" when
    # 1987 is the founding year of the other magazine.
    keys = {stem(t.lower) for t in cl.names} | {f"#{n}" for n in c.numbers}
    apart = len(keys) >= 2 and not any(keys <= h for h in src.haves)
    # A short answer ("1928", "Arthur's Magazine") says nothing of its subject: the question does.
    answer = {stem(t.lower) for t in cl.novel} | {f"#{n}" for n in c.numbers if n not in q.numbers}
    short = 0 < len(answer) <= SHORT_ANSWER and bool(question) and alone
    # Negation is judged against the source clause that matches the claim best.
    claim_neg = negated(cl.text, c.tokens)
    best_clause_neg, best_shared = _best_clause_negation(cl.stems, src)
    contradicted = best_clause_neg and not claim_neg and best_shared * len(cl.stems) >= 2
    polarity = any(opposite(s, cov.best.stems) for s in cl.stems if s not in q.stems)
    values = {
        "unsupported_share": len(missing) / max(1, len(cl.novel)),
        "window_coverage": cov.window,
        "best_sentence_missing_numbers": float(min(3, sum(1 for n in c.numbers if n not in cov.best.numbers))),
        "number_binding": min(1.0, min(cov.binding, default=1.0)),
        "number_context": min(contexts.values(), default=1.0),
        "unit_mismatch": float(min(2, len(unit_mismatch))),
        "names_apart": float(apart),
        "number_follower": number_followers(c.tokens, src.token_lists),
        "name_context": name_contexts(c.tokens, cl.names, src.token_lists, q.stems),
        "answer_binding": answer_binding(answer, q, src.sents, [len(g) for g in src.per_source]) if short else 1.0,
        "negated_claim": float(claim_neg and not best_clause_neg and best_shared > 0),
        "negated_passage": float(contradicted),
        "polarity_conflict": float(polarity),
        "adds_nothing": float(not cl.novel and not c.numbers),
        "log_words": math.log1p(len(cl.content)),
        "sentence_coverage": cov.sentence,  # not weighed by the model: the yes/no check reads it
    }
    return values, _findings(cl, src, question, contexts, missing_numbers, contradicted)


def _findings(
    cl: _Claim,
    src: _Sources,
    question: str,
    contexts: dict[float, float],
    missing_numbers: list[float],
    contradicted: bool,
) -> list[str]:
    """What the hard checks found wrong with the claim: each finding makes it unsupported on its own."""
    c = cl.read
    missing_names = sorted({t.text for t in cl.names if stem(t.lower) not in src.stems})
    findings = []
    if missing_numbers:
        findings.append("numbers not in the sources: " + ", ".join(number_text(n) for n in missing_numbers))
    if missing_names:
        findings.append("names not in the sources: " + ", ".join(missing_names))
    # A number the sources state, but of something else: below this share of shared neighbouring words, 0.6% of
    # supported and 60% of number-swapped validation claims fall (eval/training/train_verifier.py reports it).
    misplaced = sorted(n for n, share in contexts.items() if share < NUMBER_CONTEXT_FLOOR and n not in missing_numbers)
    if misplaced:
        findings.append(
            "numbers the sources state about something else: " + ", ".join(number_text(n) for n in misplaced)
        )
    texts = src.texts
    swappable = {f"#{n}" for n in c.numbers if n not in missing_numbers}
    swappable |= {stem(t.lower) for t in cl.names if t.text not in missing_names}
    moved = swapped(c.tokens, cl.text, texts, swappable)
    if moved:
        findings.append("values or names the sources give to another subject: " + ", ".join(moved))
    crossed = out_of_place(c.tokens, cl.text, texts)
    if crossed:  # "6 to 4 weeks" for "4 to 6 weeks": 1 of 12,486 right claims of the train and tune splits
        findings.append("values or names in each other's places in the source: " + ", ".join(crossed))
    if contradicted:  # the best-matching source clause negates what the claim affirms: 1% of right claims
        findings.append("the source says the opposite: its matching clause is negated")
    elsewhere = other_subject(c, question, src.per_source) if not missing_numbers else None
    if elsewhere:
        findings.append("a value of another subject than the one asked: " + elsewhere)
    return findings


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

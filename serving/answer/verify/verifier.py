"""The faithfulness verifier: is a claim supported by the source(s) it cites? No judge LLM needed.

A claim (one sentence of an answer, or a short answer to a question) is split into clauses, and each clause is
compared with its sources on what a wrong answer gets wrong: numbers and their units, names, negation, polar
words (more/less, paid/unpaid) and content that appears nowhere in the sources, both against all the cited text
and against the source sentence that matches the clause best (a right number taken from the wrong sentence is
still wrong). Three findings are decisive on their own: a number or a name that no source contains, and a
number whose neighbouring words in the claim are not its neighbours anywhere in the sources. The rest
is weighed by a logistic model whose weights are constrained to point the way evidence points (more coverage
never lowers the score), trained by `make train-verifier` (eval/training/train_verifier.py) on claims generated from
SciFact and PubMedQA. The weights and their provenance are committed beside this file (verifier.json), so the
check is the same everywhere and costs about a millisecond per sentence.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from retrieval.text import STOPWORDS, content_stems, sentences, stem, tokens
from serving.answer.markers import marker_numbers, strip_markers
from serving.answer.verify.analysis import clauses
from serving.answer.verify.evidence import explain, features
from serving.answer.verify.polar import Statement, polar_answer, statement

WEIGHTS = Path(__file__).with_name("verifier.json")
HARD_FAIL_SCORE = 0.01  # score of a claim with a number or name that no source contains
SENTENCE_COVERAGE = 0.8  # a yes/no question's statement holds when one source sentence states this much of it
_WHEN = re.compile(r"\b(?:year|born|founded|released|formed|established|built|opened|died|started|began|when)\b", re.I)
_MONTHS = frozenset("january february march april may june july august september october november december".split())


@dataclass(frozen=True)
class Verdict:
    """Whether a claim is supported, with the model's probability and what the check found."""

    supported: bool
    score: float
    reasons: tuple[str, ...] = ()
    features: dict[str, float] = field(default_factory=dict, compare=False, repr=False)


class Verifier(Protocol):
    """Decides whether a claim is supported by source texts (the question gives short answers their context)."""

    @property
    def name(self) -> str: ...

    def check(self, claim: str, sources: Sequence[str], question: str = "") -> Verdict: ...


class FeatureVerifier:
    """The hard checks plus a logistic model over `features()`, weights from verifier.json."""

    def __init__(
        self, weights: Path = WEIGHTS, threshold: float | None = None, model: dict[str, Any] | None = None
    ) -> None:
        self._path = weights
        self._threshold = threshold
        self._model: dict[str, Any] | None = model  # given: a model being fitted (eval/training/train_verifier.py)

    @property
    def name(self) -> str:
        return f"feature-verifier-v{self._load().get('version', '?')}"

    def _load(self) -> dict[str, Any]:
        if self._model is None:
            self._model = json.loads(self._path.read_text(encoding="utf-8"))
        return self._model

    @property
    def threshold(self) -> float:
        return self._threshold if self._threshold is not None else float(self._load()["threshold"])

    def score(self, values: dict[str, float]) -> float:
        """The model's probability that a clause with these features is supported."""
        model = self._load()
        z = float(model["intercept"])
        for name, w, mean, scale in zip(model["features"], model["coef"], model["mean"], model["scale"], strict=True):
            z += w * (values[name] - mean) / scale
        return 1.0 / (1.0 + math.exp(-z))

    def check_clause(self, clause: str, sources: Sequence[str], question: str = "", alone: bool = True) -> Verdict:
        """One clause; `alone` is False for a clause of a longer sentence (never a short answer on its own)."""
        values, findings = features(clause, sources, question, alone)
        p = self.score(values)
        if findings:  # a number or name the sources do not contain is never supported
            return Verdict(False, round(min(p, HARD_FAIL_SCORE), 4), tuple(findings), values)
        supported = p >= self.threshold
        return Verdict(supported, round(p, 4), () if supported else tuple(explain(values)), values)

    def check(self, claim: str, sources: Sequence[str], question: str = "") -> Verdict:
        """A sentence is supported when each of its clauses is; its score is the weakest clause's. A bare yes or no
        is checked as the statement of the yes/no question it answers."""
        plain = strip_markers(claim)
        yes = polar_answer(plain) if question else None
        asked = statement(question, list(sources)) if yes is not None else None
        if yes is not None and asked is not None:
            return self._check_polar(yes, asked, sources)
        parts = clauses(plain)
        verdicts = [self.check_clause(part, sources, question, len(parts) == 1) for part in parts]
        return min(verdicts, key=lambda v: v.score)

    def _check_polar(self, yes: bool, asked: Statement, sources: Sequence[str]) -> Verdict:
        """A "yes" holds when every part of the statement is stated by one source sentence (or the subjects share
        the value compared); "no" when the sources name every subject and a part is not stated (or the values
        differ). Its score is on the verifier's scale: at or above the threshold exactly when supported."""
        if asked.compares:
            values = [_values(subject, asked.predicate, sources) for subject in asked.subjects]
            known = all(v is not None for v in values)
            shared = bool(set.intersection(*(v or set() for v in values)))
            holds = known and shared != asked.differ
            supported = holds if yes else known and not holds
            reason = "the sources do not give both values compared" if not known else "the values compared disagree"
            if not yes and known:
                reason = "the values compared agree with the question"
            score = self.threshold if supported else self.threshold / 2
            return Verdict(supported, round(score, 4), () if supported else (reason,))
        verdicts = [self.check(part, sources) for part in asked.parts]
        stated = [
            v.supported
            and v.features.get("sentence_coverage", 0.0) >= SENTENCE_COVERAGE
            and not v.features.get("names_apart")  # the subject and what is said of it, in one sentence
            for v in verdicts
        ]
        named = not any(r.startswith("names not in the sources") for v in verdicts for r in v.reasons)
        weakest = min(v.score for v in verdicts)
        if yes:
            supported = all(stated)
            score = weakest if supported else min(weakest, self.threshold / 2)
            reasons = () if supported else ("the sources do not state what the question asks", *verdicts[0].reasons)
            return Verdict(supported, round(max(score, self.threshold) if supported else score, 4), reasons)
        # "No" needs the sources to say otherwise, not merely to be silent: a part they negate, give the opposite
        # of, or whose subject they never name together with what the question says of it.
        supported = named and any(not ok and _contradicted(v) for v, ok in zip(verdicts, stated, strict=True))
        score = max(self.threshold, 1.0 - weakest) if supported else self.threshold / 2
        reason = "the sources state what the question asks" if named else "the sources do not name what is asked"
        return Verdict(supported, round(score, 4), () if supported else (reason,))


def _contradicted(verdict: Verdict) -> bool:
    """The sources say otherwise than a statement (rather than nothing about it)."""
    values = verdict.features
    signals = ("negated_passage", "polarity_conflict", "names_apart", "negated_claim")
    return any(values.get(name, 0.0) > 0 for name in signals) or any(r.startswith("numbers") for r in verdict.reasons)


def _values(subject: str, predicate: str, sources: Sequence[str]) -> set[str] | None:
    """The values the source sentence that names a subject best gives it: years when the question compares
    dates, otherwise the names it uses (a nationality, a country, a genre written as a name)."""
    want = content_stems(subject)
    best, best_share = "", 0.0
    for source in sources:
        for s in sentences(source):
            share = len(content_stems(s) & want) / max(1, len(want))
            if share > best_share:
                best, best_share = s, share
    if best_share < 0.5:
        return None
    toks = tokens(best)
    if _WHEN.search(predicate):
        found = {str(int(t.number)) for t in toks if t.number and 1000 <= t.number <= 2100 and t.text.isdigit()}
    else:
        skip = want | content_stems(predicate)
        found = {
            t.lower
            for t in toks[1:]
            if t.capitalised and t.number is None and t.lower not in STOPWORDS | _MONTHS and stem(t.lower) not in skip
        }
    return found or None


def check_sentence(
    verifier: Verifier, sentence: str, sources: Sequence[str], question: str = ""
) -> tuple[Verdict, list[int]]:
    """One sentence of an answer against the sources its [n] markers cite (all sources when it cites none).
    Returns the verdict and the source numbers that support it: those cited, or, when the sentence cites none or
    cites the wrong one, the single source that supports it best (a reader must be able to check it)."""
    plain = strip_markers(sentence)
    n = len(sources)
    cited = [i for i in dict.fromkeys(marker_numbers(sentence)) if 1 <= i <= n]
    verdict = verifier.check(plain, [sources[i - 1] for i in cited] or list(sources), question)
    if verdict.supported and cited:
        return verdict, cited
    best: tuple[int, Verdict] | None = None
    if n > 1 or cited:
        for i, source in enumerate(sources, start=1):
            single = verifier.check(plain, [source], question)
            if single.supported and (best is None or single.score > best[1].score):
                best = (i, single)
    if verdict.supported and best is None and n > 1:
        # Supported by all the sources together and by none alone: cite the pair that supports it, so the reader
        # is sent to sources that hold what it says (never to the first two whatever they hold).
        pairs = [
            (i, j, verifier.check(plain, [sources[i - 1], sources[j - 1]], question))
            for i in range(1, n + 1)
            for j in range(i + 1, n + 1)
        ]
        held = [(i, j, v) for i, j, v in pairs if v.supported]
        if not held:
            return Verdict(False, verdict.score, ("no source, nor any two, supports it",)), []
        i, j, pair = max(held, key=lambda t: t[2].score)
        return pair, [i, j]
    if verdict.supported:
        return verdict, [best[0]] if best else list(range(1, n + 1))
    if best is not None:
        return best[1], [best[0]]
    return verdict, []


def verify_answer(verifier: Verifier, question: str, answer: str, sources: Sequence[str]) -> Verdict:
    """An answer of one or more sentences, each checked by check_sentence (exactly as the answer chain checks
    them); the answer is supported when every sentence is, and scored by its weakest sentence."""
    from serving.answer.citations import claims

    parts = [s for s, _ in claims(answer)] if answer.strip() else []
    if not parts or not sources:
        return Verdict(False, 0.0, ("no answer or no source to check",))
    return min((check_sentence(verifier, part, sources, question)[0] for part in parts), key=lambda v: v.score)

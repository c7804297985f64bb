"""The faithfulness verifier: is a claim supported by the source(s) it cites? No judge LLM needed.

A claim (one sentence of an answer, or a short answer to a question) is split into clauses, and each clause is
compared with its sources on what a wrong answer gets wrong: numbers and their units, names, negation, polar
words (more/less, paid/unpaid) and content that appears nowhere in the sources, both against all the cited text
and against the source sentence that matches the clause best (a right number taken from the wrong sentence is
still wrong). Three findings are decisive on their own: a number or a name that no source contains, and a
number whose neighbouring words in the claim are not its neighbours anywhere in the sources. The rest
is weighed by a logistic model whose weights are constrained to point the way evidence points (more coverage
never lowers the score), trained by `make train-verifier` (eval/train_verifier.py) on claims generated from
SciFact and PubMedQA. The weights and their provenance are committed beside this file (verifier.json), so the
check is the same everywhere and costs about a millisecond per sentence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from retrieval.text import strip_markers
from serving.evidence import clauses, explain, features

WEIGHTS = Path(__file__).with_name("verifier.json")
HARD_FAIL_SCORE = 0.01  # score of a claim with a number or name that no source contains


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

    def __init__(self, weights: Path = WEIGHTS, threshold: float | None = None) -> None:
        self._path = weights
        self._threshold = threshold
        self._model: dict[str, Any] | None = None

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

    def check_clause(self, clause: str, sources: Sequence[str], question: str = "") -> Verdict:
        values, findings = features(clause, sources, question)
        p = self.score(values)
        if findings:  # a number or name the sources do not contain is never supported
            return Verdict(False, round(min(p, HARD_FAIL_SCORE), 4), tuple(findings), values)
        supported = p >= self.threshold
        return Verdict(supported, round(p, 4), () if supported else tuple(explain(values)), values)

    def check(self, claim: str, sources: Sequence[str], question: str = "") -> Verdict:
        """A sentence is supported when each of its clauses is; its score is the weakest clause's."""
        verdicts = [self.check_clause(part, sources, question) for part in clauses(strip_markers(claim))]
        return min(verdicts, key=lambda v: v.score)


def check_sentence(
    verifier: Verifier, sentence: str, sources: Sequence[str], question: str = ""
) -> tuple[Verdict, list[int]]:
    """One sentence of an answer against the sources its [n] markers cite (all sources when it cites none).
    Returns the verdict and the source numbers that support it: those cited, or, when the sentence cites none or
    cites the wrong one, the single source that supports it best (a reader must be able to check it)."""
    from retrieval.text import marker_numbers

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
    if verdict.supported:
        return verdict, [best[0]] if best else list(range(1, min(n, 2) + 1))
    if best is not None:
        return best[1], [best[0]]
    return verdict, []


def verify_answer(verifier: Verifier, question: str, answer: str, sources: Sequence[str]) -> Verdict:
    """An answer of one or more sentences, each checked by check_sentence (exactly as the answer chain checks
    them); the answer is supported when every sentence is, and scored by its weakest sentence."""
    from serving.citations import claims

    parts = [s for s, _ in claims(answer)] if answer.strip() else []
    if not parts or not sources:
        return Verdict(False, 0.0, ("no answer or no source to check",))
    return min((check_sentence(verifier, part, sources, question)[0] for part in parts), key=lambda v: v.score)

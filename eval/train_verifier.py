"""`python -m eval train-verifier` (`make train-verifier`): fit the faithfulness verifier and record provenance.

Features come from serving/verify.py; examples from eval/verifier_data.py (generated, seeded, from SciFact and
PubMedQA in ../shared/data). A standardised logistic regression is fitted on the training part; the decision
threshold is chosen on the training part too (the lowest score that still accepts 95% of supported claims), so
the validation numbers are honest. The result is written to serving/verifier.json (weights, threshold, the
validation numbers and the data fingerprints): small enough to commit, rebuilt bit for bit by this command.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from serving.evidence import DIRECTION, FEATURES, features
from serving.verify import HARD_FAIL_SCORE, WEIGHTS, FeatureVerifier

logger = logging.getLogger(__name__)
TARGET_ACCEPT = 0.93  # share of supported training claims (past the hard checks) the threshold keeps
VERSION = "1"
ABSTRACTIVE = ("scifact-support", "conclusion")


def matrix(rows: Iterable[tuple[str, str, Sequence[str]]]) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows for (question, claim, sources) triples, and which rows a hard check already rejects."""
    out, hard = [], []
    for question, claim, sources in rows:
        values, findings = features(claim, sources, question)
        out.append([values[f] for f in FEATURES])
        hard.append(bool(findings))
    return np.asarray(out, dtype=np.float64), np.asarray(hard)


def rates(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """Accepted-right and accepted-wrong rates and accuracy at a threshold."""
    accepted = scores >= threshold
    right, wrong = labels == 1, labels == 0
    return {
        "accept_right": round(float(accepted[right].mean()), 4) if right.any() else float("nan"),
        "accept_wrong": round(float(accepted[wrong].mean()), 4) if wrong.any() else float("nan"),
        "accuracy": round(float((accepted == right).mean()), 4),
        "n_right": int(right.sum()),
        "n_wrong": int(wrong.sum()),
    }


def _fingerprint(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> dict[str, Any]:
    """Standardised, class-balanced, L2-regularised logistic regression whose coefficients keep the sign that
    serving/verify.DIRECTION gives each feature (L-BFGS-B with bounds: deterministic). Without the bounds,
    correlated features take opposite signs and a claim could score higher for being less covered."""
    from scipy.optimize import minimize

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    weight = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum())) * len(y)

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = params[:-1], params[-1]
        margin = z @ w + b
        p = 1.0 / (1.0 + np.exp(-margin))
        eps = 1e-12
        nll = -np.sum(weight * (y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
        grad_margin = weight * (p - y)
        grad = np.concatenate([z.T @ grad_margin + l2 * w, [grad_margin.sum()]])
        return float(nll + 0.5 * l2 * float(w @ w)), grad

    bounds = [(0.0, None) if DIRECTION[f] > 0 else (None, 0.0) if DIRECTION[f] < 0 else (None, None) for f in FEATURES]
    result = minimize(loss, np.zeros(len(FEATURES) + 1), jac=True, method="L-BFGS-B", bounds=[*bounds, (None, None)])
    coef, intercept = result.x[:-1], result.x[-1]
    return {
        "features": list(FEATURES),
        "coef": [round(float(c), 6) for c in coef],
        "intercept": round(float(intercept), 6),
        "mean": [round(float(m), 6) for m in mean],
        "scale": [round(float(s), 6) for s in scale],
    }


def _scores(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    z = model["intercept"] + ((x - np.asarray(model["mean"])) / np.asarray(model["scale"])) @ np.asarray(model["coef"])
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def train(scifact: Path, pubmedqa: Path, out: Path = WEIGHTS, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Generate the data, fit, choose the threshold, validate, write the model file; returns its contents."""
    from eval.verifier_data import generate

    train_set = generate(scifact, pubmedqa, "train")
    valid_set = generate(scifact, pubmedqa, "validation")
    say(f"examples: {len(train_set)} train, {len(valid_set)} validation")
    # Abstractive claims (SciFact claims, PubMedQA conclusions) state more than their abstract does: a reader
    # cannot check them against the source, so they are reported on, not trained on.
    train_set = [e for e in train_set if e.kind not in ABSTRACTIVE]
    x_train, hard_train = matrix((e.question, e.claim, e.sources) for e in train_set)
    y_train = np.asarray([e.label for e in train_set])
    # The model learns what the hard checks (a number or name missing from the sources) leave undecided.
    model = fit(x_train[~hard_train], y_train[~hard_train])
    train_scores = np.where(hard_train, HARD_FAIL_SCORE, _scores(model, x_train))
    # Among the supported claims the hard checks let through, the threshold keeps TARGET_ACCEPT.
    threshold = float(np.quantile(train_scores[(y_train == 1) & ~hard_train], 1.0 - TARGET_ACCEPT))
    model["threshold"] = round(threshold, 4)
    x_valid, hard_valid = matrix((e.question, e.claim, e.sources) for e in valid_set)
    y_valid = np.asarray([e.label for e in valid_set])
    valid_scores = np.where(hard_valid, HARD_FAIL_SCORE, _scores(model, x_valid))
    checkable = np.asarray([e.kind not in ABSTRACTIVE for e in valid_set])
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(valid_set):
        by_kind[e.kind].append(i)
    kinds = {
        kind: round(float(((valid_scores[ix] >= threshold) == (y_valid[ix] == 1)).mean()), 4)
        for kind, ix in sorted(by_kind.items())
    }
    model.update(
        {
            "version": VERSION,
            "trained_on": {
                "scifact": _fingerprint([scifact / "corpus.jsonl", scifact / "queries.jsonl"]),
                "pubmedqa": _fingerprint([pubmedqa / "corpus.jsonl", pubmedqa / "questions_dev.jsonl"]),
                "train_examples": len(train_set),
                "command": "make train-verifier",
            },
            "train": rates(train_scores, y_train, threshold),
            "validation": rates(valid_scores, y_valid, threshold),
            # Without the abstractive claims (not trained on, mostly rejected: they say more than the source).
            "validation_checkable": rates(valid_scores[checkable], y_valid[checkable], threshold),
            "validation_accuracy_by_kind": kinds,
        }
    )
    out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    say(f"validation: {json.dumps(model['validation'])}")
    return model


def labelled_answers(path: Path) -> Iterator[tuple[str, str, list[str], int]]:
    """(question, answer, sources, label) from HaluEval QA rows (knowledge, question, right_answer,
    hallucinated_answer: two answers each) or rows of {question, answer, sources, label}."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        question = row.get("question", "")
        if "knowledge" in row:
            yield question, row["right_answer"], [row["knowledge"]], 1
            yield question, row["hallucinated_answer"], [row["knowledge"]], 0
        else:
            yield question, row["answer"], list(row["sources"]), int(bool(row["label"]))


def evaluate_file(path: Path, verifier: FeatureVerifier | None = None) -> dict[str, Any]:
    """The verifier's accept rates on a labelled file (see labelled_answers)."""
    from serving.verify import verify_answer

    verifier = verifier or FeatureVerifier()
    scores, labels = [], []
    for question, answer, sources, label in labelled_answers(path):
        scores.append(verify_answer(verifier, question, answer, sources).score)
        labels.append(label)
    return rates(np.asarray(scores), np.asarray(labels), verifier.threshold)


def overlap_baseline(path: Path, min_support: float = 0.6) -> dict[str, Any]:
    """The check the verifier replaced: a cited answer is grounded when >= 60% of its words (3+ letters) occur
    in its sources. Kept here only to measure against."""
    import re

    def grounded(text: str, sources: Sequence[str]) -> bool:
        words = {w.lower() for w in re.findall(r"[A-Za-z0-9]{3,}", text)}
        have = {w.lower() for s in sources for w in re.findall(r"[A-Za-z0-9]{3,}", s)}
        return bool(words) and len(words & have) / len(words) >= min_support

    accepted, labels = [], []
    for _question, answer, sources, label in labelled_answers(path):
        accepted.append(1.0 if grounded(answer, sources) else 0.0)
        labels.append(label)
    return rates(np.asarray(accepted), np.asarray(labels), 0.5)

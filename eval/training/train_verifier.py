"""`python -m eval train-verifier` (`make train-verifier`): fit the faithfulness verifier and record provenance.

Features come from serving/answer/verify/verifier.py; examples from eval/training/verifier_data.py (generated,
seeded, from SciFact and PubMedQA in ../shared/data). A standardised logistic regression is fitted on the training
part; the decision threshold is chosen on the training part too (the lowest score that still accepts 95% of
supported claims), so the validation numbers are honest. The result is written to
serving/answer/verify/verifier.json (weights, threshold, the validation numbers and the data fingerprints): small
enough to commit, rebuilt bit for bit by this command.
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

from eval.training.verifier_data import FALSIFIED, REWORDED, Example
from serving.answer.verify.evidence import DIRECTION, FEATURES, features
from serving.answer.verify.verifier import WEIGHTS, FeatureVerifier

logger = logging.getLogger(__name__)
TARGET_ACCEPT = 0.92  # share of the right answers of each tune group that the threshold must keep
TARGET_WRONG = 0.14  # share of the wrong answers of each tune group it should accept at most
VERSION = "3"
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


def _group(kind: str) -> str:
    """Which data an example belongs to, for the threshold and the report."""
    if kind.startswith("halueval"):
        return "halueval"
    if kind in REWORDED or kind in FALSIFIED:
        return "reworded"
    return "abstractive" if kind in ABSTRACTIVE else "generated"


def _verdicts(verifier: FeatureVerifier, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    """Each example checked exactly as the product checks it (an answer of several sentences sentence by
    sentence): its score, and whether it is supported."""
    from serving.answer.verify.verifier import verify_answer

    scores, supported = [], []
    for e in examples:
        if e.kind.startswith("halueval"):
            verdict = verify_answer(verifier, e.question, e.claim, list(e.sources))
        else:
            verdict = verifier.check(e.claim, list(e.sources), e.question)
        scores.append(verdict.score)
        supported.append(verdict.supported)
    return np.asarray(scores), np.asarray(supported)


def choose_threshold(scores: np.ndarray, labels: np.ndarray, groups: Sequence[str], skip: np.ndarray) -> float:
    """The threshold that best separates right from wrong answers on the tune split, every group of data
    weighing the same (mean over groups of accepted-right minus accepted-wrong), among those that keep at least
    TARGET_ACCEPT of each group's right answers and, where it can, accept at most TARGET_WRONG of each group's wrong
    ones (if no threshold keeps TARGET_ACCEPT, the one that keeps most of the worst group's).
    A bare yes/no, whose verdict depends on the threshold itself, is left out of the choice."""
    names = sorted(set(groups))
    group_of = np.asarray(groups)
    candidates = np.round(np.linspace(0.02, 0.98, 193), 4)
    best, best_key = 0.5, (-1.0, -1.0, -1.0)
    for t in candidates:
        rights, gaps = [], []
        for g in names:
            mask = (group_of == g) & ~skip
            accepted = scores[mask] >= t
            right, wrong = labels[mask] == 1, labels[mask] == 0
            r = float(accepted[right].mean()) if right.any() else 1.0
            w = float(accepted[wrong].mean()) if wrong.any() else 0.0
            rights.append(r)
            gaps.append(r - w)
        worst = min(rights)
        wrong_ok = max(r - g for r, g in zip(rights, gaps, strict=True)) <= TARGET_WRONG
        key = (
            float(worst >= TARGET_ACCEPT),
            float(wrong_ok),
            float(np.mean(gaps)) if worst >= TARGET_ACCEPT else worst,
        )
        if key > best_key:
            best, best_key = float(t), key
    return best


def by_kind(examples: Sequence[Example], supported: np.ndarray) -> dict[str, dict[str, float]]:
    """Per kind of claim: how many, whether they are right (label), and the share the verifier accepts."""
    ix: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        ix[e.kind].append(i)
    return {
        kind: {"label": examples[rows[0]].label, "n": len(rows), "accepted": round(float(supported[rows].mean()), 4)}
        for kind, rows in sorted(ix.items())
    }


def _report(examples: Sequence[Example], supported: np.ndarray) -> dict[str, Any]:
    labels = np.asarray([e.label for e in examples])
    groups = np.asarray([_group(e.kind) for e in examples])
    out: dict[str, Any] = {}
    for group in ("generated", "reworded", "halueval", "abstractive"):
        mask = groups == group
        if mask.any():
            out[group] = rates(supported[mask].astype(float), labels[mask], 0.5)
    out["by_kind"] = by_kind(examples, supported)
    return out


def train(
    scifact: Path,
    pubmedqa: Path,
    out: Path = WEIGHTS,
    say: Callable[[str], None] = print,
    halueval_file: Path | None = None,
) -> dict[str, Any]:
    """Generate the data, fit on the train split, choose the threshold on the tune split, report the validation
    split, write the model file; returns its contents."""
    from eval.training.verifier_data import generate, halueval, halueval_path
    from serving.answer.verify.polar import polar_answer

    halueval_file = halueval_file or halueval_path()
    train_set = generate(scifact, pubmedqa, "train") + halueval(halueval_file, "train")
    tune_set = generate(scifact, pubmedqa, "tune") + halueval(halueval_file, "tune")
    valid_set = generate(scifact, pubmedqa, "validation") + halueval(halueval_file, "validation")
    say(f"examples: {len(train_set)} train, {len(tune_set)} tune, {len(valid_set)} validation")
    # Abstractive claims (SciFact claims, PubMedQA conclusions) state more than their abstract does: a reader
    # cannot check them against the source, so they are reported on, not trained or tuned on.
    # A bare yes/no has no words to weigh: it is checked as its question's statement.
    train_set = [e for e in train_set if e.kind not in ABSTRACTIVE and polar_answer(e.claim) is None]
    tune_set = [e for e in tune_set if e.kind not in ABSTRACTIVE]
    x_train, hard_train = matrix((e.question, e.claim, e.sources) for e in train_set)
    y_train = np.asarray([e.label for e in train_set])
    # The model learns what the hard checks (a number or name missing from the sources) leave undecided.
    model = fit(x_train[~hard_train], y_train[~hard_train])
    # The threshold: chosen on the tune split, from the scores the product computes.
    model["threshold"] = 0.5
    verifier = FeatureVerifier(model=model)
    tune_scores, _ = _verdicts(verifier, tune_set)
    y_tune = np.asarray([e.label for e in tune_set])
    polar = np.asarray([bool(e.question) and polar_answer(e.claim) is not None for e in tune_set])
    model["threshold"] = choose_threshold(tune_scores, y_tune, [_group(e.kind) for e in tune_set], polar)
    verifier = FeatureVerifier(model=model)
    _, tune_supported = _verdicts(verifier, tune_set)
    _, valid_supported = _verdicts(verifier, valid_set)
    model.update(
        {
            "version": VERSION,
            "trained_on": {
                "scifact": _fingerprint([scifact / "corpus.jsonl", scifact / "queries.jsonl"]),
                "pubmedqa": _fingerprint([pubmedqa / "corpus.jsonl", pubmedqa / "questions_dev.jsonl"]),
                "halueval": _fingerprint([halueval_file]),
                "train_examples": len(train_set),
                "command": "make train-verifier",
            },
            "train": rates(_scores(model, x_train), y_train, model["threshold"]),
            "tune": _report(tune_set, tune_supported),
            "validation": _report(valid_set, valid_supported),
        }
    )
    out.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    say(f"threshold {model['threshold']} (chosen on the tune split)")
    for group, r in model["validation"].items():
        if group != "by_kind":
            say(f"validation {group}: {json.dumps(r)}")
    return model


def labelled_answers(path: Path) -> Iterator[tuple[str, str, list[str], int]]:
    """(question, answer, sources, label) from HaluEval QA rows (knowledge, question, right_answer,
    hallucinated_answer: two answers each) or rows of {question, answer, sources, label}."""
    for question, answer, sources, label, _ in labelled_rows(path):
        yield question, answer, sources, label


def labelled_rows(path: Path) -> Iterator[tuple[str, str, list[str], int, str]]:
    """labelled_answers with each answer's kind: the row's "kind" when it has one, else right / wrong."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        question = row.get("question", "")
        if "knowledge" in row:
            yield question, row["right_answer"], [row["knowledge"]], 1, "halueval-right"
            yield question, row["hallucinated_answer"], [row["knowledge"]], 0, "halueval-hallucinated"
        else:
            label = int(bool(row["label"]))
            yield question, row["answer"], list(row["sources"]), label, row.get("kind", ("wrong", "right")[label])


def evaluate_file(path: Path, verifier: FeatureVerifier | None = None) -> dict[str, Any]:
    """The verifier's accept rates on a labelled file (see labelled_rows), overall and per kind of answer."""
    from serving.answer.verify.verifier import verify_answer

    verifier = verifier or FeatureVerifier()
    accepted, labels, kinds = [], [], []
    for question, answer, sources, label, kind in labelled_rows(path):
        accepted.append(float(verify_answer(verifier, question, answer, sources).supported))
        labels.append(label)
        kinds.append(kind)
    out: dict[str, Any] = dict(rates(np.asarray(accepted), np.asarray(labels), 0.5))
    ix: dict[str, list[int]] = defaultdict(list)
    for i, kind in enumerate(kinds):
        ix[kind].append(i)
    out["by_kind"] = {
        kind: {"n": len(rows), "accepted": round(float(np.mean([accepted[i] for i in rows])), 4)}
        for kind, rows in sorted(ix.items())
    }
    return out


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

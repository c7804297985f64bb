"""How well the PII redactor finds personal data (`python -m eval pii`): precision and recall per entity type on
a labelled set of sentences from the sample handbook's domains (data/pii/labelled.jsonl: half with personal data,
half with the numbers, codes and names of places and products that look like it), and what it costs per answer.

A predicted span counts for a gold span of the same type when they overlap. `leaked` is what matters most for
privacy: the share of gold personal-data characters left uncovered by any redaction, whatever type it was given.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from configs.errors import ConfigError
from configs.settings import PrivacySettings, Settings

DATA = Path("data/pii/labelled.jsonl")


def load(path: Path, split: str) -> list[dict[str, Any]]:
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the labelled PII set {path} ({exc})") from exc
    return [r for r in rows if split == "all" or r.get("split") == split]


def measure(privacy: PrivacySettings, rows: list[dict[str, Any]], answers: list[str]) -> dict[str, Any]:
    from serving.access.pii import Redactor

    redactor = Redactor(privacy)
    started = time.perf_counter()
    redactor.warm()
    load_s = time.perf_counter() - started
    gold_n: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    found: Counter[str] = Counter()  # gold spans matched
    correct: Counter[str] = Counter()  # predicted spans matching a gold span
    gold_chars = leaked_chars = 0
    false_alarms: list[str] = []
    sentence_ms: list[float] = []
    for row in rows:
        text = row["text"]
        t0 = time.perf_counter()
        spans = redactor.find(text)
        sentence_ms.append((time.perf_counter() - t0) * 1000)
        gold = [(e["start"], e["end"], e["type"]) for e in row["entities"]]
        for start, end, kind in gold:
            gold_n[kind] += 1
            found[kind] += any(k == kind and s < end and start < e for s, e, k in spans)
            covered = sum(1 for i in range(start, end) if any(s <= i < e for s, e, _ in spans))
            gold_chars += end - start
            leaked_chars += end - start - covered
        for start, end, kind in spans:
            pred_n[kind] += 1
            hit = any(k == kind and s < end and start < e for s, e, k in gold)
            correct[kind] += hit
            if not any(s < end and start < e for s, e, _ in gold):
                false_alarms.append(f"{kind}: {text[start:end]!r}")
    per_type = {}
    for kind in sorted(set(gold_n) | set(pred_n)):
        per_type[kind] = {
            "gold": gold_n[kind],
            "predicted": pred_n[kind],
            "precision": round(correct[kind] / pred_n[kind], 3) if pred_n[kind] else None,
            "recall": round(found[kind] / gold_n[kind], 3) if gold_n[kind] else None,
        }
    total_pred, total_gold = sum(pred_n.values()), sum(gold_n.values())
    # Cost per answer: the audit record redacts the question, the standalone question and the answer.
    answer_ms = []
    for text in answers:
        t0 = time.perf_counter()
        for part in (text, text, text):
            redactor.redact(part)
        answer_ms.append((time.perf_counter() - t0) * 1000)
    return {
        "sentences": len(rows),
        "with_pii": sum(1 for r in rows if r["entities"]),
        "min_score": privacy.min_score,
        "precision": round(sum(correct.values()) / total_pred, 3) if total_pred else None,
        "recall": round(sum(found.values()) / total_gold, 3) if total_gold else None,
        "leaked_chars": round(leaked_chars / gold_chars, 3) if gold_chars else 0.0,
        "clean_sentences_flagged": sum(1 for r in rows if not r["entities"] and redactor.find(r["text"])),
        "per_type": per_type,
        "false_alarms": false_alarms,
        "load_s": round(load_s, 2),
        "ms_per_sentence_p50": round(statistics.median(sentence_ms), 1),
        "ms_per_answer_p50": round(statistics.median(answer_ms), 1) if answer_ms else None,
    }


def answer_texts(settings: Settings) -> list[str]:
    """Typical answer-record texts: each handbook question with its reference answer."""
    path = settings.resolve(Path("data/handbook-qa.jsonl"))
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [f"{r['question']} {r['reference']}" for r in rows]


def table(result: dict[str, Any]) -> str:
    lines = [f"{'entity':16} {'gold':>5} {'found':>6} {'precision':>10} {'recall':>7}"]
    for kind, m in result["per_type"].items():
        p = "-" if m["precision"] is None else f"{m['precision']:.2f}"
        r = "-" if m["recall"] is None else f"{m['recall']:.2f}"
        lines.append(f"{kind:16} {m['gold']:5d} {m['predicted']:6d} {p:>10} {r:>7}")
    lines.append(
        f"{'all':16} {sum(m['gold'] for m in result['per_type'].values()):5d} "
        f"{sum(m['predicted'] for m in result['per_type'].values()):6d} {result['precision']:10.2f} "
        f"{result['recall']:7.2f}"
    )
    return "\n".join(lines)

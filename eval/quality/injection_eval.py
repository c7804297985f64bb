"""How well the document prompt-injection filter tells text addressed to an AI from ordinary documentation
(`python -m eval injection`): precision and recall on a labelled set (data/injection/labelled.jsonl, built by
scripts/build_injection_set.py: injections by intent, language and disguise, and hard negatives that use the same
words), on its `tune` and `validation` halves, for the detector in serving/answer/injection/ and for the short
regex it replaced. A row counts as flagged when any of its sentences is withheld from the model.

The threshold is chosen on the tune half only (the sweep is printed); the validation half was written separately
and is measured, not tuned on.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from configs.errors import ConfigError

DATA = Path("data/injection/labelled.jsonl")
THRESHOLDS = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5)

# The filter before issue #21 (serving/answer/prompts.py until then), kept to measure against.
OLD_REGEX = re.compile(
    r"(ignore|disregard|forget|override)\s+(all\s+|any\s+|the\s+|your\s+|previous\s+|prior\s+|above\s+)*"
    r"(instructions|rules|prompts?|directions)"
    r"|you\s+are\s+now\s+"
    r"|new\s+instructions\s*:"
    r"|system\s+prompt"
    r"|(reply|respond|answer)\s+(only\s+)?with\s+(only\s+)?[\"'`]"
    r"|as\s+an\s+ai\s+(language\s+)?model,?\s+you\s+must",
    re.IGNORECASE,
)


def load(path: Path, split: str) -> list[dict[str, Any]]:
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the labelled injection set {path} ({exc}); rebuild it with "
                          "scripts/build_injection_set.py") from exc  # fmt: skip
    return [r for r in rows if split == "all" or r.get("split") == split]


def detector(threshold: float) -> Callable[[str], bool]:
    from serving.answer.injection.detector import flagged_sentences

    return lambda text: bool(flagged_sentences(text, threshold))


def old_regex(text: str) -> bool:
    return bool(OLD_REGEX.search(text))


def metrics(rows: list[dict[str, Any]], flags: Callable[[str], bool]) -> dict[str, Any]:
    """Precision, recall and F1 of `flags` on the rows; recall per kind of injection, false alarms per kind."""
    tp = fp = fn = tn = 0
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    alarms: Counter[str] = Counter()
    misses: list[str] = []
    false_alarms: list[str] = []
    for row in rows:
        flagged, positive = flags(row["text"]), row["label"] == "injection"
        kind = row["kind"] if row["lang"] in ("en", "mixed") else row["lang"]
        if positive:
            total[kind] += 1
            found[kind] += flagged
            tp += flagged
            fn += not flagged
            if not flagged:
                misses.append(row["text"])
        else:
            tn += not flagged
            fp += flagged
            if flagged:
                alarms[kind] += 1
                false_alarms.append(row["text"])
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "rows": len(rows),
        "injections": tp + fn,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "false_positives": fp,
        "missed": fn,
        "recall_by_kind": {k: f"{found[k]}/{total[k]}" for k in sorted(total)},
        "false_alarms_by_kind": dict(sorted(alarms.items())),
        "misses": misses,
        "false_alarms": false_alarms,
    }


def choose_threshold(tune: list[dict[str, Any]]) -> tuple[float, list[dict[str, Any]]]:
    """The threshold with the best F1 on the tune rows (ties: the higher, fewer false alarms), and the sweep."""
    sweep = []
    for t in THRESHOLDS:
        m = metrics(tune, detector(t))
        sweep.append({"threshold": t, **{k: m[k] for k in ("precision", "recall", "f1", "false_positives")}})
    best = max(sweep, key=lambda s: (s["f1"], s["threshold"]))
    return float(best["threshold"]), sweep


def cost_ms(texts: list[str]) -> float:
    """p50 milliseconds of withhold_instructions per text."""
    from serving.answer.prompts import withhold_instructions

    times = []
    for text in texts:
        t0 = time.perf_counter()
        withhold_instructions(text)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def sample_chunks(root: Path, size: int = 500) -> list[str]:
    """The sample handbook's Markdown and text files cut into chunks of about `size` characters."""
    chunks = []
    for path in sorted([*root.rglob("*.md"), *root.rglob("*.txt")]):
        text = path.read_text(encoding="utf-8", errors="replace")
        chunks += [text[i : i + size] for i in range(0, len(text), size)]
    return chunks


def measure(rows: list[dict[str, Any]], split: str, sample: Path | None = None) -> dict[str, Any]:
    """The sweep on the tune half, then old regex and detector on each half present in `rows`."""
    from serving.answer.injection.detector import THRESHOLD

    tune = [r for r in rows if r["split"] == "tune"]
    result: dict[str, Any] = {"threshold": THRESHOLD}
    if tune:
        best, sweep = choose_threshold(tune)
        result["best_threshold_on_tune"] = best
        result["sweep_tune"] = sweep
    for half in ("tune", "validation") if split == "all" else (split,):
        part = [r for r in rows if r["split"] == half]
        result[half] = {"old_regex": metrics(part, old_regex), "detector": metrics(part, detector(THRESHOLD))}
    chunks = sample_chunks(sample) if sample else []
    result["ms_per_sentence_p50"] = cost_ms([r["text"] for r in rows])
    if chunks:
        result["sample_chunks"] = len(chunks)
        result["sample_chunks_flagged"] = sum(detector(THRESHOLD)(c) for c in chunks)
        result["ms_per_500_char_chunk_p50"] = cost_ms(chunks)
    return result


def summary(result: dict[str, Any], verbose: bool = False) -> dict[str, Any]:
    """The result without the lists of texts (unless verbose)."""
    if verbose:
        return result
    out = dict(result)
    for half in ("tune", "validation"):
        if half in out:
            out[half] = {
                name: {k: v for k, v in m.items() if k not in ("misses", "false_alarms")}
                for name, m in out[half].items()
            }
    return out


def main(settings: Any, data: Path | None, split: str, json_path: Path | None, verbose: bool) -> int:
    """`python -m eval injection`: the metrics as JSON on stdout (and in json_path)."""
    rows = load(data or settings.resolve(DATA), split)
    result = measure(rows, split, settings.resolve(Path("data/sample")))
    print(json.dumps(summary(result, verbose), indent=2, ensure_ascii=False))
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0

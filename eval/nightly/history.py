"""The run history (JSON lines) and the regression verdict against the previous and the best comparable run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

LOWER_IS_BETTER = frozenset({"p50_ms", "p95_ms", "abstention_rate", "judge_failures"})


def load_history(path: Path) -> list[dict[str, Any]]:
    """Every complete run recorded so far (a torn last line from a crash is ignored)."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return runs


def append_run(path: Path, record: dict[str, Any]) -> None:
    """One write of one line, fsynced: an interrupted run either is recorded whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(record, sort_keys=True) + "\n").encode()
    if path.exists() and path.stat().st_size:
        with open(path, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":  # a crash left a torn line: keep this record on its own line
                data = b"\n" + data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def verdict(
    metrics: dict[str, float], comparable: list[dict[str, Any]], thresholds: dict[str, float], best_tolerance: float
) -> dict[str, Any]:
    """Regressions of this run's metrics against the previous and the best comparable runs."""
    out: dict[str, Any] = {"previous": None, "best": {}, "regressions": [], "compared_runs": len(comparable)}
    if not comparable:
        return out
    previous = comparable[-1]
    out["previous"] = previous["run_id"]
    for metric, limit in thresholds.items():
        if metric not in metrics:
            continue
        value = metrics[metric]
        past = [r["metrics"][metric] for r in comparable if metric in r.get("metrics", {})]
        if not past:
            continue
        best = max(past)
        out["best"][metric] = best
        prev = previous["metrics"].get(metric)
        if prev is not None and prev - value > limit:
            out["regressions"].append(
                {"metric": metric, "against": "previous", "value": value, "reference": prev, "drop": prev - value}
            )
        if best - value > limit * best_tolerance:
            out["regressions"].append(
                {"metric": metric, "against": "best", "value": value, "reference": best, "drop": best - value}
            )
    return out

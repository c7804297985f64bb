"""The embedder's arithmetic for a CPU is measured by one process; the others wait for its verdict."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from retrieval import embeddings


def test_processes_starting_together_share_one_measured_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two timings on a busy machine can disagree (CI had an ingest CLI on int8 while the process beside it chose
    fp32, so one index got two sets of chunk ids): the second caller must wait for and use the first's verdict."""
    calls: list[str] = []

    def measure(*args: Any) -> str:
        known, key, record_path = args[-3:]
        choice = ("int8", "fp32")[len(calls) % 2]  # each fresh measurement disagrees with the previous one
        calls.append(choice)
        time.sleep(0.3)
        known[key] = {"choice": choice}
        record_path.write_text(json.dumps(known))
        return choice

    monkeypatch.setattr(embeddings, "_measure", measure)
    got: list[str] = []

    def run() -> None:
        got.append(embeddings.measured_precision(None, Path("model"), tmp_path, None, 32, ["fp32", "int8"]))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["int8"] and got == ["int8"] * 3

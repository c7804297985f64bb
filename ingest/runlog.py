"""The ingest run log: one JSON line per run in <index>/ingest-runs.jsonl, appended by the Indexer and read by
a server's /metrics (runs from the command line are other processes; this file is how their counts reach it)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RUNS_FILE = "ingest-runs.jsonl"
OUTCOMES = ("new", "changed", "moved", "deleted", "unchanged")  # what a run did to each file it saw


@dataclass(frozen=True)
class RecordedRun:
    """One line of the log: files by outcome, the reasons files were skipped, chunks written."""

    files: dict[str, int]  # outcome -> files, for every name in OUTCOMES
    skip_reasons: tuple[str, ...]
    chunks_written: int


def append_run(index_dir: Path, report: dict[str, Any]) -> None:
    """Record one run (an IngestReport as a dict): its counts, the skips' reasons only (never a path), the time.
    A failure to write is logged and never fails the run."""
    record = {k: v for k, v in report.items() if k not in ("skipped", "notes", "warnings")}
    record["skipped"] = [{"reason": s["reason"]} for s in report["skipped"]]
    record["notes"] = len(report.get("notes", ()))  # they name sheets and attachments: only counted
    record["warnings"] = len(report.get("warnings", ()))
    record["time"] = time.time()
    try:
        with (index_dir / RUNS_FILE).open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
    except OSError as exc:
        logger.warning("could not record the run in %s: %s", index_dir / RUNS_FILE, exc)


def read_runs(index_dir: Path) -> list[RecordedRun]:
    """The runs recorded on an index, oldest first: none when the log is missing or unreadable; a line cut short
    by a crash is left out."""
    path = index_dir / RUNS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    except OSError:
        lines = []
    runs = []
    for line in lines:
        try:
            run = json.loads(line)
        except json.JSONDecodeError:
            continue
        runs.append(
            RecordedRun(
                files={outcome: int(run.get(outcome, 0)) for outcome in OUTCOMES},
                skip_reasons=tuple(str(skip.get("reason", "")) for skip in run.get("skipped", [])),
                chunks_written=int(run.get("chunks_written", 0)),
            )
        )
    return runs

"""The feedback review queue has two entry points, `python -m serving feedback` (serving/feedback_cli.py) and the
older `python -m eval feedback`: both print the same queue and the same errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from serving.store.feedback import FeedbackStore

ROOT = Path(__file__).resolve().parents[2]


def test_serving_and_eval_feedback_print_the_same_queue(tmp_path: Path) -> None:
    db = tmp_path / "feedback.sqlite"
    store = FeedbackStore(db)
    store.add(1, "Who approves travel?", "Your manager [1].", [{"relpath": "travel.md"}], "fake")  # not queued
    flagged = store.add(
        -1,
        "How many days of paid leave?",
        "Twenty days [1].",
        [{"relpath": "hr/leave-policy.md"}, {"relpath": "hr/faq.md"}],
        "fake",
        comment="part-time staff get it pro rata",
        user="alice",
    )
    env = {
        **os.environ,
        "KB_SERVING__FEEDBACK_DB": str(db),
        "KB_AUDIT__PATH": str(tmp_path / "audit.sqlite"),
    }

    def run(entry: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", entry, "feedback", *args], cwd=ROOT, env=env, capture_output=True, text=True
        )

    served, evaluated = run("serving", "list"), run("eval", "list")
    assert served.returncode == evaluated.returncode == 0, served.stderr + evaluated.stderr
    assert served.stdout == evaluated.stdout
    lines = served.stdout.splitlines()
    assert lines[0].startswith(f"#{flagged}  ") and lines[0].endswith("alice") and len(lines) == 5
    assert lines[1:] == [
        "  Q: How many days of paid leave?",
        "  A: Twenty days [1].",
        "  reason: part-time staff get it pro rata",
        "  sources: hr/faq.md, hr/leave-policy.md",
    ]
    assert run("serving", "list", "--json").stdout == run("eval", "list", "--json").stdout
    missing = run("serving", "dismiss", "999"), run("eval", "dismiss", "999")
    assert [m.returncode for m in missing] == [1, 1] and missing[0].stderr == missing[1].stderr != ""

"""`python -m eval nightly` end to end on a tiny dataset with the local LLM and the local judge."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PYTHON

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

DOCS = {
    "leave": ("Leave policy", "Employees get 25 days of paid annual leave per year. Up to 5 days carry over."),
    "sick": ("Sick leave", "A doctor's note is required from the fourth consecutive day of sick leave."),
    "vpn": ("VPN guide", "The VPN tunnel times out after 12 hours and must be activated again."),
    "pass": ("Passwords", "Passwords must be at least 14 characters long. A passphrase is recommended."),
    "exp": ("Expenses", "Expense claims must be submitted within 30 days with a receipt."),
    "hotel": ("Travel", "The hotel limit is 150 euros per night, 220 euros in London, Paris and Zurich."),
    "oncall": ("On-call", "New engineers join the on-call rotation after 8 weeks; shifts last one week."),
    "release": ("Releases", "Releases ship every second Tuesday; the branch is cut the Thursday before."),
}
QUESTIONS = {
    "leave": ("How many days of annual leave do employees get?", "25 days of paid annual leave per year."),
    "sick": ("When is a doctor's note needed?", "From the fourth consecutive day of sick leave."),
    "vpn": ("When does the VPN time out?", "After 12 hours."),
    "pass": ("How long must passwords be?", "At least 14 characters."),
    "exp": ("How soon must expenses be claimed?", "Within 30 days, with a receipt."),
    "hotel": ("What is the hotel limit in Paris?", "220 euros per night."),
    "oncall": ("When do new engineers join on-call?", "After 8 weeks."),
    "release": ("How often are releases shipped?", "Every second Tuesday."),
}


def _tiny_dataset(root: Path) -> Path:
    ds = root / "tinykb"
    (ds / "qrels").mkdir(parents=True)
    with open(ds / "corpus.jsonl", "w") as fh:
        for doc_id, (title, text) in DOCS.items():
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (
        open(ds / "queries.jsonl", "w") as q,
        open(ds / "qrels" / "test.tsv", "w") as r,
        open(ds / "questions_dev.jsonl", "w") as qa,
    ):
        r.write("query-id\tcorpus-id\tscore\n")
        for doc_id, (question, reference) in QUESTIONS.items():
            q.write(json.dumps({"_id": f"q{doc_id}", "text": question}) + "\n")
            r.write(f"q{doc_id}\t{doc_id}\t1\n")
            qa.write(
                json.dumps(
                    {"_id": f"q{doc_id}", "question": question, "gold_doc": doc_id, "reference_answer": reference}
                )
                + "\n"
            )
    return ds


def _nightly(env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [PYTHON, "-m", "eval", "nightly", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        env={**os.environ, **env},
    )


def test_nightly_reports_every_metric_and_flags_a_planted_regression(tmp_path: Path, llama_server: str) -> None:
    ds = _tiny_dataset(tmp_path)
    env = {
        "KB_EVAL__RETRIEVAL_DATASETS": f'["{ds}:test"]',
        "KB_EVAL__QA_DATASET": f"{ds}:dev",
        "KB_EVAL__QA_SAMPLE": "2",
        "KB_EVAL__QA_EXTRA_GLOB": "tests/no-such-folder/*.jsonl",
        "KB_EVAL__REPORTS_DIR": str(tmp_path / "reports"),
        "KB_EVAL__CACHE_DIR": str(tmp_path / "cache"),
        "KB_EVAL__JUDGE_TIMEOUT_S": "60",
        "KB_EVAL__JUDGE_BASE_URL": "http://127.0.0.1:9/v1",  # no judge server: Ragas is skipped, and says why
        "KB_LLM__BASE_URL": "http://127.0.0.1:9/v1",
        "KB_LLM__MODEL_DIR": str(tmp_path / "no-models"),
        "KB_LLM__MAX_TOKENS": "64",
        # live traffic comes from this run's own (empty) audit trail and feedback, not the checkout's data/
        "KB_AUDIT__PATH": str(tmp_path / "audit.sqlite"),
        "KB_SERVING__FEEDBACK_DB": str(tmp_path / "feedback.sqlite"),
    }
    first = _nightly(env, tmp_path / "r1")
    assert first.returncode == 0, first.stderr[-3000:]
    plan = next(line for line in first.stderr.splitlines() if line.startswith("plan:"))
    assert "indexing 8 documents first (cold cache)" in plan and "min" in plan  # the estimate counts indexing
    report = json.loads((tmp_path / "r1" / "report.json").read_text())
    for metric in (
        "tinykb/ndcg@10",
        "tinykb/recall@100",
        "tinykb/mrr@10",
        "tinykb/p50_ms",
        "verifier_faithfulness",
        "citation_validity",
        "abstention_rate",
        "answer_words",
        "gold_hit",
    ):
        assert metric in report["metrics"], metric
    # The verifier judges every night, by name; Ragas needs a capable judge and says why it did not run.
    assert report["judges"]["verifier_faithfulness"].startswith("feature-verifier")
    assert report["judges"]["ragas"].startswith("skipped: no judge server at http://127.0.0.1:9/v1")
    assert "faithfulness" not in report["metrics"] and report["judge_failures"] == {}
    assert report["config"]["llm_backend"] == "extractive" and len(report["questions"]) == 2
    assert 0.0 <= report["metrics"]["verifier_faithfulness"] <= 1.0
    page = (tmp_path / "r1" / "report.html").read_text()
    assert "no regression" in page and page.count("data:image/png;base64,") >= 2 and "feature-verifier" in page
    assert "Live traffic" in page and "Conversation Success Score" in page  # defined in the report itself
    assert report["live"]["answers"] == 0 and "conversation_success_score" in report["live"]

    # Plant a regression: pretend the previous night retrieved far better, then run again, with Ragas judged by
    # llama.cpp's real server (the bundled model: its scores are poor, but every one is scored or counted).
    history = tmp_path / "reports" / "history.jsonl"
    record = json.loads(history.read_text().splitlines()[-1])
    record["run_id"] = "19990101T000000Z"
    record["metrics"]["tinykb/ndcg@10"] = record["metrics"]["tinykb/ndcg@10"] + 0.5
    history.write_text(history.read_text() + json.dumps(record) + "\n")
    judged = {**env, "KB_EVAL__JUDGE_BACKEND": "openai", "KB_EVAL__JUDGE_BASE_URL": llama_server}
    second = _nightly(judged, tmp_path / "r2")
    assert second.returncode == 4, second.stderr[-3000:]
    report = json.loads((tmp_path / "r2" / "report.json").read_text())
    assert any(r["metric"] == "tinykb/ndcg@10" for r in report["verdict"]["regressions"])
    assert report["judges"]["ragas"].startswith("openai:")
    for metric in ("faithfulness", "answer_relevancy", "context_precision", "context_recall"):
        # Scored, or counted as a judge failure: never silently missing.
        scored = metric in report["metrics"]
        failed = report["judge_failures"].get(metric, 0)
        assert scored or failed == len(report["questions"]), metric
    assert "REGRESSION" in (tmp_path / "r2" / "report.html").read_text()
    assert len(history.read_text().splitlines()) == 3


def test_make_eval_handbook_runs_from_a_checkout_without_the_research_datasets(tmp_path: Path) -> None:
    """The hosted nightly workflow's fallback: the sample handbook and its QA set, nothing from ../shared/data."""
    import os

    env = {
        **os.environ,
        "KB_EVAL__REPORTS_DIR": str(tmp_path / "reports"),
        "KB_EVAL__DATA_DIR": str(tmp_path / "no-shared-data"),
        "KB_EVAL__JUDGE_BACKEND": "none",
        "KB_LLM__BACKEND": "extractive",  # the same answers whether or not `make model` ran on this machine
    }
    proc = subprocess.run(
        ["make", "--no-print-directory", "eval-handbook", f"HANDBOOK_INDEX={tmp_path / 'idx'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [report_file] = (tmp_path / "reports").glob("*/report.json")
    report = json.loads(report_file.read_text())
    lines = (ROOT / "data" / "handbook-qa.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines]
    assert [q["question"] for q in report["questions"]] == questions
    assert report["retrieval"] == {} and (tmp_path / "idx" / "manifest.sqlite").exists()
    metrics = report["metrics"]
    # Every question's gold document is cited, every answer sentence is supported, and the answers overlap
    # their references (extractive answers quote whole sentences, so ROUGE-L stays well under 1).
    assert metrics["gold_hit"] >= 0.9 and metrics["verifier_faithfulness"] >= 0.9, metrics
    assert 0.3 < metrics["rouge_l"] < 0.9, metrics
    assert (tmp_path / "reports" / "history.jsonl").exists()

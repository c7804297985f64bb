"""The feedback loop: a thumbs-down flags an answer, a reviewer corrects it, the export becomes a QA set the nightly
run answers; and the live-traffic KPIs (conversations, thumbs-up rate, abstentions, success score)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from serving.access.identity import LOCAL, Identity
from tests.conftest import PYTHON, make_settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LEAVE = "How many days of paid annual leave do full-time employees get?"


def test_a_thumbs_down_becomes_a_reviewed_regression_question(kb_index: Path, tmp_path: Path) -> None:
    from eval.datasets import user_qa_items
    from serving.app import Assistant
    from serving.feedback_cli import live_kpis

    state = {
        "audit": {"path": str(tmp_path / "audit.sqlite")},
        "serving": {"feedback_db": str(tmp_path / "feedback.sqlite")},
        "llm": {"backend": "extractive"},
    }
    settings = make_settings(kb_index, **state)
    assistant = Assistant(settings, kb_index)
    chain, recorder = assistant.chain, assistant.recorder
    # conversation 1 (page session s1): a question and a follow-up; the follow-up gets a thumbs-down
    first = chain.answer(LEAVE)
    seq1 = recorder.answer(LOCAL, first, {}, [], "s1")
    history = [{"role": "user", "content": LEAVE}, {"role": "assistant", "content": first.text}]
    follow = chain.answer("And part-time staff?", history)
    seq2 = recorder.answer(LOCAL, follow, {}, history, "s1")
    recorder.feedback_given(LOCAL, first, 1, "", seq1)
    recorder.feedback_given(LOCAL, follow, -1, "it should say pro rata", seq2)
    # conversation 2: nothing in the documents
    nothing = chain.answer("What is the boiling point of tungsten in kelvin?")
    recorder.answer(LOCAL, nothing, {}, [], "s2")
    # conversation 3, another user: answered and liked
    bob = Identity("bob", frozenset(), "key")
    liked = chain.answer("How do I reset my VPN password?")
    recorder.feedback_given(bob, liked, 1, "", recorder.answer(bob, liked, {}, [], "s3"))

    kpis = live_kpis(settings, days=1, max_turns=3)
    assert kpis["answers"] == 4 and kpis["conversations"] == 3
    assert kpis["turns_per_conversation"] == pytest.approx(4 / 3, abs=1e-3)
    assert kpis["thumbs_up_rate"] == pytest.approx(2 / 3, abs=1e-3) and kpis["flagged"] == 1
    assert kpis["abstention_rate"] == 0.25
    assert kpis["conversation_success_score"] == pytest.approx(1 / 3, abs=1e-3)  # only bob's was resolved
    assert live_kpis(settings, days=1, max_turns=1)["conversation_success_score"] == pytest.approx(1 / 3, abs=1e-3)

    env = {
        **os.environ,
        "KB_AUDIT__PATH": str(tmp_path / "audit.sqlite"),
        "KB_SERVING__FEEDBACK_DB": str(tmp_path / "feedback.sqlite"),
    }

    def feedback(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "eval", "feedback", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
        )

    queue = feedback("list")
    assert queue.returncode == 0 and "it should say pro rata" in queue.stdout and "part-time" in queue.stdout
    item = json.loads(feedback("list", "--json").stdout.splitlines()[0])
    assert item["answer_seq"] == seq2 and item["status"] == "flagged"
    assert feedback("dismiss", "999").returncode == 1  # no such item: a clear error
    reference = "Part-time staff get leave pro rata to their contracted hours."
    reviewed = feedback("review", str(item["id"]), "--reference", reference, "--gold", "hr/leave-policy.md")
    assert reviewed.returncode == 0, reviewed.stderr
    assert "empty" in feedback("list").stdout
    out = tmp_path / "eval" / "feedback.jsonl"
    exported = feedback("export", "--out", str(out))
    assert exported.returncode == 0 and "1 reviewed item" in exported.stdout
    row = json.loads(out.read_text().splitlines()[0])
    assert row["question"] == "And part-time staff?" and row["reference"] == reference
    # the nightly evaluation's loader for data/eval/*.jsonl reads it as a question with a gold source
    items = user_qa_items(str(tmp_path / "eval" / "*.jsonl"))
    expected = [("And part-time staff?", reference, ("leave-policy",))]
    assert [(i.question, i.reference, i.gold_docs) for i in items] == expected
    kpis_cli = json.loads(feedback("kpis", "--days", "1").stdout)
    assert kpis_cli["answers"] == 4 and kpis_cli["review_queue"] == 0

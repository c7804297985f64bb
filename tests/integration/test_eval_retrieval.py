"""`python -m eval make-beir` and `python -m eval retrieval` on a tiny QA set: the BEIR folder's halves, and the
JSON's `default` entry naming the variant the configured pipeline runs, with that configuration."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from configs.loading import load_settings
from tests.conftest import PYTHON

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

DOCS = {
    "101": "Aspirin lowers the risk of a second heart attack in patients with coronary disease.",
    "102": "Regular running improves bone density in adolescents compared with swimming.",
    "103": "Vitamin D supplements did not reduce fractures in elderly women living at home.",
    "104": "Night shift work is associated with a higher incidence of type 2 diabetes in nurses.",
    "105": "Green tea extract had no effect on weight loss in a randomised trial of obese adults.",
    "106": "Early mobilisation after hip surgery shortens the hospital stay of older patients.",
}
QUESTIONS = {
    "101": "Does aspirin prevent a second heart attack?",
    "102": "Does running build stronger bones in teenagers than swimming?",
    "103": "Do vitamin D supplements prevent fractures in old women?",
    "104": "Are night shifts linked to diabetes in nurses?",
    "105": "Does green tea extract help obese adults lose weight?",
    "106": "Does getting up early after hip surgery shorten the hospital stay?",
}


def _eval(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "eval", *args], cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )


def test_make_beir_then_retrieval_json_names_the_configured_default(tmp_path: Path) -> None:
    qa = tmp_path / "qa"
    qa.mkdir()
    rows = [{"_id": i, "title": "", "text": t} for i, t in DOCS.items()]
    (qa / "corpus.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (qa / "questions_dev.jsonl").write_text(
        "".join(json.dumps({"_id": f"q{i}", "question": q, "gold_doc": i}) + "\n" for i, q in QUESTIONS.items())
    )
    env = {"KB_EVAL__CACHE_DIR": str(tmp_path / "cache")}
    beir = tmp_path / "beir"
    made = _eval("make-beir", "--from", str(qa), "--out", str(beir), env=env)
    assert made.returncode == 0, made.stderr

    def qids(split: str) -> set[str]:
        return {line.split("\t")[0] for line in (beir / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]}

    assert qids("train") and qids("test") and not qids("train") & qids("test")  # tune and validation halves
    assert qids("train") | qids("test") == qids("all") == {f"q{i}" for i in QUESTIONS}

    out = tmp_path / "retrieval.json"
    run = _eval("retrieval", "--dataset", str(beir), "--split", "all", "--json", str(out), env=env)
    assert run.returncode == 0, run.stderr
    results = json.loads(out.read_text())
    configured = load_settings(None).retrieval
    assert results["default"] == "fusion"  # no reranker configured
    assert results["default_config"] == {
        "fusion": configured.fusion,
        "rrf_k": configured.rrf_k,
        "dense_weight": configured.dense_weight,
        "lexical_weight": configured.lexical_weight,
        "rerank": configured.rerank,
    }
    assert results[results["default"]]["ndcg@10"] > 0.9  # each question finds its own abstract

    bad = _eval("make-beir", "--from", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x"), env=env)
    assert bad.returncode == 1 and "corpus.jsonl" in bad.stderr

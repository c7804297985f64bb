import json
from pathlib import Path

from eval.answer_metrics import citation_validity, generated_supported_share, verifier_faithfulness
from eval.nightly.history import append_run, load_history, verdict
from eval.retrieval_metrics import documents_ranked, evaluate_run
from retrieval.types import Chunk, ChunkMeta, Hit
from serving.answer.citations import Citation
from serving.answer.grounding import Removed
from serving.answer.results import Answer
from serving.answer.verify.verifier import FeatureVerifier

SOURCES = ["Employees get 25 days of paid annual leave per year.", "The VPN times out after 12 hours."]


def _answer(text: str, mode: str = "llm", removed: tuple[Removed, ...] = ()) -> Answer:
    cites = [Citation(i, f"/d/{i}.md", f"{i}.md", "", None, "", t, 0, len(t), 1.0) for i, t in enumerate(SOURCES, 1)]
    return Answer("q", "What are the rules?", text, cites, [], mode, "m", removed=removed)  # type: ignore[arg-type]


def test_citation_validity_hand_computed() -> None:
    v = FeatureVerifier()
    # sentence 1 cites [1] correctly; sentence 2 cites [2] for a claim it does not support; [3] does not exist.
    text = "Employees get 25 days of annual leave [1]. The VPN needs a doctor's note [2][3]."
    assert citation_validity(v, _answer(text)) == 1 / 3
    assert citation_validity(v, _answer("No citations here.")) is None
    assert citation_validity(v, _answer("The VPN times out after 12 hours [2].")) == 1.0
    assert citation_validity(v, _answer("- The VPN times out after 12 hours. [2]\n- Employees get 25 days. [1]")) == 1.0


def test_verifier_faithfulness_counts_supported_sentences() -> None:
    v = FeatureVerifier()
    assert (
        verifier_faithfulness(v, _answer("Employees get 25 days of leave [1]. The VPN times out after 9 hours [2]."))
        == 0.5
    )
    assert (
        verifier_faithfulness(
            v, _answer("I could not find anything about this in the indexed documents.", "no-context")
        )
        is None
    )
    gone = (Removed("It times out after 9 hours.", (), 0.0),)
    assert generated_supported_share(_answer("The VPN times out after 12 hours [2].", removed=gone)) == 0.5
    assert generated_supported_share(_answer("x [1].", mode="extractive")) is None


def test_ndcg_and_recall_by_hand() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}}
    run = {"q1": {"d1": 3.0, "x": 2.0}, "q2": {"x": 3.0, "d3": 2.0}}
    m = evaluate_run(qrels, run)
    # q1: nDCG 1, MRR 1. q2: one of two relevant at rank 2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3).
    idcg = 1 + 1 / 1.584962500721156
    assert abs(m["ndcg@10"] - (1 + (1 / 1.584962500721156) / idcg) / 2) < 1e-3
    assert abs(m["mrr@10"] - (1 + 0.5) / 2) < 1e-4
    assert abs(m["recall@100"] - (1 + 0.5) / 2) < 1e-4


def test_chunks_map_to_documents_at_their_best_rank() -> None:
    def hit(doc: str) -> Hit:
        return Hit(Chunk(doc + "#", "t", f"/c/{doc}.txt", ChunkMeta(filename=f"{doc}.txt")), 1.0)

    ranked = documents_ranked([hit("a"), hit("b"), hit("a"), hit("c")])
    assert list(ranked) == ["a", "b", "c"] and ranked["a"] > ranked["b"] > ranked["c"]


def test_verdict_flags_drops_beyond_thresholds() -> None:
    history = [
        {"run_id": "1", "metrics": {"ndcg@10": 0.80, "faithfulness": 0.7}},
        {"run_id": "2", "metrics": {"ndcg@10": 0.75, "faithfulness": 0.7}},
    ]
    v = verdict({"ndcg@10": 0.74, "faithfulness": 0.55}, history, {"ndcg@10": 0.02, "faithfulness": 0.05}, 2.0)
    flagged = {(r["metric"], r["against"]) for r in v["regressions"]}
    # ndcg: -0.01 vs previous (ok), -0.06 vs best > 0.04 (flagged); faithfulness: -0.15 vs previous and best.
    assert flagged == {("ndcg@10", "best"), ("faithfulness", "previous"), ("faithfulness", "best")}
    assert verdict({"ndcg@10": 0.1}, [], {"ndcg@10": 0.02}, 2.0)["regressions"] == []


def test_history_survives_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    append_run(path, {"run_id": "a", "metrics": {}})
    with open(path, "a") as fh:
        fh.write('{"run_id": "b", "metr')  # a crash mid-write
    assert [r["run_id"] for r in load_history(path)] == ["a"]
    append_run(path, {"run_id": "c", "metrics": {}})
    assert [r["run_id"] for r in load_history(path)] == ["a", "c"]
    assert json.loads(path.read_text().splitlines()[0])["run_id"] == "a"


def test_judge_output_is_constrained_to_the_schema_the_ragas_prompt_asks_for() -> None:
    from types import SimpleNamespace

    from eval.nightly.ragas_suite import _patch_ragas_import, output_schema

    _patch_ragas_import()
    from ragas.metrics._faithfulness import StatementGeneratorInput, StatementGeneratorPrompt

    prompt = StatementGeneratorPrompt().to_string(StatementGeneratorInput(question="q?", answer="It is 25 days."))
    schema = output_schema([SimpleNamespace(content=prompt)])
    assert schema is not None
    statements = schema["properties"]["statements"]
    assert statements["type"] == "array" and statements["minItems"] == 1 and statements["maxItems"] == 12
    assert statements["items"] == {"type": "string", "maxLength": 400}
    assert output_schema([SimpleNamespace(content="no schema in this prompt")]) is None

"""`python -m eval nightly`: the configured pipeline end to end -> report.html + report.json + history.

Judges: the faithfulness verifier always (no LLM needed: `verifier_faithfulness`), and Ragas when a capable
judge is reachable or configured (eval.judge_backend), skipped with the reason in the report otherwise.
Exit status: 0 no regression, 4 a regression against the previous or best comparable run, 1 the run failed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from configs.settings import Settings
from eval.answer_metrics import (
    abstained,
    answer_length,
    citation_validity,
    generated_supported_share,
    gold_hit,
    rouge_l,
    verifier_faithfulness,
)
from eval.datasets import Dataset, QAItem, dataset_spec, holdout, load_dataset, sample, user_qa_items
from eval.nightly.history import append_run, load_history, verdict
from eval.nightly.ragas_suite import (
    METRICS_ALWAYS,
    METRICS_WITH_REFERENCE,
    QARow,
    RagasJudge,
    RagasSuite,
    choose_ragas_judge,
)

logger = logging.getLogger(__name__)
Say = Callable[[str], None]
# Seconds per unit of work, measured on the 2-core machines (BENCHMARKS.md), for the estimate printed up front.
SECONDS_PER_QUERY = 0.06
SECONDS_PER_DOC_INT8 = 0.04  # indexing a cold cache with the int8 or bf16 embedder (VNNI / BF16 CPUs)
SECONDS_PER_DOC_FP32 = 0.12  # ... and with fp32 (CPUs without VNNI)
SECONDS_PER_ANSWER = {"extractive": 0.5, "openai": 4.0, "local": 20.0, "given": 4.0}
SECONDS_PER_RAGAS_ROW = {"openai": 8.0, "local": 60.0}
PER_QUESTION = (
    "verifier_faithfulness",
    "citation_validity",
    "generated_supported_share",
    "gold_hit",
    "rouge_l",
    "answer_words",
    *METRICS_ALWAYS,
    *METRICS_WITH_REFERENCE,
)


@dataclass
class QAResult:
    """One question answered by the pipeline, with every per-question metric."""

    dataset: str
    id: str
    question: str
    answer: str
    mode: str
    sources: list[dict[str, Any]]
    reference: str | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    unverified: list[str] = field(default_factory=list)


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


@dataclass
class Plan:
    """What tonight's run will do, known before it starts."""

    retrieval_sets: list[Dataset]
    qa_set: Dataset | None
    qa_items: list[tuple[str, QAItem]]
    judge: RagasJudge
    backend: str
    cold_docs: int  # documents to index because their cached index is missing

    def estimate_seconds(self, settings: Settings) -> float:
        from retrieval import openvino_int8

        per_doc = SECONDS_PER_DOC_INT8 if openvino_int8.available() else SECONDS_PER_DOC_FP32
        n_queries = sum(len(d.qrels) for d in self.retrieval_sets)
        per_answer = SECONDS_PER_ANSWER.get(self.backend, 4.0)
        per_judge = SECONDS_PER_RAGAS_ROW.get(self.judge.backend, 0.0)
        return self.cold_docs * per_doc + n_queries * SECONDS_PER_QUERY + len(self.qa_items) * (per_answer + per_judge)


def make_plan(settings: Settings, sample_size: int | None, backend: str) -> Plan:
    from eval.retrieval_metrics import cached_index_is_complete

    cfg = settings.eval
    retrieval_sets = [load_dataset(*dataset_spec(s)) for s in cfg.retrieval_datasets]  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
    qa_set = load_dataset(*dataset_spec(cfg.qa_dataset)) if cfg.qa_dataset else None  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
    qa_items: list[tuple[str, QAItem]] = []
    if qa_set is not None:
        # Questions from the half of the set that reranker and verifier training never see.
        eval_ids = holdout([i.id for i in qa_set.qa], "eval")
        chosen = set(sample(eval_ids, sample_size or cfg.qa_sample, cfg.seed))
        qa_items += [(qa_set.name, i) for i in qa_set.qa if i.id in chosen]
    qa_items += [("user", i) for i in user_qa_items(settings.eval.qa_extra_glob)]
    indexed = {d.root: d for d in [*retrieval_sets, *([qa_set] if qa_set and qa_items else [])]}
    cache = settings.resolve(cfg.cache_dir)
    cold = sum(d.corpus_size() for d in indexed.values() if not cached_index_is_complete(d, cache))
    return Plan(retrieval_sets, qa_set, qa_items, choose_ragas_judge(settings), backend, cold)


def measure_retrieval(settings: Settings, plan: Plan, say: Say) -> tuple[dict[str, float], dict[str, Any]]:
    from eval.retrieval_metrics import Variant, index_dataset, make_retriever, run_variant

    metrics: dict[str, float] = {}
    per_dataset: dict[str, Any] = {}
    for ds in plan.retrieval_sets:
        say(f"retrieval: {ds.name} ({ds.split}, {len(ds.qrels)} queries)")
        idx, embedder = index_dataset(settings, ds)
        retriever = make_retriever(settings, idx, embedder)
        variant = Variant("default", settings.retrieval.fusion, rerank=retriever.reranker is not None)
        result = run_variant(retriever, ds, variant)
        per_dataset[ds.name] = result["metrics"]
        metrics.update({f"{ds.name}/{k}": v for k, v in result["metrics"].items() if k != "queries"})
    return metrics, per_dataset


def answer_questions(settings: Settings, plan: Plan, index_dir: Path | None, say: Say) -> list[QAResult]:
    from eval.retrieval_metrics import index_dataset
    from serving.app import Assistant

    results: list[QAResult] = []
    groups: dict[str, list[QAItem]] = {}
    for name, item in plan.qa_items:
        groups.setdefault(name, []).append(item)
    for name, items in groups.items():
        if name == "user":
            kb_index = index_dir or settings.resolve(settings.index.path)
        else:
            assert plan.qa_set is not None
            kb_index, _ = index_dataset(settings, plan.qa_set)
        assistant = Assistant(settings, kb_index)
        verifier = assistant.chain.verifier
        for n, item in enumerate(items, start=1):
            say(f"answer {name} {n}/{len(items)}")
            answer = assistant.chain.answer(item.question)
            r = QAResult(
                name,
                item.id,
                item.question,
                answer.text,
                answer.mode,
                [c.to_dict() for c in answer.citations],
                item.reference,
                unverified=[x.text for x in answer.removed],
            )
            r.metrics = {
                "verifier_faithfulness": verifier_faithfulness(verifier, answer),
                "citation_validity": citation_validity(verifier, answer),
                "generated_supported_share": generated_supported_share(answer),
                "abstained": 1.0 if abstained(answer) else 0.0,
                "answer_words": float(answer_length(answer.text)),
                "gold_hit": gold_hit(answer, item.gold_docs),
                "rouge_l": rouge_l(answer.text, item.reference) if item.reference else None,
            }
            results.append(r)
    return results


def judge_with_ragas(settings: Settings, judge: RagasJudge, results: list[QAResult], say: Say) -> dict[str, int]:
    """Ragas scores into each result's metrics; returns, per metric, how many applicable scores failed."""
    failures: dict[str, int] = {}
    if judge.backend == "skipped" or not results:
        return failures
    say(f"judge: {judge.name} on {len(results)} answers")
    rows = [QARow(r.question, r.answer, [s["text"] for s in r.sources] or [""], r.reference) for r in results]
    scores = RagasSuite(judge.eval_settings, settings.llm).score(rows)
    for metric, values in scores.items():
        applicable = [i for i, r in enumerate(results) if metric in METRICS_ALWAYS or r.reference]
        failures[metric] = sum(1 for i in applicable if values[i] is None)
        for i in applicable:
            results[i].metrics[metric] = values[i]
    return failures


def run_nightly(
    settings: Settings, out_dir: Path, sample_size: int | None, index_dir: Path | None, say: Say
) -> tuple[dict[str, Any], int]:
    """Run everything, write the report, append to the history; returns (report, exit status)."""
    from serving.answer.verify.verifier import FeatureVerifier
    from serving.llm.backends import choose_backend

    cfg = settings.eval
    started = time.time()
    backend = choose_backend(settings.llm, settings.resolve(settings.llm.model_dir))
    plan = make_plan(settings, sample_size, backend.kind)
    cold = f", indexing {plan.cold_docs:,} documents first (cold cache)" if plan.cold_docs else ""
    say(
        f"plan: {sum(len(d.qrels) for d in plan.retrieval_sets)} retrieval queries on {len(plan.retrieval_sets)} "
        f"dataset(s){cold}; {len(plan.qa_items)} questions answered by {backend.kind} ({backend.reason}); "
        f"judges: verifier, Ragas {plan.judge.name}; about {max(1, round(plan.estimate_seconds(settings) / 60))} min"
    )
    metrics, retrieval_report = measure_retrieval(settings, plan, say)
    fingerprints = {f"retrieval:{d.name}:{d.split}": d.fingerprint() for d in plan.retrieval_sets}
    results = answer_questions(settings, plan, index_dir, say)
    for name in {n for n, _ in plan.qa_items}:
        ids = sorted(i.id + i.question for n, i in plan.qa_items if n == name)
        fingerprints[f"qa:{name}"] = hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:12]
    judge_failures = judge_with_ragas(settings, plan.judge, results, say)
    for metric in PER_QUESTION:
        value = _mean([r.metrics.get(metric) for r in results])
        if value is not None:
            metrics[metric] = value
    if results:
        metrics["abstention_rate"] = round(statistics.fmean(r.metrics["abstained"] or 0.0 for r in results), 4)
    # --- live traffic: what readers asked and thought of the answers (audit trail + feedback store) ------------
    from serving.feedback_cli import live_kpis

    live = live_kpis(settings, cfg.live_days, cfg.css_max_turns)
    for key in ("answers", "thumbs_up_rate", "flagged", "abstention_rate", "turns_per_conversation",
                "conversation_success_score"):  # fmt: skip
        if live[key] is not None:
            metrics[f"live/{key}"] = float(live[key])
    # --- history and verdict -----------------------------------------------------------------------------
    history_path = settings.resolve(cfg.reports_dir) / "history.jsonl"
    dataset_key = hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()[:16]
    comparable = [h for h in load_history(history_path) if h.get("dataset_key") == dataset_key]
    thresholds = dict(cfg.thresholds)
    for ds in plan.retrieval_sets:  # retrieval thresholds apply to every dataset's copy of the metric
        for m in ("ndcg@10", "recall@100", "mrr@10"):
            if m in cfg.thresholds:
                thresholds[f"{ds.name}/{m}"] = cfg.thresholds[m]
    decision = verdict(metrics, comparable, thresholds, cfg.best_tolerance)
    judges = {"verifier_faithfulness": FeatureVerifier().name, "ragas": plan.judge.name}
    report = {
        "run_id": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"),
        "started": datetime.fromtimestamp(started, UTC).isoformat(),
        "seconds": round(time.time() - started, 1),
        "estimated_seconds": round(plan.estimate_seconds(settings), 1),
        "dataset_key": dataset_key,
        "datasets": fingerprints,
        "config": _config(settings, plan, backend.kind, backend.reason, sample_size),
        "judges": judges,
        "metrics": metrics,
        "retrieval": retrieval_report,
        "judge_failures": judge_failures,
        "live": live,
        "questions": [r.__dict__ for r in results],
        "verdict": decision,
        "history": [{"run_id": h["run_id"], "metrics": h["metrics"]} for h in comparable],
    }
    _write(report, out_dir, history_path)
    status = 4 if decision["regressions"] else 0
    say(f"report: {out_dir / 'report.html'} ({'REGRESSION' if status else 'no regression'})")
    return report, status


def _config(settings: Settings, plan: Plan, backend: str, reason: str, sample_size: int | None) -> dict[str, Any]:
    secret_free = settings.model_dump_json()  # secrets are SecretStr: they serialise as "**********"
    return {
        "fingerprint": hashlib.sha256(secret_free.encode()).hexdigest()[:12],
        "embedder": settings.embedding.model,
        "precision": settings.embedding.precision,
        "fusion": settings.retrieval.fusion,
        "rerank": settings.retrieval.rerank,
        "llm_backend": backend,
        "llm_backend_reason": reason,
        "llm": settings.llm.model or settings.llm.gguf,
        "judge": plan.judge.name,
        "sample": sample_size or settings.eval.qa_sample,
        "seed": settings.eval.seed,
    }


def _write(report: dict[str, Any], out_dir: Path, history_path: Path) -> None:
    from eval.nightly.report import write_html

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    write_html(report, out_dir / "report.html")
    keys = ("run_id", "started", "seconds", "dataset_key", "datasets", "config", "judges", "metrics", "judge_failures")
    append_run(history_path, {k: report[k] for k in keys})


def main_nightly(settings: Settings, out: Path | None, sample_size: int | None, index_dir: Path | None) -> int:
    out_dir = out or settings.resolve(settings.eval.reports_dir) / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    _, status = run_nightly(settings, out_dir, sample_size, index_dir, say)
    return status

"""`python -m eval nightly`: the configured pipeline end to end -> report.html + report.json + history.

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

from configs.errors import KBError
from configs.settings import PROJECT_ROOT, Settings
from eval.answer_metrics import abstained, answer_length, citation_validity, gold_hit
from eval.datasets import QAItem, holdout, load_dataset, sample
from eval.history import append_run, load_history, verdict
from eval.ragas_suite import METRICS_ALWAYS, METRICS_WITH_REFERENCE, QARow, RagasSuite, judge_name

logger = logging.getLogger(__name__)
Say = Callable[[str], None]


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


def _spec(spec: str) -> tuple[Path, str]:
    path, _, split = spec.rpartition(":") if ":" in spec else (spec, "", "test")
    resolved = Path(path) if Path(path).is_absolute() else PROJECT_ROOT / path
    return resolved, split or "test"


def _extra_items(settings: Settings) -> list[QAItem]:
    items = []
    for path in sorted(PROJECT_ROOT.glob(settings.eval.qa_extra_glob)):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                question = str(row["question"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise KBError(f"{path}:{n + 1}: each line must be JSON with a 'question' ({exc})") from exc
            gold = row.get("gold_sources") or []
            items.append(
                QAItem(f"{path.stem}:{n + 1}", question, row.get("reference"), tuple(Path(g).stem for g in gold))
            )
    return items


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.fmean(present), 4) if present else None


def run_nightly(
    settings: Settings, out_dir: Path, sample_size: int | None, index_dir: Path | None, say: Say
) -> tuple[dict[str, Any], int]:
    """Run everything, write the report, append to the history; returns (report, exit status)."""
    from eval.retrieval_metrics import Variant, index_dataset, make_retriever, run_variant
    from serving.app import Assistant

    cfg = settings.eval
    started = time.time()
    n_sample = sample_size or cfg.qa_sample
    # --- plan -----------------------------------------------------------------------------------------
    retrieval_sets = [load_dataset(*_spec(s)) for s in cfg.retrieval_datasets]
    qa_set = load_dataset(*_spec(cfg.qa_dataset)) if cfg.qa_dataset else None
    qa_items: list[tuple[str, QAItem]] = []
    if qa_set is not None:
        # Questions from the half of the set that reranker training never sees.
        eval_ids = holdout([i.id for i in qa_set.qa], "eval")
        chosen = set(sample(eval_ids, n_sample, cfg.seed))
        qa_items += [(qa_set.name, i) for i in qa_set.qa if i.id in chosen]
    extra = _extra_items(settings)
    qa_items += [("user", i) for i in extra]
    n_queries = sum(len(d.qrels) for d in retrieval_sets)
    per_answer = 8.0 if settings.llm.backend == "local" else 3.0 if settings.llm.backend == "openai" else 0.5
    per_judge = 0.0 if cfg.judge_backend == "none" else 25.0 if cfg.judge_backend == "local" else 6.0
    estimate = n_queries * 0.06 + len(qa_items) * (per_answer + per_judge)
    say(
        f"plan: {n_queries} retrieval queries on {len(retrieval_sets)} dataset(s), {len(qa_items)} questions "
        f"answered by {settings.llm.backend}, judge {cfg.judge_backend}; about {estimate / 60:.0f} min"
    )
    # --- retrieval --------------------------------------------------------------------------------------
    metrics: dict[str, float] = {}
    retrieval_report: dict[str, Any] = {}
    fingerprints: dict[str, str] = {}
    for ds in retrieval_sets:
        say(f"retrieval: {ds.name} ({ds.split}, {len(ds.qrels)} queries)")
        idx, embedder = index_dataset(settings, ds)
        retriever = make_retriever(settings, idx, embedder)
        result = run_variant(
            retriever, ds, Variant("default", settings.retrieval.fusion, rerank=retriever.reranker is not None)
        )
        retrieval_report[ds.name] = result["metrics"]
        fingerprints[f"retrieval:{ds.name}:{ds.split}"] = ds.fingerprint()
        for key, value in result["metrics"].items():
            if key != "queries":
                metrics[f"{ds.name}/{key}"] = value
    # --- answers ----------------------------------------------------------------------------------------
    results: list[QAResult] = []
    groups: dict[str, list[QAItem]] = {}
    for name, item in qa_items:
        groups.setdefault(name, []).append(item)
    for name, items in groups.items():
        if name == "user":
            kb_index = index_dir or settings.resolve(settings.index.path)
        else:
            assert qa_set is not None
            kb_index, _ = index_dataset(settings, qa_set)
        assistant = Assistant(settings, kb_index)
        for n, item in enumerate(items, start=1):
            say(f"answer {name} {n}/{len(items)}")
            answer = assistant.chain.answer(item.question)
            sources = [c.to_dict() for c in answer.citations]
            r = QAResult(name, item.id, item.question, answer.text, answer.mode, sources, item.reference)
            r.metrics = {
                "citation_validity": citation_validity(answer.text, [c.text for c in answer.citations]),
                "abstained": 1.0 if abstained(answer) else 0.0,
                "answer_words": float(answer_length(answer.text)),
                "gold_hit": gold_hit(answer, item.gold_docs),
            }
            results.append(r)
        fingerprints[f"qa:{name}"] = hashlib.sha256(
            json.dumps(sorted(i.id + i.question for i in items)).encode()
        ).hexdigest()[:12]
    # --- judge ------------------------------------------------------------------------------------------
    judge = "none" if cfg.judge_backend == "none" else judge_name(cfg)
    judge_failures: dict[str, int] = {}
    if cfg.judge_backend != "none" and results:
        say(f"judge: {judge} on {len(results)} answers")
        rows = [QARow(r.question, r.answer, [s["text"] for s in r.sources] or [""], r.reference) for r in results]
        scores = RagasSuite(cfg, settings.llm).score(rows)
        for metric, values in scores.items():
            applicable = [i for i, r in enumerate(results) if metric in METRICS_ALWAYS or r.reference]
            judge_failures[metric] = sum(1 for i in applicable if values[i] is None)
            for i in applicable:
                results[i].metrics[metric] = values[i]
    for metric in ("citation_validity", "gold_hit", "answer_words", *METRICS_ALWAYS, *METRICS_WITH_REFERENCE):
        value = _mean([r.metrics.get(metric) for r in results])
        if value is not None:
            metrics[metric] = value
    if results:
        metrics["abstention_rate"] = round(statistics.fmean(r.metrics["abstained"] or 0.0 for r in results), 4)
    # --- history and verdict -----------------------------------------------------------------------------
    history_path = settings.resolve(cfg.reports_dir) / "history.jsonl"
    dataset_key = hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()[:16]
    history = load_history(history_path)
    comparable = [h for h in history if h.get("dataset_key") == dataset_key]
    thresholds = dict(cfg.thresholds)
    for ds in retrieval_sets:  # retrieval thresholds apply to every dataset's copy of the metric
        for m in ("ndcg@10", "recall@100", "mrr@10"):
            if m in cfg.thresholds:
                thresholds[f"{ds.name}/{m}"] = cfg.thresholds[m]
    decision = verdict(metrics, comparable, thresholds, cfg.best_tolerance)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "run_id": run_id,
        "started": datetime.fromtimestamp(started, UTC).isoformat(),
        "seconds": round(time.time() - started, 1),
        "dataset_key": dataset_key,
        "datasets": fingerprints,
        "config": {
            "fingerprint": hashlib.sha256(
                settings.model_dump_json(exclude={"llm": {"api_key"}, "serving": {"api_key", "auth_password"}}).encode()
            ).hexdigest()[:12],
            "embedder": settings.embedding.model,
            "precision": settings.embedding.precision,
            "fusion": settings.retrieval.fusion,
            "rerank": settings.retrieval.rerank,
            "llm_backend": settings.llm.backend,
            "llm": settings.llm.model or settings.llm.gguf,
            "judge": judge,
            "sample": n_sample,
            "seed": cfg.seed,
        },
        "metrics": metrics,
        "retrieval": retrieval_report,
        "judge_failures": judge_failures,
        "questions": [r.__dict__ for r in results],
        "verdict": decision,
        "history": [{"run_id": h["run_id"], "metrics": h["metrics"]} for h in comparable],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, default=str))
    from eval.report import write_html

    write_html(report, out_dir / "report.html")
    append_run(
        history_path,
        {
            k: report[k]
            for k in ("run_id", "started", "seconds", "dataset_key", "datasets", "config", "metrics", "judge_failures")
        },
    )
    status = 4 if decision["regressions"] else 0
    say(f"report: {out_dir / 'report.html'} ({'REGRESSION' if status else 'no regression'})")
    return report, status


def main_nightly(settings: Settings, out: Path | None, sample_size: int | None, index_dir: Path | None) -> int:
    out_dir = out or settings.resolve(settings.eval.reports_dir) / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    _, status = run_nightly(settings, out_dir, sample_size, index_dir, say)
    return status

"""`python -m eval retrieval --dataset DIR --split SPLIT [--json PATH]` and the other evaluation commands.

Exit status: 0 ok, 1 the run failed, 2 bad arguments; nightly: 4 when a regression was found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from configs.errors import KBError
from configs.loading import load_settings, offline_environment
from configs.logs import configure_logging
from configs.progress import progress_bar
from eval.cli import parser


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    args = parser(__doc__).parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings(args.profile)
        for run in (_run_retrieval_command, _run_suite_or_training_command, _run_quality_command):
            code = run(settings, args)
            if code is not None:
                return code
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


def _run_retrieval_command(settings: Any, args: argparse.Namespace) -> int | None:
    """retrieval, tune-fusion and the ingest benchmarks; None for another command."""
    if args.command == "retrieval":
        return _retrieval(settings, args)
    if args.command == "tune-fusion":
        return _tune(settings, args)
    if args.command == "make-beir":
        from eval.datasets import make_beir

        counts = make_beir(_data_path(args.source), args.out)
        print(json.dumps({"out": str(args.out), "queries": counts}))
        return 0
    if args.command == "bench-ray":
        from eval.bench.bench_ray import main as bench_ray

        workers = [int(w) for w in args.workers.split(",")]
        bench_ray(settings, workers, args.docs, args.out, say=lambda m: print(m, file=sys.stderr, flush=True))
        return 0
    if args.command == "bench-tables":
        from eval.bench.bench_tables import main as bench_tables

        html = _data_path(args.html) if args.html else None
        result = bench_tables(settings, args.out, args.layouts.split(","), html, args.html_files)
        print(json.dumps(result, indent=2))
        return 0
    if args.command == "bench-pdf":
        from eval.bench.bench_pdf import main as bench_pdf

        bench_pdf(_data_path(args.folder), args.out)
        return 0
    if args.command == "bench-html":
        from eval.bench.bench_html import main as bench_html

        bench_html(settings, [_data_path(f) for f in args.folders], args.out, args.sample, args.only)
        return 0
    if args.command == "bench-crawl":
        from eval.bench.bench_crawl import main as bench_crawl

        bench_crawl(settings, _data_path(args.folder), args.out, args.max_pages)
        return 0
    if args.command == "bench-ocr":
        from eval.bench.bench_ocr import main as bench_ocr

        dpis = [int(d) for d in args.render_dpi.split(",") if d]
        pdf = _data_path(args.pdf) if args.pdf else None
        bench_ocr(pdf, args.pages, args.seed, args.engines.split(","), dpis, args.threads, args.out)
        return 0
    if args.command == "bench-ingest":
        from eval.bench.bench_ingest import main as bench_ingest

        bench_ingest(settings, args.corpora.split(","), args.out, tutorial=not args.no_tutorial)
        return 0
    return None


def _run_suite_or_training_command(settings: Any, args: argparse.Namespace) -> int | None:
    """nightly, the serving and scale benchmarks and the training; None for another command."""
    if args.command == "bench-serving":
        from eval.bench.bench_serving import main as bench_serving

        bench_serving(settings, args.out)
        return 0
    if args.command == "bench-doors":
        from eval.bench.bench_doors import main as bench_doors

        bench_doors(settings, args.out, args.rounds)
        return 0
    if args.command == "bench-watch":
        from eval.bench.bench_watch import main as bench_watch

        bench_watch(settings, args.out, args.files, args.rounds)
        return 0
    if args.command == "bench-scale":
        from eval.bench.bench_scale import main as bench_scale

        sizes = [int(s) for s in args.sizes.split(",")]
        bench_scale(settings, sizes, args.out, args.keep, say=lambda m: print(m, file=sys.stderr, flush=True))
        return 0
    if args.command == "train-reranker":
        from eval.training.train_reranker import main as train_reranker

        return train_reranker(settings, args.epochs, args.lr)
    if args.command == "nightly":
        from eval.nightly.run import main_nightly

        return main_nightly(settings, args.out, args.sample, args.index)
    if args.command == "train-verifier":
        from eval.training.train_verifier import WEIGHTS, train

        data = settings.resolve(settings.eval.data_dir)
        scifact = _data_path(args.scifact) if args.scifact else data / "scifact"
        pubmedqa = _data_path(args.pubmedqa) if args.pubmedqa else data / "pubmedqa"
        train(scifact, pubmedqa, args.out or WEIGHTS)
        return 0
    return None


def _run_quality_command(settings: Any, args: argparse.Namespace) -> int | None:
    """The component checks, bench-observability and feedback; None for another command."""
    if args.command == "verifier":
        from eval.training.train_verifier import evaluate_file, overlap_baseline

        for path in args.files:
            print(json.dumps({"file": str(path), "verifier": evaluate_file(path)}))
            if args.baseline:
                print(json.dumps({"file": str(path), "word_overlap_0.6": overlap_baseline(path)}))
        return 0
    if args.command == "extractive":
        return _extractive(settings, args)
    if args.command == "answers":
        from eval.quality.answer_eval import main as answers

        sets = [_data_path(s) for s in args.set]
        return answers(settings, sets, args.split, args.backend, args.json, args.verbose)
    if args.command == "bench-observability":
        from eval.bench.bench_serving import observability_cost

        observability_cost(settings, args.out, args.rounds)
        return 0
    if args.command == "feedback":
        from serving.feedback_cli import main as feedback_main

        return feedback_main(settings, args.rest)
    if args.command == "pii":
        return _pii(settings, args)
    if args.command == "injection":
        from eval.quality.injection_eval import main as injection

        return injection(settings, args.data and _data_path(args.data), args.split, args.json, args.verbose)
    return None


def _data_path(path: Path) -> Path:
    """Dataset paths on the command line are relative to the working directory, then to the project root."""
    from configs.settings import PROJECT_ROOT

    return path if path.exists() or path.is_absolute() else PROJECT_ROOT / path


def _ingest_corpus(settings: Any, dataset: Any, index_dir: Path | None = None) -> tuple[Path, Any]:
    """index_dataset with a progress bar (entry points own progress bars)."""
    from eval.retrieval_metrics import index_dataset

    with progress_bar(f"index {dataset.name}", "doc") as progress:
        return index_dataset(settings, dataset, index_dir, progress)


def _retrieval(settings: Any, args: argparse.Namespace) -> int:
    from eval.datasets import load_dataset
    from eval.retrieval_metrics import make_retriever, run_variant, variants_for

    dataset = load_dataset(_data_path(args.dataset), args.split)  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
    index_dir, embedder = _ingest_corpus(settings, dataset, args.index)
    retriever = make_retriever(settings, index_dir, embedder)
    variants = variants_for(retriever)
    if args.variants:
        wanted = set(args.variants.split(","))
        variants = [v for v in variants if v.name in wanted]
    results: dict[str, Any] = {}
    for variant in variants:
        with progress_bar(variant.name, "q") as progress:
            progress("total", len(dataset.qrels))
            results[variant.name] = run_variant(retriever, dataset, variant, lambda n: progress("q", n))["metrics"]
    if args.tutorial or (args.variants and "tutorial" in args.variants):
        from eval.baseline import tutorial_variant
        from eval.retrieval_metrics import corpus_dir

        docs = corpus_dir(dataset, settings.resolve(settings.eval.cache_dir))
        results["tutorial"] = tutorial_variant(dataset, docs.parent / "tutorial-index", docs)
    default = "fusion+rerank" if retriever.reranker is not None else "fusion"
    results["default"] = default  # the variant the configured pipeline runs (a contract: reports read it)
    cfg = retriever.settings
    results["default_config"] = {
        "fusion": cfg.fusion,
        "rrf_k": cfg.rrf_k,
        "dense_weight": cfg.dense_weight,
        "lexical_weight": cfg.lexical_weight,
        "rerank": cfg.rerank,
    }
    _print_table(dataset, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _extractive(settings: Any, args: argparse.Namespace) -> int:
    from eval.datasets import load_dataset
    from eval.quality.extractive_eval import measure

    path = _data_path(args.dataset) if args.dataset else settings.resolve(settings.eval.data_dir) / "pubmedqa"
    dataset = load_dataset(path, args.split)  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
    _ingest_corpus(settings, dataset)
    with progress_bar("extractive", "q") as progress:
        result = measure(settings, dataset, args.part, lambda n: progress("q", n))
    print(json.dumps({"dataset": dataset.name, "split": dataset.split, "part": args.part, **result}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _pii(settings: Any, args: argparse.Namespace) -> int:
    from eval.quality.pii_eval import DATA, answer_texts, load, measure, table

    privacy = settings.privacy
    if args.min_score is not None:
        privacy = privacy.model_copy(update={"min_score": args.min_score})
    rows = load(_data_path(args.data) if args.data else settings.resolve(DATA), args.split)
    result = measure(privacy, rows, answer_texts(settings))
    print(table(result))
    print(
        f"{args.split}: {result['sentences']} sentences ({result['with_pii']} with PII), min_score "
        f"{result['min_score']}: PII characters left unredacted {result['leaked_chars']:.1%}, clean sentences "
        f"flagged {result['clean_sentences_flagged']}; {result['ms_per_sentence_p50']} ms per sentence, "
        f"{result['ms_per_answer_p50']} ms per answer record (p50), analyzer load {result['load_s']} s"
    )
    if args.verbose:
        for alarm in result["false_alarms"]:
            print("false alarm:", alarm, file=sys.stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _tune(settings: Any, args: argparse.Namespace) -> int:
    from eval.datasets import load_dataset
    from eval.retrieval_metrics import make_retriever
    from eval.training.tuning import tune_fusion

    if args.index and len(args.dataset) > 1:
        raise KBError("--index names one corpus's index; leave it out with several --dataset (each is cached)")
    corpora = []
    for path in args.dataset:
        dataset = load_dataset(_data_path(path), args.split)  # nosec B615  # eval.datasets.load_dataset: local files, not the Hub
        index_dir, embedder = _ingest_corpus(settings, dataset, args.index)
        corpora.append((make_retriever(settings, index_dir, embedder), dataset))
    rows = tune_fusion(corpora, say=print, depths=(settings.retrieval.dense_k, settings.retrieval.lexical_k))
    for row in rows[:10]:
        print(json.dumps(row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def _print_table(dataset: Any, results: dict[str, Any]) -> None:
    print(f"{dataset.name} ({dataset.split}, {len(dataset.qrels)} queries)")
    print(f"{'variant':16} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for name, m in results.items():
        if name in ("default", "default_config"):
            continue
        mark = " *" if name == results["default"] else ""
        print(
            f"{name:16} {m['ndcg@10']:8.4f} {m['recall@100']:8.4f} {m['mrr@10']:8.4f} "
            f"{m['p50_ms']:8.1f} {m['p95_ms']:8.1f}{mark}"
        )


if __name__ == "__main__":
    sys.exit(main())

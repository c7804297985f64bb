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
from configs.logs import configure_logging
from configs.settings import load_settings, offline_environment


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("retrieval", help="retrieval metrics of each pipeline variant on a BEIR-layout dataset")
    r.add_argument("--dataset", type=Path, required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    r.add_argument("--split", default="test", help="qrels/<split>.tsv or questions_<split>.jsonl (default: test)")
    r.add_argument("--json", type=Path, help="also write the results as JSON here")
    r.add_argument("--variants", help="comma-separated subset of: bm25,dense,fusion,fusion+rerank,tutorial")
    r.add_argument("--tutorial", action="store_true", help="also measure the LangChain tutorial pipeline")
    r.add_argument("--profile", help="config profile (default: default)")
    r.add_argument("--index", type=Path, help="index directory for the corpus (default: a cache under data/cache)")
    b = sub.add_parser("bench-ingest", help="ingestion throughput on SciFact and Debian docs vs the tutorial")
    b.add_argument("--corpora", default="scifact,debian", help="comma-separated: scifact,debian")
    b.add_argument("--no-tutorial", action="store_true", help="skip the tutorial pipeline (about 5 minutes)")
    b.add_argument("--out", type=Path, default=Path("bench/out/ingest.json"))
    b.add_argument("--profile", help="config profile (default: default)")
    t = sub.add_parser("tune-fusion", help="grid-search fusion method and parameters on a training split")
    t.add_argument("--dataset", type=Path, required=True)
    t.add_argument("--split", default="train")
    t.add_argument("--json", type=Path, help="write every configuration's metrics here")
    t.add_argument("--profile", help="config profile (default: default)")
    t.add_argument("--index", type=Path, help="index directory for the corpus (default: a cache under data/cache)")
    n = sub.add_parser("nightly", help="end-to-end evaluation with report, history and regression verdict")
    n.add_argument("--out", type=Path, help="report folder (default: reports/<timestamp>/)")
    n.add_argument("--sample", type=int, help="questions sampled from the QA set (default: eval.qa_sample)")
    n.add_argument("--index", type=Path, help="index for the user QA sets in data/eval (default: index.path)")
    n.add_argument("--profile", help="config profile (default: default)")
    tr = sub.add_parser("train-reranker", help="fine-tune a cross-encoder on SciFact train + PubMedQA (train half)")
    tr.add_argument("--epochs", type=int, default=2)
    tr.add_argument("--lr", type=float, default=5e-5, help="learning rate (default: 5e-5)")
    tr.add_argument("--profile", help="config profile (default: default)")
    bs = sub.add_parser("bench-serving", help="time to first token per backend and API load with 8 clients")
    bs.add_argument("--out", type=Path, default=Path("bench/out/serving.json"))
    bs.add_argument("--profile", help="config profile (default: default)")
    sc = sub.add_parser("bench-scale", help="search latency and memory at 5k / 50k / 500k (replicated) chunks")
    sc.add_argument("--sizes", default="5000,50000,500000", help="comma-separated chunk counts")
    sc.add_argument("--out", type=Path, default=Path("bench/out/scale.json"))
    sc.add_argument("--keep", action="store_true", help="keep the built indexes under data/cache/bench")
    sc.add_argument("--profile", help="config profile (default: default)")
    tv = sub.add_parser(
        "train-verifier", help="fit the faithfulness verifier on claims generated from SciFact and PubMedQA"
    )
    tv.add_argument("--scifact", type=Path, default=Path("../shared/data/scifact"))
    tv.add_argument("--pubmedqa", type=Path, default=Path("../shared/data/pubmedqa"))
    tv.add_argument("--out", type=Path, help="model file (default: serving/verifier.json)")
    tv.add_argument("--profile", help="config profile (default: default)")
    ve = sub.add_parser("verifier", help="accepted-right / accepted-wrong rates of the verifier on labelled files")
    ve.add_argument("files", type=Path, nargs="+", help="HaluEval QA rows or {question, answer, sources, label} rows")
    ve.add_argument("--baseline", action="store_true", help="also score the word-overlap check it replaced")
    ve.add_argument("--profile", help="config profile (default: default)")
    ex = sub.add_parser("extractive", help="quality of the extractive answer: gold first source, ROUGE-L, length")
    ex.add_argument("--dataset", type=Path, default=Path("../shared/data/pubmedqa"))
    ex.add_argument("--split", default="dev")
    ex.add_argument("--part", choices=["eval", "train", "all"], default="eval", help="half of the questions")
    ex.add_argument("--json", type=Path, help="also write the result here")
    ex.add_argument("--profile", help="config profile (default: default)")
    for cmd in (r, b, t, n, tr, bs, sc, tv, ve, ex):
        cmd.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    args = _parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = load_settings(args.profile)
        if args.command == "retrieval":
            return _retrieval(settings, args)
        if args.command == "bench-serving":
            from eval.bench_serving import main as bench_serving

            bench_serving(settings, args.out)
            return 0
        if args.command == "bench-scale":
            from eval.bench_scale import main as bench_scale

            sizes = [int(s) for s in args.sizes.split(",")]
            bench_scale(settings, sizes, args.out, args.keep, say=lambda m: print(m, file=sys.stderr, flush=True))
            return 0
        if args.command == "train-reranker":
            from eval.train_reranker import main as train_reranker

            return train_reranker(settings, args.epochs, args.lr)
        if args.command == "nightly":
            from eval.nightly import main_nightly

            return main_nightly(settings, args.out, args.sample, args.index)
        if args.command == "train-verifier":
            from eval.train_verifier import WEIGHTS, train

            train(_data_path(args.scifact), _data_path(args.pubmedqa), args.out or WEIGHTS)
            return 0
        if args.command == "verifier":
            from eval.train_verifier import evaluate_file, overlap_baseline

            for path in args.files:
                print(json.dumps({"file": str(path), "verifier": evaluate_file(path)}))
                if args.baseline:
                    print(json.dumps({"file": str(path), "word_overlap_0.6": overlap_baseline(path)}))
            return 0
        if args.command == "extractive":
            return _extractive(settings, args)
        if args.command == "tune-fusion":
            return _tune(settings, args)
        if args.command == "bench-ingest":
            from eval.bench_ingest import main as bench_ingest

            bench_ingest(args.corpora.split(","), args.out, tutorial=not args.no_tutorial)
            return 0
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 2


def _data_path(path: Path) -> Path:
    """Dataset paths on the command line are relative to the working directory, then to the project root."""
    from configs.settings import PROJECT_ROOT

    return path if path.exists() or path.is_absolute() else PROJECT_ROOT / path


def _ingest_corpus(settings: Any, dataset: Any, index_dir: Path | None = None) -> tuple[Path, Any]:
    """index_dataset with a progress bar (entry points own progress bars)."""
    from tqdm import tqdm

    from eval.retrieval_metrics import index_dataset

    bar = tqdm(total=0, unit="doc", desc=f"index {dataset.name}", disable=None, file=sys.stderr)

    def progress(event: str, n: int) -> None:
        if event == "total":
            bar.total = n
            bar.refresh()
        else:
            bar.update(n)

    try:
        return index_dataset(settings, dataset, index_dir, progress)
    finally:
        bar.close()


def _retrieval(settings: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eval.datasets import load_dataset
    from eval.retrieval_metrics import make_retriever, run_variant, variants_for

    dataset = load_dataset(args.dataset, args.split)
    index_dir, embedder = _ingest_corpus(settings, dataset, args.index)
    retriever = make_retriever(settings, index_dir, embedder)
    variants = variants_for(retriever)
    if args.variants:
        wanted = set(args.variants.split(","))
        variants = [v for v in variants if v.name in wanted]
    results: dict[str, Any] = {}
    for variant in variants:
        bar = tqdm(total=len(dataset.qrels), desc=variant.name, unit="q", disable=None, file=sys.stderr)
        results[variant.name] = run_variant(retriever, dataset, variant, bar.update)["metrics"]
        bar.close()
    if args.tutorial or (args.variants and "tutorial" in args.variants):
        from eval.baseline import tutorial_variant
        from eval.retrieval_metrics import corpus_dir

        docs = corpus_dir(dataset, settings.resolve(settings.eval.cache_dir))
        results["tutorial"] = tutorial_variant(dataset, docs.parent / "tutorial-index", docs)
    default = "fusion+rerank" if retriever.reranker is not None else "fusion"
    results["default"] = default
    _print_table(dataset, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _extractive(settings: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from eval.datasets import load_dataset
    from eval.extractive_eval import measure

    dataset = load_dataset(_data_path(args.dataset), args.split)
    _ingest_corpus(settings, dataset)
    bar = tqdm(unit="q", desc="extractive", disable=None, file=sys.stderr)
    result = measure(settings, dataset, args.part, bar.update)
    bar.close()
    print(json.dumps({"dataset": dataset.name, "split": dataset.split, "part": args.part, **result}))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _tune_rerank(retriever: Any, dataset: Any, lists: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """With a reranker configured: its weight against the configured fusion, for the top 10 or 20.

    The reranker scores each query's top 20 once; every weight re-blends those scores (retrieval.fusion.
    blend_rerank, the function the Retriever uses)."""
    from eval.retrieval_metrics import documents_ranked, evaluate_run
    from retrieval.fusion import blend_rerank, fuse

    cfg = retriever.settings
    weights = {"dense": cfg.dense_weight, "bm25": cfg.lexical_weight}
    fused, scored = {}, {}
    for qid, pair in lists.items():
        hits = fuse(cfg.fusion, pair, weights, cfg.rrf_k)
        fused[qid] = hits
        scored[qid] = {h.chunk.id: h for h in retriever.reranker.rerank(dataset.queries[qid], hits[:20])}
    rows = []
    for top_n in (10, 20):
        for w in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            run = {}
            for qid, hits in fused.items():
                head = hits[:top_n]
                reranked = sorted((scored[qid][h.chunk.id] for h in head), key=lambda h: -h.score)
                run[qid] = documents_ranked(blend_rerank(head, reranked, w) + hits[top_n:])
            rows.append(
                {"fusion": cfg.fusion, "rerank_top_n": top_n, "rerank_weight": w, **evaluate_run(dataset.qrels, run)}
            )
    rows.sort(key=lambda r: -r["ndcg@10"])
    for row in rows[:8]:
        print(json.dumps(row))
    print(f"best rerank blend on {dataset.name} {dataset.split}: {json.dumps(rows[0])}")
    return rows


def _tune(settings: Any, args: argparse.Namespace) -> int:
    """Every fusion configuration of a small grid, scored on the given (training) split; best first.

    Each query's dense and BM25 lists are fetched once; only the fusion is recomputed per configuration.
    """
    from eval.datasets import load_dataset
    from eval.retrieval_metrics import DEPTH, documents_ranked, evaluate_run, make_retriever
    from retrieval.fusion import fuse

    dataset = load_dataset(args.dataset, args.split)
    index_dir, embedder = _ingest_corpus(settings, dataset, args.index)
    retriever = make_retriever(settings, index_dir, embedder)
    lexical = retriever.lexical
    lists: dict[str, dict[str, Any]] = {}
    for qid, text in dataset.queries.items():
        if qid in dataset.qrels:
            lists[qid] = {
                "dense": retriever.store.query(embedder.embed_query(text), DEPTH, None),
                "bm25": lexical.search(text, DEPTH) if lexical is not None else [],
            }
    grid: list[dict[str, Any]] = []
    for k in (5, 10, 20, 30, 60, 100):
        for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
            grid.append({"fusion": "rrf", "rrf_k": k, "dense_weight": w, "lexical_weight": 1.0})
    for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
        grid.append({"fusion": "weighted", "dense_weight": w, "lexical_weight": 1.0})
    rows = []
    for params in grid:
        weights = {"dense": params["dense_weight"], "bm25": params["lexical_weight"]}
        run = {}
        for qid, pair in lists.items():
            run[qid] = documents_ranked(fuse(params["fusion"], pair, weights, params.get("rrf_k", 60)))
        rows.append({**params, **evaluate_run(dataset.qrels, run)})
    rows.sort(key=lambda r: -r["ndcg@10"])
    for row in rows[:10]:
        print(json.dumps(row))
    print(f"best on {dataset.name} {dataset.split} ({len(lists)} queries): {json.dumps(rows[0])}")
    if retriever.reranker is not None:
        rows = _tune_rerank(retriever, dataset, lists) + rows
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def _print_table(dataset: Any, results: dict[str, Any]) -> None:
    print(f"{dataset.name} ({dataset.split}, {len(dataset.qrels)} queries)")
    print(f"{'variant':16} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8} {'p50 ms':>8} {'p95 ms':>8}")
    for name, m in results.items():
        if name == "default":
            continue
        mark = " *" if name == results["default"] else ""
        print(
            f"{name:16} {m['ndcg@10']:8.4f} {m['recall@100']:8.4f} {m['mrr@10']:8.4f} "
            f"{m['p50_ms']:8.1f} {m['p95_ms']:8.1f}{mark}"
        )


if __name__ == "__main__":
    sys.exit(main())

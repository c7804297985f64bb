"""Retrieval evaluation: index a dataset's corpus (cached), run its queries through each pipeline variant,
score with ranx (nDCG@10, Recall@100, MRR@10) and time every query."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from configs.settings import Settings
from eval.datasets import Dataset
from eval.stats import nearest_rank
from retrieval.embeddings import Embedder
from retrieval.retriever import Retriever, build_retriever
from retrieval.types import Hit

logger = logging.getLogger(__name__)

METRICS = ("ndcg@10", "recall@100", "mrr@10")
DEPTH = 300  # chunks fetched per query so that 100 distinct documents are ranked


@dataclass(frozen=True)
class Variant:
    """A pipeline variant to evaluate."""

    name: str
    fusion: str
    rerank: bool = False


def corpus_dir(dataset: Dataset, cache: Path) -> Path:
    """Where the dataset's documents are written as files (one per document) for the real ingest path."""
    return cache / f"{dataset.name}-{dataset.fingerprint()}" / "docs"


def materialise(dataset: Dataset, cache: Path) -> Path:
    """Write each document as <id>.txt ('title', blank line, text); skipped when already written."""
    docs = corpus_dir(dataset, cache)
    done = docs.parent / "docs.complete"
    if done.exists():
        return docs
    docs.mkdir(parents=True, exist_ok=True)
    for doc_id, title, text in dataset.corpus():
        safe = doc_id.replace("/", "_")
        body = f"{title}\n\n{text}" if title else text
        (docs / f"{safe}.txt").write_text(body, encoding="utf-8")
    done.write_text("ok")
    return docs


def doc_id_of(hit: Hit) -> str:
    return Path(hit.chunk.meta.filename or hit.chunk.source).stem


def rank_documents(doc_ids: Iterable[str], limit: int = 100) -> dict[str, float]:
    """Documents in order of first appearance (scores only need to be monotonic for the metrics)."""
    out: dict[str, float] = {}
    for doc in doc_ids:
        if doc not in out:
            out[doc] = float(limit - len(out))
            if len(out) == limit:
                break
    return out


def documents_ranked(hits: Sequence[Hit], limit: int = 100) -> dict[str, float]:
    """Chunk hits -> documents, each at its best chunk's position."""
    return rank_documents((doc_id_of(h) for h in hits), limit)


def evaluate_run(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """ranx metrics; queries with no retrieved document count as zero."""
    from ranx import Qrels, Run, evaluate

    full_run = {q: (run.get(q) or {"__none__": 0.0}) for q in qrels}
    scores = evaluate(Qrels(qrels), Run(full_run), list(METRICS), make_comparable=True)
    return {m: round(float(scores[m]), 4) for m in METRICS}


def score_queries(
    dataset: Dataset, search: Callable[[str], Iterable[str]], progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Run every judged query through search (doc ids, best first); metrics plus p50/p95 latency in ms."""
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for qid, text in dataset.queries.items():
        if qid not in dataset.qrels:
            continue
        t0 = time.perf_counter()
        run[qid] = rank_documents(search(text))
        latencies.append((time.perf_counter() - t0) * 1000)
        if progress:
            progress(1)
    metrics: dict[str, Any] = evaluate_run(dataset.qrels, run)
    metrics["p50_ms"] = nearest_rank(latencies, 0.5)
    metrics["p95_ms"] = nearest_rank(latencies, 0.95)
    metrics["queries"] = len(latencies)
    return {"metrics": metrics, "run": run}


def run_variant(
    retriever: Retriever, dataset: Dataset, variant: Variant, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Metrics and per-query latency of one variant of our pipeline."""

    def search(text: str) -> list[str]:
        hits = retriever.search(text, top_k=DEPTH, fusion=variant.fusion, rerank=variant.rerank)  # type: ignore[arg-type]
        return [doc_id_of(h) for h in hits.hits]

    return score_queries(dataset, search, progress)


def cached_index_is_complete(dataset: Dataset, cache: Path) -> bool:
    """True when the cached index already holds every document of the dataset (indexing it again is instant)."""
    import sqlite3

    manifest = corpus_dir(dataset, cache).parent / "index" / "manifest.sqlite"
    if not (corpus_dir(dataset, cache).parent / "docs.complete").exists() or not manifest.exists():
        return False
    try:
        with sqlite3.connect(f"file:{manifest}?mode=ro", uri=True) as db:
            files = int(db.execute("SELECT COUNT(*) FROM files").fetchone()[0])
            state = db.execute("SELECT value FROM meta WHERE key='run_state'").fetchone()
    except sqlite3.Error:
        return False
    return files >= dataset.corpus_size() and (state is None or state[0] == "clean")


def index_dataset(
    settings: Settings, dataset: Dataset, index_dir: Path | None = None, progress: Any = None
) -> tuple[Path, Any]:
    """Index the dataset's corpus through the real ingest path (cached: unchanged files embed nothing).

    Returns the index folder and the embedder it used, so queries reuse the loaded model.
    """
    from ingest.indexer import build_indexer

    docs = materialise(dataset, settings.resolve(settings.eval.cache_dir))
    index_dir = index_dir or docs.parent / "index"
    indexer = build_indexer(eval_settings(settings, index_dir), index_dir=index_dir)
    try:
        report = indexer.run([docs], progress=progress)
    finally:
        indexer.close()
    if report.chunks_written:
        logger.info(
            "indexed %s: %d docs, %d chunks in %.0f s",
            dataset.name,
            report.new + report.changed,
            report.chunks_written,
            report.seconds,
        )
    return index_dir, indexer.embedder


def eval_settings(settings: Settings, index_dir: Path) -> Settings:
    """The configured pipeline, pointed at the eval index, with enough candidates for Recall@100."""
    retrieval = settings.retrieval.model_copy(
        update={
            "dense_k": max(settings.retrieval.dense_k, DEPTH),
            "lexical_k": max(settings.retrieval.lexical_k, DEPTH),
        }
    )
    index = settings.index.model_copy(update={"path": index_dir, "chroma_url": None})
    return settings.model_copy(update={"retrieval": retrieval, "index": index})


def variants_for(retriever: Retriever) -> list[Variant]:
    out = [Variant("bm25", "bm25"), Variant("dense", "dense"), Variant("fusion", retriever.settings.fusion)]
    if retriever.reranker is not None:
        out.append(Variant("fusion+rerank", retriever.settings.fusion, rerank=True))
    return out


def make_retriever(settings: Settings, index_dir: Path, embedder: Embedder | None = None) -> Retriever:
    return build_retriever(eval_settings(settings, index_dir), index_dir, embedder)

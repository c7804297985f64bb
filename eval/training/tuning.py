"""`python -m eval tune-fusion`: the fusion settings (and, with a reranker, its blend weight) chosen on a training
split, of one corpus or several (ranked by the least gain over plain RRF among them). Each query's dense and BM25
lists are fetched once; only the fusion is recomputed per configuration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eval.datasets import Dataset
from eval.retrieval_metrics import DEPTH, documents_ranked, evaluate_run
from retrieval.fusion import blend_rerank, fuse
from retrieval.retriever import Retriever

Say = Callable[[str], None]


BASELINE = {"fusion": "rrf", "rrf_k": 60, "dense_weight": 1.0, "lexical_weight": 1.0}  # plain RRF, the yardstick


def fusion_grid() -> list[dict[str, Any]]:
    """RRF with k x dense weight, and min-max (weighted) and z-score fusion with dense weight (BM25 weight 1)."""
    grid: list[dict[str, Any]] = []
    for k in (5, 10, 20, 30, 60, 100):
        for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
            grid.append({"fusion": "rrf", "rrf_k": k, "dense_weight": w, "lexical_weight": 1.0})
    for method in ("weighted", "zscore"):
        for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0):
            grid.append({"fusion": method, "dense_weight": w, "lexical_weight": 1.0})
    return grid


def ranked_lists(retriever: Retriever, dataset: Dataset) -> dict[str, dict[str, Any]]:
    """Each judged query's dense and BM25 lists, DEPTH deep."""
    lexical = retriever.lexical
    lists: dict[str, dict[str, Any]] = {}
    for qid, text in dataset.queries.items():
        if qid in dataset.qrels:
            lists[qid] = {
                "dense": retriever.store.query(retriever.embedder.embed_query(text), DEPTH, None),
                "bm25": lexical.search(text, DEPTH) if lexical is not None else [],
            }
    return lists


def _metrics(
    params: dict[str, Any], dataset: Dataset, lists: dict[str, dict[str, Any]], depths: tuple[int, int]
) -> dict[str, float]:
    weights = {"dense": params["dense_weight"], "bm25": params["lexical_weight"]}
    run = {
        qid: documents_ranked(
            fuse(
                params["fusion"],
                {"dense": pair["dense"][: depths[0]], "bm25": pair["bm25"][: depths[1]]},
                weights,
                params.get("rrf_k", 60),
            )
        )
        for qid, pair in lists.items()
    }
    return evaluate_run(dataset.qrels, run)


def tune_fusion(
    corpora: Sequence[tuple[Retriever, Dataset]], say: Say, depths: tuple[int, int] = (DEPTH, DEPTH)
) -> list[dict[str, Any]]:
    """Every configuration's metrics on each corpus, best first by its least relative nDCG@10 gain over plain RRF
    (k=60, 1:1) across the corpora, so a setting that helps one corpus by hurting another ranks low (with one corpus
    this is simply the best nDCG@10). Each query's dense and BM25 lists are cut to `depths` (the configured dense_k
    and lexical_k) before fusing: z-score and min-max fusion depend on how deep the lists are, so a setting is
    tuned at the depth it will run at. Then the rerank blends on the first corpus, when a reranker is configured."""
    prepared = [(retriever, dataset, ranked_lists(retriever, dataset)) for retriever, dataset in corpora]
    base = {dataset.name: _metrics(BASELINE, dataset, lists, depths) for _, dataset, lists in prepared}
    rows = []
    for params in fusion_grid():
        per = {dataset.name: _metrics(params, dataset, lists, depths) for _, dataset, lists in prepared}
        gains = [(m["ndcg@10"] - base[n]["ndcg@10"]) / max(base[n]["ndcg@10"], 1e-9) for n, m in per.items()]
        mean = {key: round(sum(m[key] for m in per.values()) / len(per), 4) for key in next(iter(per.values()))}
        row = {**params, **mean, "min_gain_vs_rrf": round(min(gains), 4)}
        if len(per) > 1:
            row["corpora"] = per
        rows.append(row)
    rows.sort(key=lambda r: (-r["min_gain_vs_rrf"], -r["ndcg@10"]))
    names = ", ".join(f"{d.name} {d.split} ({len(lists)} queries)" for _, d, lists in prepared)
    names += f", lists {depths[0]} dense / {depths[1]} BM25 deep"
    say(f"best on {names}: {rows[0]}")
    retriever, dataset, lists = prepared[0]
    if retriever.reranker is not None:
        rows = tune_rerank(retriever, dataset, lists, say) + rows
    return rows


def tune_rerank(
    retriever: Retriever, dataset: Dataset, lists: dict[str, dict[str, Any]], say: Say
) -> list[dict[str, Any]]:
    """The reranker's weight against the configured fusion, for the top 10 or 20. The reranker scores each
    query's top 20 once; every weight re-blends those scores (retrieval.fusion.blend_rerank, as the Retriever)."""
    assert retriever.reranker is not None
    cfg = retriever.settings
    weights = {"dense": cfg.dense_weight, "bm25": cfg.lexical_weight}
    fused, scored = {}, {}
    for qid, pair in lists.items():
        hits = fuse(cfg.fusion, pair, weights, cfg.rrf_k)
        fused[qid] = hits
        scored[qid] = {h.chunk.id: h for h in retriever.reranker.rerank(dataset.queries[qid], hits[:20])}
    rows: list[dict[str, Any]] = []
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
    say(f"best rerank blend on {dataset.name} {dataset.split}: {rows[0]}")
    return rows

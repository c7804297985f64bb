"""Fusing ranked lists from several retrievers into one (reciprocal rank fusion, or weighted normalised scores)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from retrieval.types import Chunk, Hit

Ranked = Sequence[tuple[Chunk, float]]  # best first


def reciprocal_rank_fusion(lists: Mapping[str, Ranked], weights: Mapping[str, float], k: int = 60) -> list[Hit]:
    """score(chunk) = sum over lists of weight / (k + rank); ties keep the first list's order."""
    return _fuse(
        lists,
        {
            name: [w / (k + r) for r in range(1, len(lists[name]) + 1)]
            for name, w in ((n, weights.get(n, 1.0)) for n in lists)
        },
    )


def weighted_score_fusion(lists: Mapping[str, Ranked], weights: Mapping[str, float]) -> list[Hit]:
    """score(chunk) = sum over lists of weight * min-max-normalised score (0 where a list did not find it)."""
    contributions: dict[str, list[float]] = {}
    for name, ranked in lists.items():
        scores = [s for _, s in ranked]
        if not scores:
            contributions[name] = []
            continue
        lo, hi = min(scores), max(scores)
        span = hi - lo
        w = weights.get(name, 1.0)
        contributions[name] = [w * ((s - lo) / span if span > 0 else 1.0) for s in scores]
    return _fuse(lists, contributions)


def zscore_fusion(lists: Mapping[str, Ranked], weights: Mapping[str, float]) -> list[Hit]:
    """score(chunk) = sum over lists of weight * (z-score within the list - the list's lowest z-score), so a list that
    did not find a chunk adds what its last hit would. Unlike min-max, one outlying top score (a BM25 exact match)
    does not squash the rest of its list (Bruch et al. 2023, "An analysis of fusion functions for hybrid retrieval")."""
    contributions: dict[str, list[float]] = {}
    for name, ranked in lists.items():
        scores = [s for _, s in ranked]
        if not scores:
            contributions[name] = []
            continue
        mean = sum(scores) / len(scores)
        sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
        w = weights.get(name, 1.0)
        contributions[name] = [w * ((s - scores[-1]) / sd if sd > 0 else 1.0) for s in scores]
    return _fuse(lists, contributions)


def _fuse(lists: Mapping[str, Ranked], contributions: Mapping[str, list[float]]) -> list[Hit]:
    total: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    ranks: dict[str, dict[str, int]] = {}
    raw: dict[str, dict[str, float]] = {}
    for name, ranked in lists.items():
        for rank, ((chunk, score), part) in enumerate(zip(ranked, contributions[name], strict=True), start=1):
            if chunk.id not in chunks:
                chunks[chunk.id] = chunk
                ranks[chunk.id] = {}
                raw[chunk.id] = {}
                total[chunk.id] = 0.0
            total[chunk.id] += part
            ranks[chunk.id][name] = rank
            raw[chunk.id][name] = score
    order = sorted(total, key=lambda cid: -total[cid])  # stable: first-seen order breaks ties
    return [Hit(chunks[cid], total[cid], ranks[cid], raw[cid]) for cid in order]


def single_list(name: str, ranked: Ranked) -> list[Hit]:
    """One retriever's list as Hits (no fusion)."""
    return [Hit(chunk, score, {name: r}, {name: score}) for r, (chunk, score) in enumerate(ranked, start=1)]


def fuse(method: str, lists: Mapping[str, Ranked], weights: Mapping[str, float], rrf_k: int = 60) -> list[Hit]:
    """The configured fusion ("rrf", "weighted" or "zscore") of the lists; "dense" or "bm25" keeps that one list."""
    if method == "rrf":
        return reciprocal_rank_fusion(lists, weights, rrf_k)
    if method == "weighted":
        return weighted_score_fusion(lists, weights)
    if method == "zscore":
        return zscore_fusion(lists, weights)
    return single_list(method, lists[method])


def _minmax(values: Sequence[float]) -> list[float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 0.0)
    return [(v - lo) / (hi - lo) if hi > lo else 1.0 for v in values]


def blend_rerank(fused: Sequence[Hit], reranked: Sequence[Hit], weight: float) -> list[Hit]:
    """The reranked head ordered by weight * reranker score + (1 - weight) * fused score, both min-max
    normalised over the head. weight 1 is the reranker's order; weight 0 is the fused order."""
    if weight >= 1.0:
        return list(reranked)
    fused_score = {h.chunk.id: h.score for h in fused}
    rerank_part = _minmax([h.score for h in reranked])
    fused_part = _minmax([fused_score[h.chunk.id] for h in reranked])
    combined = [weight * r + (1.0 - weight) * f for r, f in zip(rerank_part, fused_part, strict=True)]
    order = sorted(range(len(reranked)), key=lambda i: -combined[i])  # stable: reranker order breaks ties
    return [replace(reranked[i], score=combined[i]) for i in order]

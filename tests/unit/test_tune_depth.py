"""tune-fusion scores each setting on lists as deep as the configured dense_k and lexical_k: z-score and min-max
fusion depend on how deep the lists are, so a setting tuned on 300-deep lists is not the one that runs on 100."""

from __future__ import annotations

from pathlib import Path

from eval.datasets import Dataset
from eval.training.tuning import _metrics
from retrieval.types import Chunk


def _chunk(doc: str) -> Chunk:
    return Chunk(id=doc, text=doc, source=f"/docs/{doc}.txt")


def test_lists_are_cut_to_the_configured_depths_before_fusing() -> None:
    """The judged document is third in the dense list and absent from BM25's: with lists 2 deep it is not
    retrieved at all, 3 deep it is; and the z-score of the top hits changes with what the deeper list holds."""
    dense = [(_chunk("a"), 0.9), (_chunk("b"), 0.8), (_chunk("gold"), 0.7)]
    bm25 = [(_chunk("a"), 12.0), (_chunk("c"), 3.0), (_chunk("d"), 2.0)]
    dataset = Dataset("t", Path("."), "test", {"q": "question"}, {"q": {"gold": 1}})
    lists = {"q": {"dense": dense, "bm25": bm25}}
    params = {"fusion": "zscore", "dense_weight": 1.25, "lexical_weight": 1.0}
    assert _metrics(params, dataset, lists, (2, 2))["ndcg@10"] == 0.0
    assert _metrics(params, dataset, lists, (3, 3))["ndcg@10"] > 0.0

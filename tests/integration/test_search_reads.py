"""Search reads only the winners' text: the dense list is ids until fusion is done, and only the hits returned are
read (from the lexical list that carried them, or from Chroma). The hits must be exactly those of the plain
pipeline: Chroma's exact filtered query for documents, metadatas and distances, BM25, fused."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from configs.settings import IndexSettings, RetrievalSettings
from retrieval import lexical_writer
from retrieval.filters import Filter
from retrieval.fusion import fuse
from retrieval.retriever import Fusion, Retriever
from retrieval.store import ChromaStore
from retrieval.types import Chunk

pytestmark = pytest.mark.integration

TOPICS = ["leave policy", "laptop setup", "travel expenses", "password reset", "printer queue", "payroll dates"]
QUERIES = ["how do I reset my password", "when is payroll paid", "expenses for a train ticket", "queue"]


def _chunks() -> list[Chunk]:
    rnd = random.Random(7)
    chunks = []
    for i in range(300):
        topic = TOPICS[i % len(TOPICS)]
        record: dict[str, Any] = {
            "collection": rnd.choice(["hr", "it", "finance"]),
            "file_type": "md",
            "source": "/docs/rare.md" if i in (5, 77) else f"/docs/f{i % 23}.md",
            "chunk_index": i,
            "page": i % 4 + 1,
            "mtime": 1_700_000_000 + i,
        }
        text = f"Note {i} on {topic}: step {rnd.randint(1, 9)} of the {topic} guide, {rnd.choice(TOPICS)} aside."
        chunks.append(Chunk.from_record(f"c{i}", text, record))
    return chunks


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> tuple[ChromaStore, Path]:
    folder = tmp_path_factory.mktemp("index")
    chunks = _chunks()
    store = ChromaStore(IndexSettings(collection="reads"), folder)
    store.upsert(chunks, embedder.embed_documents([c.text for c in chunks]))
    lexical_writer.build(folder, ((c.id, c.text, c.text, c.to_record()) for c in chunks), 1)
    return store, folder


def _plain(retriever: Retriever, query: str, flt: Filter | None, cfg: RetrievalSettings) -> list[Any]:
    """The pipeline reading every list's chunks: Chroma's own (exact) where, BM25, fusion, the top k."""
    lexical = retriever.lexical
    assert lexical is not None
    lists = {
        "dense": retriever.store.query(retriever.embedder.embed_query(query), cfg.dense_k, flt),
        "bm25": lexical.search(query, cfg.lexical_k, flt),
    }
    hits = fuse(cfg.fusion, lists, {"dense": cfg.dense_weight, "bm25": cfg.lexical_weight}, cfg.rrf_k)
    return [_seen(h) for h in hits[: cfg.top_k]]


def _seen(hit: Any) -> tuple[Any, ...]:
    """What a reader gets from a hit. Scores are rounded: among a few ids the retriever compares vectors itself,
    in float32, where Chroma's where computes the same cosine a few ulps apart."""
    scores = {k: round(v, 5) for k, v in hit.scores.items()}
    return (hit.chunk.id, hit.chunk.text, hit.chunk.to_record(), round(hit.score, 5), hit.ranks, scores)


@pytest.mark.parametrize(
    ("spec", "path"),
    [(None, "unfiltered"), ({"collections": ["hr"]}, "post-filter"), ({"sources": ["/docs/rare.md"]}, "ids")],
)
@pytest.mark.parametrize("fusion", ["weighted", "rrf", "dense"])
def test_hits_are_those_of_the_plain_pipeline(
    index: tuple[ChromaStore, Path], embedder: Any, spec: dict[str, Any] | None, path: str, fusion: Fusion
) -> None:
    store, folder = index
    cfg = RetrievalSettings(dense_k=20, lexical_k=20, top_k=5, fusion=fusion)
    retriever = Retriever(cfg, embedder, store, folder)
    flt = Filter.parse(spec) if spec else None
    assert retriever._dense(embedder.embed_query(QUERIES[0]), cfg.dense_k, flt or Filter())[2] == path
    for query in QUERIES:
        got = retriever.search(query, flt)
        assert got.hits, query
        expected = _plain(retriever, query, flt, cfg)
        assert [_seen(h) for h in got.hits] == expected, (query, spec)
        assert all(h.chunk.text and h.chunk.source for h in got.hits)  # every hit returned is read

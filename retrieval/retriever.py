"""The Retriever: dense + lexical search with one filter, fused, optionally reranked, with a relevance floor."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from opentelemetry import trace

from configs.errors import ConfigError, InvalidRequest, ModelUnavailable
from configs.settings import RetrievalSettings, Settings
from retrieval.embeddings import Embedder, build_embedder
from retrieval.filters import EVERYTHING, Filter, Scope
from retrieval.fusion import blend_rerank, fuse
from retrieval.lexical import LexicalIndex, published_generation
from retrieval.rerank import CrossEncoderReranker, HttpReranker, Reranker
from retrieval.store import ChromaStore, VectorStore
from retrieval.types import Chunk, Hit

logger = logging.getLogger(__name__)
_TRACER = trace.get_tracer("kb.retrieval")

Fusion = Literal["rrf", "weighted", "zscore", "dense", "bm25"]
MAX_QUERY_CHARS = 4000


# The retriever's timing names -> the stage names answers and metrics use (kb_stage_seconds{stage=...}).
STAGE_NAMES = {
    "embed": "embed_query",
    "dense": "dense",
    "bm25": "lexical",
    "fusion": "fusion",
    "read": "read_chunks",
    "rerank": "rerank",
}


@dataclass(frozen=True)
class Retrieval:
    """The outcome of one search."""

    hits: list[Hit]
    relevant: bool  # False: nothing cleared the relevance floor ("no relevant context")
    timings_ms: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # a stage that was skipped (e.g. the reranker is down), for the reader


# Filtered dense search (BENCHMARKS.md, "Filtered search at scale"; 500k chunks, 2-core EPYC): an unfiltered HNSW
# search costs about 4.3 us per candidate with distances only, so 4,000 candidates cost about 17 ms.
_DEPTH_MARGIN = 2.0  # candidates searched per wanted match, over the expected number
_CHEAP_DEPTH = 4_000
_MAX_DEPTH = 40_000


class Retriever:
    """Reads one index; reloads the lexical index when an ingest publishes a new generation."""

    def __init__(
        self,
        settings: RetrievalSettings,
        embedder: Embedder,
        store: VectorStore,
        index_dir: Path,
        reranker: Reranker | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.index_dir = index_dir
        self.reranker = reranker
        self._lexical: LexicalIndex | None = None
        self._lock = threading.Lock()

    @property
    def lexical(self) -> LexicalIndex | None:
        """The published BM25 index, reloaded when an ingest has published a newer generation."""
        published = published_generation(self.index_dir)
        current = self._lexical
        if published is not None and (current is None or current.generation != published):
            with self._lock:
                if self._lexical is None:
                    self._lexical = LexicalIndex.load(self.index_dir)
                elif self._lexical.generation != published:
                    self._lexical.refresh(published)
        return self._lexical

    def search(
        self,
        query: str,
        filters: Filter | None = None,
        top_k: int | None = None,
        *,
        fusion: Fusion | None = None,
        rerank: bool | None = None,
        scope: Scope = EVERYTHING,
    ) -> Retrieval:
        """Best chunks for the query under the filter, within the reader's scope; fusion/rerank default to the
        configured pipeline."""
        cfg = self.settings
        query = " ".join(query.split())
        if not query:
            raise InvalidRequest("the question is empty; type a question")
        if len(query) > MAX_QUERY_CHARS:
            raise InvalidRequest(f"the question is {len(query)} characters; keep it under {MAX_QUERY_CHARS}")
        scoped = scope.restrict(filters or Filter())
        if scoped is None:  # the reader may see none of the collections asked for: nothing is searched
            return Retrieval([], False, {"total": 0.0})
        flt = scoped
        fusion = fusion or cfg.fusion
        use_rerank = (self.reranker is not None) if rerank is None else (rerank and self.reranker is not None)
        if rerank and self.reranker is None:
            raise InvalidRequest("reranking was requested but no reranker is configured (retrieval.rerank)")
        k = top_k or cfg.top_k
        timings: dict[str, float] = {}
        lists = {}
        t0 = time.perf_counter()
        known: dict[str, Chunk] = {}  # chunks already read, by id; the dense list is ids until fusion is done
        if fusion != "bm25":
            with _stage("embed_query", "embed", timings):
                vector = self.embedder.embed_query(query)
            with _stage("dense", "dense", timings) as span:
                dense, read, how = self._dense(vector, cfg.dense_k, flt)
                known.update(read)
                lists["dense"] = [(read.get(cid) or _unread(cid), score) for cid, score in dense]
                span.set_attribute("kb.filter_path", how)
        if fusion != "dense":
            with _stage("lexical", "bm25", timings):
                lexical = self.lexical
                lists["bm25"] = lexical.search(query, cfg.lexical_k, flt) if lexical is not None else []
                known.update((c.id, c) for c, _ in lists["bm25"])
        weights = {"dense": cfg.dense_weight, "bm25": cfg.lexical_weight}
        with _stage("fusion", "fusion", timings):
            hits = fuse(fusion, lists, weights, cfg.rrf_k)
        relevant = any(self._clears_floor(h) for h in hits[: max(k, cfg.rerank_top_n)])
        with _stage("read_chunks", "read", timings):
            hits = self._read(hits, max(k, cfg.rerank_top_n) if use_rerank else k, known, flt)
        warnings: tuple[str, ...] = ()
        if use_rerank and hits:
            assert self.reranker is not None
            with _stage("rerank", "rerank", timings) as span:
                try:
                    head = hits[: cfg.rerank_top_n]
                    reranked = blend_rerank(head, self.reranker.rerank(query, head), cfg.rerank_weight)
                    hits = reranked + hits[cfg.rerank_top_n :]
                except ModelUnavailable as exc:
                    # Fused order is still a good answer; a reranker outage must not take search down.
                    logger.warning("reranker unavailable, keeping the fused order: %s", exc)
                    warnings = (f"The reranker is unavailable ({exc}); results are in fused order.",)
                    span.set_attribute("kb.error", str(exc))
        timings["total"] = _ms(t0)
        return Retrieval(hits[:k], relevant, timings, warnings)

    def facets(self, scope: Scope = EVERYTHING) -> dict[str, list[str]]:
        """The values filters can take (collections, file types, tags, sources) among what the scope may see."""
        lexical = self.lexical
        keys = ("collection", "file_type", "tag", "source")
        if lexical is None:
            return {k: [] for k in keys}
        scoped = scope.restrict(Filter())
        if scoped is None:
            return {k: [] for k in keys}
        return lexical.facets(None if scope.collections is None else scoped.collections)

    def _dense(self, vector: np.ndarray, k: int, flt: Filter) -> tuple[list[tuple[str, float]], dict[str, Chunk], str]:
        """The ids and similarities of the k nearest chunks that pass the filter, exactly, best first, by the
        cheapest path for how many chunks pass (the third value names it), with the chunks a path had to read
        anyway (the second value; the others are read by _read for the hits that win). The lexical index counts
        the matching chunks and lists them (ids when few, keys when many):
        - none (no filter): an HNSW search for ids and distances only (asking Chroma for the documents and
          metadatas of all k results as well took most of the search's time at 500k chunks);
        - many (a deep search of at most _CHEAP_DEPTH candidates is expected to find k): an unfiltered HNSW
          search of about 2k/selectivity candidates, distances only, kept if their key matches;
        - fewer: the store searches among their ids (exhaustively when very few, else HNSW with an allow-list).
        Chroma's own `where` is the fallback (exact, but 350 ms at 500k chunks whatever the filter keeps)."""
        if flt.is_empty():
            return self.store.nearest(vector, k), {}, "unfiltered"
        lexical = self.lexical
        if lexical is None:
            return _ids_of(self.store.query(vector, k, flt)) + ("where",)
        total = max(1, len(lexical))
        matching = lexical.matching(flt, ids_up_to=math.ceil(_DEPTH_MARGIN * k * total / _CHEAP_DEPTH))
        if matching.count == 0:
            return [], {}, "empty"
        try:
            if matching.ids is not None:
                hits = self.store.query(vector, k, None, ids=matching.ids)
                return _ids_of([(c, s) for c, s in hits if flt.matches(c.to_record())]) + ("ids",)
            depth = min(total, math.ceil(_DEPTH_MARGIN * k * total / matching.count))
            while True:
                candidates = self.store.nearest(vector, depth)
                kept = [(cid, score) for cid, score in candidates if matching.admits(cid)]
                if len(kept) >= min(k, matching.count) or len(candidates) < depth or depth >= total:
                    break
                if depth >= _MAX_DEPTH:
                    raise LookupError(f"fewer than {k} matches among the {depth} nearest")
                depth = min(total, depth * 4, _MAX_DEPTH)
            return kept[:k], {}, "post-filter"  # _read checks each winner's stored record against the filter
        except Exception as exc:  # the lexical index is a step ahead of the store mid-ingest, or too few matches
            logger.info("filtered search falls back to the store's where clause: %s", exc)
            return _ids_of(self.store.query(vector, k, flt)) + ("where",)

    def _read(self, hits: list[Hit], n: int, known: dict[str, Chunk], flt: Filter) -> list[Hit]:
        """The hits with the chunks of the first n read: those a list carried, the others fetched from the store
        in one call. A fetched chunk is dropped (and the next hit read instead) when the store no longer has it,
        or when its stored record does not pass the filter (the lexical index a step ahead of the store)."""
        out: list[Hit] = []
        pos = 0
        while len(out) < n and pos < len(hits):
            batch = hits[pos : pos + n - len(out)]
            pos += len(batch)
            missing = [h.chunk.id for h in batch if h.chunk.id not in known]
            fetched = self.store.fetch(missing) if missing else {}
            for hit in batch:
                chunk = known.get(hit.chunk.id)
                if chunk is None:
                    chunk = fetched.get(hit.chunk.id)
                    if chunk is None or not flt.matches(chunk.to_record()):
                        continue
                out.append(hit if hit.chunk is chunk else replace(hit, chunk=chunk))
        return out + hits[pos:]

    def has_source(self, source: str, scope: Scope = EVERYTHING) -> bool:
        """Whether a file is indexed and inside the scope."""
        lexical = self.lexical
        scoped = scope.restrict(Filter(sources=(source,)))
        return lexical is not None and scoped is not None and lexical.count(scoped) > 0

    def files(self, scope: Scope = EVERYTHING) -> int:
        """How many files the scope may read."""
        lexical = self.lexical
        scoped = scope.restrict(Filter())
        if lexical is None or scoped is None:
            return 0
        return lexical.files(None if scope.collections is None else scoped.collections)

    def _clears_floor(self, hit: Hit) -> bool:
        dense = hit.scores.get("dense")
        lexical = hit.scores.get("bm25")
        return (dense is not None and dense >= self.settings.min_dense_score) or (
            lexical is not None and lexical >= self.settings.lexical_floor
        )


def _unread(chunk_id: str) -> Chunk:
    """A stand-in for a chunk known by id only (fusion needs ids; _read replaces it for the hits returned)."""
    return Chunk(id=chunk_id, text="", source="")


def _ids_of(hits: list[tuple[Chunk, float]]) -> tuple[list[tuple[str, float]], dict[str, Chunk]]:
    return [(c.id, s) for c, s in hits], {c.id: c for c, _ in hits}


@contextmanager
def _stage(name: str, key: str, timings: dict[str, float]) -> Iterator[Any]:
    """Times one search stage into timings[key], inside an OpenTelemetry span of that name (a no-op span when
    tracing is not set up)."""
    t = time.perf_counter()
    with _TRACER.start_as_current_span(name) as span:
        yield span
        timings[key] = _ms(t)
        span.set_attribute("kb.ms", round(timings[key], 3))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def build_reranker(settings: Settings) -> Reranker | None:
    """The configured reranker, or None."""
    cfg = settings.retrieval
    if cfg.rerank == "cross-encoder":
        return CrossEncoderReranker(settings.resolve(cfg.rerank_model))
    if cfg.rerank == "http":
        if not cfg.rerank_url:
            raise ConfigError("retrieval.rerank is 'http' but retrieval.rerank_url is not set")
        key = cfg.rerank_api_key.get_secret_value() if cfg.rerank_api_key else None
        return HttpReranker(cfg.rerank_url, api_key=key)
    return None


def build_retriever(settings: Settings, index_dir: Path | None = None, embedder: Embedder | None = None) -> Retriever:
    """The object graph for reading an index, from Settings."""
    index_dir = index_dir or settings.resolve(settings.index.path)
    return Retriever(
        settings.retrieval,
        embedder or build_embedder(settings.embedding, settings.resolve(settings.embedding.cache_dir)),
        ChromaStore(settings.index, index_dir),
        index_dir,
        build_reranker(settings),
    )

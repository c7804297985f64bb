"""BM25 over the same chunks as the dense store: an incremental on-disk index (tantivy) beside the vector store.

Tokenisation is ours, not tantivy's: every chunk's indexed text is lower-cased, stripped of English stop words and
Snowball-stemmed here (the same function for chunks and queries), and tantivy indexes those tokens split on
whitespace and scores them with BM25. So quality does not depend on the engine's analyser.

On disk, `<index>/lexical/` is a tantivy index and `<index>/lexical.json` records which manifest generation it
holds. The ingest writer (ingest/writer.py, through lexical_writer.py) is the only writer: it adds and deletes
chunks as it commits files, commits tantivy once per run and then writes the generation. A tantivy commit is atomic
(a new meta.json names the new segments; uncommitted work is discarded on reopen), so a killed ingest leaves the
last committed index, and the next run, seeing a generation that is not the manifest's, reconciles the two by chunk
id. Readers (any number of serving processes) open the directory read-only and reload when the generation file
changes; tantivy's segment files are immutable and an open reader keeps the ones it uses, so a reader never sees a
half-written index.

Chunk text and metadata are stored in tantivy's compressed document store, read only for the hits returned; the
metadata fields that filters use (collection, file type, source, tags, mtime) are indexed and fast fields, so a
filter is part of the query and facets are aggregations, with nothing held in RAM per chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.filters import Filter
from retrieval.types import Chunk

logger = logging.getLogger(__name__)

FOLDER = "lexical"
GENERATION_FILE = "lexical.json"
FORMAT = 2  # 2: the chunk id is a fast field
FACET_KEYS = ("collection", "file_type", "tag", "source")
# Values listed per facet (tantivy refuses an aggregation of more than 65,000 buckets in all). Sources are for
# pickers and are capped; whether one file is indexed is asked with count(), and how many with files().
_FACET_LIMITS = {"collection": 2_000, "file_type": 200, "tag": 10_000, "source": 20_000}
_MATCHING_CACHE = 64  # filters remembered per reader (a reader's scope repeats on every question)


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


_STEMMERS = threading.local()


def tokenize(texts: list[str], stemmer: Any = None) -> list[list[str]]:
    """Lower-cased, English stop words removed, Snowball-stemmed tokens (the same for corpus and queries)."""
    import bm25s

    if stemmer is None:
        stemmer = getattr(_STEMMERS, "stemmer", None)
        if stemmer is None:
            stemmer = _STEMMERS.stemmer = _stemmer()
    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)


def key_of(chunk_id: str) -> int:
    """A chunk id as a 63-bit integer: the term a delete or a reconciliation uses (tantivy reads it as a fast
    field without touching the document store)."""
    return int.from_bytes(hashlib.blake2b(chunk_id.encode(), digest_size=8).digest(), "big") >> 1


def published_generation(index_dir: Path) -> int | None:
    """The manifest generation the lexical index holds, or None when none has been written."""
    try:
        state = json.loads((index_dir / GENERATION_FILE).read_text())
        return int(state["generation"]) if state.get("format") == FORMAT else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Matching:
    """Which chunks pass a filter, at one generation: their keys (key_of) to test candidates by, and their ids
    as well when they are few."""

    generation: int
    count: int
    keys: frozenset[int]
    ids: list[str] | None = None

    def admits(self, chunk_id: str) -> bool:
        return key_of(chunk_id) in self.keys


class LexicalIndex:
    """A reader of the published lexical index (cheap to keep open; `refresh` picks up a newer generation)."""

    def __init__(self, index: Any, generation: int) -> None:
        self._index = index
        self._schema = index.schema
        self.generation = generation
        self._matching: dict[Filter, Matching] = {}
        self._facets: dict[tuple[str, ...] | None, dict[str, list[str]]] = {}

    @classmethod
    def load(cls, index_dir: Path) -> LexicalIndex | None:
        """The published index, or None when no ingest has published one yet."""
        import tantivy

        generation = published_generation(index_dir)
        folder = index_dir / FOLDER
        if generation is None or not tantivy.Index.exists(str(folder)):
            if (index_dir / "bm25.current").exists():
                logger.warning("%s has a lexical index in the old format; run ingest once to rebuild it", index_dir)
            return None
        index = tantivy.Index.open(str(folder))
        index.config_reader(reload_policy="Manual")
        return cls(index, generation)

    def refresh(self, generation: int) -> None:
        """Reload to the last commit (called when the generation file names a newer one)."""
        self._index.reload()
        self.generation = generation
        self._matching.clear()
        self._facets.clear()

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)

    def _filter_query(self, flt: Filter | None) -> Any:
        """The filter as a query that scores nothing, or None when it restricts nothing."""
        import tantivy

        if flt is None or flt.is_empty():
            return None
        q = tantivy.Query
        clauses = [
            (tantivy.Occur.Must, q.term_set_query(self._schema, field, list(wanted)))
            for field, wanted in (
                ("collection", flt.collections),
                ("file_type", flt.file_types),
                ("source", flt.sources),
                ("tag", flt.tags),
            )
            if wanted
        ]
        if flt.modified_after is not None or flt.modified_before is not None:
            lo = None if flt.modified_after is None else float(flt.modified_after)
            hi = None if flt.modified_before is None else float(flt.modified_before)
            clauses.append((tantivy.Occur.Must, q.range_query(self._schema, "mtime", tantivy.FieldType.Float, lo, hi)))
        return q.const_score_query(q.boolean_query(clauses), 0.0)

    def count(self, flt: Filter | None = None) -> int:
        """How many chunks pass the filter (all of them without one)."""

        searcher = self._index.searcher()
        fq = self._filter_query(flt)
        if fq is None:
            return int(searcher.num_docs)
        return int(searcher.search(fq, limit=1, count=True).count)

    def matching(self, flt: Filter, ids_up_to: int) -> Matching:
        """The chunks that pass a (non-empty) filter: their number, and either their ids (when there are at most
        ids_up_to) or their keys (key_of). Cached per filter until the next generation."""
        cached = self._matching.get(flt)
        if (
            cached is not None
            and cached.generation == self.generation
            and (cached.ids is not None or cached.count > ids_up_to)
        ):
            return cached
        result = self._compute_matching(flt, ids_up_to)
        if len(self._matching) >= _MATCHING_CACHE:
            self._matching.pop(next(iter(self._matching)))
        self._matching[flt] = result
        return result

    def _compute_matching(self, flt: Filter, ids_up_to: int) -> Matching:
        fq = self._filter_query(flt)
        assert fq is not None, "an empty filter matches everything; do not ask which chunks"
        searcher = self._index.searcher()
        count = int(searcher.search(fq, limit=1, count=True).count)
        if count == 0:
            return Matching(self.generation, 0, frozenset(), ids=[])
        if count <= ids_up_to:
            buckets = searcher.aggregate(fq, {"ids": {"terms": {"field": "id", "size": count}}})["ids"]["buckets"]
            ids = [str(b["key"]) for b in buckets]
            return Matching(self.generation, count, frozenset(map(key_of, ids)), ids=ids)
        hits = searcher.search(fq, limit=count, count=False).hits
        return Matching(
            self.generation, count, keys=frozenset(searcher.fast_field_values("key", [a for _s, a in hits]))
        )

    def search(self, query: str, k: int, flt: Filter | None = None) -> list[tuple[Chunk, float]]:
        """Top-k chunks by BM25 score (only positive scores), restricted to the filter, best first."""
        import tantivy

        if not query.strip() or k <= 0:
            return []
        tokens = tokenize([query])[0]
        if not tokens:
            return []
        q = tantivy.Query
        text_q = q.boolean_query(
            [(tantivy.Occur.Should, q.term_query(self._schema, "tokens", t, index_option="freq")) for t in tokens]
        )
        fq = self._filter_query(flt)
        if fq is not None:
            text_q = q.boolean_query([(tantivy.Occur.Must, text_q), (tantivy.Occur.Must, fq)])
        searcher = self._index.searcher()
        hits = searcher.search(text_q, limit=k, count=False).hits
        out = []
        for score, address in hits:
            if score <= 0:
                continue
            row = json.loads(searcher.doc(address).get_first("doc"))
            out.append((Chunk.from_record(row["id"], row["text"], row["meta"]), float(score)))
        return out

    def files(self, collections: Sequence[str] | None = None) -> int:
        """How many distinct files (sources) the index holds, within the given collections when not None."""
        import tantivy

        query = (
            tantivy.Query.all_query()
            if collections is None
            else tantivy.Query.term_set_query(self._schema, "collection", list(collections))
        )
        return round(self._index.searcher().cardinality(query, "source"))

    def facets(self, collections: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Distinct values of each filterable field (collection, file_type, tag, source), among the chunks of the
        given collections when collections is not None (cached until the next generation)."""
        import tantivy

        key = None if collections is None else tuple(sorted(collections))
        if key in self._facets:
            return self._facets[key]

        query = (
            tantivy.Query.all_query()
            if collections is None
            else tantivy.Query.term_set_query(self._schema, "collection", list(collections))
        )
        aggs = {k: {"terms": {"field": k, "size": _FACET_LIMITS[k]}} for k in FACET_KEYS}
        result = self._index.searcher().aggregate(query, aggs)
        facets = {k: sorted(str(b["key"]) for b in result.get(k, {}).get("buckets", [])) for k in FACET_KEYS}
        if len(self._facets) >= _MATCHING_CACHE:
            self._facets.pop(next(iter(self._facets)))
        self._facets[key] = facets
        return facets

    def _every_document(self) -> tuple[Any, list[Any]]:
        """The searcher and the address of every document (for whole-index reads, never the query path)."""
        import tantivy

        searcher = self._index.searcher()
        total = int(searcher.num_docs)
        if total == 0:
            return searcher, []
        return searcher, [a for _s, a in searcher.search(tantivy.Query.all_query(), limit=total, count=False).hits]

    def ids(self) -> set[str]:
        """Every chunk id (reads each stored document: for checks and tools)."""
        searcher, addresses = self._every_document()
        return {json.loads(searcher.doc(a).get_first("doc"))["id"] for a in addresses}

    def keys(self) -> set[int]:
        """Every chunk's key (see key_of), read from the fast field."""
        searcher, addresses = self._every_document()
        return set(searcher.fast_field_values("key", addresses)) if addresses else set()

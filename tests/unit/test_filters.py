import random
from typing import Any

import numpy as np
import pytest

from configs.errors import InvalidRequest
from retrieval import lexical, lexical_writer
from retrieval.filters import Filter


def _metas(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        meta: dict[str, Any] = {
            "collection": rnd.choice(["hr", "it", "finance"]),
            "file_type": rnd.choice(["pdf", "md", "txt"]),
            "source": f"/docs/f{i % 7}.txt",
            "mtime": rnd.randint(1_600_000_000, 1_800_000_000),
        }
        for tag in rnd.sample(["hr", "it", "policies", "archive"], rnd.randint(0, 2)):
            meta["tag:" + tag] = True
        out.append(meta)
    return out


def _where_matches(where: dict[str, Any] | None, meta: dict[str, Any]) -> bool:
    """A small evaluator of Chroma's where-clause semantics, to check to_where() says what matches() says."""
    if where is None:
        return True
    if "$and" in where:
        return all(_where_matches(w, meta) for w in where["$and"])
    if "$or" in where:
        return any(_where_matches(w, meta) for w in where["$or"])
    ((key, cond),) = where.items()
    ((op, value),) = cond.items()
    have = meta.get(key)
    if op == "$in":
        return have in value
    if op == "$eq":
        return have == value
    if have is None:
        return False
    return {"$gte": have >= value, "$lte": have <= value}[op]


FILTERS = [
    {},
    {"collections": ["hr"]},
    {"file_types": ["pdf", ".MD"]},
    {"tags": ["policies", "archive"]},
    {"sources": ["/docs/f3.txt"]},
    {"modified_after": "2022-01-01", "modified_before": "2025-06-30"},
    {"collections": ["it", "hr"], "tags": ["it"], "file_types": ["txt"], "modified_after": 1_700_000_000},
    {"collections": ["nope"]},
]


@pytest.fixture(scope="module")
def lexical_index(tmp_path_factory: pytest.TempPathFactory) -> lexical.LexicalIndex:
    folder = tmp_path_factory.mktemp("lexical")
    lexical_writer.build(folder, ((str(i), "common words", "common words", m) for i, m in enumerate(_metas(400))), 1)
    index = lexical.LexicalIndex.load(folder)
    assert index is not None
    return index


@pytest.mark.parametrize("spec", FILTERS)
def test_dense_where_lexical_query_and_python_predicate_agree(
    spec: dict[str, Any], lexical_index: lexical.LexicalIndex
) -> None:
    metas = _metas(400)
    flt = Filter.parse(spec)
    expected = np.array([flt.matches(m) for m in metas])
    found = {int(c.id) for c, _ in lexical_index.search("common", 1000, flt)}
    assert found == set(np.flatnonzero(expected).tolist())
    assert lexical_index.count(flt) == expected.sum()
    assert np.array([_where_matches(flt.to_where(), m) for m in metas]).tolist() == expected.tolist()
    if spec and spec != {"collections": ["nope"]}:
        assert 0 < expected.sum() < len(metas)  # the filter really discriminates in this data


def test_dates_are_inclusive_whole_days() -> None:
    flt = Filter.parse({"modified_before": "2024-01-31"})
    assert flt.matches({"mtime": 1706745599})  # 2024-01-31T23:59:59Z
    assert not flt.matches({"mtime": 1706745600})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"colections": ["hr"]}, "unknown filter key"),
        ({"tags": "x", "modified_after": "last tuesday"}, "YYYY-MM-DD"),
        ({"collections": [3]}, "list of non-empty strings"),
        ({"modified_after": "2025-01-01", "modified_before": "2024-01-01"}, "later than"),
    ],
)
def test_invalid_filters_are_clear_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        Filter.parse(spec)


def test_filtered_dense_search_is_exact_on_every_path(tmp_path: Any) -> None:
    """The retriever's filtered dense search (by ids, post-filtered deep search, or the store's where) returns
    exactly what an exhaustive filtered search returns."""
    from configs.settings import RetrievalSettings
    from retrieval.embeddings import FakeEmbedder
    from retrieval.retriever import Retriever
    from retrieval.store import InMemoryStore
    from retrieval.types import Chunk

    metas = _metas(600, seed=3) + [{"collection": "hr", "source": "/docs/rare.txt", "mtime": 1}] * 2
    chunks = [Chunk.from_record(f"c{i}", f"note {i} about topic {i % 13}", m) for i, m in enumerate(metas)]
    store, embedder = InMemoryStore(), FakeEmbedder()
    store.upsert(chunks, embedder.embed_documents([c.text for c in chunks]))
    lexical_writer.build(tmp_path, ((c.id, c.text, c.text, c.to_record()) for c in chunks), 1)
    retriever = Retriever(RetrievalSettings(), embedder, store, tmp_path)
    vector = embedder.embed_query("topic 5")
    paths = set()
    for spec in ({"collections": ["hr"]}, {"sources": ["/docs/rare.txt"]}, {"collections": ["nope"]}):
        flt = Filter.parse(spec)
        got, _, how = retriever._dense(vector, 10, flt)
        paths.add(how)
        assert [cid for cid, _ in got] == [c.id for c, _ in store.query(vector, 10, flt)]
    assert paths == {"post-filter", "ids", "empty"}
    # The lexical index a step ahead of the store (mid-ingest): still exact, through the store's where.
    store.delete(["c1", "c2", "c3"])
    flt = Filter.parse({"sources": ["/docs/f1.txt", "/docs/f2.txt"]})
    got, _, how = retriever._dense(vector, 10, flt)
    assert [cid for cid, _ in got] == [c.id for c, _ in store.query(vector, 10, flt)]


def test_a_winner_whose_stored_record_fails_the_filter_is_not_returned(tmp_path: Any) -> None:
    """The dense list is ids until fusion; a winner read from the store whose record no longer passes the filter
    (the lexical index a step behind it, mid-ingest) is left out and the next hit is read in its place."""
    from configs.settings import RetrievalSettings
    from retrieval.embeddings import FakeEmbedder
    from retrieval.retriever import Retriever
    from retrieval.store import InMemoryStore
    from retrieval.types import Chunk

    metas = _metas(600, seed=3)
    chunks = [Chunk.from_record(f"c{i}", f"note {i} about topic {i % 13}", m) for i, m in enumerate(metas)]
    store, embedder = InMemoryStore(), FakeEmbedder()
    vectors = embedder.embed_documents([c.text for c in chunks])
    store.upsert(chunks, vectors)
    lexical_writer.build(tmp_path, ((c.id, c.text, c.text, c.to_record()) for c in chunks), 1)
    retriever = Retriever(RetrievalSettings(fusion="dense", top_k=5), embedder, store, tmp_path)
    flt = Filter.parse({"collections": ["hr"]})
    before = [h.chunk.id for h in retriever.search("topic 5", flt).hits]
    assert len(before) == 5 and retriever._dense(embedder.embed_query("topic 5"), 100, flt)[2] == "post-filter"
    moved = int(before[1][1:])
    record = {**chunks[moved].to_record(), "collection": "it"}
    store.upsert([Chunk.from_record(chunks[moved].id, chunks[moved].text, record)], vectors[moved : moved + 1])
    after = [h.chunk for h in retriever.search("topic 5", flt).hits]
    assert [c.id for c in after[:4]] == [before[0], *before[2:]] and len(after) == 5
    assert chunks[moved].id not in [c.id for c in after]
    assert all(c.to_record()["collection"] == "hr" for c in after)

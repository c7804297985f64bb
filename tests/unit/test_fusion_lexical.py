from pathlib import Path

from retrieval import lexical, lexical_writer
from retrieval.filters import Filter
from retrieval.fusion import blend_rerank, fuse, reciprocal_rank_fusion, weighted_score_fusion, zscore_fusion
from retrieval.lexical import LexicalIndex
from retrieval.types import Chunk, Hit


def _c(i: str) -> Chunk:
    return Chunk(i, f"text {i}", f"/d/{i}")


def test_rrf_rewards_agreement_and_records_ranks() -> None:
    dense = [(_c("a"), 0.9), (_c("b"), 0.8), (_c("c"), 0.7)]
    bm25 = [(_c("b"), 12.0), (_c("d"), 10.0), (_c("c"), 3.0)]
    hits = reciprocal_rank_fusion({"dense": dense, "bm25": bm25}, {"dense": 1.0, "bm25": 1.0}, k=60)
    assert [h.chunk.id for h in hits] == ["b", "c", "a", "d"]  # found by both beats found by one
    b = hits[0]
    assert b.ranks == {"dense": 2, "bm25": 1} and b.scores == {"dense": 0.8, "bm25": 12.0}
    assert abs(b.score - (1 / 62 + 1 / 61)) < 1e-12


def test_weights_shift_the_order() -> None:
    dense = [(_c("a"), 0.9), (_c("b"), 0.1)]
    bm25 = [(_c("b"), 9.0), (_c("a"), 1.0)]
    assert weighted_score_fusion({"dense": dense, "bm25": bm25}, {"dense": 2.0, "bm25": 1.0})[0].chunk.id == "a"
    assert weighted_score_fusion({"dense": dense, "bm25": bm25}, {"dense": 1.0, "bm25": 2.0})[0].chunk.id == "b"


ROWS = [
    ("1", "Employees get 25 days of paid annual leave.", {"collection": "hr", "tag:hr": True, "mtime": 10}),
    ("2", "The VPN times out after 12 hours of connection.", {"collection": "it", "tag:it": True, "mtime": 20}),
    ("3", "Annual leave requests go through the HR portal.", {"collection": "hr", "tag:hr": True, "mtime": 30}),
    ("4", "Connecting to the VPN requires multi-factor authentication.", {"collection": "it", "mtime": 40}),
]


def _index(tmp_path: Path) -> LexicalIndex:
    lexical_writer.build(tmp_path, ((i, t, t, {**m, "source": f"/d/{i}"}) for i, t, m in ROWS), generation=7)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded is not None and loaded.generation == 7 and lexical.published_generation(tmp_path) == 7
    return loaded


def test_bm25_stems_and_ranks(tmp_path: Path) -> None:
    hits = _index(tmp_path).search("connections to the vpn", k=10)
    assert {c.id for c, _ in hits} == {"2", "4"}  # "connections" matches "connection"/"connecting"
    assert hits[0][0].text == ROWS[int(hits[0][0].id) - 1][1] and hits[0][0].source == f"/d/{hits[0][0].id}"


def test_bm25_filter_restricts_results(tmp_path: Path) -> None:
    index = _index(tmp_path)
    assert {c.id for c, _ in index.search("annual leave vpn", 10, Filter.parse({"collections": ["it"]}))} == {"2", "4"}
    assert {c.id for c, _ in index.search("annual leave vpn", 10)} == {"1", "2", "3", "4"}
    assert index.search("annual leave", 10, Filter.parse({"modified_after": 35})) == []
    assert index.search("zzzz unknownword", 10) == []
    assert index.count(Filter.parse({"tags": ["hr"]})) == 2 and index.count() == 4
    assert index.facets() == {
        "collection": ["hr", "it"],
        "file_type": [],
        "tag": ["hr", "it"],
        "source": ["/d/1", "/d/2", "/d/3", "/d/4"],
    }
    assert index.facets(["it"])["source"] == ["/d/2", "/d/4"]


def test_writes_are_incremental_and_a_reader_sees_them_on_refresh(tmp_path: Path) -> None:
    reader = _index(tmp_path)
    writer = lexical_writer.LexicalWriter(tmp_path)
    writer.delete(["2"])
    writer.add(
        [
            ("1", "Employees get 30 days of leave.", "Employees get 30 days of leave.", {"collection": "hr"}),
            ("5", "A new VPN client.", "A new VPN client.", {"collection": "it"}),
        ]
    )
    assert {c.id for c, _ in reader.search("vpn", 10)} == {"2", "4"}  # nothing is visible before the commit
    writer.commit(8)
    writer.close()
    assert lexical.published_generation(tmp_path) == 8
    assert {c.id for c, _ in reader.search("vpn", 10)} == {"2", "4"}  # an open reader keeps its snapshot
    reader.refresh(8)
    assert {c.id for c, _ in reader.search("vpn", 10)} == {"4", "5"}
    assert reader.ids() == {"1", "3", "4", "5"}  # "1" was replaced, not duplicated
    assert [c.text for c, _ in reader.search("employees", 10)] == ["Employees get 30 days of leave."]


def test_reconcile_makes_the_index_hold_exactly_the_owned_chunks(tmp_path: Path) -> None:
    _index(tmp_path)
    writer = lexical_writer.LexicalWriter(tmp_path)
    writer.add([("9", "buffered, never committed", "buffered", {})])  # as if the run was killed here
    owned = {lexical.key_of(i): i for i in ("1", "3", "6")}
    rows = {"6": ("6", "Six weeks of parental leave.", "Six weeks of parental leave.", {"collection": "hr"})}
    assert writer.reconcile(owned, lambda ids: [rows[i] for i in ids]) == (1, 2)  # "6" added; "2", "4" deleted
    writer.commit(9)
    writer.close()
    loaded = LexicalIndex.load(tmp_path)
    assert loaded is not None and loaded.ids() == {"1", "3", "6"} and loaded.generation == 9


def test_blend_rerank_interpolates_normalised_scores() -> None:
    def hit(cid: str, score: float) -> Hit:
        return Hit(Chunk(cid, cid, "/s"), score)

    fused = [hit("a", 3.0), hit("b", 2.0), hit("c", 1.0)]  # normalised: a 1, b 0.5, c 0
    reranked = [hit("c", 9.0), hit("b", 5.0), hit("a", 1.0)]  # normalised: c 1, b 0.5, a 0
    assert [h.chunk.id for h in blend_rerank(fused, reranked, 1.0)] == ["c", "b", "a"]
    assert [h.chunk.id for h in blend_rerank(fused, reranked, 0.0)] == ["a", "b", "c"]
    # weight 0.25: a = 0.75, b = 0.5, c = 0.25
    out = blend_rerank(fused, reranked, 0.25)
    assert [(h.chunk.id, h.score) for h in out] == [("a", 0.75), ("b", 0.5), ("c", 0.25)]


def test_zscore_fusion_weights_shift_the_order_and_a_missing_hit_counts_as_the_list_s_last() -> None:
    dense = [(_c("a"), 0.9), (_c("b"), 0.5), (_c("c"), 0.1)]
    bm25 = [(_c("b"), 9.0), (_c("a"), 5.0), (_c("c"), 1.0)]
    assert fuse("zscore", {"dense": dense, "bm25": bm25}, {"dense": 2.0, "bm25": 1.0})[0].chunk.id == "a"
    hits = fuse("zscore", {"dense": dense, "bm25": bm25}, {"dense": 1.0, "bm25": 2.0})
    assert [h.chunk.id for h in hits] == ["b", "a", "c"]
    assert hits[-1].score == 0.0  # last in both lists: nothing above either list's floor
    only_dense = zscore_fusion({"dense": dense, "bm25": [(_c("b"), 9.0)]}, {"dense": 1.0, "bm25": 1.0})
    assert {h.chunk.id: h.score for h in only_dense}["c"] == 0.0

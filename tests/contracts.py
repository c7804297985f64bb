"""One contract per role, run against every implementation of it (the real ones and the fakes shipped beside
them): a subclass provides the implementation through a fixture, the contract's tests do the rest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from retrieval.filters import Filter
from retrieval.types import Chunk, ChunkMeta, Hit
from serving.llm.protocol import TokenUsage

TEXTS = [
    "Employees get 25 days of paid annual leave per year.",
    "The VPN connection times out after 12 hours.",
    "Expense claims above 500 euros need approval from Finance.",
]


class EmbedderContract:
    @pytest.fixture
    def embedder(self) -> Any:
        raise NotImplementedError

    def test_vectors_are_unit_length_and_repeatable(self, embedder: Any) -> None:
        vectors = embedder.embed_documents(TEXTS)
        assert vectors.shape[0] == 3 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
        assert np.allclose(embedder.embed_documents(TEXTS), vectors, atol=1e-5)
        assert embedder.embed_documents([]).shape[0] == 0

    def test_a_question_is_closest_to_the_text_that_answers_it(self, embedder: Any) -> None:
        scores = embedder.embed_documents(TEXTS) @ embedder.embed_query("How many days of annual leave do I get?")
        assert int(np.argmax(scores)) == 0

    def test_token_spans_locate_tokens_in_order_and_count_them(self, embedder: Any) -> None:
        text = "Expense claims above 500 euros need approval."
        spans = embedder.token_spans(text)
        assert spans and all(0 <= a < b <= len(text) for a, b in spans)
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1))
        assert embedder.count_tokens(text) == len(spans) and embedder.max_tokens > 16

    def test_several_threads_may_embed_at_once(self, embedder: Any) -> None:
        """A server embeds each request's question on its own worker thread."""
        from concurrent.futures import ThreadPoolExecutor

        expected = embedder.embed_query(TEXTS[0])
        with ThreadPoolExecutor(4) as pool:
            got = list(pool.map(lambda _: embedder.embed_query(TEXTS[0]), range(40)))
        assert all(np.allclose(v, expected, atol=1e-5) for v in got)

    def test_fingerprint_names_what_made_the_vectors(self, embedder: Any) -> None:
        # the model's name is in it, and embedding does not change it (an index built before a query keeps it)
        before = embedder.fingerprint()
        embedder.embed_documents(TEXTS)
        assert embedder.name and embedder.name in before and embedder.fingerprint() == before


class StoreContract:
    @pytest.fixture
    def store(self) -> Any:
        raise NotImplementedError

    @staticmethod
    def _chunks() -> tuple[list[Chunk], np.ndarray]:
        chunks = [
            Chunk(f"id{i}", text, f"/kb/{c}/{i}.md", ChunkMeta(collection=c, tags=(c,), relpath=f"{c}/{i}.md"))
            for i, (text, c) in enumerate(zip(TEXTS, ("hr", "it", "finance"), strict=True))
        ]
        return chunks, np.eye(3, 8, dtype=np.float32)

    def test_nearest_chunks_come_back_with_their_metadata(self, store: Any) -> None:
        assert store.query(np.eye(1, 8, dtype=np.float32)[0], 3) == []  # empty store
        chunks, vectors = self._chunks()
        store.upsert(chunks, vectors)
        hits = store.query(vectors[1], 3)
        assert [c.id for c, _ in hits][0] == "id1" and hits[0][1] == pytest.approx(1.0, abs=1e-3)
        assert hits[0][0].meta == chunks[1].meta and hits[0][0].source == chunks[1].source
        assert hits[0][0].text == TEXTS[1]

    def test_a_filter_holds_on_every_hit(self, store: Any) -> None:
        chunks, vectors = self._chunks()
        store.upsert(chunks, vectors)
        hits = store.query(vectors[0], 3, Filter.parse({"collections": ["it", "finance"]}))
        assert {c.id for c, _ in hits} == {"id1", "id2"}
        assert [c.id for c, _ in store.query(vectors[0], 3, Filter.parse({"tags": ["hr"]}))] == ["id0"]

    def test_ids_restrict_a_query_and_nearest_and_fetch_agree_with_it(self, store: Any) -> None:
        chunks, vectors = self._chunks()
        store.upsert(chunks, vectors)
        assert [c.id for c, _ in store.query(vectors[0], 3, ids=["id1", "id2"])] in (["id1", "id2"], ["id2", "id1"])
        assert [c.id for c, _ in store.query(vectors[2], 1, ids=["id0", "id2"])] == ["id2"]
        near = store.nearest(vectors[1], 2)
        assert len(near) == 2 and near[0][0] == "id1" and near[0][1] == pytest.approx(1.0, abs=1e-3)
        got = store.fetch(["id2", "missing"])
        assert set(got) == {"id2"} and got["id2"].text == TEXTS[2] and got["id2"].meta == chunks[2].meta

    def test_following_is_the_next_chunk_of_the_same_version_of_the_same_file(self, store: Any) -> None:
        def chunk(cid: str, source: str, version: str, index: int) -> Chunk:
            meta = ChunkMeta(
                collection="it", relpath=source.removeprefix("/kb/"), content_hash=version, chunk_index=index
            )
            return Chunk(cid, f"{cid} text", source, meta)

        first, second = chunk("a0", "/kb/it/a.md", "v2", 0), chunk("a1", "/kb/it/a.md", "v2", 1)
        others = [chunk("old1", "/kb/it/a.md", "v1", 1), chunk("b1", "/kb/it/b.md", "v2", 1)]  # a stale version, a file
        store.upsert([*others, second, first], np.eye(4, 8, dtype=np.float32))
        after = store.following(first)
        assert after is not None and after.id == "a1" and after.text == "a1 text" and after.meta == second.meta
        assert store.following(second) is None  # the file's last chunk

    def test_writes_are_idempotent_and_deletes_remove(self, store: Any) -> None:
        chunks, vectors = self._chunks()
        store.upsert(chunks, vectors)
        store.upsert(chunks, vectors)
        assert store.count() == 3 and store.all_ids() == {"id0", "id1", "id2"}
        assert set(store.get_vectors(["id0", "missing"])) == {"id0"}
        assert np.allclose(store.get_vectors(["id2"])["id2"], vectors[2], atol=1e-5)
        store.delete(["id0", "id1"])
        assert store.all_ids() == {"id2"} and store.count() == 1


class ChatModelContract:
    @pytest.fixture
    def model(self) -> Any:
        raise NotImplementedError

    def test_streams_a_reply_in_pieces_and_counts_its_tokens(self, model: Any) -> None:
        usage = TokenUsage()
        pieces = list(model.stream([{"role": "user", "content": "Name one colour of the sky."}], 24, 0.0, usage))
        assert pieces and all(isinstance(p, str) and p for p in pieces) and "".join(pieces).strip()
        assert usage.completion_tokens >= 1 and usage.prompt_tokens >= 1 and model.name


class RerankerContract:
    @pytest.fixture
    def reranker(self) -> Any:
        raise NotImplementedError

    @staticmethod
    def _hits() -> list[Hit]:
        return [
            Hit(Chunk(f"h{i}", text, f"/kb/{i}.txt", ChunkMeta(collection=f"c{i}")), 1.0 / (i + 1))
            for i, text in enumerate(TEXTS)
        ]

    def test_rescores_every_hit_and_orders_by_score(self, reranker: Any) -> None:
        hits = self._hits()
        out = reranker.rerank("How many days of annual leave do I get?", hits)
        assert sorted(h.chunk.id for h in out) == sorted(h.chunk.id for h in hits)  # none lost or added
        assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
        assert [h.ranks["rerank"] for h in out] == list(range(1, len(hits) + 1))
        assert all(h.scores["rerank"] == h.score for h in out)
        assert all(h.chunk.meta.collection == f"c{h.chunk.id[1:]}" for h in out)  # metadata travels along
        assert reranker.rerank("anything", []) == []

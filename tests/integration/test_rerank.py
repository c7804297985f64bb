"""Rerankers: one contract for the local CrossEncoder and the HTTP /rerank endpoint, and what the retriever does
with them (filters kept, top-n only, an outage degrades to the fused order and says so).

The cross-encoder is really trained here, through `eval.training.train_reranker.fit`, on a few pairs from the sample
knowledge base (no trained cross-encoder ships in any package, and nothing may be downloaded).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from configs.errors import ModelUnavailable
from retrieval.filters import Filter
from retrieval.rerank import CrossEncoderReranker, HttpReranker, Reranker
from retrieval.types import Chunk, ChunkMeta, Hit
from tests.conftest import free_port, make_settings
from tests.contracts import RerankerContract
from tests.integration.conftest import start_app

pytestmark = pytest.mark.integration

PASSAGES = {
    "password": "Passwords must be at least 14 characters long. A passphrase of four or more unrelated words is "
    "recommended.",
    "expenses": "Claims up to 500 euros are approved by your manager. Claims above 500 euros also need approval "
    "from the Finance team.",
    "leave": "Full-time employees get 25 days of paid annual leave per calendar year.",
    "vpn": "The VPN client disconnects after 12 hours; reconnect to get a new tunnel.",
    "release": "Every release is tagged in git and announced in the engineering channel on the day it ships.",
}
TRAIN = [
    ("minimum password length", "password"),
    ("who approves an expense claim over 500 euros", "expenses"),
    ("how much annual leave do I get", "leave"),
    ("why does the VPN drop after a while", "vpn"),
    ("how is a release announced", "release"),
]
TOP_N = 5
EXTRACTIVE = {"llm": {"backend": "extractive"}}


@pytest.fixture(scope="module")
def trained_reranker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from eval.training.train_reranker import fit

    pairs = [
        (q, text, 1.0 if key == gold else 0.0) for q, gold in TRAIN for key, text in PASSAGES.items()
    ] * 4  # 100 pairs, 7 steps of 16
    out = tmp_path_factory.mktemp("reranker") / "model"
    fit(pairs, out, epochs=2, max_length=64, learning_rate=2e-4, say=lambda _m: None)
    return out


def _hits() -> list[Hit]:
    return [
        Hit(Chunk(id=key, text=text, source=f"/kb/{key}.txt", meta=ChunkMeta(collection=key)), score=1.0 / i)
        for i, (key, text) in enumerate(PASSAGES.items(), start=1)
    ]


@pytest.fixture(scope="module")
def rerank_server(trained_reranker: Path, kb_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app with the trained cross-encoder, serving /v1/rerank on loopback."""
    retrieval = {"rerank": "cross-encoder", "rerank_model": str(trained_reranker), "rerank_top_n": TOP_N}
    with start_app(kb_index, tmp_path_factory.mktemp("app"), retrieval=retrieval, **EXTRACTIVE) as app:
        yield app


@pytest.fixture(params=["cross-encoder", "http"])
def reranker(request: pytest.FixtureRequest, trained_reranker: Path) -> Reranker:
    if request.param == "cross-encoder":
        return CrossEncoderReranker(trained_reranker)
    server = request.getfixturevalue("rerank_server")
    return HttpReranker(f"{server.url}/v1/rerank")


class TestTrainedRerankers(RerankerContract):
    """The local cross-encoder, and the same model behind /v1/rerank."""

    @pytest.fixture(params=["cross-encoder", "http"])
    def reranker(self, request: pytest.FixtureRequest, trained_reranker: Path) -> Reranker:
        if request.param == "cross-encoder":
            return CrossEncoderReranker(trained_reranker)
        return HttpReranker(f"{request.getfixturevalue('rerank_server').url}/v1/rerank")


def test_training_taught_the_model_which_passage_answers(reranker: Reranker) -> None:
    # A few optimizer steps on 100 pairs: the signal is small but must be there for every question.
    # Ranking quality of the real model is measured on SciFact by `python -m eval retrieval` (BENCHMARKS.md).
    for question, gold in TRAIN:
        scores = {h.chunk.id: h.score for h in reranker.rerank(question, _hits())}
        others = [s for key, s in scores.items() if key != gold]
        assert scores[gold] > sum(others) / len(others), (question, scores)


def test_http_endpoint_gives_the_same_scores_as_the_local_model(trained_reranker: Path, rerank_server: Any) -> None:
    local = CrossEncoderReranker(trained_reranker).rerank("expense approval", _hits())
    remote = HttpReranker(f"{rerank_server.url}/v1/rerank").rerank("expense approval", _hits())
    assert [h.chunk.id for h in remote] == [h.chunk.id for h in local]
    assert [h.score for h in remote] == pytest.approx([h.score for h in local], abs=1e-5)


def test_rerank_endpoint_speaks_the_vllm_jina_shape(rerank_server: Any) -> None:
    docs = list(PASSAGES.values())
    body = {"model": "kb", "query": "password length", "documents": [docs[0], {"text": docs[1]}, docs[2]], "top_n": 2}
    r = httpx.post(f"{rerank_server.url}/v1/rerank", json=body, timeout=60)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 2
    assert results[0] == {"index": 0, "relevance_score": results[0]["relevance_score"], "document": {"text": docs[0]}}
    assert results[0]["relevance_score"] >= results[1]["relevance_score"]
    bad = httpx.post(f"{rerank_server.url}/v1/rerank", json={"query": "x", "documents": []}, timeout=60)
    assert bad.status_code == 400 and "documents" in bad.json()["error"]["message"]


def test_rerank_endpoint_without_a_reranker_says_so(kb_index: Path, tmp_path: Path) -> None:
    with start_app(kb_index, tmp_path, **EXTRACTIVE) as app:
        r = httpx.post(f"{app.url}/v1/rerank", json={"query": "x", "documents": ["y"]}, timeout=30)
    assert r.status_code == 404
    assert "retrieval.rerank" in r.json()["error"]["message"]


def test_retriever_reranks_only_the_top_n_and_keeps_the_filter(
    kb_index: Path, trained_reranker: Path, embedder: Any
) -> None:
    from retrieval.retriever import build_retriever

    settings = make_settings(
        kb_index, retrieval={"rerank": "cross-encoder", "rerank_model": str(trained_reranker), "rerank_top_n": TOP_N}
    )
    retriever = build_retriever(settings, kb_index, embedder=embedder)
    for query in ("password length", "expense approval", "leave days", "VPN"):
        for flt in (Filter.parse({"collections": ["it"]}), Filter.parse({"file_types": ["md", "txt"]})):
            result = retriever.search(query, flt, top_k=12)
            assert result.hits and not result.warnings
            assert all(flt.matches(h.chunk.to_record()) for h in result.hits), (query, flt)
            reranked = [h for h in result.hits if "rerank" in h.ranks]
            assert len(reranked) == min(TOP_N, len(result.hits))
            assert result.hits[: len(reranked)] == reranked  # the reranked head stays in front
            assert "rerank" in result.timings_ms
    best = retriever.search("How many characters does a password need?", top_k=3).hits[0]
    assert best.chunk.meta.relpath == "it/password-faq.txt"


def test_reranker_outage_keeps_the_fused_order_and_says_so(kb_index: Path, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1/rerank"
    with pytest.raises(ModelUnavailable, match="rerank_url"):
        HttpReranker(down, timeout=2).rerank("q", _hits())
    retrieval = {"rerank": "http", "rerank_url": down}
    with start_app(kb_index, tmp_path, retrieval=retrieval, **EXTRACTIVE) as app:
        r = httpx.post(f"{app.url}/v1/retrieve", json={"query": "annual leave days", "top_k": 5}, timeout=60)
        assert r.status_code == 200
        data = r.json()
        assert data["hits"][0]["metadata"]["relpath"] == "hr/leave-policy.md"
        assert "rerank" not in data["hits"][0]["ranks"]
        assert any("reranker is unavailable" in w for w in data["warnings"])
        chat = httpx.post(
            f"{app.url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "How many days of annual leave do I get?"}]},
            timeout=60,
        ).json()
        assert "25 days" in chat["choices"][0]["message"]["content"]
        assert "reranker is unavailable" in chat["kb"]["notice"]


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="make train-reranker"):
        CrossEncoderReranker(tmp_path / "nothing-here").rerank("q", _hits())


def test_trained_model_records_how_it_was_made(trained_reranker: Path) -> None:
    info = json.loads((trained_reranker / "training.json").read_text())
    assert info["pairs"] == 100 and info["positives"] == 20 and info["epochs"] == 2
    assert not trained_reranker.with_name("model.new").exists()


def test_a_keyed_rerank_endpoint_is_reached_with_the_configured_key(
    trained_reranker: Path, kb_index: Path, tmp_path: Path
) -> None:
    from serving.access.keys import KeyStore

    _, key = KeyStore(tmp_path / "auth.sqlite").create("reranking-host", frozenset())
    retrieval = {"rerank": "cross-encoder", "rerank_model": str(trained_reranker), "rerank_top_n": TOP_N}
    keyed = {"auth": {"keys_db": str(tmp_path / "auth.sqlite")}, "retrieval": retrieval}
    with start_app(kb_index, tmp_path, **keyed, **EXTRACTIVE) as host:
        url = f"{host.url}/v1/rerank"
        with pytest.raises(ModelUnavailable, match="KB_RETRIEVAL__RERANK_API_KEY"):
            HttpReranker(url).rerank("expense approval", _hits())  # no key: refused, and the error says which
        ranked = HttpReranker(url, api_key=key).rerank("expense approval", _hits())
        assert len(ranked) == len(PASSAGES)
        # the retriever of another app builds its HTTP reranker with retrieval.rerank_api_key
        client = {"rerank": "http", "rerank_url": url, "rerank_api_key": key}
        with start_app(kb_index, tmp_path / "client", retrieval=client, **EXTRACTIVE) as app:
            r = httpx.post(f"{app.url}/v1/retrieve", json={"query": "expense approval"}, timeout=60)
    assert r.status_code == 200 and r.json()["hits"]
    assert not any("rerank" in w for w in r.json()["warnings"]), r.json()["warnings"]


def test_the_same_pairs_train_the_same_model(tmp_path: Path) -> None:
    """Seeded end to end (the classification head is initialised at random before training starts)."""
    from sentence_transformers import CrossEncoder

    from eval.training.train_reranker import fit

    pairs = [(q, text, 1.0 if key == gold else 0.0) for q, gold in TRAIN[:2] for key, text in PASSAGES.items()]
    scores = []
    for run in ("a", "b"):
        out = tmp_path / run / "model"
        fit(pairs * 2, out, epochs=1, max_length=32, learning_rate=2e-4, say=lambda _m: None)
        model = CrossEncoder(str(out), device="cpu")
        scores.append(model.predict([(TRAIN[0][0], text) for text in PASSAGES.values()]).tolist())
    assert scores[0] == scores[1]

"""The real implementations of each role against the contracts their fakes also keep (tests/contracts.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from configs.settings import IndexSettings, LLMSettings
from retrieval.store import ChromaStore
from serving.llm.llamacpp import LlamaCppChatModel
from serving.llm.openai_compatible import OpenAIChatModel
from tests.conftest import TEST_MODELS, precision_verdict
from tests.contracts import ChatModelContract, EmbedderContract, StoreContract

pytestmark = pytest.mark.integration


class TestSentenceTransformerEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, embedder: Any) -> Any:  # the session's bundled all-MiniLM-L6-v2 (tests/conftest.py)
        return embedder


@pytest.fixture(scope="module")
def onnx_int8_embedder() -> Any:
    """The bundled model in ONNX Runtime's int8 (built into the tests' model folder once per machine)."""
    from configs.settings import EmbeddingSettings
    from retrieval.embeddings import build_embedder

    emb = build_embedder(EmbeddingSettings(precision="onnx-int8"), TEST_MODELS)
    emb.embed_query("warm up")
    return emb


class TestOnnxInt8Embedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, onnx_int8_embedder: Any) -> Any:
        return onnx_int8_embedder

    def test_fingerprint_differs_from_every_other_arithmetic(self, embedder: Any) -> None:
        """An index is never mixed from two arithmetics whose vectors differ: onnx-int8 has its own chunk ids."""
        from configs.settings import EmbeddingSettings
        from retrieval.embeddings import build_embedder

        others = {build_embedder(EmbeddingSettings(precision=p), TEST_MODELS).fingerprint() for p in ("fp32", "int8")}
        assert embedder.precision == "onnx-int8" and embedder.fingerprint() not in others and len(others) == 2


class TestChromaEmbedded(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Any:
        return ChromaStore(IndexSettings(collection="contract"), tmp_path)


class TestChromaServer(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path, chroma_server: str) -> Any:
        return ChromaStore(IndexSettings(collection="contract", chroma_url=chroma_server), tmp_path)


class TestLlamaCppInProcess(ChatModelContract):
    @pytest.fixture
    def model(self) -> Any:
        return LlamaCppChatModel(LLMSettings(backend="local"))


class TestOpenAICompatibleServer(ChatModelContract):
    @pytest.fixture
    def model(self, llama_server: str) -> Any:
        return OpenAIChatModel(LLMSettings(backend="openai", base_url=llama_server, max_retries=0))


def test_auto_precision_is_measured_once_per_cpu_and_remembered(embedder: Any, tmp_path: Path) -> None:
    """auto times fp32, bf16 (where native) and int8 on this CPU and keeps the fastest that agrees with fp32 (a
    flag does not decide: int8 is not assumed slower on AVX2-only CPUs, nor bf16 faster where it is native)."""
    from retrieval import openvino_int8
    from retrieval.embeddings import measured_precision, resolve_model_path

    model_dir = resolve_model_path("bundled")
    model = embedder._load()
    openvino_int8.Int8Encoder(model, model_dir, TEST_MODELS, None)  # built once per machine, unless it is there
    for built in TEST_MODELS.glob(f"{model_dir.name}-int8-*"):
        shutil.copytree(built, tmp_path / built.name)  # reuse the int8 model built for the suite
    candidates = ["fp32", "bf16", "int8"]
    choice = measured_precision(model, model_dir, tmp_path, None, 32, candidates)
    record = json.loads((tmp_path / "precision.json").read_text())
    entry = record[f"{openvino_int8.cpu_signature()}|{model_dir}|fp32,bf16,int8"]
    seconds, agreement = entry["seconds"], entry["agreement"]
    assert entry["choice"] == choice and set(seconds) == set(candidates)
    assert agreement["bf16"] > 0.999 and agreement["int8"] > 0.99
    fit = [n for n in seconds if n == "fp32" or seconds["fp32"] / seconds[n] >= 1.2]
    assert choice == min(fit, key=lambda n: seconds[n])
    entry["choice"] = "bf16" if choice != "bf16" else "int8"  # a remembered verdict is used, not re-measured
    (tmp_path / "precision.json").write_text(json.dumps(record))
    assert measured_precision(model, model_dir, tmp_path, None, 32, candidates) == entry["choice"]


def test_an_int8_model_is_built_only_where_int8_products_are_measurably_faster(embedder: Any, tmp_path: Path) -> None:
    """On a CPU without VNNI (AVX2 only) int8 products run no faster than fp32: a two-second probe of them saves
    building the int8 model (about a minute) that the full measurement would then throw away."""
    from retrieval import openvino_int8
    from retrieval.embeddings import MIN_SPEEDUP, measured_precision, resolve_model_path

    model_dir = resolve_model_path("bundled")
    choice = measured_precision(embedder._load(), model_dir, tmp_path, None, 32, ["fp32", "int8"])
    entry = precision_verdict(tmp_path, model_dir, ["fp32", "int8"])
    probe = entry["int8_probe"]
    assert 0.2 < probe < 20 and entry["choice"] == choice
    assert openvino_int8.built(model_dir, tmp_path) == (probe >= MIN_SPEEDUP), entry
    if probe < MIN_SPEEDUP:
        assert choice == "fp32" and entry["seconds"] == {}

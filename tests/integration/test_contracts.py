"""The real implementations of each role against the contracts their fakes also keep (tests/contracts.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from configs.settings import IndexSettings, LLMSettings
from retrieval.store import ChromaStore
from serving.llm import LlamaCppChatModel, OpenAIChatModel
from tests.contracts import ChatModelContract, EmbedderContract, StoreContract

pytestmark = pytest.mark.integration


class TestSentenceTransformerEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self, embedder: Any) -> Any:  # the session's bundled all-MiniLM-L6-v2 (tests/conftest.py)
        return embedder


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


def test_precision_on_a_cpu_without_vnni_is_measured_once_and_remembered(embedder: Any, tmp_path: Path) -> None:
    """Where neither native bf16 nor VNNI decides, int8 and fp32 are timed on this CPU and the faster one that
    agrees with fp32 is kept (int8 is not assumed slower on AVX2-only CPUs)."""
    from retrieval import openvino_int8
    from retrieval.embeddings import measured_precision, resolve_model_path

    model_dir = resolve_model_path("bundled")
    for built in (Path(__file__).resolve().parents[2] / "data" / "models").glob(
        f"{model_dir.name}-int8-*"
    ):  # reuse the int8 model built for the suite
        shutil.copytree(built, tmp_path / built.name)
    model = embedder._load()
    choice = measured_precision(model, model_dir, tmp_path, None, 32)
    record = json.loads((tmp_path / "precision.json").read_text())
    entry = record[f"{openvino_int8.cpu_signature()}|{model_dir}"]
    assert entry["choice"] == choice and entry["agreement"] > 0.99
    assert (choice == "int8") == (entry["fp32_s"] / entry["int8_s"] >= 1.2)
    entry["choice"] = "fp32" if choice == "int8" else "int8"  # a remembered verdict is used, not re-measured
    (tmp_path / "precision.json").write_text(json.dumps(record))
    assert measured_precision(model, model_dir, tmp_path, None, 32) == entry["choice"]

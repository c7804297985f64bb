"""The real implementations of each role against the contracts their fakes also keep (tests/contracts.py)."""

from __future__ import annotations

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

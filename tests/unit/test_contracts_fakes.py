"""The fakes shipped beside the real implementations keep the same contracts (tests/contracts.py); the real
implementations run the same classes in tests/integration/test_contracts.py."""

from __future__ import annotations

from typing import Any

import pytest

from retrieval.embeddings import FakeEmbedder
from retrieval.rerank import OverlapReranker
from retrieval.store import InMemoryStore
from serving.llm.fake import ScriptedChatModel
from tests.contracts import ChatModelContract, EmbedderContract, RerankerContract, StoreContract


class TestFakeEmbedder(EmbedderContract):
    @pytest.fixture
    def embedder(self) -> Any:
        return FakeEmbedder()


class TestInMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Any:
        return InMemoryStore()


class TestScriptedChatModel(ChatModelContract):
    @pytest.fixture
    def model(self) -> Any:
        return ScriptedChatModel("Blue, on a clear day.")


class TestOverlapReranker(RerankerContract):
    @pytest.fixture
    def reranker(self) -> Any:
        return OverlapReranker()

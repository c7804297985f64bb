"""The chat-model backends against real models: llama.cpp's OpenAI-compatible server and llama.cpp in-process."""

from __future__ import annotations

import pytest

from configs.errors import ModelUnavailable
from configs.settings import LLMSettings
from serving.llm.llamacpp import LlamaCppChatModel
from serving.llm.openai_compatible import OpenAIChatModel
from serving.llm.protocol import complete

pytestmark = pytest.mark.integration
ASK = [{"role": "user", "content": "Name one colour of the sky. Answer in one word."}]


def test_openai_backend_streams_from_a_real_server(llama_server: str) -> None:
    model = OpenAIChatModel(LLMSettings(backend="openai", base_url=llama_server, max_retries=0))
    pieces = list(model.stream(ASK, max_tokens=24, temperature=0.0))
    assert len(pieces) > 1  # it really streamed, token by token
    assert "".join(pieces).strip()
    assert model.name.startswith("openai:smollm2@")  # the model name was discovered from /v1/models


def test_openai_backend_non_streaming_helper(llama_server: str) -> None:
    model = OpenAIChatModel(LLMSettings(backend="openai", base_url=llama_server, model="smollm2", max_retries=0))
    assert complete(model, ASK, max_tokens=16).strip()


def test_server_down_is_a_clear_error() -> None:
    model = OpenAIChatModel(
        LLMSettings(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", max_retries=1, timeout_s=2)
    )
    with pytest.raises(ModelUnavailable, match=r"cannot reach the LLM server at http://127.0.0.1:9/v1.*llm.base_url"):
        list(model.stream(ASK, 8, 0.0))


def test_local_backend_runs_the_bundled_gguf_in_process() -> None:
    model = LlamaCppChatModel(LLMSettings(backend="local"))
    text = complete(model, ASK, max_tokens=16)
    assert text.strip()
    assert model.name == "local:SmolLM2-135M-Instruct.Q4_1.gguf"


def test_missing_gguf_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = LlamaCppChatModel(LLMSettings(backend="local", gguf=str(tmp_path / "nope.gguf")))
    with pytest.raises(ModelUnavailable, match="GGUF file .* not found"):
        list(model.stream(ASK, 8, 0.0))

"""A chat model behind any OpenAI-compatible server: vLLM (production), llama.cpp's server, Ollama."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from configs.errors import ModelUnavailable
from configs.settings import LLMSettings
from serving.llm.protocol import Message, TokenUsage, ToolCall, ToolReply


def _estimate_tokens(messages: Sequence[Message]) -> int:
    """About four characters a token for English text: used only where a server reports no usage."""
    return sum(len(m.get("content") or "") for m in messages) // 4 + 4 * len(messages)


class OpenAIChatModel:
    """Any OpenAI-compatible server: vLLM (production), llama.cpp's server, Ollama. Retries with backoff."""

    def __init__(self, settings: LLMSettings) -> None:
        self._settings = settings
        self._client: Any = None
        self._model: str | None = settings.model

    @property
    def name(self) -> str:
        return f"openai:{self._model or '?'}@{self._settings.base_url}"

    def _connect(self) -> Any:
        if self._client is None:
            from openai import OpenAI

            key = self._settings.api_key.get_secret_value() if self._settings.api_key else "not-needed"
            self._client = OpenAI(
                base_url=self._settings.base_url,
                api_key=key,
                timeout=self._settings.timeout_s,
                max_retries=self._settings.max_retries,  # the client backs off exponentially between tries
            )
        return self._client

    def _resolve_model(self) -> str:
        if self._model:
            return self._model
        try:
            models = [m.id for m in self._connect().models.list()]
        except Exception as exc:
            raise self._translate(exc) from exc
        if not models:
            raise ModelUnavailable(f"the LLM server at {self._settings.base_url} serves no model; start it with one")
        self._model = models[0]
        return self._model

    def _translate(self, exc: Exception) -> ModelUnavailable:
        import openai

        url = self._settings.base_url
        if isinstance(exc, openai.APIConnectionError | openai.APITimeoutError):
            return ModelUnavailable(
                f"cannot reach the LLM server at {url} ({type(exc).__name__}); start it (e.g. `make serve-llm`) "
                "or set llm.base_url"
            )
        if isinstance(exc, openai.NotFoundError):
            try:
                available = ", ".join(m.id for m in self._connect().models.list()) or "none"
            except Exception:  # the listing is only a hint for the message
                available = "unknown"
            return ModelUnavailable(
                f"model {self._model!r} is not served at {url} (available: {available}); fix llm.model"
            )
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelUnavailable(f"the LLM server at {url} refused the API key; set KB_LLM__API_KEY")
        return ModelUnavailable(f"the LLM server at {url} failed: {type(exc).__name__}: {str(exc)[:200]}")

    def stream(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: TokenUsage | None = None
    ) -> Iterator[str]:
        model = self._resolve_model()
        pieces, reported = 0, False
        try:
            response = self._connect().chat.completions.create(
                model=model,
                messages=list(messages),
                max_tokens=max_tokens,
                temperature=temperature,
                stream=True,
                stream_options={"include_usage": True},  # vLLM reports usage in a last chunk; others ignore it
            )
            for event in response:
                if getattr(event, "usage", None) is not None and usage is not None:
                    usage.add(TokenUsage(event.usage.prompt_tokens, event.usage.completion_tokens))
                    reported = True
                if event.choices and event.choices[0].delta and event.choices[0].delta.content:
                    pieces += 1
                    yield event.choices[0].delta.content
        except ModelUnavailable:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc
        finally:
            if usage is not None and not reported:  # one streamed piece is one token on llama.cpp and vLLM
                usage.add(TokenUsage(_estimate_tokens(messages), pieces, estimated=True))

    def tool_round(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any],
        max_tokens: int,
        usage: TokenUsage | None = None,
    ) -> ToolReply:
        """One turn with the tools offered (never an empty list: some servers reject it). vLLM needs
        --enable-auto-tool-choice and a --tool-call-parser for "auto" (`make serve-llm` passes them); llama.cpp's
        server needs a function-calling chat format (chatml-function-calling)."""
        model = self._resolve_model()
        try:
            response = self._connect().chat.completions.create(
                model=model,
                messages=list(messages),
                tools=list(tools),
                tool_choice=tool_choice,
                max_tokens=max_tokens,
                temperature=0.0,
            )
        except Exception as exc:
            raise self._translate(exc) from exc
        if usage is not None and response.usage is not None:
            usage.add(TokenUsage(response.usage.prompt_tokens, response.usage.completion_tokens))
        message = response.choices[0].message
        calls = tuple(
            ToolCall(c.id or f"call_{n}", c.function.name, c.function.arguments or "{}")
            for n, c in enumerate(message.tool_calls or [])
            if getattr(c, "function", None) is not None
        )
        return ToolReply(message.content or "", calls)

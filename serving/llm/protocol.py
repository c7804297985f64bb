"""The ChatModel role: what the answer path asks of a chat model (stream a reply; a ToolChatModel can also be offered
tools for one turn), the messages, tool calls and token usage it passes, and the two calls made through it.
Backends: serving/llm/openai_compatible.py and serving/llm/llamacpp.py; the fake: serving/llm/fake.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard, runtime_checkable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}


@dataclass
class TokenUsage:
    """Tokens one call used; a backend fills it as it streams (estimated: the server did not report them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: bool = False

    def add(self, other: TokenUsage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.estimated = self.estimated or other.estimated


class ChatModel(Protocol):
    """Streams the assistant's reply to a list of chat messages."""

    @property
    def name(self) -> str: ...

    def stream(
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: TokenUsage | None = None
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
        usage: TokenUsage | None = None,
    ) -> ToolReply: ...


def supports_tools(model: ChatModel | None) -> TypeGuard[ToolChatModel]:
    """Whether the model can be offered tools (a ToolChatModel)."""
    return isinstance(model, ToolChatModel)


def complete(
    model: ChatModel,
    messages: Sequence[Message],
    max_tokens: int,
    temperature: float = 0.0,
    usage: TokenUsage | None = None,
) -> str:
    """The whole reply at once."""
    return "".join(model.stream(messages, max_tokens, temperature, usage))


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
    usage: TokenUsage | None = None,
) -> ToolReply | None:
    """A model turn with tools, for models that support them (None otherwise)."""
    if not supports_tools(model) or not tools:
        return None
    return model.tool_round(messages, tools, tool_choice, max_tokens, usage)

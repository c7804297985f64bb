"""The ChatModel fakes: a fixed reply (and, for actions, a fixed tool call), for tests and demos of everything
around the model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from serving.llm.protocol import Message, TokenUsage, ToolReply


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
        self, messages: Sequence[Message], max_tokens: int, temperature: float, usage: TokenUsage | None = None
    ) -> Iterator[str]:
        self.calls.append(list(messages))
        self.last_options = {"max_tokens": max_tokens, "temperature": temperature}
        text = self._reply(messages) if callable(self._reply) else self._reply
        if usage is not None:  # one word, one token
            usage.add(TokenUsage(sum(len((m.get("content") or "").split()) for m in messages), len(text.split())))
        for i in range(0, len(text), self._piece):
            yield text[i : i + self._piece]


class ScriptedToolChatModel(ScriptedChatModel):
    """The scripted model that can also be offered tools (a ToolChatModel): each tool turn is recorded with the
    other calls and answered by `turn` from the messages it was sent."""

    def __init__(self, reply: str, turn: Callable[[Sequence[Message]], ToolReply]) -> None:
        super().__init__(reply)
        self._turn = turn

    def tool_round(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]],
        tool_choice: str | dict[str, Any],
        max_tokens: int,
        usage: TokenUsage | None = None,
    ) -> ToolReply:
        self.calls.append(list(messages))
        return self._turn(messages)

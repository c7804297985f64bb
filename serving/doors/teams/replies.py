"""What the Teams door remembers between activities, in memory and bounded: each conversation's recent questions and
answers (its follow-ups' history) and which answer each of the bot's replies carried (for feedback on it); and how
an answer reads as a Teams message."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from retrieval.filters import Scope
from serving.answer.citations import markdown_text, source_link
from serving.answer.results import Answer
from serving.llm.protocol import Message

MAX_CONVERSATIONS = 2_000  # conversations whose recent turns are kept (least recently active forgotten first)
MAX_TURNS = 6  # question/answer pairs kept per conversation (the answer chain reads the last few)
MAX_REPLIES = 5_000  # replies that can still be rated

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """A thread-safe mapping that forgets its least recently used entries beyond `size`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass(frozen=True)
class Turn:
    """One question and its answer, and the collections the answer could draw on."""

    question: str
    answer: str
    scope: Scope


def _within(inner: Scope, outer: Scope) -> bool:
    if outer.collections is None:
        return True
    return inner.collections is not None and inner.collections <= outer.collections


class Conversations:
    """Each conversation's recent turns, given back as the history of its next question."""

    def __init__(self) -> None:
        self._turns: Bounded[str, deque[Turn]] = Bounded(MAX_CONVERSATIONS)

    def history(self, conversation: str, scope: Scope) -> list[Message]:
        """The earlier turns as chat messages; only those answered within `scope`, so that a turn answered for a
        wider audience never feeds what may be read now (say, after someone joined a group chat)."""
        turns = self._turns.get(conversation) or deque()
        messages: list[Message] = []
        for t in list(turns):
            if _within(t.scope, scope):
                messages += [{"role": "user", "content": t.question}, {"role": "assistant", "content": t.answer}]
        return messages

    def add(self, conversation: str, turn: Turn) -> None:
        turns = self._turns.get(conversation)
        if turns is None:
            turns = deque(maxlen=MAX_TURNS)
            self._turns.put(conversation, turns)
        turns.append(turn)


@dataclass(frozen=True)
class Sent:
    """An answer the bot posted: the conversation it was posted in (only there may it be rated), the answer and
    its audit record."""

    conversation: str
    answer: Answer
    audit_seq: int | None


_MENTION = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)


def question_text(text: str | None, bot_name: str | None) -> str:
    """The question as typed: a mention of the bot the SDK left (one without a mention entity) removed, and
    other mentions kept as the plain names they are."""
    bot = (bot_name or "").strip().lower()
    cleaned = _MENTION.sub(lambda m: "" if m.group(1).strip().lower() == bot else m.group(1), text or "")
    return " ".join(cleaned.split())


def render(answer: Answer, public_url: str | None) -> str:
    """The answer as Teams markdown: its text, a notice if any, then its sources, numbered as its [n] markers
    (linked to the file when the server's public address is known, auth.public_url)."""
    cited = [c for c in answer.citations if c.index in answer.cited] or list(answer.citations)
    parts = [answer.text.strip()]
    if answer.notice:
        parts.append(f"_{answer.notice}_")
    if cited:
        lines = []
        for c in cited:
            name = markdown_text(c.title or c.relpath)
            if public_url or c.source.startswith(("http://", "https://")):
                name = f"[{name}]({source_link(c.source, public_url or '')})"
            where = markdown_text(f"{c.relpath}, {c.where}" if c.where else c.relpath)
            lines.append(f"- [{c.index}] {name} ({where})")
        parts.append("**Sources**\n\n" + "\n".join(lines))
    return "\n\n".join(p for p in parts if p)

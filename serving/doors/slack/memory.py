"""What the bot remembers between events, in memory and bounded (a restart forgets it): the events and messages
already answered, each thread's conversation, and the answers a thumbs reaction can rate."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from serving.access.identity import Identity
from serving.answer.results import Answer
from serving.llm.protocol import Message

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_TURNS = 10  # question/answer pairs of a thread given to the answer path as history


class Bounded(Generic[K, V]):
    """A map that forgets its least recently used entries past `size`, and entries older than `ttl_s` (if set)."""

    def __init__(self, size: int, ttl_s: float | None = None) -> None:
        self.size = size
        self.ttl_s = ttl_s
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if self.ttl_s is not None and time.monotonic() - item[0] > self.ttl_s:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: K, value: V) -> None:
        self._items[key] = (time.monotonic(), value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


class Seen:
    """Keys already seen, the most recent `size` of them: Slack's retries and duplicate events are answered once."""

    def __init__(self, size: int = 10_000) -> None:
        self._keys: Bounded[Hashable, bool] = Bounded(size)

    def first(self, key: Hashable) -> bool:
        """True the first time a key is seen (then remembered)."""
        if self._keys.get(key):
            return False
        self._keys.put(key, True)
        return True


class Threads:
    """Each thread's earlier questions and answers, so a follow-up in the thread is one conversation."""

    def __init__(self, size: int = 2_000) -> None:
        self._turns: Bounded[tuple[str, ...], list[Message]] = Bounded(size)

    def history(self, key: tuple[str, ...]) -> list[Message]:
        return list(self._turns.get(key) or [])

    def add(self, key: tuple[str, ...], question: str, answer: str) -> None:
        turns = self.history(key) + [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        self._turns.put(key, turns[-2 * MAX_TURNS :])


@dataclass
class Given:
    """An answer the bot posted: whom it answered and its audit record, for feedback by thumbs reaction."""

    asker: str  # the Slack user id of the person who asked
    identity: Identity
    answer: Answer
    audit_seq: int | None
    ratings: set[int] = field(default_factory=set)  # ratings already recorded (one of each)

"""Rate limits per identity (per client address when anonymous): requests per minute, answers per day, and
answers in progress at once, so one busy or slow client cannot take the server from everyone else.

Counting is the `limits` library's moving window over its storage (`limits.storage_uri`: in memory for one
process, Redis or Memcached for several).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from limits import RateLimitItemPerDay, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from configs.errors import ConfigError
from configs.settings import LimitsSettings


@dataclass
class OverLimit(Exception):
    """A request over a limit: 429 with Retry-After."""

    message: str
    retry_after: int

    def __str__(self) -> str:
        return self.message


class Quotas:
    def __init__(self, settings: LimitsSettings) -> None:
        self.settings = settings
        try:
            storage = storage_from_string(settings.storage_uri)
        except Exception as exc:  # the library raises several kinds for a bad or unreachable URI
            raise ConfigError(f"limits.storage_uri {settings.storage_uri!r} cannot be used ({exc})") from exc
        self._limiter = MovingWindowRateLimiter(storage)
        self._per_minute = (
            RateLimitItemPerMinute(settings.requests_per_minute) if settings.requests_per_minute else None
        )
        self._per_day = RateLimitItemPerDay(settings.answers_per_day) if settings.answers_per_day else None
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    def request(self, key: str) -> None:
        """Counts one request; raises OverLimit past limits.requests_per_minute."""
        if self._per_minute is not None and not self._limiter.hit(self._per_minute, "req", key):
            raise OverLimit(
                f"too many requests: the limit is {self.settings.requests_per_minute} a minute; try again later",
                self._window(self._per_minute, "req", key),
            )

    def _window(self, item: object, prefix: str, key: str) -> int:
        stats = self._limiter.get_window_stats(item, prefix, key)  # type: ignore[arg-type]
        return max(1, math.ceil(stats.reset_time - time.time()))

    def start_answer(self, key: str) -> Callable[[], None]:
        """Takes one of the identity's concurrent-answer slots and counts an answer against the daily limit;
        returns the function that gives the slot back (call it once the answer is finished or abandoned)."""
        limit = self.settings.concurrent_answers
        with self._lock:
            if limit and self._running.get(key, 0) >= limit:
                raise OverLimit(f"{limit} answers are already in progress for you; wait for them to finish", 2)
            self._running[key] = self._running.get(key, 0) + 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._running[key] -= 1
                    if not self._running[key]:
                        del self._running[key]

        if self._per_day is not None and not self._limiter.hit(self._per_day, "answers", key):
            release()
            raise OverLimit(
                f"the daily limit of {self.settings.answers_per_day} answers is reached; try again tomorrow",
                self._window(self._per_day, "answers", key),
            )
        return release

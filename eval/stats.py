"""Latency percentiles, computed one way for every benchmark and metric."""

from __future__ import annotations

from collections.abc import Sequence


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank, rounded to 0.1 (a latency that was actually measured, not interpolated)."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))], 1)

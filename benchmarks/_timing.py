"""Timing shared by the benchmarks: the best of several passes, the least disturbed by other
processes on a shared machine (ratios are then taken between figures measured side by side)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def per_call_s(fn: Callable[[Any], Any], args: list[Any], repeats: int = 5) -> float:
    """Best over ``repeats`` passes of the mean time of one ``fn(arg)`` across ``args``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for a in args:
            fn(a)
        best = min(best, (time.perf_counter() - start) / len(args))
    return best

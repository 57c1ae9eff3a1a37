"""Pure-Python work over many items that hands the event loop back every few milliseconds."""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: Longest stretch of work between two yields to the loop, in seconds.
BUDGET = 0.003


async def map_yielding(fn: Callable[[T], R], items: Iterable[T], budget: float = BUDGET) -> list[R]:
    """``[fn(item) for item in items]``, yielding to the loop whenever ``budget`` seconds went by.

    The results and their order are those of the list comprehension; only the
    loop gets to run other callbacks in between.
    """
    results: list[R] = []
    deadline = time.perf_counter() + budget
    for item in items:
        results.append(fn(item))
        if time.perf_counter() >= deadline:
            await asyncio.sleep(0)
            deadline = time.perf_counter() + budget
    return results

"""map_yielding: the list comprehension's results, with the loop handed back in between."""

from __future__ import annotations

import asyncio
import time

from theset_daemon.runtime.yielding import map_yielding


async def test_results_are_those_of_the_list_comprehension() -> None:
    items = list(range(1000))
    assert await map_yielding(lambda n: n * n, items) == [n * n for n in items]
    assert await map_yielding(str, []) == []


async def test_other_tasks_run_between_items_of_a_long_map() -> None:
    seen_by_item: list[int] = []
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    def busy(item: int) -> int:
        until = time.perf_counter() + 0.002  # longer than the budget every two items
        while time.perf_counter() < until:
            pass
        seen_by_item.append(ticks)
        return item

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    try:
        assert await map_yielding(busy, range(10), budget=0.003) == list(range(10))
    finally:
        task.cancel()
    assert seen_by_item[-1] > seen_by_item[0], "the ticker never ran while the map went on"

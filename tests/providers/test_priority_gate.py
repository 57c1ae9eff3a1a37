"""The provider request line: the most urgent waiter goes next, FIFO within a level."""

import asyncio

from theset_daemon.providers.priority_gate import PriorityGate


async def test_waiters_enter_by_priority_then_arrival():
    gate = PriorityGate()
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(2):
            await release.wait()

    async def waiter(name: str, priority: int) -> None:
        async with gate.hold(priority):
            order.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(waiter(n, p)) for n, p in [("low-1", 3), ("normal", 2), ("low-2", 3), ("critical", 0)]]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *tasks)
    assert order == ["critical", "normal", "low-1", "low-2"]


async def test_a_cancelled_waiter_does_not_keep_the_gate():
    gate = PriorityGate()
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.hold(1):
            await release.wait()

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    async def impatient() -> None:
        async with gate.hold(0):
            raise AssertionError("a cancelled waiter must never enter")

    doomed = asyncio.create_task(impatient())
    await asyncio.sleep(0)
    doomed.cancel()
    release.set()
    await first
    async with asyncio.timeout(1):
        async with gate.hold(4):
            pass

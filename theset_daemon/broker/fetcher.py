"""The fetch loop: one per daemon, covering all its queues, blocking instead of polling.

Each round reserves free slots (and rate-limit slots) per queue, then one Lua
call applies pending finish records, promotes due delayed jobs and pops up to
the reserved count from each queue's waiting ZSET (highest priority first).
When a round brings nothing, the loop parks in one ``BZPOPMIN`` over the
markers of the queues with free slots plus this daemon's private wake-up key;
an enqueue ``ZADD``s its queue's marker, so pick-up costs a round trip or two.
The block ends at the next delayed job's due time or rate-limit slot (a local
timer pushes this daemon's wake-up key: Redis itself checks block timeouts only
on its ~100 ms clock tick), or at ``idle_timeout_s``. With no free slot at all the
loop waits on an in-process event, never on Redis.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Callable

from .broker import TheSetBroker
from .lanes import Lane
from .metrics import JOBS_LOST
from .records import Recorder
from .resp import AsyncResp

logger = logging.getLogger(__name__)

#: Seconds between fetch attempts while Redis is unreachable.
ERROR_BACKOFF_S = 0.5

#: Seconds a blocking call may overrun its own timeout before its connection is dropped.
BLOCK_GRACE_S = 5.0

#: Extra seconds on a block whose end a local timer keeps (the Redis timeout is only a backstop).
PRECISE_BACKSTOP_S = 0.25


class Fetcher:
    """Fills the lanes of one worker from Redis.

    Parameters:
      broker: the broker.
      lanes: the worker's lanes by queue name.
      recorder: pending finish records (carried by each fetch).
      dispatch: called with (lane, reply fields) for each fetched job.
      idle_timeout_s: longest block on Redis when nothing is due.
    """

    def __init__(
        self,
        broker: TheSetBroker,
        lanes: dict[str, Lane],
        recorder: Recorder,
        dispatch: Callable[[Lane, list], None],
        *,
        idle_timeout_s: float,
    ) -> None:
        self.broker = broker
        self.lanes = lanes
        self.recorder = recorder
        self.dispatch = dispatch
        self.idle_timeout_s = idle_timeout_s
        self.wake_key = broker.keys.host_wake(broker.host_id)
        self.fetching = False
        self.paused = False
        self.loop_thread = threading.get_ident()
        self.capacity = asyncio.Event()
        self.blocked_on: frozenset[str] | None = None
        self._next_due_at: float | None = None
        self._by_marker = {lane.marker.encode(): lane for lane in lanes.values()}
        # its own connection, unbounded by the watchdog: it blocks, and _bzpopmin bounds each block
        self._blocker = AsyncResp(broker.target, name=broker.client_name, timeout_s=None)
        self._block_task: asyncio.Task | None = None
        self._wakes: set[asyncio.Task] = set()
        self._task: asyncio.Task | None = None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self.fetching = True
        self._task = asyncio.get_running_loop().create_task(self._run(), name="theset-fetcher")
        self._connect_blocker_soon()

    def _connect_blocker_soon(self) -> None:
        """Open the blocking connection in the background: a first park (the first queue declared
        after start, a lane added) should not also pay for a connect and its handshake."""
        self._wake_task(self._connect_quietly(self._blocker))

    @staticmethod
    async def _connect_quietly(blocker: AsyncResp) -> None:
        try:
            await blocker.connect()
        except Exception:  # the block connects (and reports) anyway
            logger.debug("could not open the blocking connection ahead of use", exc_info=True)

    def add_lane(self, lane: Lane) -> None:
        """Serve one more queue (the lane is already in ``lanes``); wakes a parked loop."""
        self.lanes[lane.name] = lane
        self._by_marker[lane.marker.encode()] = lane
        self._interrupt_block()

    def pause(self) -> None:
        """Fetch nothing until :meth:`resume` (jobs already fetched still run)."""
        self.paused = True
        self._interrupt_block()

    def resume(self) -> None:
        self.paused = False
        self.capacity.set()

    def _interrupt_block(self) -> None:
        """End a parked BZPOPMIN now; its connection is dropped (Redis would keep it blocked)."""
        self.capacity.set()
        if self._block_task is not None:
            self._block_task.cancel()
            old, self._blocker = self._blocker, AsyncResp(self.broker.target, name=self.broker.client_name, timeout_s=None)
            self._wake_task(old.close())
            self._connect_blocker_soon()

    def stop(self) -> None:
        """Stop fetching now (sync, idempotent); a fetch in flight still lands and is dispatched."""
        self.fetching = False
        self.capacity.set()
        if self._block_task is not None:
            self._block_task.cancel()

    async def wait_stopped(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        await self._blocker.close()

    def slot_freed(self, lane: Lane) -> None:
        """A slot of ``lane`` became free: wake the loop if it cannot see this by itself."""
        if lane.free != 1:
            return
        self.capacity.set()
        blocked = self.blocked_on
        if blocked is not None and lane.name not in blocked:
            self.blocked_on = None
            self._wake_self_soon()

    def _wake_self_soon(self) -> None:
        self._wake_task(self._wake_self())

    def _wake_task(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._wakes.add(task)
        task.add_done_callback(self._wakes.discard)

    async def _wake_self(self) -> None:
        try:
            await self.broker.aredis.zadd(self.wake_key, {"1": 0})
        except Exception:  # the idle timeout wakes the loop anyway
            logger.debug("could not wake the fetch loop", exc_info=True)

    async def _run(self) -> None:
        while self.fetching:
            try:
                if self.paused:
                    self.capacity.clear()
                    await self.capacity.wait()
                    continue
                if await self._round():
                    continue
                if not any(lane.free > 0 for lane in self.lanes.values()):
                    await self._wait_capacity()
                else:
                    await self._block()
            except asyncio.CancelledError:
                if self.fetching and not self._woken():
                    raise
            except Exception:
                logger.warning("fetching failed; retrying in %.1fs", ERROR_BACKOFF_S, exc_info=True)
                await asyncio.sleep(ERROR_BACKOFF_S)

    async def _round(self) -> int:
        """One fetch call for every lane with a free slot; returns the number of jobs fetched."""
        plan: list[tuple[Lane, int]] = []
        records: list[str] = []
        try:
            # Slots are taken inside the try: a lane's reserve() asks Redis (its rate
            # limit) and may raise, and the slots taken so far must come back then.
            for lane in self.lanes.values():
                if lane.free > 0:
                    count = await lane.reserve()
                    lane.free -= count
                    plan.append((lane, count))
            if not plan:
                return 0
            records = self.recorder.take()
            args: list[object] = [len(records) // 4, *records, len(plan)]
            for lane, count in plan:
                args += (lane.name, count)
            reply = await self.broker.run_script("fetch", args)
        except BaseException:
            self.recorder.restore(records)
            for lane, count in plan:
                lane.free += count
            raise
        return self._spread(plan, reply)

    def _spread(self, plan: list[tuple[Lane, int]], reply: list) -> int:
        due_ms = reply[0]
        self._next_due_at = None if due_ms < 0 else time.monotonic() + due_ms / 1000
        i, fetched = 1, 0
        for lane, count in plan:
            remaining, paused, n = reply[i], reply[i + 1], reply[i + 2]
            i += 3
            # A paused queue has nothing to take: watch its marker (resume sets it) rather than
            # spend rate-limit slots and fetch calls on it.
            lane.maybe_waiting = remaining > 0 and not paused
            lane.free += count - n
            for _ in range(n):
                self.dispatch(lane, reply[i : i + 6])
                i += 6
            fetched += n
        if len(reply) > i:
            self._lost(reply[i:])
        return fetched

    def _woken(self) -> bool:
        """Whether a cancelled block was ours to cancel (pause, a new lane), not the task's."""
        task = asyncio.current_task()
        return task is not None and task.cancelling() == 0

    @staticmethod
    def _lost(entries: list) -> None:
        """Waiting ids whose job record was gone (evicted, deleted): logged and counted, never silent."""
        for entry in entries:
            queue, _, job_id = entry.decode().partition(":")
            JOBS_LOST.labels(queue).inc()
            logger.error("waiting job %s of queue %s had no record (evicted or deleted); dropped", job_id, queue,
                         extra={"job_id": job_id, "queue": queue})

    async def _wait_capacity(self) -> None:
        self.capacity.clear()
        if not any(lane.free > 0 for lane in self.lanes.values()) and self.fetching:
            await self.capacity.wait()

    def _block_timeout(self, lanes: list[Lane]) -> float:
        now = time.monotonic()
        timeout = self.idle_timeout_s
        if self._next_due_at is not None:
            timeout = min(timeout, self._next_due_at - now)
        for lane in lanes:
            if lane.limiter is not None and lane.maybe_waiting:
                timeout = min(timeout, lane.rate_ready_at - now)
        return timeout

    async def _bzpopmin(self, keys: list[str], timeout: float) -> list | None:
        call = self._blocker.execute(b"BZPOPMIN", *keys, round(timeout, 3))
        return await asyncio.wait_for(call, timeout + BLOCK_GRACE_S)

    async def _block(self) -> None:
        """Park in BZPOPMIN until an enqueue, a due time, a rate slot or the idle timeout."""
        free = [lane for lane in self.lanes.values() if lane.free > 0]
        timeout = self._block_timeout(free)
        if timeout < 0.002:
            await asyncio.sleep(max(timeout, 0))
            return
        watched = [lane for lane in free if lane.limiter is None or not lane.maybe_waiting]
        if self.recorder:
            await self.recorder.flush()
        if not self.fetching:  # stopped while flushing: do not park
            return
        keys = [lane.marker for lane in watched] + [self.wake_key]
        self.blocked_on = frozenset(lane.name for lane in watched)
        loop = asyncio.get_running_loop()
        timer = None
        if timeout < self.idle_timeout_s:
            # Redis checks block timeouts on its own clock tick (up to 100 ms late when idle):
            # a due time or rate slot is kept by a local timer that pushes our wake-up key.
            timer = loop.call_later(timeout, self._wake_self_soon)
            timeout += PRECISE_BACKSTOP_S
        self._block_task = loop.create_task(self._bzpopmin(keys, timeout))
        try:
            popped = await self._block_task
        except TimeoutError:
            await self._blocker.close()  # a half-open connection: start afresh
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._block_task = None
            self.blocked_on = None
        if popped:
            lane = self._by_marker.get(popped[0])
            if lane is not None:
                lane.maybe_waiting = True

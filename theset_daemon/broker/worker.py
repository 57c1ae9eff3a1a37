"""The asyncio-native worker: runs a broker's actors on the daemon's own event loop.

Per queue it keeps ``concurrency`` long-lived runner tasks reading fetched jobs
from an in-process queue (no task is created per job). An ``async def`` actor
is awaited in its runner; a plain ``def`` actor runs in a thread pool. Dramatiq
middleware hooks (``before/after_process_message``, ``after_skip_message``)
run on the loop around each job. Outcomes are written as finish records in
batches (see :mod:`.records`); retries follow :mod:`.retries`.

Shutdown is :meth:`Worker.drain`: stop fetching, hand unstarted jobs back at
once, let running ones finish within the window, then cancel the rest and hand
them back with their attempt uncounted.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from inspect import iscoroutinefunction
from typing import Any, Callable, Sequence

import orjson
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.errors import ActorNotFound, DecodeError
from dramatiq.middleware import SkipMessage

from ..logs import job_context
from ..metrics import JOB_DURATION, JOB_QUEUE_WAIT, JOBS, JOBS_IN_PROGRESS, QUEUE_SERVED
from ..queues import QueueSpec
from ..rate_limit import ClusterRateLimiter
from . import retries
from .errors import Postpone, redis_away
from .broker import TheSetBroker
from .fetcher import Fetcher
from .job import Job, _current
from .lanes import Lane
from .leases import LeaseKeeper
from .records import Recorder

logger = logging.getLogger(__name__)

#: Longest block on Redis, in seconds, when nothing is due (bounds a lost wake-up).
IDLE_TIMEOUT_S = 5.0

#: Seconds a drain waits at most for Redis to take the last job results.
RECORDS_TIMEOUT_S = 5.0

#: Milliseconds a job waits before running again after Redis failed its own calls.
REDIS_RETRY_MS = 2000


@dataclass(frozen=True)
class DrainReport:
    """What a drain did: jobs that finished in the window, jobs handed back, seconds taken."""

    finished: int
    handed_back: int
    seconds: float


@dataclass(frozen=True, slots=True)
class _ActorPlan:
    """How to call one actor, worked out once."""

    fn: Callable[..., Any]
    is_async: bool
    options: dict[str, Any]
    time_limit_s: float | None


class Worker:
    """Consumes the given queues of a broker on the running event loop.

    Parameters:
      broker: the broker whose actors run here.
      queues: the queues to serve (rows of the queue table, or names known to the
        broker); default every queue of the broker's table.
      idle_timeout_s: longest block on Redis while idle.
    """

    def __init__(
        self,
        broker: TheSetBroker,
        *,
        queues: Sequence[QueueSpec | str] | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
    ) -> None:
        self.broker = broker
        specs = [broker.specs[q] if isinstance(q, str) else q for q in (queues or list(broker.specs.values()))]
        self.specs = {spec.name: spec for spec in specs}
        self.idle_timeout_s = idle_timeout_s
        self._held: dict[str, Job] = {}
        self._plans: dict[str, _ActorPlan] = {}
        self._metrics: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._running = 0
        self._finished = 0
        self._handed_back = 0
        self._idle = asyncio.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start fetching and running jobs on the current loop."""
        broker = self.broker
        self.recorder = Recorder(self._send_records)
        self.lanes = {name: self._lane(spec) for name, spec in self.specs.items()}
        self.fetcher = Fetcher(broker, self.lanes, self.recorder, self._dispatch, idle_timeout_s=self.idle_timeout_s)
        self.leases = LeaseKeeper(broker, list(self.lanes), self._held.values)
        for lane in self.lanes.values():
            lane.runners = [asyncio.create_task(self._runner(lane)) for _ in range(lane.spec.concurrency)]
            JOBS_IN_PROGRESS.labels(lane.name).set_function(functools.partial(self._running_in, lane))
            QUEUE_SERVED.labels(lane.name).set(1)
        self._idle.set()
        self.leases.start()
        self.fetcher.start()
        self._started = True

    def _lane(self, spec: QueueSpec) -> Lane:
        keys = self.broker.keys
        limiter = None
        if spec.rate_per_s:
            limiter = ClusterRateLimiter(
                self.broker.aredis, keys.rate(spec.name), rate_per_s=spec.rate_per_s, name=spec.name
            )
        return Lane(spec, keys.queue(spec.name, "marker"), limiter)

    @property
    def running(self) -> bool:
        """Whether the fetch loop is alive and fetching (readiness)."""
        return self._started and self.fetcher.fetching and self.fetcher.alive

    @property
    def in_flight(self) -> int:
        """Jobs this worker holds: running, or fetched and about to start."""
        return len(self._held)

    def stop_fetching(self) -> None:
        """Fetch no more jobs (immediate, sync, idempotent)."""
        if self._started:
            self.fetcher.stop()

    async def drain(self, timeout_s: float) -> DrainReport:
        """Stop fetching; give running jobs ``timeout_s`` seconds; hand back the rest.

        Unstarted jobs are handed back at once; jobs still running at the deadline
        are cancelled and handed back to their queue with their priority and their
        attempt count unchanged (not failed, not dead-lettered).
        """
        started, finished_before, handed_before = time.monotonic(), self._finished, self._handed_back
        self.stop_fetching()
        for name in self.lanes:
            QUEUE_SERVED.labels(name).set(0)
        await self.fetcher.wait_stopped()
        self._hand_back_unstarted()
        if self._running:
            try:
                await asyncio.wait_for(self._idle.wait(), timeout_s)
            except TimeoutError:
                pass
        await self._cancel_running()
        for lane in self.lanes.values():
            for task in lane.runners:
                task.cancel()
            await asyncio.gather(*lane.runners, return_exceptions=True)
        await self.recorder.close(RECORDS_TIMEOUT_S)
        await self.leases.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._started = False
        handed = self._handed_back - handed_before
        return DrainReport(self._finished - finished_before, handed, time.monotonic() - started)

    def _hand_back_unstarted(self) -> None:
        for lane in self.lanes.values():
            while not lane.jobs.empty():
                self._hand_back(lane, lane.jobs.get_nowait())

    async def _cancel_running(self) -> None:
        cancelled = []
        for lane in self.lanes.values():
            for task in lane.runners:
                job = getattr(task, "theset_job", None)
                if job is not None:
                    job.handing_back = True
                    task.cancel()
                    cancelled.append(task)
        if cancelled:
            await asyncio.gather(*cancelled, return_exceptions=True)

    def _hand_back(self, lane: Lane, job: Job) -> None:
        self._release(lane, job)
        self.recorder.add("handback", job.job_id, job.token)
        self._handed_back += 1
        JOBS.labels(lane.name, job.message.actor_name, "handed_back").inc()

    # -- fetched jobs ----------------------------------------------------------------------

    def _dispatch(self, lane: Lane, fields: list) -> None:
        """Turn one fetched job into a :class:`Job` and queue it for a runner."""
        raw_id, raw_msg, attempt, token, priority, waited_ms = fields
        JOB_QUEUE_WAIT.labels(lane.name).observe(waited_ms / 1000)
        job_id = raw_id.decode()
        token = token.decode()
        try:
            message = Message.decode(raw_msg)
        except DecodeError as exc:
            self.recorder.add("dead", job_id, token, _failure("undecodable message", exc))
            lane.free += 1
            return
        job = Job(job_id, lane.name, priority, attempt, token, message, self.recorder)
        self._held[job_id] = job
        if self.fetcher.fetching:
            lane.jobs.put_nowait(job)
        else:
            self._hand_back(lane, job)

    def _release(self, lane: Lane, job: Job) -> None:
        self._held.pop(job.job_id, None)
        lane.free += 1
        self.fetcher.slot_freed(lane)

    async def _runner(self, lane: Lane) -> None:
        task = asyncio.current_task()
        get = lane.jobs.get
        while True:
            job = await get()
            if not self.fetcher.fetching:  # draining: an unstarted job goes back at once
                self._hand_back(lane, job)
                continue
            task.theset_job = job  # type: ignore[attr-defined]
            try:
                await self._process(lane, job)
            finally:
                task.theset_job = None  # type: ignore[attr-defined]

    # -- running one job -------------------------------------------------------------------

    def _plan(self, actor_name: str) -> _ActorPlan:
        plan = self._plans.get(actor_name)
        if plan is None:
            actor = self.broker.get_actor(actor_name)
            fn = getattr(actor.fn, "__wrapped__", actor.fn)
            limit = actor.options.get("time_limit")
            plan = _ActorPlan(fn, iscoroutinefunction(fn), actor.options, limit / 1000 if limit else None)
            self._plans[actor_name] = plan
        return plan

    async def _process(self, lane: Lane, job: Job) -> None:
        message = job.message
        actor_name = message.actor_name
        context = {"job_id": job.job_id, "queue": lane.name, "actor": actor_name}
        if "import_id" in message.kwargs:
            context["import_id"] = message.kwargs["import_id"]
        context_token = job_context.set(context)
        job_token = _current.set(job)
        self._running += 1
        lane.running += 1
        self._idle.clear()
        try:
            await self._attempt(lane, job)
        finally:
            lane.running -= 1
            self._running -= 1
            if not self._running:
                self._idle.set()
            _current.reset(job_token)
            job_context.reset(context_token)

    async def _attempt(self, lane: Lane, job: Job) -> None:
        message = job.message
        broker = self.broker
        try:
            plan = self._plan(message.actor_name)
        except ActorNotFound as exc:
            return self._finish_dead(lane, job, "unknown actor", exc)
        proxy = MessageProxy(message)
        try:
            broker.emit_before("process_message", proxy)
        except SkipMessage:
            broker.emit_after("skip_message", proxy)
            if proxy.failed:
                return self._finish_dead(lane, job, "skipped by middleware", None)
            return self._finish_ok(lane, job, 0.0)
        result, exc = None, None
        started = time.perf_counter()
        try:
            result = await self._call(plan, message)
        except asyncio.CancelledError:
            if job.handing_back:
                broker.emit_after("process_message", proxy, result=None, exception=None)
                self._hand_back(lane, job)
                raise
            exc = RuntimeError("attempt cancelled from inside the actor")
        except Exception as error:
            exc = error
        elapsed = time.perf_counter() - started
        if exc is not None:
            proxy.stuff_exception(exc)
        broker.emit_after("process_message", proxy, result=result, exception=exc)
        if exc is not None:
            self._finish_failed(lane, job, plan, exc, elapsed)
        elif proxy.failed:
            self._finish_dead(lane, job, "failed by middleware", None)
        else:
            self._finish_ok(lane, job, elapsed)

    async def _call(self, plan: _ActorPlan, message: Message) -> Any:
        limit = message.options.get("time_limit")
        limit_s = limit / 1000 if limit else plan.time_limit_s
        if plan.is_async:
            if limit_s is None:
                return await plan.fn(*message.args, **message.kwargs)
            async with asyncio.timeout(limit_s):
                return await plan.fn(*message.args, **message.kwargs)
        if self._executor is None:
            total = sum(spec.concurrency for spec in self.specs.values())
            self._executor = ThreadPoolExecutor(max_workers=total, thread_name_prefix="theset-actor")
        call = functools.partial(contextvars.copy_context().run, plan.fn, *message.args, **message.kwargs)
        future = asyncio.get_running_loop().run_in_executor(self._executor, call)
        if limit_s is None:
            return await future
        return await asyncio.wait_for(future, limit_s)

    # -- outcomes --------------------------------------------------------------------------

    def _count(self, lane: Lane, actor: str, outcome: str, elapsed: float | None) -> None:
        key = (lane.name, actor, outcome)
        counter = self._metrics.get(key)
        if counter is None:
            counter = self._metrics[key] = JOBS.labels(*key)
        counter.inc()
        if elapsed is not None:
            histogram = self._durations.get(key[:2])
            if histogram is None:
                histogram = self._durations[key[:2]] = JOB_DURATION.labels(*key[:2])
            histogram.observe(elapsed)
        self._finished += 1

    def _finish_ok(self, lane: Lane, job: Job, elapsed: float) -> None:
        self._release(lane, job)
        self.recorder.add("ack", job.job_id, job.token)
        self._count(lane, job.message.actor_name, "completed", elapsed)

    def _finish_dead(
        self, lane: Lane, job: Job, reason: str, exc: BaseException | None, elapsed: float | None = None
    ) -> None:
        self._release(lane, job)
        self.recorder.add("dead", job.job_id, job.token, _failure(reason, exc))
        self._count(lane, job.message.actor_name, "dead", elapsed)
        logger.error("job dead-lettered: %s", reason, exc_info=exc)
        proxy = MessageProxy(job.message)
        if exc is not None:
            proxy.stuff_exception(exc)
        self.broker.emit_after("nack", proxy)  # Dramatiq's hook for a message that went to the dead letters

    def _postpone(self, lane: Lane, job: Job, exc: Postpone, elapsed: float) -> None:
        self._release(lane, job)
        self.recorder.add("postpone", job.job_id, job.token, str(max(0, int(exc.delay_ms))))
        self._count(lane, job.message.actor_name, "postponed", elapsed)
        logger.info("job postponed %d ms: %s", exc.delay_ms, exc)

    def _finish_failed(self, lane: Lane, job: Job, plan: _ActorPlan, exc: BaseException, elapsed: float) -> None:
        if isinstance(exc, Postpone):
            return self._postpone(lane, job, exc, elapsed)
        if redis_away(exc):  # Redis down or refusing writes: not the job's fault, no attempt spent
            return self._postpone(lane, job, Postpone(f"Redis unavailable: {exc}", delay_ms=REDIS_RETRY_MS), elapsed)
        decision = retries.decide(exc, job.attempt, job.message.options, plan.options, self.broker.defaults)
        if not decision.retry:
            return self._finish_dead(lane, job, decision.reason, exc, elapsed)
        self._release(lane, job)
        self.recorder.add("retry", job.job_id, job.token, _failure("", exc, delay_ms=decision.delay_ms))
        self._count(lane, job.message.actor_name, "retried", elapsed)
        logger.warning("job attempt %d failed; retrying in %d ms", job.attempt, decision.delay_ms, exc_info=exc)

    async def _send_records(self, records: list[str]) -> None:
        await self.broker.run_script("finish", [len(records) // 4, *records])

    def _running_in(self, lane: Lane) -> int:
        return lane.running


def _failure(reason: str, exc: BaseException | None, **extra: Any) -> str:
    """The JSON failure story of a finish record: reason, error, type, traceback (and ``extra``)."""
    story: dict[str, Any] = {"reason": reason, "error": "", "exc_type": "", "traceback": "", **extra}
    if exc is not None:
        story["error"] = str(exc)[:2000]
        story["exc_type"] = f"{type(exc).__module__}.{type(exc).__qualname__}"
        story["traceback"] = "".join(traceback.format_exception(exc, limit=30))[-16000:]
    return orjson.dumps(story).decode()

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
import dataclasses
import functools
import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from inspect import iscoroutinefunction
from typing import Any, Callable, Mapping, Sequence

import orjson
from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.errors import ActorNotFound, DecodeError, RateLimitExceeded, Retry
from dramatiq.middleware import Interrupt, Shutdown, SkipMessage
from dramatiq.middleware.time_limit import TimeLimitExceeded
from dramatiq.results import Results
from dramatiq.threading import raise_thread_exception

from . import deferred, retries
from .broker import TheSetBroker
from .errors import Postpone, redis_away
from .fetcher import Fetcher
from .job import Job, _current, job_context
from .lanes import Lane
from .leases import LeaseKeeper
from .metrics import JOB_DURATION, JOB_QUEUE_WAIT, JOBS, JOBS_IN_PROGRESS, QUEUE_SERVED
from .queues import QueueSpec
from .rate_limit import ClusterRateLimiter
from .records import Recorder
from .serving import ServedQueues

logger = logging.getLogger(__name__)

#: Longest block on Redis, in seconds, when nothing is due (bounds a lost wake-up).
IDLE_TIMEOUT_S = 5.0

#: Seconds a plain actor's thread gets to end after its time limit raised in it; then it is abandoned.
INTERRUPT_GRACE_S = 1.0

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
        broker); default every queue of the broker's table and every queue declared
        later (an actor defined after the start).
      concurrency: per-queue overrides of the table's concurrency (``{"spotify_catalog": 4}``);
        the key ``"*"`` applies to every queue not named.
      idle_timeout_s: longest block on Redis while idle.

    Middleware hooks emitted as Dramatiq's worker does: ``before/after_worker_boot``,
    ``after_worker_thread_boot`` and ``before_worker_thread_shutdown`` per runner,
    ``before/after_process_message``, ``after_skip_message``, ``before/after_ack``,
    ``before/after_nack``, ``before/after_worker_shutdown``.
    """

    def __init__(
        self,
        broker: TheSetBroker,
        *,
        queues: Sequence[QueueSpec | str] | None = None,
        concurrency: Mapping[str, int] | None = None,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        log_kwargs: Sequence[str] = (),
    ) -> None:
        self.broker = broker
        #: Message kwargs copied into the job's log context (:data:`~.job.job_context`).
        self.log_kwargs = tuple(log_kwargs)
        self.concurrency = dict(concurrency or {})
        self.follows_declarations = queues is None
        specs = [broker.spec_for(q) if isinstance(q, str) else q for q in (queues or list(broker.specs.values()))]
        self.specs = {spec.name: self._sized(spec) for spec in specs}
        self.idle_timeout_s = idle_timeout_s
        self.lanes: dict[str, Lane] = {}
        self._held: dict[str, Job] = {}
        self._plans: dict[str, _ActorPlan] = {}
        self._metrics: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._waits: dict[str, Any] = {}
        self._running = 0
        self._finished = 0
        self._handed_back = 0
        self._idle = asyncio.Event()
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._threads: dict[str, _ThreadCall] = {}
        self._started = False

    def _sized(self, spec: QueueSpec) -> QueueSpec:
        size = self.concurrency.get(spec.name, self.concurrency.get("*"))
        return spec if size is None or size == spec.concurrency else dataclasses.replace(spec, concurrency=size)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start fetching and running jobs on the current loop."""
        broker = self.broker
        broker.emit_before("worker_boot", self)
        self._loop = broker.loop = asyncio.get_running_loop()
        self.recorder = Recorder(self._send_records)
        self.fetcher = Fetcher(broker, self.lanes, self.recorder, self._dispatch, idle_timeout_s=self.idle_timeout_s)
        self.leases = LeaseKeeper(broker, [], self._held.values)
        for spec in self.specs.values():
            self._add_lane(spec)
        self.served = ServedQueues(
            broker.aredis, broker.namespace, broker.host_id, self.served_queues, broker.lease_timeout_s
        )
        self._idle.set()
        self.fetcher._wake_task(self._connect_early())
        self.leases.start()
        self.fetcher.start()
        self.served.start()
        self._started = True
        if self.follows_declarations:
            broker.declare_listeners.append(self._on_declare)
            for name in list(broker.queues):
                self._on_declare(name)
        broker.emit_after("worker_boot", self)

    async def _connect_early(self) -> None:
        """Open the broker's script connection at start: a worker serving no queue yet makes no call
        until one is declared, and that queue's first fetch should not also pay for the connect."""
        try:
            await self.broker.connect()
        except Exception:  # the first fetch connects (and reports) anyway
            logger.debug("could not connect to Redis at start", exc_info=True)

    def _add_lane(self, spec: QueueSpec) -> None:
        lane = self._lane(spec)
        self.lanes[lane.name] = lane
        self.fetcher.add_lane(lane)
        self.leases.queues.append(lane.name)
        lane.runners = [asyncio.create_task(self._runner(lane)) for _ in range(lane.spec.concurrency)]
        JOBS_IN_PROGRESS.labels(lane.name).set_function(functools.partial(self._running_in, lane))
        QUEUE_SERVED.labels(lane.name).set(1)
        for _ in lane.runners:
            self.broker.emit_after("worker_thread_boot", self)

    def _lane(self, spec: QueueSpec) -> Lane:
        keys = self.broker.keys
        limiter = None
        if spec.rate_per_s:
            limiter = ClusterRateLimiter(
                self.broker.aredis, keys.rate(spec.name), rate_per_s=spec.rate_per_s, name=spec.name
            )
        return Lane(spec, keys.queue(spec.name, "marker"), limiter)

    def _on_declare(self, queue_name: str) -> None:
        """A queue was declared (from any thread): serve it too."""
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._on_declare, queue_name)
            return
        if self._started and queue_name not in self.lanes and queue_name in self.broker.specs:
            self.specs[queue_name] = spec = self._sized(self.broker.specs[queue_name])
            self._add_lane(spec)
            self.fetcher._wake_task(self.served.register())

    def served_queues(self) -> dict[str, int]:
        """The queues this worker consumes, with the concurrency of each."""
        return {name: lane.spec.concurrency for name, lane in self.lanes.items()}

    @property
    def _loop_thread(self) -> int:
        return self.fetcher.loop_thread

    def pause(self) -> None:
        """Fetch nothing more until :meth:`resume` (jobs running now finish)."""
        self.fetcher.pause()

    def resume(self) -> None:
        """Fetch again after :meth:`pause`."""
        self.fetcher.resume()

    async def wait_idle(self) -> None:
        """Return once this worker holds no job and every outcome is written to Redis."""
        while self._held or self.recorder:
            if self._held:
                await self._idle.wait()
                await asyncio.sleep(0)
            if self.recorder:
                await self.recorder.flush()

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
        self.broker.emit_before("worker_shutdown", self)
        if self.follows_declarations and self._on_declare in self.broker.declare_listeners:
            self.broker.declare_listeners.remove(self._on_declare)
        self.stop_fetching()
        self._notify_shutdown()
        await self.served.stop()
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
                self.broker.emit_before("worker_thread_shutdown", self)
                task.cancel()
            await asyncio.gather(*lane.runners, return_exceptions=True)
        await self.recorder.close(RECORDS_TIMEOUT_S)
        await self.leases.stop()
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)
        self._started = False
        self.broker.emit_after("worker_shutdown", self)
        handed = self._handed_back - handed_before
        return DrainReport(self._finished - finished_before, handed, time.monotonic() - started)

    def _hand_back_unstarted(self) -> None:
        for lane in self.lanes.values():
            while not lane.jobs.empty():
                self._hand_back(lane, lane.jobs.get_nowait())

    def _notify_shutdown(self) -> None:
        """Raise Dramatiq's Shutdown in the threads of running ``notify_shutdown`` actors."""
        for call in list(self._threads.values()):
            if call.notify_shutdown:
                call.interrupt(Shutdown)

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
        wait = self._waits.get(lane.name)
        if wait is None:
            wait = self._waits[lane.name] = JOB_QUEUE_WAIT.labels(lane.name)
        wait.observe(waited_ms / 1000)
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
        context.update((k, message.kwargs[k]) for k in self.log_kwargs if k in message.kwargs)
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
        """One attempt, as Dramatiq's worker runs it: hooks, the actor, the outcome, ack or nack."""
        broker = self.broker
        proxy = MessageProxy(job.message)
        try:
            plan = self._plan(proxy.actor_name)
        except ActorNotFound as error:
            logger.error("Received message for undefined actor %r. Moving it to the DLQ.", proxy.actor_name)
            proxy.stuff_exception(error)
            proxy.fail()
            return await self._post_process(lane, job, proxy, "unknown actor", None)
        pending, deferred_token = deferred.collect()
        outcome: retries.Decision | None = None
        reason = "failed by middleware"
        started = time.perf_counter()
        try:
            try:
                broker.emit_before("process_message", proxy)
                result = None
                if not proxy.failed:
                    result = await self._call(plan, proxy, job)
                    if result is not None and proxy.options.get("pipe_target") is None:
                        _warn_if_result_dropped(broker, proxy.actor_name)
                broker.emit_after("process_message", proxy, result=result)
            except SkipMessage as error:
                reason = "skipped by middleware"
                if proxy.failed:
                    proxy.stuff_exception(error)
                logger.warning("Message %s was skipped.", proxy)
                broker.emit_after("skip_message", proxy)
            except asyncio.CancelledError:
                if job.handing_back:  # a drain ran out: back to the queue, attempt not counted
                    broker.emit_after("process_message", proxy, result=None, exception=None)
                    self._hand_back(lane, job)
                    raise
                error = RuntimeError("attempt cancelled from inside the actor")
                outcome = self._failed(lane, job, plan, proxy, error)
                broker.emit_after("process_message", proxy, exception=error)
                del error
            except (Exception, Interrupt) as error:  # Interrupt: TimeLimitExceeded, Shutdown
                outcome = self._failed(lane, job, plan, proxy, error)
                broker.emit_after("process_message", proxy, exception=error)
                del error
        finally:
            if pending:
                await deferred.settle(pending, deferred_token)
            else:
                deferred.release(deferred_token)
        elapsed = time.perf_counter() - started
        if outcome is not None and outcome.retry is not False and not proxy.failed:
            return self._after_retry(lane, job, proxy, outcome, elapsed)
        await self._post_process(lane, job, proxy, outcome.reason if outcome else reason, elapsed)

    async def _call(self, plan: _ActorPlan, message: MessageProxy, job: Job) -> Any:
        limit = message.options.get("time_limit")
        limit_s = limit / 1000 if limit else plan.time_limit_s
        if plan.is_async:
            if limit_s is None:
                return await plan.fn(*message.args, **message.kwargs)
            deadline = asyncio.timeout(limit_s)
            try:
                async with deadline:
                    return await plan.fn(*message.args, **message.kwargs)
            except TimeoutError:
                if not deadline.expired():  # the actor's own timeout, not the limit
                    raise
            raise TimeLimitExceeded(f"time limit of {limit_s * 1000:.0f} ms exceeded")
        executor = self._executors.get(job.queue)
        if executor is None:
            size = self.lanes[job.queue].spec.concurrency
            executor = self._executors[job.queue] = ThreadPoolExecutor(size, f"theset-actor-{job.queue}")
        call = _ThreadCall(plan.fn, message, bool(plan.options.get("notify_shutdown") or message.options.get("notify_shutdown")))
        future = self._loop.run_in_executor(executor, contextvars.copy_context().run, call.run)
        self._threads[job.job_id] = call
        try:
            if limit_s is None:
                return await future
            done, _ = await asyncio.wait([future], timeout=limit_s)
            if not done:  # Dramatiq's TimeLimit: raise in the thread; give up on it after a grace
                call.interrupt(TimeLimitExceeded)
                done, _ = await asyncio.wait([future], timeout=INTERRUPT_GRACE_S)
            del done
            if future.done():
                return future.result()
            raise TimeLimitExceeded(f"time limit of {limit_s * 1000:.0f} ms exceeded")
        finally:
            self._threads.pop(job.job_id, None)
            del future

    # -- outcomes --------------------------------------------------------------------------

    def _failed(
        self, lane: Lane, job: Job, plan: _ActorPlan, proxy: MessageProxy, error: BaseException
    ) -> retries.Decision:
        """Decide a failed attempt's fate before the after-hooks run (as Dramatiq's Retries does)."""
        proxy.stuff_exception(error)
        options = proxy.options
        if isinstance(error, Postpone):
            return retries.Decision(None, max(0, int(error.delay_ms)), "postponed")
        if redis_away(error):  # Redis down or refusing writes: not the job's fault, no attempt spent
            return retries.Decision(None, REDIS_RETRY_MS, "postponed: Redis unavailable")
        throws = retries.is_permanent(error, options, plan.options)
        if isinstance(error, RateLimitExceeded):
            logger.debug("Rate limit exceeded in message %s: %s.", proxy, error)
        elif throws:
            logger.info("Failed to process message %s with expected exception %s.", proxy, type(error).__name__)
        elif not isinstance(error, Retry):
            logger.warning("Failed to process message %s with unhandled exception.", proxy, exc_info=error)
        decision = retries.decide(error, job.attempt, options, plan.options, self.broker.defaults)
        if throws:
            logger.info("Aborting message %r.", proxy.message_id)
        elif decision.retry:
            options["retries"] = decision.retries + 1
            options["requeue_timestamp"] = int(time.time() * 1000)
        else:
            options["retries"] = decision.retries + 1
            logger.warning("Retries exceeded for message %r.", proxy.message_id)
        if not decision.retry:
            proxy.fail()
            target = options.get("on_retry_exhausted") or plan.options.get("on_retry_exhausted")
            if decision.exhausted and target:
                retry_info = {"retries": decision.retries, "max_retries": decision.max_retries}
                self.broker.get_actor(target).send(proxy._message.asdict(), retry_info)
        return decision

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

    async def _post_process(
        self, lane: Lane, job: Job, proxy: MessageProxy, reason: str, elapsed: float | None
    ) -> None:
        """Ack or nack (dead-letter) the attempt with Dramatiq's hooks; the record goes last.

        Work the hooks defer (a Results backend storing a failure) lands before the
        record, so whoever sees the job finished also sees what its hooks wrote.
        """
        broker = self.broker
        kind = "dead" if proxy.failed else "ack"
        signal = "nack" if proxy.failed else "ack"
        if broker._hooks_for("before_" + signal) or broker._hooks_for("after_" + signal):
            pending, deferred_token = deferred.collect()
            try:
                broker.emit_before(signal, proxy)
                broker.emit_after(signal, proxy)
            finally:
                await deferred.settle(pending, deferred_token)
        self._release(lane, job)
        if kind == "ack":
            self.recorder.add("ack", job.job_id, job.token)
            self._count(lane, job.message.actor_name, "completed", elapsed)
        else:
            error = proxy._exception
            self.recorder.add("dead", job.job_id, job.token, _failure(reason, error))
            self._count(lane, job.message.actor_name, "dead", elapsed)
            if error is None or not (isinstance(error, (SkipMessage, Retry)) or reason == "permanent"):
                logger.error("job dead-lettered: %s", reason, exc_info=error)
            del error
        proxy.clear_exception()

    def _after_retry(self, lane: Lane, job: Job, proxy: MessageProxy, decision: retries.Decision, elapsed: float) -> None:
        """Record a retry (the message with its new ``retries``) or a postponement; Dramatiq acks these."""
        error = proxy._exception
        if decision.retry is None:
            self.recorder.add("postpone", job.job_id, job.token, str(decision.delay_ms))
            self._count(lane, job.message.actor_name, "postponed", elapsed)
            logger.info("job %s %d ms: %s", decision.reason, decision.delay_ms, error)
        else:
            story = _failure("", error, delay_ms=decision.delay_ms, msg=proxy._message.encode().decode())
            self.recorder.add("retry", job.job_id, job.token, story)
            self._count(lane, job.message.actor_name, "retried", elapsed)
            if not isinstance(error, Retry):
                logger.info("Retrying message %r in %d milliseconds.", proxy.message_id, decision.delay_ms)
        del error
        self.broker.emit_before("ack", proxy)
        self.broker.emit_after("ack", proxy)
        proxy.clear_exception()
        self._release(lane, job)

    async def _send_records(self, records: list[str]) -> None:
        await self.broker.run_script("finish", [len(records) // 4, *records])

    def _running_in(self, lane: Lane) -> int:
        return lane.running


def _warn_if_result_dropped(broker: TheSetBroker, actor_name: str) -> None:
    """Dramatiq's warning: a returned value is lost without the Results middleware."""
    if not any(isinstance(m, Results) for m in broker.middleware):
        logger.warning(
            "Actor '%s' returned a value that is not None, and you haven't added the "
            "Results middleware to the broker, so the value has been discarded. "
            "Consider adding the Results middleware to your broker or piping the "
            "result into another actor." % actor_name
        )


class _ThreadCall:
    """A plain actor's call in a pool thread, which the loop may interrupt (time limit, shutdown)."""

    def __init__(self, fn: Callable[..., Any], message: MessageProxy, notify_shutdown: bool) -> None:
        self.fn = fn
        self.args = message.args
        self.kwargs = message.kwargs
        self.notify_shutdown = notify_shutdown
        self.thread_id: int | None = None
        self.interrupted = False
        self._lock = threading.Lock()

    def run(self) -> Any:
        with self._lock:
            self.thread_id = threading.get_ident()
        try:
            return self.fn(*self.args, **self.kwargs)
        finally:
            with self._lock:
                self.thread_id, interrupted = None, self.interrupted
            if interrupted:
                _absorb_late_interrupt()

    def interrupt(self, exception: type[BaseException]) -> None:
        """Raise ``exception`` in the thread if it still runs this call (Dramatiq's way)."""
        with self._lock:
            if self.thread_id is not None and not self.interrupted:
                self.interrupted = True
                raise_thread_exception(self.thread_id, exception)


def _absorb_late_interrupt() -> None:
    """Let an interrupt that arrived as the call returned land here, not in the pool's thread loop."""
    try:
        for _ in range(1000):
            _noop()
    except (TimeLimitExceeded, Shutdown):
        pass


def _noop() -> None:
    pass


def _failure(reason: str, exc: BaseException | None, **extra: Any) -> str:
    """The JSON failure story of a finish record: reason, error, type, traceback (and ``extra``)."""
    story: dict[str, Any] = {"reason": reason, "error": "", "exc_type": "", "traceback": "", **extra}
    if exc is not None:
        story["error"] = str(exc)[:2000]
        story["exc_type"] = f"{type(exc).__module__}.{type(exc).__qualname__}"
        story["traceback"] = "".join(traceback.format_exception(exc, limit=30))[-16000:]
    return orjson.dumps(story).decode()

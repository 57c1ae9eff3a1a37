"""TheSetBroker: Dramatiq's Broker interface over Redis, with priorities, delays and leases.

Producers use Dramatiq's own API off the loop (``actor.send``, a sync Redis
client) or the ``*_async`` methods on the loop. Each enqueue, bulk or single,
is one Lua call; each carries the message's priority, delay, job id and
debounce window. Consumption is :class:`~theset_daemon.broker.worker.Worker`'s
job; :meth:`consume` (Dramatiq's thread worker) is not supported.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import time
from functools import cached_property
from typing import Any, Callable, Iterable, Sequence

import dramatiq
from dramatiq import Message
from dramatiq.errors import QueueJoinTimeout, QueueNotFound
from dramatiq.middleware import CurrentMessage, Middleware, MiddlewareError

from . import cluster_metrics, connection
from . import priority as priorities
from .admin import QueueAdmin
from .composition import composition_middleware
from .connection import RedisTarget
from .deferred import defer, on_loop
from .errors import WrongQueue
from .keys import Keys
from .middleware import JobOptions
from .queues import JobDefaults, Priority, QueueSpec
from .resp import AsyncResp, Script, SyncResp
from .scripts import HEADER_ARGS, NAMES, source

logger = logging.getLogger(__name__)

#: Messages per Lua call in a bulk enqueue (all calls go in one pipeline, one round trip).
BULK_CHUNK = 1000

#: The Redis connection pool size of each client unless given.
DEFAULT_MAX_CONNECTIONS = 64

_EMPTY: dict[str, Any] = {}


#: Message's fields as :func:`encode` writes them (Dramatiq 2.x); another Dramatiq falls back to ``encode()``.
_FIELDS = ("queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp")
_PLAIN = tuple(f.name for f in dataclasses.fields(Message)) == _FIELDS


def encode(message: Message) -> bytes:
    """``message.encode()``: the same bytes, without ``asdict``'s per-call field lookup for a plain Message."""
    if type(message) is not Message or not _PLAIN:
        return message.encode()
    return dramatiq.get_encoder().encode({
        "queue_name": message.queue_name,
        "actor_name": message.actor_name,
        "args": message.args,
        "kwargs": message.kwargs,
        "options": message.options,
        "message_id": message.message_id,
        "message_timestamp": message.message_timestamp,
    })


def default_middleware(target: RedisTarget, namespace: str, defaults: JobDefaults = JobDefaults()) -> list[Middleware]:
    """The middleware of a broker by default: Dramatiq's, none of which blocks the loop.

    CurrentMessage, then composition on the broker's Redis (AgeLimit, Callbacks,
    Pipelines, GroupCallbacks, Results: see :mod:`.composition`), then
    :class:`JobOptions`. Time limits, shutdown notifications and retries are the
    worker's own (Dramatiq's TimeLimit, ShutdownNotifications and Retries use
    thread signals and a blocking re-enqueue); async actors run on the loop (no AsyncIO middleware).
    """
    return [CurrentMessage(), *composition_middleware(target, namespace, defaults), JobOptions()]


class TheSetBroker(dramatiq.Broker):
    """A Dramatiq broker on Redis with per-message priority, delays in Redis and leases.

    Parameters:
      redis_url: the Redis to use (``redis://host:port/db``, ``rediss://``,
        ``redis+sentinel://``: see :mod:`.connection`), unless ``target`` is given.
      target: the Redis as parsed by :func:`.connection.parse` (with the password
        and TLS files configured apart from the URL); every client is built from it.
      namespace: the prefix of every key.
      queues: the queue table (defaults, concurrency, rate limits).
      defaults: attempts, backoff and retention of every job.
      host_id: this daemon's name in job records (owner); default hostname-pid.
      lease_timeout_s: the crash-recovery bound in seconds: a dead daemon's jobs
        are handed to a live one within this time.
      middleware: Dramatiq middleware; default :func:`default_middleware`. Hooks
        run on the event loop and must not block (an enqueue from a hook is deferred;
        other blocking work goes through :func:`.deferred.off_loop`).
      max_connections: pool size of each Redis client.
    """

    def __init__(
        self,
        *,
        redis_url: str = "",
        target: RedisTarget | None = None,
        namespace: str = "theset",
        queues: Sequence[QueueSpec] = (),
        defaults: JobDefaults = JobDefaults(),
        host_id: str | None = None,
        lease_timeout_s: float = 30.0,
        middleware: list[Middleware] | None = None,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._hooks: dict[str, list[Any]] = {}
        #: Called with a queue's name after it is declared (a worker serving declared queues listens).
        self.declare_listeners: list[Any] = []
        self.target = target or connection.parse(redis_url)
        if middleware is None:
            middleware = default_middleware(self.target, namespace, defaults)
        super().__init__(middleware=middleware)
        if not any(isinstance(m, JobOptions) for m in self.middleware):
            self.add_middleware(JobOptions())
        self.redis_url = redis_url
        self.namespace = namespace
        self.keys = Keys(namespace)
        self.specs: dict[str, QueueSpec] = {q.name: q for q in queues}
        # the queues of the table and those declared (by an actor), as in Dramatiq: enqueue refuses others
        self.served: set[str] = set(self.specs)
        self.queues: dict[str, QueueSpec] = {}
        self.defaults = defaults
        self.host_id = host_id or f"{socket.gethostname()}-{os.getpid()}"
        self.lease_timeout_s = lease_timeout_s
        self.max_connections = max_connections
        self.redis = connection.sync_client(self.target, max_connections=max_connections)
        self.aredis = connection.async_client(self.target, max_connections=max_connections)
        self.client_name = f"theset:{self.host_id}".replace(" ", "_")
        self._resp = AsyncResp(self.target, name=self.client_name)  # the hot path: scripts (see resp.py)
        self._sync_resp = SyncResp(self.target, name=self.client_name)
        #: Called with (old, new) ``host:port`` when the hot path finds Redis's primary moved (Sentinel failover).
        self.failover_listeners: list[Callable[[str, str], None]] = []
        self._resp.on_moved = self._primary_moved
        self._header: list[Any] = [
            namespace,
            self.host_id,
            int(lease_timeout_s * 750),  # lease = 3/4 of the bound; the check runs every 1/4
            defaults.completed_ttl_s * 1000,
            defaults.completed_max_per_queue,
            defaults.failed_ttl_s * 1000,
            defaults.dead_ttl_s * 1000,
        ]
        self._scripts = {
            name: Script(source(name), self._header[: HEADER_ARGS.get(name, len(self._header))]) for name in NAMES
        }
        self._enqueue_script = self._scripts["enqueue"]
        #: The loop a worker of this broker runs on (set by :meth:`Worker.start`); an
        #: enqueue on it is deferred, an enqueue on any other thread or loop blocks.
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- Dramatiq's Broker interface -------------------------------------------------------

    def add_middleware(self, middleware: Middleware, **where: Any) -> None:
        super().add_middleware(middleware, **where)
        self._hooks.clear()

    def _hooks_for(self, name: str) -> list[Any]:
        """The bound ``name`` hooks of the middleware that override it (emit order)."""
        hooks = self._hooks.get(name)
        if hooks is None:
            base = getattr(Middleware, name)
            hooks = [getattr(m, name) for m in self.middleware if getattr(getattr(m, name), "__func__", None) is not base]
            if name.startswith("after_"):
                hooks.reverse()
            self._hooks[name] = hooks
        return hooks

    def emit_before(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """Dramatiq's emit_before, skipping middleware that do not implement the hook."""
        for hook in self._hooks_for("before_" + signal):
            try:
                hook(self, *args, **kwargs)
            except MiddlewareError:
                raise
            except Exception:
                self.logger.critical("Unexpected failure in before_%s of %r.", signal, hook, exc_info=True)

    def emit_after(self, signal: str, *args: Any, **kwargs: Any) -> None:
        """Dramatiq's emit_after, skipping middleware that do not implement the hook."""
        for hook in self._hooks_for("after_" + signal):
            try:
                hook(self, *args, **kwargs)
            except Exception:
                self.logger.critical("Unexpected failure in after_%s of %r.", signal, hook, exc_info=True)

    def declare_queue(self, queue_name: str) -> None:
        """Make a queue known; a queue missing from the table gets concurrency 1, NORMAL."""
        if queue_name in self.queues:
            return
        self.emit_before("declare_queue", queue_name)
        self.queues[queue_name] = self.spec_for(queue_name)
        self.served.add(queue_name)
        self.emit_after("declare_queue", queue_name)
        for listener in list(self.declare_listeners):
            listener(queue_name)

    @cached_property
    def admin(self) -> QueueAdmin:
        """The operator API on this broker's queues and jobs (pause, resume, job records, dead
        letters; unmasked): :class:`~.admin.QueueAdmin`, the only one."""
        return QueueAdmin(self)

    def spec_for(self, queue_name: str) -> QueueSpec:
        """The table's row for ``queue_name``; a queue missing from it gets concurrency 1, NORMAL."""
        spec = self.specs.get(queue_name)
        if spec is None:
            spec = self.specs[queue_name] = QueueSpec(queue_name, 1, None, Priority.NORMAL)
        return spec

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        """Enqueue one message; ``delay`` (ms) wins over the message's own ``delay`` option.

        Off the loop it blocks until Redis has the job. Called on the loop its worker
        runs on (a middleware hook such as Pipelines', an async actor's ``send``) it
        never blocks: the enqueue is deferred to a task that the running attempt awaits
        before it is recorded done (see :mod:`.deferred`), and ``message`` is returned.
        A loop of someone else's in the calling thread (a test driving a browser, say)
        gets the blocking enqueue: a task deferred there might never run.
        """
        if on_loop() and asyncio.get_running_loop() is self.loop:
            args = self._pack_one(message, delay)  # refusals (unknown queue, wrong queue) raise here
            defer(self._enqueue_packed(message, args, delay))
            return message
        return self.enqueue_many([message], delay=delay)[0]

    async def _enqueue_packed(self, message: Message, args: list[Any], delay: int | None) -> None:
        reply = await self._resp.evalsha(self._enqueue_script, args)
        self._unpack_one(message, reply[0], delay)

    def join(self, queue_name: str, *, timeout: int | None = None, interval_s: float = 0.005) -> None:
        """Block until ``queue_name`` has nothing waiting, delayed or running (Dramatiq's join).

        Parameters:
          timeout: milliseconds to wait at most; raises ``dramatiq.errors.QueueJoinTimeout`` then.
        """
        deadline = None if timeout is None else time.monotonic() + timeout / 1000
        keys = [self.keys.queue(queue_name, kind) for kind in ("waiting", "delayed", "active")]
        while True:
            with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.zcard(key)
                if not any(pipe.execute()):
                    return
            if deadline is not None and time.monotonic() > deadline:
                raise QueueJoinTimeout(queue_name)
            time.sleep(interval_s)

    def enqueue_many(self, messages: Iterable[Message], *, delay: int | None = None) -> list[Message]:
        """Enqueue messages in one round trip (blocking: call off the loop).

        Each message's options may carry ``priority``, ``delay`` (ms), ``job_id``
        and ``debounce_ms``; ``delay`` here, when given, wins over a message's own.
        Returns, per message, it or the existing job's message when its job id was taken.
        """
        messages = list(messages)
        replies = self._sync_resp.evalsha_many(self._scripts["enqueue"], self._pack(messages, delay))
        return self._unpack(messages, replies, delay)

    async def enqueue_async(self, message: Message, *, delay: int | None = None) -> Message:
        """Enqueue one message without blocking the loop.

        Returns it, or the existing job's message if its ``job_id`` is waiting, delayed or running.
        """
        args = self._pack_one(message, delay)
        reply = await self._resp.evalsha(self._enqueue_script, args)
        return self._unpack_one(message, reply[0], delay)

    async def enqueue_many_async(self, messages: Iterable[Message], *, delay: int | None = None) -> list[Message]:
        """:meth:`enqueue_many` without blocking the loop (one round trip)."""
        messages = list(messages)
        replies = await self._resp.evalsha_many(self._scripts["enqueue"], self._pack(messages, delay))
        return self._unpack(messages, replies, delay)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 30000):  # type: ignore[override]
        raise NotImplementedError("TheSetBroker is consumed by theset_daemon.broker.Worker, not dramatiq.Worker")

    def flush(self, queue_name: str) -> None:
        """Drop every job of a queue (records included). Blocking; for tests and operators."""
        ids: set[bytes] = set()
        for kind in ("waiting", "delayed", "active", "completed", "failed", "dead"):
            ids.update(self.redis.zrange(self.keys.queue(queue_name, kind), 0, -1))
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.delete(self.keys.job(job_id.decode()))
            for kind in ("waiting", "delayed", "active", "completed", "failed", "dead", "marker", "maintain"):
                pipe.delete(self.keys.queue(queue_name, kind))
            pipe.execute()

    def flush_all(self) -> None:
        """Dramatiq's ``Broker.flush_all``: flush every declared queue (its own tests call it)."""
        for queue_name in self.specs:
            self.flush(queue_name)

    # -- enqueue internals -----------------------------------------------------------------

    def _pack(self, messages: list[Message], delay: int | None) -> list[list[Any]]:
        """The enqueue script's arguments, one list per chunk of :data:`BULK_CHUNK` messages."""
        calls: list[list[Any]] = []
        emit = self.emit_before if self._hooks_for("before_enqueue") else None
        for start in range(0, len(messages), BULK_CHUNK):
            chunk = messages[start : start + BULK_CHUNK]
            args: list[Any] = [len(chunk)]
            for message in chunk:
                args += self._job_args(message, delay, emit)
            calls.append(args)
        return calls

    def _pack_one(self, message: Message, delay: int | None) -> list[Any]:
        """The enqueue script's arguments for one message (:meth:`_pack` of one, without the chunking)."""
        return [1, *self._job_args(message, delay, self.emit_before if self._hooks_for("before_enqueue") else None)]

    def _job_args(self, message: Message, delay: int | None, emit: Callable[..., None] | None) -> tuple[Any, ...]:
        """One message's seven enqueue arguments; refuses it first (:meth:`_check_queue`), then ``before_enqueue``."""
        options = message.options
        actor = self.actors.get(message.actor_name)
        self._check_queue(message, actor)
        actor_options = actor.options if actor is not None else _EMPTY
        wait = options.get("delay") if delay is None else delay
        if emit is not None:
            emit("enqueue", message, wait)
        return (
            options.get("job_id") or message.message_id,
            message.queue_name,
            message.actor_name,
            int(priorities.resolve(options, actor_options, self.specs.get(message.queue_name), actor)),
            int(wait or 0),
            int(options.get("debounce_ms") or actor_options.get("debounce_ms") or 0),
            encode(message),
        )

    def _check_queue(self, message: Message, actor: Any) -> None:
        """Refuse a message no daemon would ever fetch, or one sent to another actor's queue."""
        if message.queue_name not in self.served:
            raise QueueNotFound(f"queue {message.queue_name!r} is not served (known: {', '.join(sorted(self.served))})")
        if actor is not None and actor.queue_name != message.queue_name:
            raise WrongQueue(f"actor {message.actor_name!r} runs on queue {actor.queue_name!r}, "
                             f"not {message.queue_name!r}")

    def _unpack(self, messages: list[Message], replies: list[Any], delay: int | None) -> list[Message]:
        flat = [value for reply in replies for value in reply]
        return [self._unpack_one(message, value, delay) for message, value in zip(messages, flat)]

    def _unpack_one(self, message: Message, value: Any, delay: int | None) -> Message:
        """``message`` if the script enqueued it (``after_enqueue`` emitted), else the existing job's."""
        if value == 0:
            if self._hooks_for("after_enqueue"):
                self.emit_after("enqueue", message, message.options.get("delay") if delay is None else delay)
            return message
        if value == b"":  # debounced, and the earlier job's record is gone
            return message
        return Message.decode(value)

    # -- queue state -----------------------------------------------------------------------

    async def depths(self, queues: Iterable[str] | None = None) -> dict[str, dict[str, int]]:
        """Per queue: waiting, delayed, active, dead, paused (0/1), waiting per priority name,
        ``oldest_waiting_ms`` and ``oldest_active_ms`` (-1 = none). One Redis round trip."""
        return (await self.read_depths(queues))[1]

    async def read_depths(
        self, queues: Iterable[str] | None = None, *, lead_ms: int = 0
    ) -> tuple[bool, dict[str, dict[str, int]]]:
        """(holds the metrics lead, :meth:`depths`); ``lead_ms`` > 0 claims or keeps the lead that long."""
        names = list(queues) if queues is not None else list(self.specs)
        flat = await self.run_script("depths", [lead_ms, *names])
        out: dict[str, dict[str, int]] = {}
        width = 12
        for i, name in enumerate(names):
            row = flat[1 + i * width : 1 + (i + 1) * width]
            entry = dict(zip(("waiting", "delayed", "active", "dead", "paused"), row[:5]))
            entry.update({p.name: row[5 + p.value] for p in Priority})
            entry.update(oldest_waiting_ms=row[10], oldest_active_ms=row[11])
            out[name] = entry
        return bool(flat[0]), out

    async def export_depths(self) -> dict[str, dict[str, int]]:
        """Claim the metrics lead and, when held, set the cluster-wide gauges (``cluster_metrics.py``)."""
        return await cluster_metrics.export(self)

    # -- scripts and lifecycle -------------------------------------------------------------

    async def run_script(self, name: str, args: list[Any]) -> Any:
        """Run broker script ``name`` with the common header and ``args``."""
        return await self._resp.evalsha(self._scripts[name], args)

    def _primary_moved(self, old: tuple[str, int], new: tuple[str, int]) -> None:
        before, after = "%s:%d" % old, "%s:%d" % new
        logger.warning("Redis primary moved from %s to %s (failover)", before, after)
        for listener in self.failover_listeners:
            listener(before, after)

    async def connect(self) -> None:
        """Open the hot-path connection (script calls) now rather than on the first call."""
        await self._resp.connect()

    async def ping(self) -> None:
        """Raise if Redis does not answer."""
        await self.aredis.ping()

    async def probe(self) -> None:
        """One script call through the hot-path client, reading a queue key and writing one:
        raise as the jobs' calls would (TLS, ACL, READONLY, OOM, a cluster node)."""
        await self.run_script("probe", [next(iter(self.specs), "default")])

    async def close(self) -> None:  # type: ignore[override]
        """Close every Redis connection of the broker (those of this thread, for the sync one)."""
        await self._resp.close()
        await self.aredis.aclose()
        self._sync_resp.close()
        self.redis.close()

"""Ours, not upstream's: runs Dramatiq 2.2.1's own tests against TheSetBroker and our Worker.

The ``test_*.py`` files beside this one are Dramatiq 2.2.1's test suite,
unedited (see ``README.md``). Upstream's ``conftest.py`` builds a StubBroker /
RedisBroker / RabbitmqBroker and ``dramatiq.Worker``; this one maps the same
fixture names onto ours:

* ``stub_broker`` / ``redis_broker``: a :class:`TheSetBroker` on the test Redis in a
  fresh namespace, with the middleware a Dramatiq broker has by default that does
  not run threads (AgeLimit, Callbacks, Pipelines; time limits, shutdown
  notifications and retries are the worker's own), and Dramatiq's retry defaults
  (20 retries, 15 s to 7 days backoff) instead of the daemon's 3 attempts.
* ``broker.join(queue, fail_fast=..., timeout=...)``: waits until the queue has
  nothing waiting, delayed or running in Redis; ``fail_fast`` re-raises (type and
  arguments) the error of a message our worker dead-lettered from that queue, as
  StubBroker.join raises the dead letter's exception.
* ``broker.dead_letters``: the dead letters' messages, read from Redis.
* ``stub_worker`` / ``worker(...)``: our Worker on an event loop in a thread, with
  Dramatiq Worker's ``start``/``stop``/``join``/``pause``/``resume``;
  ``worker_threads`` becomes every queue's concurrency; ``consumers`` are its lanes.

Every upstream test runs except those in :data:`DESELECTED`, each with its reason.
"""

from __future__ import annotations

import asyncio
import fnmatch
import threading
from collections import defaultdict
from typing import Any, Iterator

import pytest
import redis

import dramatiq
from dramatiq.middleware import AgeLimit, Callbacks, Middleware, Pipelines
from dramatiq.rate_limits import backends as rl_backends
from dramatiq.results import backends as res_backends
from theset_daemon.broker import TheSetBroker, Worker
from theset_daemon.queues import JobDefaults

from tests.helpers.environment import redis_namespace

#: Dramatiq's Retries defaults (max_retries=20, min_backoff 15 s, max_backoff 7 days), which
#: upstream's tests assume; the daemon's own default is 3 attempts (JobDefaults.max_attempts).
DRAMATIQ_DEFAULTS = JobDefaults(max_attempts=21, min_backoff_ms=15_000, max_backoff_ms=7 * 86_400_000, jitter=0.0)

#: The one reviewed list of upstream tests not run here (fnmatch patterns on the node id
#: relative to this folder), each with its reason.
DESELECTED: dict[str, str] = {
    # Wall-clock bounds a loaded 2-core CI machine misses now and then (each failed once in
    # our full-suite runs and passed when run again): not a behaviour we differ on.
    "middleware/test_asyncio.py::test_event_loop_thread_run_coroutine_interrupted":
        "Dramatiq's own EventLoopThread (not our broker or worker): races a thread interrupt against 10 ms sleeps",
    "middleware/test_retries.py::test_retry_exceptions_can_specify_a_delay":
        "asserts the retry lands within 0.15 s of wall-clock time (0.187 s seen under load)",
    "middleware/test_retries.py::test_actors_retry_for_a_max_time":
        "max_age=100 ms from the message's creation to its start: 5 failures in 201 runs with other suites "
        "loading the box (0 in 150 traced runs); with two CPU hogs the test thread's own blocking send took "
        "up to 105 ms (no worker involved); the worker's connects at start (issue 19) shortened the fetch leg",
    "middleware/test_retries.py::test_actors_can_be_assigned_zero_min_backoff":
        "asserts 11 attempts within 0.2 s of wall-clock time (missed under load)",
    # Another broker's internals.
    "test_redis.py::*": "RedisBroker's own internals (its Lua scripts, keys, heartbeats, its consumer)",
    "test_rabbitmq.py::*": "RabbitmqBroker's internals (no RabbitMQ in this project)",
    "test_stub_broker.py::*": "StubBroker's internals (its in-memory queues and their join)",
    "test_broker.py::test_can_instantiate_brokers_without_middleware": "connects a RabbitmqBroker (no RabbitMQ here)",
    "test_actors.py::test_worker_handles_non_numeric_eta_and_logs_warning": "StubBroker's delay queue and 'eta' option",
    "test_actors.py::test_worker_handles_none_eta": "StubBroker's delay queue and 'eta' option",
    "test_actors.py::test_actors_can_be_sent_messages": "reads StubBroker's in-memory queue object",
    "test_messages.py::test_messageproxy_representation": "takes a message from StubBroker's consumer",
    # Dramatiq's thread worker and its process runner.
    "test_cli.py::*": "the `dramatiq` command (ours is `theset-daemon run`)",
    "test_watch.py::*": "the `dramatiq --watch` reloader",
    "test_pidfile.py::*": "the `dramatiq --pid-file` option",
    "test_worker.py::test_workers_process_messages_in_order": "dramatiq.Worker's work_queue and paused threads",
    "test_worker.py::test_queue_item_order": "dramatiq.Worker's _WorkQueueItem",
    "middleware/test_prometheus.py::*": "Dramatiq's Prometheus exposition server (the daemon serves /metrics)",
    # Dramatiq's rate limiters and barrier: no broker or worker is involved (neither ours nor
    # Dramatiq's); upstream runs them on a Redis it flushes first, with fixed key names, which the
    # shared test Redis does not allow. (Their stub-backend variants pass here except the
    # window limiter's, which is timing-sensitive on a loaded machine.)
    "test_barrier.py::*": "Dramatiq's rate-limiter backends (no broker involved; flushes Redis)",
    "test_bucket_rate_limiter.py::*": "Dramatiq's rate-limiter backends (no broker involved; flushes Redis)",
    "test_concurrent_rate_limiter.py::*": "Dramatiq's rate-limiter backends (no broker involved; flushes Redis)",
    "test_window_rate_limiter.py::*": "Dramatiq's rate-limiter backends (no broker involved; flushes Redis)",
    # Memcached: no server and no pylibmc here.
    "*[[]memcached[]]": "memcached backend (no memcached here)",
}

#: No upstream file is left uncollected (pika, a test dependency, lets them all import).
collect_ignore: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = "dramatiq_upstream/"
    kept, dropped = [], []
    for item in items:
        nodeid = item.nodeid.split(here, 1)[-1] if here in item.nodeid else None
        if nodeid is not None and any(fnmatch.fnmatchcase(nodeid, p) for p in DESELECTED):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# -- the event loop our workers run on ------------------------------------------------------


class LoopThread:
    """An event loop running in a daemon thread; :meth:`run` waits for a coroutine's result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="conformance-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float | None = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


_loop: LoopThread | None = None


def loop_thread() -> LoopThread:
    global _loop
    if _loop is None:
        _loop = LoopThread()
    return _loop


class LoopWorker:
    """Our Worker with Dramatiq Worker's blocking interface, driven from the test's thread."""

    def __init__(self, broker: TheSetBroker, *, queues: Any = None, worker_threads: int = 8, **_: Any) -> None:
        self.loop = loop_thread()
        self.worker = Worker(
            broker, queues=sorted(queues) if queues is not None else None, concurrency={"*": worker_threads}
        )

    @property
    def consumers(self) -> dict[str, Any]:
        return self.worker.lanes

    def start(self) -> None:
        self.loop.run(self.worker.start())

    def stop(self) -> None:
        self.loop.run(self.worker.drain(5.0))

    def join(self) -> None:
        self.loop.run(self.worker.wait_idle())

    def pause(self) -> None:
        self.loop.loop.call_soon_threadsafe(self.worker.pause)

    def resume(self) -> None:
        self.loop.loop.call_soon_threadsafe(self.worker.resume)


# -- the broker -------------------------------------------------------------------------------


class _DeadLetterErrors(Middleware):
    """Remembers the type and arguments of each dead-lettered message's error, per queue."""

    def __init__(self) -> None:
        self.errors: dict[str, list[tuple[type, tuple]]] = defaultdict(list)

    def after_nack(self, broker, message) -> None:
        error = message._exception
        if error is not None:
            self.errors[message.queue_name].append((type(error), error.args))


class ConformanceBroker(TheSetBroker):
    """TheSetBroker plus StubBroker's test conveniences (``join(fail_fast=)``, ``dead_letters``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dead_errors = _DeadLetterErrors()
        self.add_middleware(self.dead_errors)

    def join(self, queue_name: str, *, timeout: int | None = None, fail_fast: bool = True) -> None:  # type: ignore[override]
        super().join(queue_name, timeout=timeout)
        if fail_fast:
            for error_type, args in self.dead_errors.errors[queue_name]:
                raise error_type(*args) from None

    @property
    def dead_letters(self) -> list[dramatiq.Message]:
        out = []
        for queue in self.queues:
            for record in _dead_records(self, queue):
                out.append(record)
        return out


def _dead_records(broker: TheSetBroker, queue: str) -> list[dramatiq.Message]:
    ids = broker.redis.zrange(broker.keys.queue(queue, "dead"), 0, -1)
    return [dramatiq.Message.decode(broker.redis.hget(broker.keys.job(i.decode()), "msg")) for i in ids]


@pytest.fixture
def conformance_namespace(redis_url: str) -> Iterator[str]:
    with redis_namespace(redis_url, "dq") as ns:
        yield ns


@pytest.fixture
def stub_broker(redis_url: str, conformance_namespace: str) -> Iterator[ConformanceBroker]:
    broker = ConformanceBroker(
        redis_url=redis_url,
        namespace=conformance_namespace,
        queues=(),
        defaults=DRAMATIQ_DEFAULTS,
        middleware=[AgeLimit(), Callbacks(), Pipelines()],
        lease_timeout_s=30.0,
    )
    broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    yield broker
    loop_thread().run(broker.close())


redis_broker = stub_broker


@pytest.fixture
def stub_worker(stub_broker: ConformanceBroker) -> Iterator[LoopWorker]:
    worker = LoopWorker(stub_broker, worker_timeout=100, worker_threads=32)
    worker.start()
    yield worker
    worker.stop()


redis_worker = stub_worker


@pytest.fixture
def info_logging() -> Iterator[None]:
    import logging

    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(level)


@pytest.fixture
def redis_rate_limiter_backend(redis_url: str) -> rl_backends.RedisBackend:
    return rl_backends.RedisBackend(client=redis.Redis.from_url(redis_url))


@pytest.fixture
def stub_rate_limiter_backend() -> rl_backends.StubBackend:
    return rl_backends.StubBackend()


@pytest.fixture(params=["memcached", "redis", "stub"])
def rate_limiter_backend(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_rate_limiter_backend")


@pytest.fixture
def redis_result_backend(redis_url: str, conformance_namespace: str) -> res_backends.RedisBackend:
    return res_backends.RedisBackend(url=redis_url, namespace=f"{conformance_namespace}:results")


@pytest.fixture
def stub_result_backend() -> res_backends.StubBackend:
    return res_backends.StubBackend()


@pytest.fixture(params=["memcached", "redis", "stub"])
def result_backend(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_result_backend")

"""The daemon's life: boot, serve, drain.

Boot order: the side server first (``/healthz`` answers, ``/readyz`` says 503
while booting), then PostgreSQL and Redis (waited for, never crashed on), the
broker and the actors, the worker pools; then READY to systemd.

Drain order on SIGTERM/SIGINT (see :meth:`Daemon.drain`): readiness 503 at
once, STOPPING to systemd, stop fetching, SSE clients told to reconnect,
in-flight jobs given ``drain_timeout`` seconds and the rest handed back to
their queues, then the side server and the pools close; exit 0. A second
signal exits at once with :data:`EXIT_FORCED` (the leases of what was running
lapse and another daemon reclaims it).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import os
import signal
import time
from typing import Any, Awaitable, Callable

import asyncpg
import dramatiq
import redis.asyncio as aioredis
from aiohttp import web

from .. import jobs
from ..broker import TheSetBroker, Worker
from ..broker.admin import QueueAdmin
from ..broker.broker import default_middleware
from ..imports.failures import ImportFailures
from ..imports.progress import ProgressReporter
from ..imports.reconcile import reconcile_imports
from ..imports.stream import ProgressHub, reader_client
from ..providers import Providers
from ..providers.quota.forecast import quota_overview
from ..providers.quota.rules import now_ms
from ..providers.safe_fetch import guarded_session
from ..queues import QUEUES
from ..scheduling.scheduler import ClusterScheduler, Schedule, load_schedules, schedules_path
from ..services import cache, webhooks
from ..store.migrate import migrate
from ..store.pool import create_pool
from ..web.app import create_app, mount_daemon, start_runner
from ..web.connection_guard import raise_open_files_limit
from . import encoder, pauses
from .config import Settings
from .loop_monitor import LoopMonitor
from .masking import masker
from .readiness import ReadinessCheck
from .redis_health import RedisHealth
from .refusals import dependency_refusal, postgres_where
from .resources import Resources, resources, set_resources
from .systemd import Notifier

logger = logging.getLogger(__name__)

#: Exit status after a second stop signal (the drain was cut short).
EXIT_FORCED = 1
#: Seconds between attempts to reach PostgreSQL / Redis while booting.
CONNECT_RETRY_S = 1.0
#: What :meth:`Daemon._until_stopped` returns when a stop came first.
STOPPED = object()
#: Seconds one read of the quota budgets and the queued work's cost serves (it reads every queued job).
QUOTA_OVERVIEW_TTL_S = 2.0
#: PostgreSQL connections per daemon (actors hold one only for a statement or a batch).
POOL_SIZE = 20
#: Connections the kernel queues for the side server before it accepts them.
BACKLOG = 1024
#: PostgreSQL connections of the SSE path (snapshots), apart from the job path's.
SSE_POOL_SIZE = 2


class Daemon:
    """One theset-daemon process.

    Parameters:
      settings: the validated configuration.
      migrate: apply pending migrations at boot (safe on many hosts at once).
      notifier: the systemd notifier (built from the environment by default).
    """

    def __init__(self, settings: Settings, *, migrate: bool = True, notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.migrate = migrate
        self.notifier = notifier or Notifier()
        self.readiness = ReadinessCheck()
        self.loop_monitor = LoopMonitor()
        self.stop_requested = asyncio.Event()
        self.app: web.Application | None = None
        self.runner: web.AppRunner | None = None
        self.pool: asyncpg.Pool | None = None
        self.redis: aioredis.Redis | None = None
        self.broker: TheSetBroker | None = None
        self.worker: Worker | None = None
        self.progress: ProgressReporter | None = None
        self.sse_progress: ProgressReporter | None = None
        self.hub: ProgressHub | None = None
        self.schedules: list[Schedule] = []
        self.scheduler: ClusterScheduler | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._quota_overview: tuple[float, list[dict[str, Any]] | None] = (0.0, None)
        self._closers: list[Callable[[], Awaitable[Any]]] = []
        self._signals = 0

    async def run(self) -> int:
        """Boot, serve until a stop signal, drain; return the exit status."""
        self._install_signal_handlers()
        self._tasks += [asyncio.create_task(self.loop_monitor.run()), asyncio.create_task(self.notifier.watchdog())]
        started = time.monotonic()
        await self.build()
        await self.start_http()
        if not await self.boot():
            await self.close()
            return 0
        # Everything loaded so far (modules, actors, pools) lives as long as the process: out of the
        # collector's sight, a full collection no longer walks it (~40 ms for the daemon's ~55k objects).
        gc.collect()
        gc.freeze()
        self.notifier.ready(f"serving on {self.settings.http_host}:{self.settings.http_port}")
        logger.info("ready", extra={"boot_s": round(time.monotonic() - started, 3), "host_id": self.settings.host_id})
        await self.stop_requested.wait()
        await self.drain()
        return 0

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            logger.warning("second %s: exiting now without finishing the drain", sig.name)
            os._exit(EXIT_FORCED)
        logger.info("%s received: draining", sig.name)
        self.readiness.draining = True
        self.stop_requested.set()

    async def start_http(self) -> None:
        """Serve /healthz, /readyz and /metrics before anything else boots."""
        self.readiness.checks["booted"] = self._booted
        self.app = create_app(self.settings, self.readiness, self.loop_monitor)
        mount_daemon(self.app, redis=self.redis, queue_depths=self.broker.export_depths, hub=self.hub,
                     progress=self.sse_progress, schedules=self.schedules, quota_overview=self.quota_overview,
                     queue_admin=QueueAdmin(self.broker, mask=masker(self.settings.secrets).value))
        raise_open_files_limit()
        self.runner = await start_runner(self.app, access_log=None, handler_cancellation=True)
        # A deep accept queue: a crowd of fans reconnecting at once is not turned away by the kernel.
        site = web.TCPSite(self.runner, self.settings.http_host, self.settings.http_port, reuse_address=True,
                           backlog=BACKLOG)
        await site.start()

    async def quota_overview(self) -> list[dict[str, Any]]:
        """Each provider's daily budget and the queued work's expected cost (see ``quota_forecast``);
        read at most once per :data:`QUOTA_OVERVIEW_TTL_S` (the dashboard, the API and scrapes share it)."""
        cached_at, rows = self._quota_overview
        if rows is None or time.monotonic() - cached_at > QUOTA_OVERVIEW_TTL_S:
            budgets = resources().providers.budgets
            rows = await quota_overview(budgets, self.redis, self.broker.keys, now_ms())
            self._quota_overview = (time.monotonic(), rows)
        return rows

    async def _booted(self) -> bool:
        return self.worker is not None and self.worker.running

    async def build(self) -> None:
        """Create the broker, pools and clients; nothing connects until first used."""
        settings = self.settings
        encoder.install()
        self.broker = TheSetBroker(
            target=settings.redis_target,
            namespace=settings.redis_namespace,
            queues=QUEUES,
            defaults=settings.jobs,
            host_id=settings.host_id,
            lease_timeout_s=settings.lease_timeout,
            middleware=[
                *default_middleware(settings.redis_target, settings.redis_namespace, settings.jobs),
                ImportFailures(),
            ],
        )
        dramatiq.set_broker(self.broker)
        self.broker.emit_after("process_boot")  # once per process, as Dramatiq's CLI would
        for module in settings.actor_modules:
            importlib.import_module(module)
        actor_queues = {name: actor.queue_name for name, actor in self.broker.actors.items()}
        jobs.check_actor_queues(actor_queues, (q.name for q in QUEUES))  # a job on an unserved queue would wait forever
        self.schedules = load_schedules(schedules_path(settings.schedules_file), actor_queues)
        self._closers.append(self.broker.close)
        self.redis = self.broker.aredis
        self.pool = await create_pool(settings.database_url, min_size=0, max_size=POOL_SIZE)
        self._closers.append(self.pool.close)
        providers = await Providers.open(settings, redis=self.redis)
        self._closers.append(providers.close)
        image_session = guarded_session(allow_private=settings.allow_private_fetch)
        self._closers.append(image_session.close)
        self.progress = ProgressReporter(self.pool, self.redis, settings.redis_namespace)
        # The SSE path has connections of its own (Redis and PostgreSQL): fans can never take
        # one from the job path, readiness or the admin API.
        sse_redis = reader_client(settings, readers=settings.sse_readers)
        self._closers.append(sse_redis.aclose)
        sse_pool = await create_pool(settings.database_url, min_size=0, max_size=SSE_POOL_SIZE)
        self._closers.append(sse_pool.close)
        self.sse_progress = ProgressReporter(sse_pool, sse_redis, settings.redis_namespace)
        self.hub = ProgressHub(
            sse_redis, settings.redis_namespace, readers=settings.sse_readers, max_streams=settings.sse_max_streams
        )
        webhook_session = webhooks.new_session(settings.allow_private_fetch)
        self._closers.append(webhook_session.close)
        set_resources(Resources(
            settings, self.pool, self.redis, self.broker, providers, self.progress, image_session,
            webhook_session=webhook_session, cache=cache.Cache(self.redis, settings.redis_namespace),
        ))

    async def boot(self) -> bool:
        """Wait for PostgreSQL (migrating it) and Redis, start the workers; False if stopped first."""
        # The checks are in place while booting: /readyz says why the boot waits (TLS, auth, ...).
        health = RedisHealth(self.broker, allow_eviction=self.settings.redis_allow_eviction)
        self.readiness.checks.update(
            postgres=lambda: self.pool.fetchval("SELECT 1"),
            redis=health.clients, redis_scripts=health.scripts, redis_eviction=health.eviction,
        )
        if self.migrate and await self._until_stopped(self._migrate, "migrating PostgreSQL") is STOPPED:
            return False
        if await self._until_stopped(lambda: self.pool.fetchval("SELECT 1"), "connecting to PostgreSQL") is STOPPED:
            return False
        if await self._until_stopped(health.connect, "connecting to Redis") is STOPPED:
            return False
        self._tasks.append(asyncio.create_task(health.watch()))
        self.broker.failover_listeners.append(self._after_failover)
        self._tasks.append(asyncio.create_task(pauses.watch(self.pool, self.broker)))
        await self.start_workers()
        if not self.stop_requested.is_set():
            await self.start_scheduler()
        return not self.stop_requested.is_set()

    async def start_scheduler(self) -> None:
        self.scheduler = ClusterScheduler(self.schedules, pool=self.pool, broker=self.broker, host_id=self.settings.host_id)
        await self.scheduler.start()

    async def _migrate(self) -> list[str]:
        applied = await migrate(self.settings.database_url)
        if applied:
            logger.info("migrations applied", extra={"migrations": applied})
        return applied

    async def _until_stopped(self, attempt: Callable[[], Awaitable[Any]], what: str) -> Any:
        """Retry ``attempt`` until it succeeds (its result) or a stop is requested (:data:`STOPPED`).

        Raises:
          DependencyRefused: a refusal retrying cannot cure (wrong password, unknown
            role or database, db index out of range): the start stops, exit 78.
        """
        where = self._where(what)
        while not self.stop_requested.is_set():
            try:
                return await attempt()
            except Exception as exc:
                refused = dependency_refusal(exc, self.settings, where)
                if refused is not None:
                    raise refused from None
                self.notifier.status(f"{what}: {type(exc).__name__}")
                logger.warning("%s at %s failed, retrying: %s", what, where, exc)
                try:
                    await asyncio.wait_for(self.stop_requested.wait(), CONNECT_RETRY_S)
                except asyncio.TimeoutError:
                    pass
        return STOPPED

    def _after_failover(self, old: str, new: str) -> None:
        """Redis's primary moved: its last writes may be lost, so reconcile imports now, not at the next minute."""
        task = asyncio.get_running_loop().create_task(self._reconcile_after_failover(new))
        self._tasks.append(task)

    async def _reconcile_after_failover(self, new: str) -> None:
        for _ in range(30):  # bounded: the new primary may still be settling
            try:
                report = await reconcile_imports(resources())
                logger.info("reconciled imports after the failover to %s", new, extra=report.as_dict())
                return
            except Exception as exc:
                logger.warning("reconciliation after the failover failed, retrying: %s", exc)
                await asyncio.sleep(1)

    def _where(self, what: str) -> str:
        return self.broker.target.where if "Redis" in what else postgres_where(self.settings.database_url)

    async def start_workers(self) -> None:
        served = [spec for spec in QUEUES if spec.name in self.settings.queues] or list(QUEUES)
        self.worker = Worker(self.broker, queues=served, concurrency=dict(self.settings.concurrency),
                             log_kwargs=("import_id",))  # log lines of an import's jobs carry its id
        await self.worker.start()

    async def drain(self) -> None:
        """Stop taking work, let in-flight jobs finish, hand back the rest, close."""
        started = time.monotonic()
        self.readiness.draining = True
        self.notifier.stopping("draining")
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.worker is not None:
            self.worker.stop_fetching()
        if self.hub is not None:
            await self.hub.close(reconnect_hint=True)
        if self.worker is not None:
            report = await self.worker.drain(self.settings.drain_timeout)
            logger.info(
                "drained",
                extra={"finished": report.finished, "handed_back": report.handed_back, "drain_s": round(report.seconds, 3)},
            )
        await self.close()
        logger.info("stopped", extra={"stop_s": round(time.monotonic() - started, 3)})

    async def close(self) -> None:
        """Close the side server, the pools and the background tasks, newest first."""
        if self.runner is not None:
            await self.runner.cleanup()
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception as exc:
                logger.warning("error while closing: %s", exc)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        set_resources(None)
        self.notifier.close()

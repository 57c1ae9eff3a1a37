"""Import progress over SSE, read with a real HTTP client from real aiohttp servers."""

from __future__ import annotations

import time
import uuid
from typing import Any, Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from tests.helpers.environment import free_port
from tests.helpers.import_rows import new_import
from tests.helpers.sse import SECRET, TIMEOUT, Daemon, SseReader, connect, eventually, expect_error, open_stream
from theset_daemon.runtime import config
from theset_daemon.imports import plan
from theset_daemon.store import imports as imports_store
from theset_daemon.imports.errors import PROVIDER_UNAVAILABLE, ImportFailure
from theset_daemon.runtime.metrics import SSE_CLIENTS
from theset_daemon.imports.signing import events_url, sign_events_token
from theset_daemon.imports.stream import ProgressHub, Reconnect, StreamEntry, Subscription
from theset_daemon.web.app import IMPORT_ROUTES
from theset_daemon.web.keys import SETTINGS

# --- delivery ----------------------------------------------------------------------------


async def test_snapshot_then_live_events_then_done_closes(start_daemon, http, reporter, pg_pool) -> None:
    daemon = await start_daemon()
    import_id = await new_import(pg_pool)
    first = await reporter.report(import_id, stage="artist", progress=10, message="artist found")
    reader, snapshot = await open_stream(http, daemon, import_id)
    assert 1500 <= int(snapshot["retry"]) <= 1500 * 1.5  # the hint plus its jitter
    assert snapshot["id"] == first  # replay starts after what the snapshot shows
    assert (snapshot["data"]["stage"], snapshot["data"]["progress"]) == ("artist", 10)

    sent = [await reporter.report(import_id, stage="catalog", progress=n) for n in (20, 30, 40)]
    events = [await reader.event() for _ in sent]
    assert [e["id"] for e in events] == sent
    assert [e["event"] for e in events] == ["progress"] * 3
    assert [e["data"]["progress"] for e in events] == [20, 30, 40]

    done = await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED, counts={"songs": 9})
    final = await reader.event()
    assert final is not None and (final["event"], final["id"]) == ("done", done)
    assert final["data"]["status"] == "completed" and final["data"]["counts"] == {"songs": 9}
    assert await reader.block() is None  # the server ended the response
    await eventually(lambda: daemon.hub.readers == 0)


async def test_reconnect_with_last_event_id_misses_and_repeats_nothing(start_daemon, http, reporter, pg_pool) -> None:
    daemon = await start_daemon()
    import_id = await new_import(pg_pool)
    reader, _ = await open_stream(http, daemon, import_id)
    seen = [(await reader.event())["id"] for _ in [await reporter.report(import_id, stage="shows", progress=n) for n in (5, 10)]]
    reader.response.close()
    await eventually(lambda: daemon.hub.clients == 0)

    missed = [await reporter.report(import_id, stage="shows", progress=n) for n in (15, 20)]
    reader, snapshot = await open_stream(http, daemon, import_id, last_id=seen[-1])
    assert snapshot["data"]["progress"] == 20 and snapshot["id"] == seen[-1]
    replayed = [await reader.event() for _ in missed]
    assert [e["id"] for e in replayed] == missed
    live = await reporter.report(import_id, stage="shows", progress=25)
    assert (await reader.event())["id"] == live

    # the same through the query parameter a client without headers uses
    response = await http.get(
        f"{daemon.url}/api/imports/{import_id}/events",
        params={"token": sign_events_token(SECRET, import_id, ttl_s=60), "lastEventId": seen[0]},
    )
    again = SseReader(response)
    assert (await again.event())["event"] == "snapshot"
    assert [(await again.event())["id"] for _ in range(4)] == [seen[1], *missed, live][:4]
    entries = [seen[1], *missed, live]
    assert len(set(entries)) == len(entries)


async def test_two_daemons_serve_one_import_from_one_redis(start_daemon, http, reporter, pg_pool) -> None:
    one, two = await start_daemon(), await start_daemon(decode_responses=True)
    import_id = await new_import(pg_pool)
    reader_one, _ = await open_stream(http, one, import_id)
    reader_two, _ = await open_stream(http, two, import_id)
    sent = [await reporter.report(import_id, stage="venues", progress=n) for n in (50, 60)]
    sent.append(await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED))
    for reader in (reader_one, reader_two):
        events = [await reader.event() for _ in sent]
        assert [e["id"] for e in events] == sent
        assert [e["event"] for e in events] == ["progress", "progress", "done"]
        assert await reader.event() is None
    await eventually(lambda: one.hub.readers == two.hub.readers == 0)


async def test_many_clients_share_one_redis_reader(start_daemon, http, reporter, pg_pool) -> None:
    daemon = await start_daemon()
    import_id, other_id = await new_import(pg_pool), await new_import(pg_pool)
    clients_before = SSE_CLIENTS._value.get()
    readers = [(await open_stream(http, daemon, import_id))[0] for _ in range(12)]
    assert (daemon.hub.readers, daemon.hub.clients) == (1, 12)
    assert SSE_CLIENTS._value.get() == clients_before + 12
    other, _ = await open_stream(http, daemon, other_id)
    assert daemon.hub.readers == 2

    entry = await reporter.report(import_id, stage="setlists", progress=70)
    for reader in readers:
        assert (await reader.event())["id"] == entry
    for reader in readers:
        reader.response.close()
    await eventually(lambda: daemon.hub.clients == 1)
    assert daemon.hub.readers == 1
    other.response.close()
    await eventually(lambda: daemon.hub.readers == 0)
    assert SSE_CLIENTS._value.get() == clients_before


async def test_finished_import_sends_snapshot_and_done(start_daemon, http, reporter, pg_pool) -> None:
    daemon = await start_daemon()
    import_id = await new_import(pg_pool)
    progress_id = await reporter.report(import_id, stage="catalog", progress=50)
    boom = ImportFailure(PROVIDER_UNAVAILABLE, "catalog: spotify kept failing").to_text()
    done_id = await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_FAILED, error=boom)

    reader, snapshot = await open_stream(http, daemon, import_id)  # fresh client: state, then done
    assert snapshot["data"]["status"] == "failed"
    done = await reader.event()
    assert done["event"] == "done"
    assert done["data"]["error"] == {"code": "provider_unavailable", "message": "catalog: spotify kept failing"}
    assert await reader.event() is None

    reader, _ = await open_stream(http, daemon, import_id, last_id="0-0")  # reconnecting client: replay
    events = [await reader.event(), await reader.event()]
    assert [(e["event"], e["id"]) for e in events] == [("progress", progress_id), ("done", done_id)]
    assert await reader.event() is None


async def test_heartbeat_comments_while_idle(start_daemon, http, pg_pool) -> None:
    daemon = await start_daemon(heartbeat_s=0.05)
    import_id = await new_import(pg_pool)
    reader, _ = await open_stream(http, daemon, import_id)
    assert await reader.block() == {"comment": "keepalive"}
    assert await reader.block() == {"comment": "keepalive"}


# --- errors ------------------------------------------------------------------------------


async def test_token_and_import_errors(start_daemon, http, pg_pool) -> None:
    daemon = await start_daemon()
    import_id, other_id = await new_import(pg_pool), await new_import(pg_pool)
    forged = sign_events_token("not-the-secret", import_id, ttl_s=60)
    expired = sign_events_token(SECRET, import_id, ttl_s=60, now=time.time() - 120)
    others = sign_events_token(SECRET, other_id, ttl_s=60)
    await expect_error(await connect(http, daemon, import_id, token=forged), 401, "invalid_token", reason="forged")
    await expect_error(await connect(http, daemon, import_id, token=expired), 401, "invalid_token", reason="expired")
    await expect_error(await connect(http, daemon, import_id, token=others), 401, "invalid_token", reason="wrong_import")
    await expect_error(await connect(http, daemon, import_id, token="garbage"), 401, "invalid_token", reason="malformed")
    await expect_error(await connect(http, daemon, import_id, token=""), 401, "invalid_token", reason="malformed")
    unknown = str(uuid.uuid4())
    body = await expect_error(await connect(http, daemon, unknown), 404, "not_found")
    assert unknown in body["message"]
    await expect_error(await connect(http, daemon, "not-a-uuid"), 404, "not_found")
    assert daemon.hub.readers == 0


def test_events_url_carries_a_valid_token() -> None:
    import_id = str(uuid.uuid4())
    url = events_url("https://sync.theset.live/", SECRET, import_id, ttl_s=60)
    assert url.startswith(f"https://sync.theset.live/api/imports/{import_id}/events?token=")


# --- shutdown ----------------------------------------------------------------------------


async def test_shutdown_sends_reconnect_and_closes(start_daemon, http, reporter, pg_pool) -> None:
    daemon = await start_daemon()
    import_id = await new_import(pg_pool)
    readers = [(await open_stream(http, daemon, import_id))[0] for _ in range(3)]
    started = time.monotonic()
    await daemon.runner.cleanup()  # on_shutdown: hub.close(reconnect_hint=True)
    for reader in readers:
        event = await reader.event()
        assert event is not None and event["event"] == "reconnect" and 1500 <= int(event["retry"]) <= 2250
        assert event["data"] == {"reason": "shutdown"}
        assert await reader.event() is None
    assert time.monotonic() - started < 5  # promptly, not at the next heartbeat or timeout
    assert (daemon.hub.readers, daemon.hub.clients) == (0, 0)


async def test_closed_hub_answers_reconnect_at_once(start_daemon, http, pg_pool) -> None:
    daemon = await start_daemon()
    import_id = await new_import(pg_pool)
    await daemon.hub.close()
    response = await connect(http, daemon, import_id)
    reader = SseReader(response)
    event = await reader.event()
    assert event is not None and event["event"] == "reconnect"
    assert await reader.event() is None


async def test_redis_away_answers_reconnect_not_a_500(start_daemon, http, pg_pool) -> None:
    daemon = await start_daemon(url=f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    import_id = await new_import(pg_pool)
    response = await connect(http, daemon, import_id)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    reader = SseReader(response)
    event = await reader.event()
    assert event is not None and event["event"] == "reconnect" and event["data"] == {"reason": "unavailable"}
    assert 1500 <= int(event["retry"]) <= 2250
    assert await reader.event() is None


# --- the hub on its own ------------------------------------------------------------------


def entry(entry_id: str) -> StreamEntry:
    return StreamEntry.of(entry_id, {"importId": "x", "status": "running", "progress": 1})


async def test_slow_subscriber_is_told_to_reconnect() -> None:
    sub = Subscription("0-0", queue_size=2)
    for n in (1, 2, 3):
        sub.push(entry(f"{n}-0"))
    with pytest.raises(Reconnect, match="behind"):
        await sub.next(1.0)


async def test_shutdown_preempts_a_pending_replay() -> None:
    sub = Subscription("0-0", queue_size=10)
    sub.pending.extend([entry("1-0"), entry("2-0")])
    assert (await sub.next(1.0)).id == "1-0"
    sub.end(Reconnect("shutdown"))
    with pytest.raises(Reconnect, match="shutdown"):
        await sub.next(1.0)


async def test_subscription_skips_entries_already_replayed() -> None:
    sub = Subscription("0-0", queue_size=10)
    sub.pending.extend([entry("1-0"), entry("2-0")])
    for entry_id in ("2-0", "3-0"):
        sub.push(entry(entry_id))
    got = [(await sub.next(1.0)).id for _ in range(3)]
    assert got == ["1-0", "2-0", "3-0"]
    assert await sub.next(0.01) is None


async def test_late_subscriber_joins_live_without_gap(async_redis, namespace, reporter, pg_pool) -> None:
    hub = ProgressHub(async_redis, namespace, block_ms=1000)
    import_id = await new_import(pg_pool)
    async with hub.subscribe(import_id) as early:
        first = await reporter.report(import_id, stage="images", progress=10)
        assert (await early.next(TIMEOUT)).id == first
        async with hub.subscribe(import_id, "0-0") as late:
            second = await reporter.report(import_id, stage="images", progress=20)
            assert [(await late.next(TIMEOUT)).id for _ in range(2)] == [first, second]
            assert (await early.next(TIMEOUT)).id == second
            assert hub.readers == 1
    assert hub.readers == 0
    await hub.close()


class _StalePipelineRedis:
    """A Redis proxy whose next MULTI runs ``hook`` right after it, as if entries raced in."""

    def __init__(self, redis: aioredis.Redis, hook: Callable[[], Awaitable[None]]) -> None:
        self._redis, self._hook = redis, hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def xrange(self, *args: Any, **kw: Any) -> Any:  # the gap read of a subscriber joining a live feed
        result = await self._redis.xrange(*args, **kw)
        await self._hook()
        return result

    def pipeline(self, **kw: Any) -> Any:
        pipe, hook = self._redis.pipeline(**kw), self._hook

        class Pipe:
            async def __aenter__(self) -> Any:
                await pipe.__aenter__()
                return self

            async def __aexit__(self, *exc: Any) -> None:
                await pipe.__aexit__(*exc)

            def __getattr__(self, name: str) -> Any:
                return getattr(pipe, name)

            async def execute(self) -> Any:
                result = await pipe.execute()
                await hook()
                return result

        return Pipe()


async def test_subscriber_fills_the_gap_when_the_reader_is_ahead(async_redis, namespace, reporter, pg_pool) -> None:
    import_id = await new_import(pg_pool)
    hub = ProgressHub(async_redis, namespace, block_ms=1000)
    raced: list[str] = []
    async with hub.subscribe(import_id) as early:
        first = await reporter.report(import_id, stage="images", progress=10)
        assert (await early.next(TIMEOUT)).id == first

        async def race() -> None:  # entries the reader delivers after the late replay was read
            for n in (20, 30):
                raced.append(await reporter.report(import_id, stage="images", progress=n))
                assert (await early.next(TIMEOUT)).id == raced[-1]

        hub.redis = _StalePipelineRedis(async_redis, race)  # type: ignore[assignment]
        async with hub.subscribe(import_id, "0-0") as late:
            hub.redis = async_redis
            last = await reporter.report(import_id, stage="images", progress=40)
            assert [(await late.next(TIMEOUT)).id for _ in range(4)] == [first, *raced, last]
            assert await late.next(0.05) is None
    await hub.close()


async def test_unwired_app_answers_503(http) -> None:
    app = web.Application()
    app[SETTINGS] = config.load({"THESET_SSE_SECRET": SECRET})
    app.add_routes(IMPORT_ROUTES)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        import_id = str(uuid.uuid4())
        daemon = Daemon(f"http://127.0.0.1:{port}", None, runner, None)  # type: ignore[arg-type]
        await expect_error(await connect(http, daemon, import_id), 503, "unavailable")
    finally:
        await runner.cleanup()

"""Progress reports: the import_status row, the Redis Stream, phase timing, tokens."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis

from tests.helpers.import_rows import new_import
from theset_daemon.imports import plan
from theset_daemon.imports import progress as p
from theset_daemon.store import imports as imports_store
from theset_daemon.imports.errors import NOT_FOUND, ImportFailure
from theset_daemon.runtime.metrics import IMPORT_PHASE_DURATION
from theset_daemon.imports.signing import InvalidToken, _b64encode, sign_events_token, verify_events_token

#: The columns sql/001_schema.sql gives import_status (created here in a test-local schema).
@pytest.fixture
def reporter(pg_pool: asyncpg.Pool, async_redis: aioredis.Redis, namespace: str) -> p.ProgressReporter:
    return p.ProgressReporter(pg_pool, async_redis, namespace, stream_ttl_s=600)


async def stream(redis: aioredis.Redis, namespace: str, import_id: str) -> list[tuple[str, dict]]:
    entries = await redis.xrange(p.stream_key(namespace, import_id))
    return [(i.decode(), orjson.loads(f[b"data"])) for i, f in entries]


async def test_report_writes_row_then_stream(reporter: p.ProgressReporter, pg_pool, async_redis, namespace) -> None:
    import_id = await new_import(pg_pool)
    entry = await reporter.report(import_id, stage="artist", progress=10, message="artist found", counts={"artists": 1})
    snap = await reporter.snapshot(import_id)
    assert snap is not None
    assert (snap["status"], snap["stage"], snap["progress"], snap["message"]) == ("running", "artist", 10, "artist found")
    assert snap["counts"] == {"artists": 1} and snap["tmAttractionId"] == "K8vZ9171"
    [(entry_id, event)] = await stream(async_redis, namespace, import_id)
    assert entry_id == entry
    assert event == snap  # every event is the import's whole view, as the snapshot shows it
    ttl = await async_redis.ttl(p.stream_key(namespace, import_id))
    assert 0 < ttl <= 600


async def test_progress_never_goes_backwards_and_counts_merge(reporter: p.ProgressReporter, pg_pool) -> None:
    import_id = await new_import(pg_pool)
    await reporter.report(import_id, stage="catalog", progress=40, counts={"songs": 120})
    await reporter.report(import_id, stage="shows", progress=30, counts={"shows": 12})
    snap = await reporter.snapshot(import_id)
    assert snap is not None
    assert (snap["stage"], snap["progress"]) == ("shows", 40)
    assert snap["counts"] == {"songs": 120, "shows": 12}


async def test_final_event_and_frozen_afterwards(reporter: p.ProgressReporter, pg_pool, async_redis, namespace) -> None:
    import_id = await new_import(pg_pool)
    await reporter.report(import_id, stage="setlists", progress=80)
    await reporter.report(import_id, stage=plan.DONE, progress=95, status=imports_store.STATUS_COMPLETED, counts={"setlists": 3})
    assert await reporter.report(import_id, stage="images", progress=10) is None
    snap = await reporter.snapshot(import_id)
    assert snap is not None
    assert (snap["status"], snap["stage"], snap["progress"]) == ("completed", "done", 100)
    assert snap["completedAt"] is not None
    events = [e for _, e in await stream(async_redis, namespace, import_id)]
    assert [e["status"] for e in events] == ["running", "completed"]
    assert events[-1]["progress"] == 100 and events[-1]["counts"] == {"setlists": 3}


async def test_failed_carries_error(reporter: p.ProgressReporter, pg_pool, async_redis, namespace) -> None:
    import_id = await new_import(pg_pool)
    error = ImportFailure(NOT_FOUND, "no attraction K8vZ9171").to_text()
    await reporter.report(import_id, stage="artist", progress=5, status=imports_store.STATUS_FAILED, error=error)
    [(_, event)] = await stream(async_redis, namespace, import_id)
    assert (event["status"], event["error"]) == ("failed", {"code": "not_found", "message": "no attraction K8vZ9171"})


async def test_unknown_import_and_bad_arguments(reporter: p.ProgressReporter, async_redis, namespace) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(p.UnknownImport):
        await reporter.report(missing, stage="artist", progress=1)
    with pytest.raises(p.UnknownImport):
        await reporter.report("not-a-uuid", stage="artist", progress=1)
    assert await async_redis.exists(p.stream_key(namespace, missing)) == 0
    assert await reporter.snapshot(missing) is None
    assert await reporter.snapshot("not-a-uuid") is None
    with pytest.raises(ValueError, match="stage"):
        await reporter.report(missing, stage="bogus", progress=1)
    with pytest.raises(ValueError, match="0..100"):
        await reporter.report(missing, stage="artist", progress=101)


def phase_count(stage: str) -> float:
    for metric in IMPORT_PHASE_DURATION.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count") and sample.labels.get("phase") == stage:
                return sample.value
    return 0.0


async def test_stage_done_observes_phase_once(reporter: p.ProgressReporter, pg_pool) -> None:
    import_id = await new_import(pg_pool)
    before = phase_count("venues")
    await reporter.report(import_id, stage="venues", progress=50)
    await reporter.report(import_id, stage="venues", progress=60, stage_done=True)
    await reporter.report(import_id, stage="venues", progress=60, stage_done=True)  # a retried job
    assert phase_count("venues") == before + 1


async def test_stream_trimmed_to_about_maxlen(reporter: p.ProgressReporter, pg_pool, async_redis, namespace) -> None:
    import_id = await new_import(pg_pool)
    key = p.stream_key(namespace, import_id)
    async with async_redis.pipeline(transaction=False) as pipe:
        for _ in range(p.STREAM_MAXLEN + 300):
            pipe.xadd(key, {"data": b"{}"})
        await pipe.execute()
    await reporter.report(import_id, stage="catalog", progress=1)
    assert await async_redis.xlen(key) < p.STREAM_MAXLEN + 300


# --- signed SSE tokens -----------------------------------------------------------------------

SECRET = "s3cret-for-tests-" + "x" * 16


def reason(secret: str, token: str, import_id: str, **kw: float) -> str:
    with pytest.raises(InvalidToken) as info:
        verify_events_token(secret, token, import_id, **kw)
    return info.value.reason


def test_token_roundtrip_and_url_safe() -> None:
    import_id = str(uuid.uuid4())
    token = sign_events_token(SECRET, import_id, ttl_s=60, now=1000)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    verify_events_token(SECRET, token, import_id, now=1059)


def test_token_rejections() -> None:
    import_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    token = sign_events_token(SECRET, import_id, ttl_s=60, now=1000)
    assert reason(SECRET, token, import_id, now=1060) == "expired"
    assert reason(SECRET, token, other, now=1000) == "wrong_import"
    assert reason("another-secret", token, import_id, now=1000) == "forged"
    payload, mac = token.split(".")
    tampered = orjson.dumps({"i": import_id, "e": 10**10})

    assert reason(SECRET, f"{_b64encode(tampered)}.{mac}", import_id, now=1000) == "forged"
    for junk in ("", "abc", "a.", ".b", "a.b.c!", "é.é"):
        assert reason(SECRET, junk, import_id, now=1000) in {"malformed", "forged"}
    assert reason(SECRET, "abc", import_id) == "malformed"


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        sign_events_token("", "x", ttl_s=60)
    with pytest.raises(ValueError):
        verify_events_token("", "a.b", "x")


class _SlowFirstAppend:
    """A Redis client whose first transaction (the first report's XADD) is held back ``delay`` seconds."""

    def __init__(self, redis: aioredis.Redis, delay: float) -> None:
        self._redis, self._delay, self._held = redis, delay, False

    def pipeline(self, *args, **kwargs):
        pipe = self._redis.pipeline(*args, **kwargs)
        if not self._held:
            self._held = True
            execute, delay = pipe.execute, self._delay

            async def slow_execute(*a, **k):
                await asyncio.sleep(delay)
                return await execute(*a, **k)

            pipe.execute = slow_execute
        return pipe


async def test_concurrent_reports_reach_the_stream_in_progress_order(pg_pool, async_redis, namespace) -> None:
    """Two hosts report one import at once: the stream never shows progress going backwards.

    Found by the chaos run (three daemons): a phase's report read 40 from the row, another's 50,
    and the 50 was appended first, so SSE clients saw 50 then 40.
    """
    import_id = await new_import(pg_pool)
    slow = p.ProgressReporter(pg_pool, _SlowFirstAppend(async_redis, 0.3), namespace, stream_ttl_s=600)
    fast = p.ProgressReporter(pg_pool, async_redis, namespace, stream_ttl_s=600)
    first = asyncio.create_task(slow.report(import_id, stage="catalog", progress=40))
    await asyncio.sleep(0.1)  # the slow report has updated the row and is appending
    await asyncio.gather(first, fast.report(import_id, stage="shows", progress=50))
    progress = [event["progress"] for _, event in await stream(async_redis, namespace, import_id)]
    assert progress == sorted(progress) == [40, 50]


async def test_a_report_whose_append_fails_still_updates_the_row(pg_pool, async_redis, namespace) -> None:
    """Redis down at the final report: the row still says completed (reconciliation relies on it)."""

    class Down:
        def pipeline(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    import_id = await new_import(pg_pool)
    reporter = p.ProgressReporter(pg_pool, Down(), namespace, stream_ttl_s=600)
    with pytest.raises(ConnectionError):
        await reporter.report(import_id, stage=plan.DONE, progress=100, status=imports_store.STATUS_COMPLETED)
    assert await pg_pool.fetchval("select status from import_status where id = $1::text::uuid", import_id) == "completed"

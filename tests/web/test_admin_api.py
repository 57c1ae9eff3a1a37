"""The admin and jobs HTTP API on a real daemon subprocess (real Redis and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import dramatiq
import pytest
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.admin_api import (
    WebhookReceiver,
    call,
    drop_namespace,
    module_env,
    poll,
    queue_row,
    sign_in,
)

from theset_daemon.broker import TheSetBroker
from theset_daemon.queues import QUEUES
from theset_daemon.web.admin_auth import CSRF_HEADER, SESSION_COOKIE


@pytest.fixture(scope="module")
def served(redis_url, database_url) -> Iterator[tuple[DaemonProcess, TheSetBroker, dict]]:
    """One daemon for the module, and a producer broker on its namespace."""
    env, namespace = module_env(redis_url, database_url, THESET_JOB_MAX_ATTEMPTS="1")
    daemon = DaemonProcess(env).start()
    producer = TheSetBroker(redis_url=redis_url, namespace=namespace, queues=QUEUES, host_id="test-producer")
    try:
        daemon.wait_ready()
        yield daemon, producer, env
    finally:
        daemon.stop()
        producer.redis.close()
        drop_namespace(redis_url, namespace)


@pytest.fixture(scope="module")
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def send(producer: TheSetBroker, actor: str, queue: str = "webhook", delay: int | None = None, **kwargs) -> str:
    message = dramatiq.Message(queue_name=queue, actor_name=actor, args=(), kwargs=kwargs, options={})
    return producer.enqueue(message, delay=delay).message_id


def webhook(producer: TheSetBroker, hook: WebhookReceiver, n: int) -> str:
    return send(producer, "deliver_webhook", url=hook.url, event="import.completed", delivery_id=f"d{n}",
                payload={"n": n})


def job(daemon: DaemonProcess, job_id: str) -> dict:
    status, body = call(daemon, "GET", f"/api/jobs/{job_id}")
    assert status == 200, body
    return body


def test_no_token_wrong_token_and_read_only_are_refused(served):
    daemon, _, env = served
    for token in (None, "wrong", ""):
        status, body = call(daemon, "GET", "/api/admin/queues", token=token)
        assert status == 401 and body["error"] == "unauthorized", body
    status, body = call(daemon, "GET", "/api/jobs/x", token="test-api-token-wrong-realm")
    assert status == 401
    # a dashboard session reads; its actions need the CSRF header
    cookie, csrf = sign_in(daemon)
    session = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    assert call(daemon, "GET", "/api/admin/queues", token=None, headers=session)[0] == 200
    assert call(daemon, "POST", "/api/admin/queues/cleanup/pause", token=None, headers=session)[0] == 401
    status, body = call(daemon, "POST", "/api/admin/queues/cleanup/pause", token=None,
                        headers={**session, CSRF_HEADER: csrf})
    assert status == 200 and body == {"queue": "cleanup", "action": "pause", "affected": 1}
    assert call(daemon, "POST", "/api/admin/queues/cleanup/resume")[1]["affected"] == 1


def test_bad_input_names_the_parameter(served):
    daemon, _, _ = served
    cases = [
        ("/api/jobs?queue=webhook&state=sleeping", 400, "state"),
        ("/api/jobs?since=yesterday", 400, "since"),
        ("/api/jobs?since=5&until=4", 400, "until"),
        ("/api/jobs?q=" + "x" * 201, 400, "q"),
        ("/api/admin/dlq?cursor=%%%", 400, "cursor"),
        ("/api/admin/imports?cursor=bm90LWEtY3Vyc29y", 400, "cursor"),
        ("/api/jobs?queue=webhook&state=failed&limit=0", 400, "limit"),
        ("/api/jobs?queue=webhook&state=failed&limit=201", 400, "limit"),
        ("/api/jobs?queue=webhook&state=failed&limit=ten", 400, "limit"),
        ("/api/jobs?queue=webhook&state=failed&cursor=%%%", 400, "cursor"),
        ("/api/admin/dlq?limit=-1", 400, "limit"),
        ("/api/admin/imports?limit=1000", 400, "limit"),
    ]
    for path, status, field in cases:
        got, body = call(daemon, "GET", path)
        assert (got, body.get("field")) == (status, field), (path, body)
        assert body["error"] == "invalid_request" and body["message"]
    for method, path in [("GET", "/api/jobs?queue=nope&state=failed"), ("GET", "/api/admin/dlq?queue=nope"),
                         ("POST", "/api/admin/queues/nope/pause"), ("DELETE", "/api/admin/dlq?queue=nope")]:
        got, body = call(daemon, method, path)
        assert got == 404 and "'nope'" in body["message"], (path, body)
    got, body = call(daemon, "GET", "/api/jobs/no-such-job")
    assert got == 404 and "no-such-job" in body["message"]
    assert call(daemon, "POST", "/api/admin/queues/webhook/explode")[0] == 404
    got, body = call(daemon, "POST", "/api/admin/queues/webhook/clean?olderThanS=soon")
    assert got == 400 and body["field"] == "olderThanS"
    got, body = call(daemon, "POST", "/api/admin/dlq/retry", body={"jobId": "a", "queue": "webhook"})
    assert got == 400 and body["field"] == "body"
    got, body = call(daemon, "POST", "/api/admin/dlq/retry", body={"jobIds": []})
    assert got == 400 and body["field"] == "jobIds"
    got, body = call(daemon, "POST", "/api/admin/dlq/retry", body={"queue": "nope"})
    assert got == 404
    got, body = call(daemon, "POST", "/api/admin/schedules/nope/run")
    assert got == 404 and "'nope'" in body["message"]


def test_overview_shape(served):
    daemon, _, _ = served
    status, body = call(daemon, "GET", "/api/admin/queues")
    assert status == 200
    assert [q["name"] for q in body["queues"]] == [q.name for q in QUEUES]
    spotify = next(q for q in body["queues"] if q["name"] == "spotify_sync")
    assert spotify["rateLimit"] == 30.0 and spotify["concurrency"] == 3 and spotify["defaultPriority"] == "HIGH"
    assert set(spotify["counts"]) == {"waiting", "delayed", "active", "completed", "failed", "dead"}
    assert list(spotify["waitingByPriority"]) == ["CRITICAL", "HIGH", "NORMAL", "LOW", "BACKGROUND"]
    assert len(spotify["throughputPerMin"]) == 15
    [me] = poll(lambda: call(daemon, "GET", "/api/admin/queues")[1]["daemons"], lambda d: len(d) == 1)
    assert me["alive"] is True and me["lastHeartbeat"] > 0


def test_job_lifecycle_actions_and_dead_letter_retry(served, hook):
    daemon, producer, _ = served
    # a delivery the receiver refuses (4xx: permanent) is dead-lettered with its story
    hook.status = 410
    dead_ids = [webhook(producer, hook, n) for n in range(3)]
    for _ in dead_ids:
        assert hook.next()["status"] == 410
    poll(lambda: queue_row(daemon, "webhook")["counts"]["dead"], lambda n: n == 3)
    status, body = call(daemon, "GET", "/api/admin/dlq?queue=webhook")
    assert status == 200 and {d["jobId"] for d in body["deadLetters"]} == set(dead_ids)
    letter = body["deadLetters"][0]
    assert letter["reason"] == "permanent" and letter["actor"] == "deliver_webhook" and letter["attempts"] == 1
    assert letter["kwargs"]["url"] == hook.url and letter["firstFailedAt"] and letter["error"]
    status, page = call(daemon, "GET", "/api/jobs?queue=webhook&state=dead&limit=2")
    assert status == 200 and len(page["jobs"]) == 2 and page["nextCursor"]
    status, rest = call(daemon, "GET", f"/api/jobs?queue=webhook&state=dead&limit=2&cursor={page['nextCursor']}")
    status, first = call(daemon, "GET", "/api/admin/dlq?limit=2")  # every queue, merged by time
    status, second = call(daemon, "GET", f"/api/admin/dlq?limit=2&cursor={first['nextCursor']}")
    assert [d["jobId"] for d in first["deadLetters"] + second["deadLetters"]] == [d["jobId"] for d in body["deadLetters"]]
    assert len(first["deadLetters"]) == 2 and second["nextCursor"] is None
    listed = [j["jobId"] for j in page["jobs"] + rest["jobs"]]  # newest death first; they ran concurrently
    assert sorted(listed) == sorted(dead_ids) and rest["nextCursor"] is None
    assert [j["finishedAt"] for j in page["jobs"] + rest["jobs"]] == sorted((j["finishedAt"] for j in page["jobs"] + rest["jobs"]), reverse=True)

    # the receiver is fixed: one retried by id, the rest by queue; they complete with their data
    hook.status = 200
    status, body = call(daemon, "POST", "/api/admin/dlq/retry", body={"jobId": dead_ids[0]})
    assert (status, body) == (200, {"retried": 1})
    assert hook.next()["body"] == {"event": "import.completed", "deliveryId": "d0", "data": {"n": 0}}
    status, body = call(daemon, "POST", "/api/admin/queues/webhook/retry-failed")
    assert status == 200 and body == {"queue": "webhook", "action": "retry-failed", "affected": 2}
    delivered = [hook.next() for _ in range(2)]
    assert sorted(d["body"]["data"]["n"] for d in delivered) == [1, 2]
    poll(lambda: [job(daemon, i)["state"] for i in dead_ids], lambda s: s == ["completed"] * 3)
    done = job(daemon, dead_ids[1])
    assert done["attempts"] == 1 and done["failures"] == 1 and done["kwargs"]["payload"] == {"n": 1}
    assert done["history"][0]["state"] == "enqueued" and done["history"][-1]["state"] == "completed"
    assert done["finishedAt"] >= done["startedAt"] >= done["enqueuedAt"]
    status, body = call(daemon, "POST", f"/api/jobs/{dead_ids[1]}/retry")
    assert status == 409 and body["error"] == "conflict"

    # a delayed job: listed, promoted, run
    later = send(producer, "deliver_webhook", delay=600_000, url=hook.url, event="import.completed",
                 delivery_id="late", payload={})
    assert job(daemon, later)["state"] == "delayed"
    status, page = call(daemon, "GET", "/api/jobs?queue=webhook&state=delayed")
    assert [j["jobId"] for j in page["jobs"]] == [later]
    status, body = call(daemon, "POST", f"/api/jobs/{later}/promote")
    assert status == 200 and body["jobId"] == later
    assert hook.next()["body"]["deliveryId"] == "late"
    poll(lambda: job(daemon, later)["state"], lambda s: s == "completed")

    # delete: 409 while running, then gone
    running = send(producer, "hold", tag="held", release="admin-release")
    poll(lambda: job(daemon, running)["state"], lambda s: s == "active")
    status, body = call(daemon, "DELETE", f"/api/jobs/{running}")
    assert status == 409 and "active" in body["message"]
    producer.redis.rpush(f"{producer.namespace}:test:admin-release", "go")
    poll(lambda: job(daemon, running)["state"], lambda s: s == "completed")
    status, body = call(daemon, "DELETE", f"/api/jobs/{running}")
    assert status == 200 and body["state"] == "deleted" and body["jobId"] == running
    assert call(daemon, "GET", f"/api/jobs/{running}")[0] == 404

    # dead letters purged
    hook.status = 410
    doomed = webhook(producer, hook, 7)
    hook.next()
    poll(lambda: job(daemon, doomed)["state"], lambda s: s == "dead")
    assert call(daemon, "DELETE", "/api/admin/dlq?queue=webhook") == (200, {"purged": 1})
    assert call(daemon, "GET", "/api/admin/dlq")[1] == {"deadLetters": [], "nextCursor": None}
    hook.status = 200


def test_queue_purge_clean_and_counts(served):
    daemon, producer, _ = served
    assert call(daemon, "POST", "/api/admin/queues/image_processing/pause")[1]["affected"] == 1
    ids = [send(producer, "process_images", queue="image_processing", artist_id="a") for _ in range(4)]
    row = poll(lambda: queue_row(daemon, "image_processing"), lambda r: r["counts"]["waiting"] == 4)
    assert row["paused"] is True and row["waitingByPriority"]["BACKGROUND"] == 4
    assert row["oldestWaitingAgeS"] is not None
    status, body = call(daemon, "POST", "/api/admin/queues/image_processing/purge")
    assert body == {"queue": "image_processing", "action": "purge", "affected": 4}
    assert queue_row(daemon, "image_processing")["counts"]["waiting"] == 0
    assert all(call(daemon, "GET", f"/api/jobs/{i}")[0] == 404 for i in ids)
    call(daemon, "POST", "/api/admin/queues/image_processing/resume")
    completed = queue_row(daemon, "webhook")["counts"]["completed"]
    status, body = call(daemon, "POST", "/api/admin/queues/webhook/clean?olderThanS=0")
    assert status == 200 and body["affected"] >= completed
    assert queue_row(daemon, "webhook")["counts"]["completed"] == 0


def test_schedules_imports_metrics_and_openapi(served):
    daemon, _, _ = served
    status, body = call(daemon, "GET", "/api/admin/schedules")
    assert status == 200 and body["schedules"]
    first = body["schedules"][0]
    assert {"name", "cron", "timezone", "actor", "queue", "lastRunAt", "lastOutcome", "nextRunAt"} <= set(first)
    assert first["nextRunAt"] is None or isinstance(first["nextRunAt"], int)
    status, run = call(daemon, "POST", f"/api/admin/schedules/{first['name']}/run")
    assert status == 202 and run["jobId"].startswith(f"schedule:{first['name']}:manual:")
    assert job(daemon, run["jobId"])["queue"] == first["queue"]

    status, body = call(daemon, "GET", "/api/admin/imports?limit=5")
    assert status == 200 and isinstance(body["imports"], list)

    status, body = call(daemon, "GET", "/metrics/json")
    assert status == 200
    depth = body["metrics"]["theset_queue_depth"]
    assert any(s["labels"] == {"queue": "webhook", "state": "waiting"} for s in depth)
    assert body["types"]["theset_queue_depth"] == "gauge"
    assert call(daemon, "GET", "/metrics/json", token=None)[0] == 401

    status, spec = call(daemon, "GET", "/api/openapi.json", token=None)
    assert status == 200 and spec["openapi"].startswith("3.")
    for path in ("/api/admin/queues", "/api/jobs", "/api/jobs/{jobId}", "/api/imports", "/api/imports/{importId}",
                 "/api/imports/{importId}/events", "/healthz", "/readyz", "/metrics", "/metrics/json",
                 "/api/admin/dlq", "/api/admin/dlq/retry", "/api/admin/schedules", "/api/admin/imports"):
        assert path in spec["paths"], path
    assert set(spec["components"]["securitySchemes"]) >= {"adminToken", "apiToken", "dashboardSession"}


def _pages(daemon: DaemonProcess, query: str) -> list[list[str]]:
    """Every page of GET /api/jobs?{query}, as job ids, following nextCursor to the end."""
    pages, cursor = [], None
    for _ in range(50):
        status, body = call(daemon, "GET", f"/api/jobs?{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, body
        pages.append([j["jobId"] for j in body["jobs"]])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def test_job_search_by_any_subset_of_filters_pages_with_cursors(served):
    daemon, producer, _ = served
    ids = {tag: send(producer, "hold", queue="cleanup", delay=600_000, tag=tag, release="never")
           for tag in ("Srch-Alpha-1", "srch-alpha-2", "srch-beta-1")}
    other = send(producer, "process_images", queue="image_processing", delay=600_000, artist_id="srch-alpha-9")
    try:
        everything = [j for p in _pages(daemon, "limit=200") for j in p]
        assert set(ids.values()) | {other} <= set(everything) and len(everything) == len(set(everything))
        alpha = _pages(daemon, "q=SRCH-alpha&limit=1")  # case-insensitive, one per page, no repeats
        found = [j for p in alpha for j in p]
        assert sorted(found) == sorted([ids["Srch-Alpha-1"], ids["srch-alpha-2"], other])
        assert all(len(p) <= 1 for p in alpha) and len(found) == len(set(found))
        assert set(_pages(daemon, "q=srch-alpha&queue=cleanup")[0]) == {ids["Srch-Alpha-1"], ids["srch-alpha-2"]}
        assert sorted(_pages(daemon, "q=srch&actor=hold&state=delayed")[0]) == sorted(ids.values())
        assert _pages(daemon, "q=srch&actor=deliver_webhook") == [[]]
        assert _pages(daemon, "q=srch&state=waiting") == [[]]
        enqueued = [job(daemon, i)["enqueuedAt"] for i in ids.values()]
        window = f"q=srch&actor=hold&since={min(enqueued)}&until={max(enqueued)}"
        assert sorted(j for p in _pages(daemon, window) for j in p) == sorted(ids.values())
        assert _pages(daemon, f"q=srch&since={max(enqueued) + 3_600_000}") == [[]]
    finally:
        for job_id in [*ids.values(), other]:
            call(daemon, "DELETE", f"/api/jobs/{job_id}")


def test_admin_imports_page_with_a_cursor(served, database_url):
    daemon, _, _ = served

    async def seed() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "insert into import_status (tm_attraction_id, status, created_at) "
                "select 'K' || n, case when n % 3 = 0 then 'running' else 'completed' end, "
                "now() - n * interval '1 minute' from generate_series(1, 7) n returning id::text")
            return [r["id"] for r in rows]
        finally:
            await conn.close()

    seeded = asyncio.run(seed())
    listed, cursor = [], None
    for _ in range(20):
        status, body = call(daemon, "GET", "/api/admin/imports?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, body
        listed += body["imports"]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    mine = [i for i in listed if i["importId"] in seeded]
    assert len(mine) == 7 and len({i["importId"] for i in listed}) == len(listed)
    assert [i["tmAttractionId"] for i in mine] == ["K3", "K6", "K1", "K2", "K4", "K5", "K7"]  # running first, newest first

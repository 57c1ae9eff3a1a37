"""The operator's terminal verbs against real Redis with no daemon running: --json parsed, tables, exits."""

from __future__ import annotations

import asyncio
import os
import subprocess

import dramatiq
import orjson
import pytest
from tests.helpers.daemon_process import run_cli
from tests.helpers.broker import FAST_DEFAULTS, make_broker, running

from theset_daemon.broker import Permanent, current_job
from theset_daemon.queues import QUEUES, QUEUES_BY_NAME


def cli(namespace: str, redis_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    env.update(THESET_REDIS_URL=redis_url, THESET_REDIS_NAMESPACE=namespace)
    return run_cli(*args, env=env)


async def acli(namespace: str, redis_url: str, *args: str) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(cli, namespace, redis_url, *args)


def parsed(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


async def test_queues_jobs_dlq_and_pause_from_the_terminal(redis_url, namespace):
    broker = make_broker(redis_url, namespace, list(QUEUES), defaults=FAST_DEFAULTS)

    @dramatiq.actor(queue_name="webhook", broker=broker)
    async def refused(url: str) -> None:
        current_job().log(f"refusing {url}")
        raise Permanent(f"410 from {url}")

    @dramatiq.actor(queue_name="cleanup", broker=broker)
    async def tidy() -> None:
        pass

    waiting = [await broker.enqueue_async(tidy.message()) for _ in range(3)]
    webhook = QUEUES_BY_NAME["webhook"]
    async with running(broker, [webhook]):
        dead = [await broker.enqueue_async(refused.message(f"https://example.test/{i}")) for i in range(2)]
        while len(await broker.admin.dead_records("webhook")) < 2:
            await asyncio.sleep(0.02)

    overview = parsed(await acli(namespace, redis_url, "queues", "--json"))
    rows = {q["name"]: q for q in overview["queues"]}
    assert rows["cleanup"]["counts"]["waiting"] == 3 and rows["webhook"]["counts"]["dead"] == 2
    assert overview["daemons"][0]["alive"] is False  # the worker above stopped cleanly
    table = await acli(namespace, redis_url, "queues")
    assert table.returncode == 0 and "QUEUE" in table.stdout and "cleanup" in table.stdout

    page = parsed(await acli(namespace, redis_url, "jobs", "list", "--queue", "cleanup", "--state", "waiting",
                             "--limit", "2", "--json"))
    assert len(page["jobs"]) == 2 and page["nextCursor"]
    rest = parsed(await acli(namespace, redis_url, "jobs", "list", "--queue", "cleanup", "--state", "waiting",
                             "--cursor", page["nextCursor"], "--json"))
    assert [j["jobId"] for j in page["jobs"] + rest["jobs"]] == [m.message_id for m in reversed(waiting)]

    job = parsed(await acli(namespace, redis_url, "jobs", "show", dead[0].message_id, "--json"))
    assert job["state"] == "dead" and job["reason"] == "permanent" and job["args"] == ["https://example.test/0"]
    shown = await acli(namespace, redis_url, "jobs", "show", dead[0].message_id)
    assert "Permanent: 410 from https://example.test/0" in shown.stdout
    assert "log\n" in shown.stdout and "#1  refusing https://example.test/0" in shown.stdout

    # search: any subset of filters, by a substring of the arguments or of the error
    found = parsed(await acli(namespace, redis_url, "jobs", "search", "EXAMPLE.test/1", "--json"))
    assert [j["jobId"] for j in found["jobs"]] == [dead[1].message_id] and found["nextCursor"] is None
    by_error = parsed(await acli(namespace, redis_url, "jobs", "list", "--search", "410 from", "--state", "dead",
                                 "--actor", "refused", "--since", "1h", "--json"))
    assert sorted(j["jobId"] for j in by_error["jobs"]) == sorted(m.message_id for m in dead)
    assert parsed(await acli(namespace, redis_url, "jobs", "list", "--actor", "tidy", "--until", "1h",
                             "--json"))["jobs"] == []
    table = await acli(namespace, redis_url, "jobs", "search", "example.test", "--queue", "webhook")
    assert table.returncode == 0 and "refused" in table.stdout and "webhook" in table.stdout

    letters = parsed(await acli(namespace, redis_url, "dlq", "list", "--queue", "webhook", "--json"))
    assert {d["jobId"] for d in letters["deadLetters"]} == {m.message_id for m in dead}
    assert parsed(await acli(namespace, redis_url, "dlq", "retry", "--job", dead[0].message_id, "--json")) == {
        "retried": 1}
    assert (await broker.admin.find(dead[0].message_id))["state"] == "waiting"
    assert parsed(await acli(namespace, redis_url, "dlq", "purge", "--queue", "webhook", "--yes", "--json")) == {
        "purged": 1}

    assert parsed(await acli(namespace, redis_url, "queue", "pause", "cleanup", "--json"))["affected"] == 1
    assert await broker.admin.is_paused("cleanup")
    resumed = await acli(namespace, redis_url, "queue", "resume", "cleanup")
    assert resumed.returncode == 0 and "cleanup: resumed" in resumed.stdout
    assert not await broker.admin.is_paused("cleanup")
    await broker.close()


@pytest.mark.parametrize(
    ("args", "status", "named"),
    [
        (("jobs", "list", "--queue", "webhook", "--state", "sleeping"), 2, "--state"),
        (("jobs", "list", "--queue", "webhook", "--state", "failed", "--limit", "0"), 2, "--limit"),
        (("jobs", "list", "--queue", "webhook", "--state", "failed", "--limit", "x"), 2, "--limit"),
        (("jobs", "list", "--since", "yesterday"), 2, "--since"),
        (("jobs", "search", "x", "--since", "2h", "--until", "3h"), 2, "--until"),
        (("jobs", "list", "--queue", "webhook", "--state", "failed", "--cursor", "%%"), 2, "--cursor"),
        (("dlq", "purge", "--job", "x"), 2, "--job"),
        (("queues", "--bogus"), 2, "--bogus"),
        (("jobs", "list", "--queue", "nope", "--state", "failed"), 1, "'nope'"),
        (("queue", "pause", "nope"), 1, "'nope'"),
        (("jobs", "show", "no-such-job"), 1, "'no-such-job'"),
    ],
)
def test_bad_flags_exit_2_and_unknown_names_exit_1(redis_url, namespace, args, status, named):
    result = cli(namespace, redis_url, *args)
    assert result.returncode == status, result.stderr
    assert named in result.stderr

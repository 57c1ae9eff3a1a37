"""Queue routing per host: THESET_QUEUES / --queues, THESET_CONCURRENCY, and who serves each queue."""

from __future__ import annotations

import asyncio

import dramatiq
import pytest

from tests.helpers.broker import make_broker, spec
from tests.helpers.daemon_process import run_cli
from theset_daemon.runtime import config
from theset_daemon.broker import Worker
from theset_daemon.broker.admin import QueueAdmin
from theset_daemon.broker.serving import served_by

CATALOG, SHOWS, IMAGES = spec("catalog", 2), spec("shows", 2), spec("images", 1)


def test_queues_and_concurrency_are_read_from_the_environment():
    settings = config.load({"THESET_QUEUES": "spotify_catalog, setlist_sync", "THESET_CONCURRENCY": "spotify_catalog=4"})
    assert settings.queues == ("spotify_catalog", "setlist_sync")
    assert settings.concurrency == (("spotify_catalog", 4),)
    assert config.load({}).queues == ()  # every queue


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("THESET_QUEUES", "spotify_catalog,nope", "nope"),
        ("THESET_CONCURRENCY", "spotify_catalog=0", "spotify_catalog=0"),
        ("THESET_CONCURRENCY", "nope=3", "nope=3"),
        ("THESET_CONCURRENCY", "spotify_catalog", "spotify_catalog"),
    ],
)
def test_a_bad_queue_setting_names_the_variable_and_the_bad_item(variable, value, named):
    with pytest.raises(config.ConfigError) as err:
        config.load({variable: value})
    assert err.value.variable == variable and named in str(err.value)


def test_run_queues_flag_is_checked_like_the_variable():
    result = run_cli("run", "--queues", "spotify_catalog,nope", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == config.EXIT_CONFIG, result.stderr
    assert "THESET_QUEUES" in result.stderr and "nope" in result.stderr


async def test_two_daemons_serving_disjoint_queues(redis_url, namespace):
    tables = [CATALOG, SHOWS, IMAGES]
    first = make_broker(redis_url, namespace, tables, host_id="host-a")
    second = make_broker(redis_url, namespace, tables, host_id="host-b")
    workers = {
        "host-a": Worker(first, queues=[CATALOG], concurrency={"catalog": 4}),
        "host-b": Worker(second, queues=[SHOWS]),
    }
    ran: list[tuple[str, str]] = []
    done = asyncio.Event()

    def record(queue: str) -> None:
        task = asyncio.current_task()  # a runner task of the worker that fetched the job
        host = next(h for h, w in workers.items() if any(task in lane.runners for lane in w.lanes.values()))
        ran.append((queue, host))
        if len(ran) == 20:
            done.set()

    for broker in (first, second):  # each daemon imports the same actor modules
        dramatiq.set_broker(broker)
        dramatiq.actor(queue_name="catalog", actor_name="sync_catalog")(_async(record, "catalog"))
        dramatiq.actor(queue_name="shows", actor_name="sync_shows")(_async(record, "shows"))
        dramatiq.actor(queue_name="images", actor_name="resize")(_async(record, "images"))

    for worker in workers.values():
        await worker.start()
    try:
        messages = [first.get_actor("sync_catalog").message(i) for i in range(10)]
        messages += [first.get_actor("sync_shows").message(i) for i in range(10)]
        messages.append(first.get_actor("resize").message())
        await first.enqueue_many_async(messages)
        await asyncio.wait_for(done.wait(), 10)

        assert sorted(set(ran)) == [("catalog", "host-a"), ("shows", "host-b")] and len(ran) == 20
        assert await served_by(first.aredis, namespace) == {
            "catalog": [{"hostId": "host-a", "concurrency": 4}],
            "shows": [{"hostId": "host-b", "concurrency": 2}],
        }
        overview = {q["name"]: q for q in (await QueueAdmin(first).overview())["queues"]}
        assert overview["images"]["unserved"] and overview["images"]["counts"]["waiting"] == 1
        assert overview["images"]["servedBy"] == []
        assert not overview["catalog"]["unserved"] and not overview["shows"]["unserved"]
    finally:
        for worker in workers.values():
            await worker.drain(1.0)
    assert await served_by(first.aredis, namespace) == {}  # a clean stop serves nothing
    for broker in (first, second):
        await broker.close()


def _async(record, queue: str):
    async def actor(*args):
        record(queue)

    return actor

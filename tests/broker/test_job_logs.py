"""Job logs: what an actor writes with ``current_job().log`` is kept in its record, bounded, and shown."""

from __future__ import annotations

import dramatiq

from tests.helpers.broker import make_broker, running, spec, wait_for_state
from theset_daemon.broker import current_job
from theset_daemon.broker.admin import QueueAdmin
from theset_daemon.broker.job import LOG_LINE_MAX
from theset_daemon.catalog.studio import studio_tracks
from theset_daemon.catalog.models import Album, Track


async def test_log_lines_are_kept_with_the_record_across_attempts(redis_url, namespace):
    queue = spec("logs")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name="logs", broker=broker, max_retries=1)
    async def flaky(artist: str) -> None:
        job = current_job()
        job.log(f"fetched 3 pages for {artist}")
        if job.attempt == 1:
            job.log("multi\nline " + "x" * (LOG_LINE_MAX + 50))
            raise RuntimeError("provider away")
        job.log("matched 12 songs")

    @dramatiq.actor(queue_name="logs", broker=broker)
    def threaded() -> None:  # a sync actor logs from its thread
        current_job().log("from a thread")

    await broker.enqueue_async(flaky.message_with_options(args=("a1",), job_id="log:a1"))
    sync = await broker.enqueue_async(threaded.message())
    async with running(broker, [queue]):
        await wait_for_state(broker, "log:a1", "completed")
        await wait_for_state(broker, sync.message_id, "completed")
    admin = QueueAdmin(broker)
    job = await admin.job("log:a1")
    texts = [(line["attempt"], line["text"][:30]) for line in job["logs"]]
    assert texts == [(1, "fetched 3 pages for a1"), (1, "multi\nline " + "x" * 19), (2, "fetched 3 pages for a1"),
                     (2, "matched 12 songs")]
    assert len(job["logs"][1]["text"]) == LOG_LINE_MAX and job["logs"][1]["text"].endswith("…")
    assert all(isinstance(line["at"], int) for line in job["logs"]) and job["logsDropped"] == 0
    assert [line["text"] for line in (await admin.job(sync.message_id))["logs"]] == ["from a thread"]
    await broker.close()


async def test_a_long_log_keeps_its_newest_lines_and_counts_the_rest(redis_url, namespace):
    queue = spec("chatty")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name="chatty", broker=broker)
    async def chatty() -> None:
        for i in range(1000):
            current_job().log(f"line {i:04d} " + "y" * 80)

    message = await broker.enqueue_async(chatty.message())
    async with running(broker, [queue]):
        await wait_for_state(broker, message.message_id, "completed")
    raw = await broker.aredis.hget(broker.keys.job(message.message_id), "logs")
    assert 30_000 < len(raw) <= 32768
    job = await QueueAdmin(broker).job(message.message_id)
    assert job["logs"][-1]["text"].startswith("line 0999")
    assert job["logsDropped"] == 1000 - len(job["logs"]) > 0
    assert job["logs"][0]["text"].startswith(f"line {job['logsDropped']:04d}")
    await broker.close()


async def test_a_log_after_the_lease_was_lost_changes_nothing(redis_url, namespace):
    queue = spec("stale")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name="stale", broker=broker)
    async def done() -> None: ...

    message = await broker.enqueue_async(done.message())
    async with running(broker, [queue]):
        await wait_for_state(broker, message.message_id, "completed")
    applied = await broker.run_script("finish", [1, "log", message.message_id, "1", '{"text": "late"}'])
    assert applied == 0  # the job is completed: no lease, so the record is not applied
    assert (await QueueAdmin(broker).job(message.message_id))["logs"] == []
    await broker.close()


def test_the_catalogue_filter_says_why_each_track_was_dropped():
    albums = [Album("studio", "Songs", "album", None, "2001", 3),
              Album("live", "Live at Wembley", "album", None, "2007", 1)]
    tracks = [
        Track("t1", "Around the World", "studio", "Songs", "album", "2001", 240_000, 1, isrc="I1", popularity=50),
        Track("t2", "Around the World - Live", "studio", "Songs", "album", "2001", 250_000, 2, isrc="I2",
              popularity=40),
        Track("t3", "Around the World", "live", "Alive 2007", "album", "2007", 241_000, 1, isrc="I3", popularity=30),
        Track("t4", "Around the World (Remastered)", "studio", "Songs", "album", "2001", 240_500, 3, isrc="I4",
              popularity=10),
    ]
    result = studio_tracks(albums, tracks, None)
    assert [t.id for t in result.tracks] == ["t1"]
    assert result.dropped == (
        ("Around the World", "on live album 'Live at Wembley'"),
        ("Around the World - Live", "live title"),
        ("Around the World (Remastered)", "another version of a kept song"),
    )
    assert "dropped" not in result.counts()

"""What an actor sees of its job: id, attempt, queue, priority, progress, log context."""

from __future__ import annotations

import dramatiq
from prometheus_client import REGISTRY

from tests.helpers.broker import make_broker, running, spec, wait_for_state
from theset_daemon.broker import current_job
from theset_daemon.broker.job import job_context


async def test_actor_sees_its_job_and_reports_progress(redis_url, namespace):
    queue = spec("artist_import")
    broker = make_broker(redis_url, namespace, [queue])
    seen: dict[str, object] = {}

    @dramatiq.actor(queue_name="artist_import", broker=broker)
    async def kickoff(artist: str, import_id: str | None = None) -> None:
        job = current_job()
        seen["async"] = (job.job_id, job.attempt, job.queue, job.priority)
        seen["context"] = dict(job_context.get())
        job.progress({"stage": "artist", "progress": 40})

    @dramatiq.actor(queue_name="artist_import", broker=broker)
    def catalogue(artist: str) -> None:  # sync: runs in a thread, same view
        job = current_job()
        seen["sync"] = (job.job_id, job.attempt)
        job.progress(75)

    first = await broker.enqueue_async(
        kickoff.message_with_options(args=("a1",), kwargs={"import_id": "imp-9"}, job_id="import:a1", priority="CRITICAL")
    )
    second = await broker.enqueue_async(catalogue.message("a1"))
    async with running(broker, [queue], log_kwargs=("import_id",)):  # as the daemon's worker does
        await wait_for_state(broker, "import:a1", "completed")
        await wait_for_state(broker, second.message_id, "completed")
    assert seen["async"] == ("import:a1", 1, "artist_import", 0)
    assert seen["context"] == {"job_id": "import:a1", "queue": "artist_import", "actor": "kickoff", "import_id": "imp-9"}
    assert seen["sync"] == (second.message_id, 1)
    assert (await broker.admin.find("import:a1"))["progress"] == '{"stage":"artist","progress":40}'
    assert (await broker.admin.find(second.message_id))["progress"] == "75"
    assert first.options["job_id"] == "import:a1"
    await broker.close()


async def test_depths_export_sets_the_queue_depth_gauge(redis_url, namespace):
    queue = spec(f"gauge_{namespace[-8:]}")
    broker = make_broker(redis_url, namespace, [queue])

    @dramatiq.actor(queue_name=queue.name, broker=broker)
    async def idle() -> None: ...

    await broker.enqueue_many_async([idle.message() for _ in range(3)] + [idle.message_with_options(delay=60_000)])
    depths = await broker.export_depths()
    assert depths[queue.name]["waiting"] == 3 and depths[queue.name]["delayed"] == 1
    value = REGISTRY.get_sample_value("theset_queue_depth", {"queue": queue.name, "state": "waiting"})
    assert value == 3
    await broker.close()

"""Webhooks: signed deliveries checked by a receiver, retries and dead letters through a daemon, the address guard."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Iterator

import pytest

from tests.helpers.environment import free_port
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.webhooks import SECRET
from theset_daemon.services import webhooks
from theset_daemon.broker import Permanent, TheSetBroker
from theset_daemon.queues import QUEUES
from theset_daemon.providers.safe_fetch import guarded_session

def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"a":1}'
    expected = "sha256=" + hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign("k", 1700000000, body) == expected
    assert webhooks.verify("k", "1700000000", body, expected, now=1700000100)
    assert not webhooks.verify("k", "1700000000", body, expected, now=1700001000)  # too old: a replay
    assert not webhooks.verify("other", "1700000000", body, expected, now=1700000100)


async def test_delivery_is_signed_and_statuses_decide_retry_or_permanent(receiver):
    receiver.statuses = [200, 503, 429, 404]
    payload = {"importId": "i-1", "status": "completed"}
    async with guarded_session(allow_private=True) as session:
        assert await webhooks.deliver(session, receiver.url, SECRET, "import.completed", "d-1", payload, allow_private=True) == 200
        for expected in (webhooks.DeliveryFailed, webhooks.DeliveryFailed, Permanent):
            with pytest.raises(expected):
                await webhooks.deliver(session, receiver.url, SECRET, "import.completed", "d-1", payload, allow_private=True)
        with pytest.raises(webhooks.DeliveryFailed):  # nothing listening: a connection error, retried
            await webhooks.deliver(session, f"http://127.0.0.1:{free_port()}/x", SECRET, "e", "d", {}, allow_private=True)
    first = receiver.received[0]
    assert first["verified"] and first["event"] == "import.completed" and first["delivery"] == "d-1"
    assert first["body"] == {"event": "import.completed", "deliveryId": "d-1", "data": payload}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_loopback_is_refused_unless_private_fetch_is_allowed(receiver, host):
    url = receiver.url.replace("127.0.0.1", host)
    async with guarded_session(allow_private=False) as session:
        with pytest.raises(Permanent, match="refused"):
            await webhooks.deliver(session, url, SECRET, "import.failed", "d-2", {}, allow_private=False)
    assert receiver.received == []


# -- through a daemon: the broker retries with backoff, then dead-letters --------------------------


@pytest.fixture
def daemon(daemon_env) -> Iterator[DaemonProcess]:
    env = {**daemon_env, "THESET_WEBHOOK_SECRET": SECRET, "THESET_ALLOW_PRIVATE_FETCH": "true",
           "THESET_JOB_MIN_BACKOFF_MS": "100", "THESET_JOB_MAX_ATTEMPTS": "3", "THESET_ACTOR_MODULES": "theset_daemon.actors"}
    proc = DaemonProcess(env).start().wait_ready()
    yield proc
    proc.stop()


async def test_daemon_retries_a_failing_endpoint_then_dead_letters(daemon, receiver, redis_url, namespace):
    broker = TheSetBroker(redis_url=redis_url, namespace=namespace, queues=QUEUES, host_id="test-producer")
    try:
        receiver.statuses = [500, 200]
        ok, doomed = webhooks.delivery_messages((receiver.url,), "import.completed", "imp-ok", {"x": 1}) + \
            webhooks.delivery_messages((receiver.url + "?doomed",), "import.failed", "imp-bad", {"x": 2})
        await broker.enqueue_async(ok)
        assert (await receiver.next())["status"] == 500
        second = await receiver.next()
        assert second["status"] == 200 and second["verified"] and second["delivery"] == ok.kwargs["delivery_id"]

        receiver.statuses = [502, 502, 502]
        await broker.enqueue_async(doomed)
        for _ in range(3):
            assert (await receiver.next())["status"] == 502
        record = await wait_state(broker, doomed.options["job_id"], "dead")
        assert record["attempts"] == 3 and "HTTP 502" in record["error"]
        assert (await wait_state(broker, ok.options["job_id"], "completed"))["attempts"] == 2
    finally:
        await broker.close()


async def wait_state(broker: TheSetBroker, job_id: str, state: str, timeout: float = 10.0) -> dict:
    """The job record once it reaches ``state`` (its finish record is written right after the reply)."""
    async with asyncio.timeout(timeout):
        while (record := await broker.admin.find(job_id)) is None or record["state"] != state:
            await asyncio.sleep(0.05)
    return record



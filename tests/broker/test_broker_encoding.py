"""The enqueue path's own message encoding stores exactly the bytes of Dramatiq's ``Message.encode``."""

from __future__ import annotations

import dataclasses

import dramatiq
from dramatiq import Message

from tests.helpers.broker import make_broker, spec


@dataclasses.dataclass(frozen=True)
class TracedMessage(Message):
    """A Message subclass with a field of its own (encoded by its own ``encode``)."""

    trace: str = "t-1"


async def test_a_stored_message_is_byte_identical_to_its_dramatiq_encoding(redis_url, namespace):
    broker = make_broker(redis_url, namespace, [spec("enc")])

    @dramatiq.actor(queue_name="enc", broker=broker)
    async def store(*args, **kwargs) -> None:
        pass

    plain = store.message_with_options(args=(1, "é", [2.5, None]), kwargs={"k": {"x": True}}, on_success=None)
    sent = [plain, TracedMessage(**{**plain.asdict(), "message_id": "traced-1"})]
    for message in sent:
        await broker.enqueue_async(message)
    broker.enqueue_many([store.message(3)])  # the blocking path packs the same way
    for message in sent:
        raw = broker.redis.hget(broker.keys.job(message.message_id), "msg")
        assert raw == message.encode()
    await broker.close()

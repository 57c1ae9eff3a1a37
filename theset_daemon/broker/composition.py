"""Dramatiq's composition on the daemon's Redis, on by default and never blocking the loop.

Pipelines (``pipeline([...]).run()``), groups with completion callbacks
(``group([...]).add_completion_callback(m).run()``), ``on_success`` /
``on_failure`` (Callbacks), results (``store_results=True``, then
``message.get_result()``) and ``max_age`` (AgeLimit) are Dramatiq's own
middleware with the same contract. Their hooks run on the worker's loop:

* an enqueue from a hook (Pipelines, Callbacks) is deferred by the broker (see
  :mod:`.deferred`) and awaited before the job is recorded done;
* the blocking bodies (a result stored in Redis, a group's barrier) run in a
  thread through :func:`.deferred.off_loop`, also awaited before the record.

Results are kept under ``<namespace>:results:`` for the completed-job retention
(``JobDefaults.completed_ttl_s``); group barriers under ``<namespace>:barrier:``.
"""

from __future__ import annotations

from typing import Any

import redis
from dramatiq.middleware import AgeLimit, Callbacks, GroupCallbacks, Middleware, Pipelines
from dramatiq.rate_limits.backends import RedisBackend as RedisBarrierBackend
from dramatiq.results import Results
from dramatiq.results.backends import RedisBackend as RedisResultBackend

from ..queues import JobDefaults
from .deferred import off_loop


class LoopResultBackend(RedisResultBackend):
    """Dramatiq's Redis result backend whose stores, made on the loop, run in a thread."""

    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        off_loop(super()._store, message_key, result, ttl)


class LoopGroupCallbacks(GroupCallbacks):
    """Dramatiq's GroupCallbacks; the barrier step (Redis, then enqueues) runs off the loop."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        options = message.options
        if exception is None and options.get("group_completion_uuid") and options.get("group_completion_callbacks"):
            off_loop(super().after_process_message, broker, message, result=result, exception=exception)


class NamespacedBarrierBackend(RedisBarrierBackend):
    """Dramatiq's Redis rate-limiter backend with every key under a prefix."""

    def __init__(self, *, client: redis.Redis, prefix: str) -> None:
        super().__init__(client=client)
        self.prefix = prefix

    def add(self, key, value, ttl):
        return super().add(self.prefix + key, value, ttl)

    def incr(self, key, amount, maximum, ttl):
        return super().incr(self.prefix + key, amount, maximum, ttl)

    def decr(self, key, amount, minimum, ttl):
        return super().decr(self.prefix + key, amount, minimum, ttl)

    def incr_and_sum(self, key, keys, amount, maximum, ttl):
        return super().incr_and_sum(
            self.prefix + key, lambda: [self.prefix + k for k in keys()], amount, maximum, ttl
        )

    def wait(self, key, timeout):
        return super().wait(self.prefix + key, timeout)

    def wait_notify(self, key, ttl):
        return super().wait_notify(self.prefix + key, ttl)


def composition_middleware(redis_url: str, namespace: str, defaults: JobDefaults) -> list[Middleware]:
    """AgeLimit, Callbacks, Pipelines, GroupCallbacks and Results on ``redis_url`` under ``namespace``."""
    client = redis.Redis.from_url(redis_url)
    results = LoopResultBackend(client=client, namespace=f"{namespace}:results")
    barriers = NamespacedBarrierBackend(client=client, prefix=f"{namespace}:barrier:")
    return [
        AgeLimit(),
        Callbacks(),
        Pipelines(),
        LoopGroupCallbacks(barriers),
        Results(backend=results, result_ttl=defaults.completed_ttl_s * 1000),
    ]

"""Dramatiq's composition on the daemon's Redis, on by default and never blocking the loop.

Pipelines (``pipeline([...]).run()``), groups with completion callbacks
(``group([...]).add_completion_callback(m).run()``), ``on_success`` /
``on_failure`` (Callbacks), results (``store_results=True``, then
``message.get_result()``) and ``max_age`` (AgeLimit) are Dramatiq's own
middleware with the same contract (subclasses that skip, without a lookup, the
messages whose actor and options use none of them). Their hooks run on the worker's loop:

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

from . import connection
from .connection import RedisTarget
from .deferred import off_loop
from .queues import JobDefaults


class _ActorOptionCache:
    """Whether an actor sets any of ``keys`` as an option, worked out once per actor.

    Dramatiq's composition hooks look up the actor and its options on every message;
    the guarded subclasses below return at once for the common message that uses none.
    """

    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = keys
        self.by_actor: dict[str, bool] = {}

    def applies(self, broker, message) -> bool:
        message = getattr(message, "_message", message)  # a MessageProxy's message: no __getattr__
        options = message.options
        if options and not self.keys.isdisjoint(options):
            return True
        name = message.actor_name
        found = self.by_actor.get(name)
        if found is None:
            actor = broker.actors.get(name)
            found = self.by_actor[name] = actor is not None and not self.keys.isdisjoint(actor.options)
        return found


class GuardedAgeLimit(AgeLimit):
    """Dramatiq's AgeLimit, skipping messages of actors without ``max_age`` (when no default)."""

    def __init__(self, *, max_age: int | None = None) -> None:
        super().__init__(max_age=max_age)
        self._cache = _ActorOptionCache(frozenset({"max_age"}))

    def before_process_message(self, broker, message):
        if self.max_age is not None or self._cache.applies(broker, message):
            return super().before_process_message(broker, message)


class GuardedCallbacks(Callbacks):
    """Dramatiq's Callbacks, skipping messages of actors with no ``on_success``/``on_failure``."""

    def __init__(self) -> None:
        self._cache = _ActorOptionCache(frozenset({"on_success", "on_failure"}))

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if self._cache.applies(broker, message):
            return super().after_process_message(broker, message, result=result, exception=exception)


class GuardedPipelines(Pipelines):
    """Dramatiq's Pipelines, skipping messages that are no pipeline's step."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if "pipe_target" in getattr(message, "_message", message).options:
            return super().after_process_message(broker, message, result=result, exception=exception)


class GuardedResults(Results):
    """Dramatiq's Results, skipping messages of actors that store nothing and returned nothing."""

    def __init__(self, *, backend, store_results=False, result_ttl=None) -> None:
        super().__init__(backend=backend, store_results=store_results, result_ttl=result_ttl)
        self._cache = _ActorOptionCache(frozenset({"store_results"}))

    def _applies(self, broker, message) -> bool:
        return self.store_results or self._cache.applies(broker, message)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if result is not None or self._applies(broker, message):
            return super().after_process_message(broker, message, result=result, exception=exception)

    def after_skip_message(self, broker, message):
        if self._applies(broker, message):
            return super().after_skip_message(broker, message)

    def after_nack(self, broker, message):
        if self._applies(broker, message):
            return super().after_nack(broker, message)


class LoopResultBackend(RedisResultBackend):
    """Dramatiq's Redis result backend whose stores, made on the loop, run in a thread."""

    def _store(self, message_key: str, result: Any, ttl: int) -> None:
        off_loop(super()._store, message_key, result, ttl)


class LoopGroupCallbacks(GroupCallbacks):
    """Dramatiq's GroupCallbacks; the barrier step (Redis, then enqueues) runs off the loop."""

    def after_process_message(self, broker, message, *, result=None, exception=None):
        options = getattr(message, "_message", message).options
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


def composition_middleware(target: RedisTarget, namespace: str, defaults: JobDefaults) -> list[Middleware]:
    """AgeLimit, Callbacks, Pipelines, GroupCallbacks and Results on ``target`` under ``namespace``."""
    client = connection.sync_client(target)
    results = LoopResultBackend(client=client, namespace=f"{namespace}:results")
    barriers = NamespacedBarrierBackend(client=client, prefix=f"{namespace}:barrier:")
    return [
        GuardedAgeLimit(),
        GuardedCallbacks(),
        GuardedPipelines(),
        LoopGroupCallbacks(barriers),
        GuardedResults(backend=results, result_ttl=defaults.completed_ttl_s * 1000),
    ]

"""Actors loaded into test daemons with ``THESET_ACTOR_MODULES=tests.helpers.daemon_actors``.

They record what happened in Redis under the daemon's namespace, so a test in
another process can await it (BLPOP) instead of sleeping.
"""

from __future__ import annotations

import dramatiq
import orjson

from theset_daemon.runtime.resources import resources


def _key(name: str) -> str:
    return f"{resources().settings.redis_namespace}:test:{name}"


async def _record(name: str, **fields: object) -> None:
    res = resources()
    await res.redis.rpush(_key(name), orjson.dumps({"host": res.settings.host_id, **fields}))


@dramatiq.actor(queue_name="webhook")
async def hold(tag: str, release: str | None = None) -> None:
    """Start, wait until the test pushes to ``release`` (if given), finish."""
    await _record("started", tag=tag)
    if release is not None:
        await resources().redis.blpop([_key(release)], timeout=0)
    await _record("finished", tag=tag)

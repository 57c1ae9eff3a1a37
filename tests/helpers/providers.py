"""Helpers for the provider tests: a sandbox plus Providers pointed at it (no tests here)."""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import redis.asyncio as aioredis

from theset_daemon.runtime import config
from theset_daemon.providers import HttpPolicy, Providers
from theset_daemon.sandbox import RunningSandbox, run_sandbox

#: Short timeouts and back-offs so fault tests finish in well under a second each.
FAST = HttpPolicy(attempt_timeout_s=0.5, attempts=3, backoff_base_s=0.01, backoff_max_s=0.05, default_retry_after_s=0.3)
FAST_POLICIES = {name: FAST for name in ("spotify", "ticketmaster", "setlistfm")}
FAST_RATES = {"THESET_SPOTIFY_RATE": "2000", "THESET_TICKETMASTER_RATE": "2000", "THESET_SETLISTFM_RATE": "2000"}


def settings_for(sb: RunningSandbox, redis_url: str, namespace: str, **env: str) -> config.Settings:
    return config.load({**sb.settings_env(), **FAST_RATES, "THESET_REDIS_URL": redis_url,
                        "THESET_REDIS_NAMESPACE": namespace, **env})


@asynccontextmanager
async def providers_for(
    sb: RunningSandbox, redis_url: str, namespace: str, *, policy: HttpPolicy = FAST, **env: str
) -> AsyncIterator[Providers]:
    """Providers on their own Redis connection (as another daemon would have)."""
    client = aioredis.Redis.from_url(redis_url)
    policies = {name: policy for name in FAST_POLICIES}
    providers = await Providers.open(settings_for(sb, redis_url, namespace, **env), redis=client, policies=policies)
    try:
        yield providers
    finally:
        await providers.close()
        await client.aclose()


@asynccontextmanager
async def sandbox_and_providers(
    redis_url: str, namespace: str, *, env: dict[str, str] | None = None, policy: HttpPolicy = FAST, **options: Any
) -> AsyncIterator[tuple[RunningSandbox, Providers]]:
    async with run_sandbox(**options) as sb:
        async with providers_for(sb, redis_url, namespace, policy=policy, **(env or {})) as providers:
            yield sb, providers


def policy(**changes: Any) -> HttpPolicy:
    return dataclasses.replace(FAST, **changes)

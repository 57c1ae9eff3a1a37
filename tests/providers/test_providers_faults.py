"""Every injected fault, seen through the clients: retried, paused for, or a typed error."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from tests.helpers.providers import policy, providers_for, sandbox_and_providers

from theset_daemon.providers import MalformedResponse, ProviderThrottled, ProviderTimeout, ProviderUnavailable
from theset_daemon.sandbox import run_sandbox


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _throttled(provider: str) -> float:
    """429 answers of ``provider`` over every endpoint (theset_provider_requests_total{status="429"})."""
    return sum(s.value for family in REGISTRY.collect() if family.name == "theset_provider_requests"
               for s in family.samples
               if s.name.endswith("_total") and s.labels.get("provider") == provider and s.labels.get("status") == "429")


@pytest.mark.parametrize("status", ["500", "503"])
async def test_server_errors_are_retried(redis_url, namespace, status):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        before = _count("theset_provider_requests_total", provider="spotify", endpoint="/artists/{id}", status=status)
        sb.faults.force("spotify", status, times=2)
        artist = await providers.spotify.artist(sb.world.demo.spotify_id)
        statuses = [e.status for e in sb.requests("spotify")]
    assert artist.name == sb.world.demo.name
    assert statuses == [int(status), int(status), 200]
    after = _count("theset_provider_requests_total", provider="spotify", endpoint="/artists/{id}", status=status)
    assert after - before == 2


async def test_server_errors_past_the_retries_are_unavailable(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        sb.faults.force("ticketmaster", "503", times=3)
        with pytest.raises(ProviderUnavailable) as failed:
            await providers.ticketmaster.venue(sb.world.venues[0].tm_id)
    error = failed.value
    assert (error.provider, error.endpoint, error.status, error.retryable) == ("ticketmaster", "/venues/{id}", 503, True)


async def test_a_hung_request_times_out_and_is_retried(redis_url, namespace):
    fast = policy(attempt_timeout_s=0.2)
    async with sandbox_and_providers(redis_url, namespace, policy=fast) as (sb, providers):
        sb.faults.force("setlistfm", "timeout")
        started = time.monotonic()
        found = await providers.setlistfm.setlists(sb.world.demo.mbid, max_pages=1)
        elapsed = time.monotonic() - started
    assert len(found) == 20
    assert 0.2 <= elapsed < 10  # retried after the 0.2 s attempt timeout, not left hanging (30 s)


async def test_timeouts_past_the_retries_and_the_call_budget(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, policy=policy(attempt_timeout_s=0.1)) as (sb, providers):
        sb.faults.force("spotify", "timeout", times=3)
        with pytest.raises(ProviderTimeout) as failed:
            await providers.spotify.artist(sb.world.demo.spotify_id)
        assert failed.value.endpoint == "/artists/{id}"
        sb.faults.force("spotify", "timeout", times=3)
        started = time.monotonic()
        with pytest.raises(ProviderTimeout):
            await providers.spotify.search_artists("The Paper Lanterns", timeout=0.25)
        assert time.monotonic() - started < 2, "a per-call timeout (0.25 s) bounds every attempt together"


async def test_truncated_bodies(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        sb.faults.force("ticketmaster", "truncated")
        attraction = await providers.ticketmaster.attraction(sb.truth.demo_attraction_id)
        assert attraction.name == sb.world.demo.name
        sb.faults.force("ticketmaster", "truncated", times=3)
        with pytest.raises(MalformedResponse) as failed:
            await providers.ticketmaster.attraction(sb.truth.demo_attraction_id)
    error = failed.value
    assert (error.provider, error.endpoint, error.status) == ("ticketmaster", "/attractions/{id}", 200)
    assert "not JSON" in str(error)


async def test_oversized_bodies_are_refused_at_once(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, policy=policy(max_body_bytes=2000)) as (sb, providers):
        with pytest.raises(MalformedResponse) as failed:
            await providers.ticketmaster.events(sb.truth.demo_attraction_id)
        assert len(sb.requests("ticketmaster")) == 1
    assert "larger than 2000 bytes" in str(failed.value)


async def test_a_429_pauses_every_daemon_and_no_call_fails(redis_url, namespace):
    async with run_sandbox(retry_after_s=1) as sb:
        async with providers_for(sb, redis_url, namespace) as first, providers_for(sb, redis_url, namespace) as second:
            demo = sb.world.demo.spotify_id
            throttled_before = _throttled("spotify")
            sb.faults.force("spotify", "429")
            task = asyncio.create_task(first.spotify.artist(demo))
            await sb.wait_for(lambda log: any(e.status == 429 for e in log))
            seen_429 = next(e.at for e in sb.requests("spotify") if e.status == 429)
            started = time.monotonic()
            other = await second.spotify.artist(demo)
            waited = time.monotonic() - started
            retried = await task
            calls = sb.requests("spotify")
    assert retried.id == other.id == demo
    assert waited >= 0.8, "the daemon that never saw the 429 waited for the pause too"
    after_pause = [e.at - seen_429 for e in calls if e.at > seen_429]
    assert after_pause and min(after_pause) >= 0.95
    assert _throttled("spotify") - throttled_before == 1


async def test_a_429_burst_under_load_loses_no_call(redis_url, namespace):
    async with run_sandbox(retry_after_s=1) as sb:
        async with providers_for(sb, redis_url, namespace) as first, providers_for(sb, redis_url, namespace) as second:
            ids = list(sb.truth.artist(sb.truth.demo_attraction_id).tracks)[:40]
            sb.faults.force("spotify", "429", times=3)
            found = await asyncio.gather(*(p.spotify.tracks([t]) for p in (first, second) for t in ids[:20]))
            calls = sb.requests("spotify", "/spotify/v1/tracks")
    assert all(len(one) == 1 for one in found)
    refused = [e.at for e in calls if e.status == 429]
    assert len(refused) == 3
    quiet = [e for e in calls if refused[0] + 0.1 < e.at < refused[0] + 0.9]
    assert quiet == [], "nobody called during the pause"


async def test_rate_stays_within_ten_percent_of_the_limit(redis_url, namespace):
    rate = 50.0
    env = {"THESET_SPOTIFY_RATE": str(rate)}
    async with run_sandbox() as sb:
        async with providers_for(sb, redis_url, namespace, **env) as first, providers_for(sb, redis_url, namespace, **env) as second:
            ids = list(sb.truth.artist(sb.truth.demo_attraction_id).tracks)[:100]
            await asyncio.gather(*(p.spotify.artist(sb.world.demo.spotify_id) for p in (first, second) for _ in range(2)))
            mark = len(sb.requests("spotify"))
            await asyncio.gather(*(p.spotify.tracks([t]) for p in (first, second) for t in ids[:50]))
            calls = sb.requests("spotify")[mark:]
    arrivals = sorted(e.at for e in calls)
    measured = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    print(f"measured {measured:.2f} requests/s at a limit of {rate}")
    assert abs(measured - rate) / rate <= 0.10, f"{measured:.1f} requests/s"


async def test_ticketmaster_spike_arrest_is_waited_out(redis_url, namespace):
    env = {"THESET_TICKETMASTER_RATE": "40"}  # configured above what the key really gets
    async with sandbox_and_providers(redis_url, namespace, env=env, rate_limits={"ticketmaster": 20}) as (sb, providers):
        venues = [v.tm_id for v in sb.world.venues[:20]]
        found = await asyncio.gather(*(providers.ticketmaster.venue(v) for v in venues))
        refused = [e for e in sb.requests("ticketmaster") if e.status == 429]
    assert [v.id for v in found] == venues
    assert refused, "the spike arrest answered 429 (no Retry-After), the client paused and retried"


async def test_setlistfm_429_without_retry_after(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        sb.faults.force("setlistfm", "429", times=2)
        started = time.monotonic()
        found = await providers.setlistfm.search_artists(sb.world.demo.name)
        elapsed = time.monotonic() - started
    assert found and elapsed >= 0.3, "the policy's default pause (0.3 s in tests) was honoured"


async def test_a_retry_after_of_hours_parks_the_job_not_the_worker(redis_url, namespace):
    async with run_sandbox(retry_after_s=7200) as sb:
        async with providers_for(sb, redis_url, namespace) as first, providers_for(sb, redis_url, namespace) as second:
            sb.faults.force("spotify", "429")
            with pytest.raises(ProviderThrottled) as throttled:
                await first.spotify.artist(sb.world.demo.spotify_id)
            started = time.monotonic()
            with pytest.raises(ProviderThrottled) as also:
                await second.spotify.artist(sb.world.demo.spotify_id)
            assert time.monotonic() - started < 5  # told at once, not after the 7,200 s pause
    assert throttled.value.retry_after == 7200 and throttled.value.retryable
    assert 7000 < also.value.retry_after <= 7200

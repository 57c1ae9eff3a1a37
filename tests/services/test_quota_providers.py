"""The daily budget on the provider clients, against the sandbox's own daily quotas."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from typing import Iterator

import aiohttp
import dramatiq
import pytest

from tests.helpers.providers import policy, sandbox_and_providers
from theset_daemon.broker.job import Job, _current
from theset_daemon.runtime.logs import JsonFormatter
from theset_daemon.providers import ProviderThrottled, QuotaHeld
from theset_daemon.providers.http import redact_fault
from theset_daemon.providers.quota.rules import PERSON, RECURRING, now_ms
from theset_daemon.sandbox import run_sandbox

#: Quotas the sandbox enforces in these tests; the daemon is told the same.
TM_QUOTA = 10


@contextlib.contextmanager
def running_job(kind: str, actor: str = "sync_shows", job_id: str = "sync:a:shows") -> Iterator[None]:
    """Provider calls in the block are made by a job of this kind of work (as the worker sets it)."""
    message = dramatiq.Message(queue_name="ticketmaster_sync", actor_name=actor, args=(),
                               kwargs={"artist_id": "a"}, options={"work": kind})
    token = _current.set(Job(job_id, "ticketmaster_sync", 2, 1, "t", message))
    try:
        yield
    finally:
        _current.reset(token)


def budget_env(tm: int = TM_QUOTA, reserve: str = "0.5", window: str = "60", **more: str) -> dict[str, str]:
    return {"THESET_TICKETMASTER_DAILY_QUOTA": str(tm), "THESET_QUOTA_RESERVE": reserve, "THESET_QUOTA_WINDOW": window,
            **more}


async def test_recurring_calls_stop_at_the_reserve_people_spend_the_rest_and_counts_agree(redis_url, namespace) -> None:
    async with sandbox_and_providers(redis_url, namespace, env=budget_env(), tm_daily_quota=TM_QUOTA,
                                     quota_window_s=60) as (sb, providers):
        venue = sb.world.venues[0].tm_id
        tm = providers.ticketmaster
        with running_job(RECURRING):
            for _ in range(5):
                await tm.venue(venue)
            with pytest.raises(QuotaHeld) as held:
                await tm.venue(venue)
        assert held.value.kind == RECURRING and held.value.delay_ms > 0
        quota = sb.state.limits.quotas["ticketmaster"]
        assert abs(held.value.until_ms - quota.reset_ms) < 1000  # the provider's reset, from its headers
        for _ in range(5):  # a person's import spends the reserve
            await tm.venue(venue)
        with pytest.raises(QuotaHeld) as spent:
            await tm.venue(venue)
        assert spent.value.kind == PERSON
        state = await providers.budgets["ticketmaster"].state(now_ms())
        assert state.used == quota.calls == TM_QUOTA
        assert state.by_kind == {PERSON: 5, RECURRING: 5} and state.other == 0
        assert not [r for r in sb.requests("ticketmaster") if r.status == 429]  # the provider never had to refuse


async def test_a_404_counts_as_the_provider_counts_it(redis_url, namespace) -> None:
    async with sandbox_and_providers(redis_url, namespace, env=budget_env(tm=100), tm_daily_quota=100) as (sb, providers):
        with pytest.raises(Exception):
            await providers.ticketmaster.venue("KovZ000000000000000000")
        await providers.ticketmaster.venue(sb.world.venues[0].tm_id)
        state = await providers.budgets["ticketmaster"].state(now_ms())
        assert state.used == sb.state.limits.quotas["ticketmaster"].calls == 2


async def test_calls_made_elsewhere_on_the_key_are_reconciled_from_rate_limit_available(redis_url, namespace) -> None:
    async with sandbox_and_providers(redis_url, namespace, env=budget_env(tm=50), tm_daily_quota=50) as (sb, providers):
        venue = sb.world.venues[0].tm_id
        await providers.ticketmaster.venue(venue)
        async with aiohttp.ClientSession() as session:  # another client on the same key
            for _ in range(7):
                url = f"{sb.base_url}/ticketmaster/discovery/v2/venues/{venue}"
                async with session.get(url, params={"apikey": sb.options.tm_api_key}) as resp:
                    assert resp.status == 200
        await providers.ticketmaster.venue(venue)
        state = await providers.budgets["ticketmaster"].state(now_ms())
        assert (state.used, state.other) == (9, 7) == (sb.state.limits.tm_calls, 7)


async def test_a_quota_violation_holds_everyone_and_the_key_it_names_never_reaches_a_log(redis_url, namespace) -> None:
    # The key has 3 calls a day; another client spends two of them behind the daemon's back.
    async with sandbox_and_providers(redis_url, namespace, env=budget_env(tm=100), tm_daily_quota=3,
                                     quota_window_s=30) as (sb, providers):
        key = sb.options.tm_api_key
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter(secrets=()))  # the key is not a configured secret here
        logging.getLogger().addHandler(handler)
        try:
            venue = sb.world.venues[0].tm_id
            await providers.ticketmaster.venue(venue)  # Rate-Limit: 3, Rate-Limit-Available: 2
            async with aiohttp.ClientSession() as session:  # another client spends the rest unseen
                for _ in range(2):
                    url = f"{sb.base_url}/ticketmaster/discovery/v2/venues/{venue}"
                    async with session.get(url, params={"apikey": key}) as resp:
                        assert resp.status == 200
            with pytest.raises(ProviderThrottled) as raised:
                await providers.ticketmaster.venue(venue)
            logging.getLogger("theset_daemon.test").warning("held: %s", raised.value, exc_info=True)
            [violation] = [r for r in sb.requests("ticketmaster") if r.status == 429]
            logging.getLogger("theset_daemon.test").warning("body %s", {"fault": {"faultstring": f"Identifier : {key}"}})
        finally:
            logging.getLogger().removeHandler(handler)
        assert isinstance(raised.value, QuotaHeld) and raised.value.kind == PERSON
        assert key not in str(raised.value) and key not in stream.getvalue()
        assert "Identifier : ********" in stream.getvalue()
        held = await providers.budgets["ticketmaster"].spend(PERSON)
        assert not held.allowed and abs(held.hold_until_ms - sb.state.limits.quotas["ticketmaster"].reset_ms) < 1000
    body = {"fault": {"faultstring": f"Rate limit quota violation. Quota limit  exceeded. Identifier : {key}",
                      "detail": {"errorcode": "policies.ratelimit.QuotaViolation"}}}
    assert key not in str(redact_fault(body)) and redact_fault(body)["fault"]["detail"] == body["fault"]["detail"]


async def test_setlistfm_is_counted_and_held_at_its_daily_quota(redis_url, namespace) -> None:
    env = {"THESET_SETLISTFM_DAILY_QUOTA": "4", "THESET_QUOTA_RESERVE": "0.5"}
    async with sandbox_and_providers(redis_url, namespace, env=env, setlistfm_daily_quota=4) as (sb, providers):
        mbid = sb.world.artists[0].mbid
        with running_job(RECURRING, actor="sync_setlists"):
            await providers.setlistfm.search_artists("Paper Lanterns")
            await providers.setlistfm.search_artists("nobody at all")  # a 404 (no results) counts too
            with pytest.raises(QuotaHeld):
                await providers.setlistfm.setlists(mbid, max_pages=1)
        await providers.setlistfm.setlists(mbid, max_pages=1)
        await providers.setlistfm.search_artists("Paper Lanterns")
        with pytest.raises(QuotaHeld):
            await providers.setlistfm.search_artists("Paper Lanterns")
        assert sb.state.limits.quotas["setlistfm"].calls == 4
        assert (await providers.budgets["setlistfm"].state(now_ms())).used == 4


async def test_spotify_quota_exceeded_holds_every_spotify_call_until_its_retry_after(redis_url, namespace) -> None:
    async with sandbox_and_providers(redis_url, namespace, policy=policy(max_throttle_wait_s=1.0),
                                     spotify_daily_quota=2, quota_window_s=120) as (sb, providers):
        artist = sb.world.artists[0].spotify_id
        await providers.spotify.artist(artist)
        await providers.spotify.artist(artist)
        with pytest.raises(ProviderThrottled):
            await providers.spotify.artist(artist)
        [refusal] = [r for r in sb.requests("spotify") if r.status == 429]
        with pytest.raises(QuotaHeld) as held:  # no further call reaches Spotify
            await providers.spotify.artist(artist)
        assert 100_000 < held.value.until_ms - now_ms() <= 121_000
        assert len([r for r in sb.requests("spotify") if r.route != "/spotify-accounts/api/token"]) == 3


async def test_the_sandbox_answers_each_providers_spent_quota_with_its_real_body_and_reopens_the_window() -> None:
    async with run_sandbox(tm_daily_quota=2, setlistfm_daily_quota=1, spotify_daily_quota=1,
                           quota_window_s=3) as sb, aiohttp.ClientSession() as session:
        env = sb.settings_env()
        sf = f"{env['THESET_SETLISTFM_API_URL']}/search/artists"
        sf_headers = {"x-api-key": env["THESET_SETLISTFM_API_KEY"], "Accept": "application/json"}
        answers = []
        for _ in range(2):
            async with session.get(sf, params={"artistName": "x"}, headers=sf_headers) as reply:
                answers.append((reply.status, reply.headers.get("x-amzn-errortype"), reply.headers.get("Retry-After")))
                body = await reply.json()
        assert answers == [(404, None, None), (429, "TooManyRequestsException", None)]  # the 404 counted
        assert body == {"message": "Too Many Requests"}

        form = {"grant_type": "client_credentials", "client_id": env["THESET_SPOTIFY_CLIENT_ID"],
                "client_secret": env["THESET_SPOTIFY_CLIENT_SECRET"]}
        async with session.post(f"{env['THESET_SPOTIFY_ACCOUNTS_URL']}/api/token", data=form) as reply:
            token = (await reply.json())["access_token"]
        url = f"{env['THESET_SPOTIFY_API_URL']}/artists/{sb.world.artists[0].spotify_id}"
        statuses = []
        for _ in range(2):
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as reply:
                statuses.append(reply.status)
                body, retry_after = await reply.json(), reply.headers.get("Retry-After")
        assert statuses == [200, 429] and retry_after in {"1", "2", "3"}
        assert body == {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}

        quota = sb.state.limits.quotas["setlistfm"]
        await asyncio.sleep(max(0, quota.reset_ms / 1000 - time.time()) + 0.01)  # the window's end
        async with session.get(sf, params={"artistName": "x"}, headers=sf_headers) as reply:
            assert reply.status == 404  # a new window
        async with session.get(f"{sb.base_url}/sandbox/quotas") as reply:
            counted = (await reply.json())["setlistfm"]
        assert (counted["calls"], counted["total"], [w["calls"] for w in counted["closed"]]) == (1, 2, [1])

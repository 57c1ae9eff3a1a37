"""The Ticketmaster client against the sandbox: attractions, venues, every event once."""

from __future__ import annotations

import pytest
from tests.helpers.providers import sandbox_and_providers

from theset_daemon.providers import ProviderNotFound, ProviderRejected
from theset_daemon.providers.ticketmaster import PAGING_DEPTH


async def test_attraction_carries_links_to_the_other_providers(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        linked = next(a for a in sb.world.artists if a.external_links)
        attraction = await providers.ticketmaster.attraction(linked.tm_id)
        demo = await providers.ticketmaster.attraction(sb.truth.demo_attraction_id, timeout=2.0)
        with pytest.raises(ProviderNotFound):
            await providers.ticketmaster.attraction("K8vZ91nothere")
        keys = {e.query for e in sb.requests("ticketmaster")}
    assert (attraction.spotify_id, attraction.musicbrainz_id) == (linked.spotify_id, linked.mbid)
    assert demo.name == sb.world.demo.name and demo.spotify_id is None
    assert all("apikey=" in query for query in keys)


async def test_venue_with_and_without_details(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        detailed = next(v for v in sb.world.venues if v.latitude and v.city_on_wire.startswith(" "))
        bare = next(v for v in sb.world.venues if not v.detailed)
        full = await providers.ticketmaster.venue(detailed.tm_id)
        plain = await providers.ticketmaster.venue(bare.tm_id)
    assert full.latitude == float(detailed.latitude) and full.longitude == float(detailed.longitude)
    assert full.city == detailed.city, "stray whitespace is stripped"
    assert plain.latitude is None and plain.postal_code is None and plain.name == bare.name


async def test_events_of_a_small_act(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        truth = sb.truth.artist(sb.truth.demo_attraction_id)
        events = await providers.ticketmaster.events(truth.identity.tm_id)
        empty = await providers.ticketmaster.events(sb.truth.empty_attraction_id)
    assert sorted(e.id for e in events) == sorted(truth.event_ids)
    statuses = {e.status for e in events}
    assert "cancelled" in statuses and "postponed" in statuses
    assert any(e.local_date is None for e in events), "TBA events are included"
    assert all(e.venue is not None for e in events)
    assert empty == []


async def test_deep_paging_gets_every_event_exactly_once(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, tm_strict_paging=True) as (sb, providers):
        truth = sb.truth.artist(sb.truth.big_events_attraction_id)
        events = await providers.ticketmaster.events(truth.identity.tm_id)
        refused = [e for e in sb.requests("ticketmaster") if e.status != 200]
        windows = {e.query for e in sb.requests("ticketmaster") if "startDateTime" in e.query}
    assert len(truth.events) > PAGING_DEPTH
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids)) == len(truth.event_ids)
    assert set(ids) == truth.event_ids
    assert refused == [], "no page beyond the paging depth was asked for"
    assert windows, "the query was split into date windows"


async def test_page_beyond_depth_is_refused_by_the_sandbox(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        url = f"{providers.ticketmaster.api_url}/events.json"
        params = {"attractionId": sb.truth.big_events_attraction_id, "size": 200, "page": 6, "apikey": "sandbox-ticketmaster-key"}
        with pytest.raises(ProviderRejected) as refused:
            await providers.ticketmaster.http.get(url, endpoint="/events", params=params)
    assert refused.value.status == 400 and "DIS1035" in refused.value.detail


async def test_wrong_key_is_rejected(redis_url, namespace):
    env = {"THESET_TICKETMASTER_API_KEY": "wrong"}
    async with sandbox_and_providers(redis_url, namespace, env=env) as (sb, providers):
        with pytest.raises(ProviderRejected) as refused:
            await providers.ticketmaster.attraction(sb.truth.demo_attraction_id)
    assert refused.value.status == 401 and "wrong" not in str(refused.value)

"""The setlist.fm client against the sandbox."""

from __future__ import annotations

import pytest
from tests.helpers.providers import sandbox_and_providers

from theset_daemon.providers import MalformedResponse, ProviderRejected


async def test_search_finds_the_act_among_near_misses(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        demo = sb.world.demo
        found = await providers.setlistfm.search_artists(demo.name)
        none = await providers.setlistfm.search_artists("Zzyzx Nothing Matches")
    assert demo.mbid in [a.mbid for a in found] and found[0].mbid != demo.mbid
    assert none == []


async def test_every_setlist_page(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        truth = sb.truth.artist(sb.truth.big_events_attraction_id)
        setlists = await providers.setlistfm.setlists(truth.identity.mbid)
        first_two = await providers.setlistfm.setlists(truth.identity.mbid, max_pages=2)
    assert [s.id for s in setlists] == [s.id for s in truth.setlists]
    assert len(first_two) == 40
    songs = [song for s in setlists for song in s.songs]
    assert any(song.tape for song in songs) and any(song.cover_artist for song in songs)
    assert any(song.encore for song in songs)
    assert all(song.name.strip() for song in songs), "blank names are left out"
    linked = {s.id for s in setlists} & set(truth.show_links)
    assert linked, "some setlists document Ticketmaster shows"


async def test_no_results_is_an_empty_list(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        empty = sb.truth.artist(sb.truth.empty_attraction_id).identity
        assert await providers.setlistfm.setlists(empty.mbid) == []
        assert await providers.setlistfm.setlists("00000000-0000-4000-a000-000000000000") == []


async def test_json_is_asked_for_and_a_missing_key_fails_fast(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, env={"THESET_SETLISTFM_API_KEY": "wrong"}) as (sb, providers):
        with pytest.raises(ProviderRejected) as refused:
            await providers.setlistfm.setlists(sb.world.demo.mbid)
        assert refused.value.status == 403
        headers = {"x-api-key": "sandbox-setlistfm-key"}  # no Accept: the API answers XML
        with pytest.raises(MalformedResponse):
            await providers.setlistfm.http.get(
                f"{providers.setlistfm.api_url}/artist/{sb.world.demo.mbid}/setlists", endpoint="/artist/{mbid}/setlists",
                headers=headers,
            )

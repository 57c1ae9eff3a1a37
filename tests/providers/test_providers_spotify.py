"""The Spotify client against the sandbox, in each access profile."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers.providers import sandbox_and_providers

from theset_daemon.providers import AudioFeaturesRefused, ProviderNotFound, ProviderRejected, version_preference


async def test_search_lists_near_misses_and_the_act(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        demo = sb.world.demo
        found = await providers.spotify.search_artists(demo.name, timeout=1.0)
    names = [a.name for a in found]
    assert names[0] != demo.name, "the first hit is a near miss: matching must not take it"
    assert demo.spotify_id in [a.id for a in found]
    assert f"{demo.name} Tribute Band" in names


async def test_artist_and_every_album_page(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        truth = sb.truth.artist(sb.truth.big_catalogue_attraction_id)
        artist = await providers.spotify.artist(truth.identity.spotify_id)
        albums = await providers.spotify.artist_albums(truth.identity.spotify_id)
        pages = sb.requests("spotify", "/spotify/v1/artists/{id}/albums")
        with pytest.raises(ProviderNotFound):
            await providers.spotify.artist("0" * 22)
    assert artist.name == truth.identity.name and artist.popularity is not None
    assert {a.id for a in albums} == {a.id for a in truth.albums}
    assert len(albums) >= 150
    # Every page exactly once by offset (a page retried after a slow attempt on a loaded
    # machine is the client doing its job, not an extra page).
    offsets = {dict(part.split("=", 1) for part in e.query.split("&"))["offset"] for e in pages}
    assert offsets == {str(n) for n in range(0, len(albums), 50)}


async def test_extended_profile_uses_batches_and_sees_popularity(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        truth = sb.truth.artist(sb.truth.demo_attraction_id)
        spotify = providers.spotify
        listing = await spotify.album_tracks([a.id for a in truth.albums])
        ids = [t for album in truth.albums for t in listing[album.id]]
        tracks = await spotify.tracks(ids)
        features = await spotify.audio_features(ids)
        batches = len(sb.requests("spotify", "/spotify/v1/tracks"))
        singles = len(sb.requests("spotify", "/spotify/v1/tracks/{id}"))
    assert set(ids) == set(truth.tracks)
    assert len(tracks) == len(ids) and all(t.popularity is not None and t.isrc for t in tracks)
    assert batches == -(-len(ids) // 50) and singles == 0
    assert {f.track_id for f in features} >= {t.id for t in tracks if t.id in truth.live_track_ids} - set(truth.relinked)
    assert spotify.access.profile == "extended"


async def test_dev_2024_refuses_audio_features_once(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, spotify_profile="dev-2024") as (sb, providers):
        truth = sb.truth.artist(sb.truth.demo_attraction_id)
        ids = list(truth.tracks)[:120]
        for _ in range(2):
            with pytest.raises(AudioFeaturesRefused) as refused:
                await providers.spotify.audio_features(ids)
        calls = sb.requests("spotify", "/spotify/v1/audio-features")
    assert refused.value.retryable is False and refused.value.status == 403
    assert len(calls) <= 2, "the refusal is remembered: no further requests"
    assert providers.spotify.access.audio_features is False
    assert providers.spotify.access.profile == "dev-2024"


async def test_dev_2026_degrades_to_per_item_calls_and_small_pages(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, spotify_profile="dev-2026") as (sb, providers):
        truth = sb.truth.artist(sb.truth.demo_attraction_id)
        spotify = providers.spotify
        found = await spotify.search_artists(truth.identity.name, limit=20)
        albums = await spotify.artist_albums(truth.identity.spotify_id)
        listing = await spotify.album_tracks([a.id for a in albums])
        ids = [t for album in albums for t in listing[album.id]]
        tracks = await spotify.tracks(ids)
        refused_batches = [e for e in sb.requests("spotify") if e.route in ("/spotify/v1/tracks", "/spotify/v1/albums")]
        with pytest.raises(AudioFeaturesRefused):
            await spotify.audio_features(ids)
    access = spotify.access
    assert access.batch_tracks is False and access.batch_albums is False and access.page_limit == 10
    assert access.profile == "dev-2026"
    assert len(refused_batches) == 2 and all(e.status == 403 for e in refused_batches)
    assert 1 <= len(found) <= 10
    assert {a.id for a in albums} == {a.id for a in truth.albums}
    assert len(tracks) == len(set(ids)) == len(truth.tracks)
    assert all(t.popularity is None and t.isrc for t in tracks)
    # Relinked tracks come back under another id without linked_from: the client still names the requested one.
    relinked = {t.linked_from_id: t.id for t in tracks if t.linked_from_id}
    assert relinked == truth.relinked


async def test_tie_break_without_popularity_matches_the_truth(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, spotify_profile="dev-2026") as (sb, providers):
        truth = sb.truth.artist(sb.truth.big_catalogue_attraction_id)
        by_id = {t.linked_from_id or t.id: t for t in await providers.spotify.tracks(list(truth.tracks))}
    expected = truth.expected_studio_tracks(popularity=False, audio_features=False)
    for key, chosen in expected.items():
        if isinstance(key, tuple):
            continue
        versions = [by_id[t.id] for t in truth.tracks.values() if t.song_id == key and not t.is_live]
        best = min(versions, key=version_preference)
        assert (best.linked_from_id or best.id) == chosen


async def test_token_is_renewed_before_expiry(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace, token_ttl=0.5) as (sb, providers):
        artist_id = sb.world.demo.spotify_id
        await providers.spotify.artist(artist_id)
        await asyncio.sleep(0.5)  # the token's lifetime: nothing to await but the clock
        await providers.spotify.artist(artist_id)
        statuses = [e.status for e in sb.requests("spotify")]
        tokens = sb.requests("spotify-accounts")
    assert statuses == [200, 200], "no call was made with an expired token"
    assert len(tokens) == 2


async def test_token_is_renewed_on_401(redis_url, namespace):
    async with sandbox_and_providers(redis_url, namespace) as (sb, providers):
        artist_id = sb.world.demo.spotify_id
        await providers.spotify.artist(artist_id)
        sb.expire_tokens()
        artist = await providers.spotify.artist(artist_id)
        statuses = [e.status for e in sb.requests("spotify")]
        tokens = sb.requests("spotify-accounts")
    assert artist.id == artist_id
    assert statuses == [200, 401, 200] and len(tokens) == 2


async def test_wrong_credentials_are_rejected_not_retried(redis_url, namespace):
    env = {"THESET_SPOTIFY_CLIENT_SECRET": "wrong"}
    async with sandbox_and_providers(redis_url, namespace, env=env) as (sb, providers):
        with pytest.raises(ProviderRejected) as rejected:
            await providers.spotify.artist(sb.world.demo.spotify_id)
        attempts = sb.requests("spotify-accounts")
    assert rejected.value.status == 400 and "Invalid client" in str(rejected.value)
    assert len(attempts) == 1

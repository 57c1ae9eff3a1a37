"""The sandbox's generated world and its ground truth."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sys
import time

import aiohttp
import pytest
from tests.helpers.environment import free_port

from theset_daemon.sandbox import Sandbox, SandboxOptions
from theset_daemon.sandbox.words import LIVE_WORD_TITLES

ANCHOR = dt.date(2026, 11, 1)
#: Live markers the catalogue filter looks for (suffix position), never the bare word.
MARKER = re.compile(r"( - (MTV )?(Live|Unplugged)\b| ?[(\[](Live|Unplugged)( Version)?[)\]]$)", re.I)
ALBUM_MARKER = re.compile(r"^(Live (at|in|from) |MTV Unplugged|Unplugged)|\(Live\)$")


def test_the_same_seed_gives_the_same_world():
    one, two, other = Sandbox(7, ANCHOR), Sandbox(7, ANCHOR), Sandbox(8, ANCHOR)
    assert [a.tm_id for a in one.world.artists] == [a.tm_id for a in two.world.artists]
    big = one.truth.big_catalogue_attraction_id
    assert one.truth.artist(big).tracks.keys() == two.truth.artist(big).tracks.keys()
    assert [a.name for a in one.world.artists] != [a.name for a in other.world.artists]


def test_generation_is_cheap():
    started = time.perf_counter()
    sandbox = Sandbox(3, ANCHOR)
    truth = sandbox.truth
    for attraction in (truth.demo_attraction_id, truth.big_catalogue_attraction_id, truth.big_events_attraction_id):
        artist = truth.artist(attraction)
        artist.expected_studio_track_ids()
        artist.events, artist.setlists
    assert time.perf_counter() - started < 1.0


def test_the_special_acts():
    truth = Sandbox(1, ANCHOR).truth
    assert len(truth.artists) >= 200
    big = truth.artist(truth.big_catalogue_attraction_id)
    assert len(big.tracks) >= 2000 and len(big.albums) >= 150
    names = [a.name for a in big.albums]
    assert any("Unplugged" in n for n in names) and any(n.startswith("Live at") for n in names)
    assert any("(Deluxe Edition)" in n for n in names) and any("(Remastered" in n for n in names)
    assert {a.album_type for a in big.albums} == {"album", "single", "compilation"}
    assert big.duplicate_isrc_groups and big.relinked and big.liveness_only_track_ids
    assert any(len(big.world.catalogue(big.identity.index).albums[a.id].track_ids) > 50 for a in big.albums)
    events = truth.artist(truth.big_events_attraction_id).events
    assert len(events) > 1000
    assert {"cancelled", "postponed", "rescheduled", "offsale", "onsale"} <= {e.status for e in events}
    assert truth.artist(truth.empty_attraction_id).events == []


def test_live_takes_carry_markers_and_studio_titles_never_do():
    truth = Sandbox(1, ANCHOR).truth
    for attraction in (truth.demo_attraction_id, truth.big_catalogue_attraction_id):
        artist = truth.artist(attraction)
        albums = {a.id: a for a in artist.albums}
        for track in artist.tracks.values():
            marked = bool(MARKER.search(track.title)) or bool(ALBUM_MARKER.search(albums[track.album_id].name))
            if track.live_marker in ("title", "album"):
                assert marked, track.title
            else:
                assert not marked, track.title
        studio_titles = {t.title for t in artist.tracks.values() if not t.is_live}
        assert set(LIVE_WORD_TITLES) <= studio_titles


def test_expected_studio_set():
    artist = Sandbox(1, ANCHOR).truth.artist(Sandbox(1, ANCHOR).truth.big_catalogue_attraction_id)
    full = artist.expected_studio_track_ids(popularity=True, audio_features=True)
    assert not full & artist.live_track_ids
    assert len(full) == len(artist.studio_songs), "one version per studio song"
    assert artist.live_word_studio_track_ids & full
    for ids in artist.duplicate_isrc_groups.values():
        assert len(set(ids) & full) <= 1
    chosen = {artist.tracks[t].song_id: artist.tracks[t] for t in full}
    for track in artist.tracks.values():
        if not track.is_live:
            assert track.popularity <= chosen[track.song_id].popularity
    without = artist.expected_studio_track_ids(popularity=False, audio_features=False)
    assert without - full, "without popularity the tie-break sometimes keeps another version"
    assert artist.liveness_only_track_ids <= without, "a take only liveness betrays stays without audio features"


def test_identities_match_across_providers_and_setlists_match_shows():
    sandbox = Sandbox(1, ANCHOR)
    demo = sandbox.truth.artist(sandbox.truth.demo_attraction_id)
    identity = demo.identity
    assert sandbox.truth.artist(identity.spotify_id) == sandbox.truth.artist(identity.mbid) == demo
    events = {e.id: e for e in demo.events}
    for setlist_id, event_id in demo.show_links.items():
        setlist = next(s for s in demo.setlists if s.id == setlist_id)
        assert (setlist.event_date, setlist.venue_id) == (events[event_id].local_date, events[event_id].venue_id)
    assert demo.show_links
    songs = [song for s in demo.setlists for block in s.sets for song in block.songs]
    assert any(song.tape for song in songs) and any(song.cover for song in songs)
    assert sum(song.song_id is not None for song in songs) > 0.8 * len(songs)


def test_options_are_validated():
    with pytest.raises(ValueError):
        SandboxOptions(spotify_profile="dev-2030")
    with pytest.raises(ValueError):
        SandboxOptions(rate_limits={"myspace": 1})


async def test_the_command_serves_until_terminated():
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "theset_daemon.sandbox", "--port", str(port), "--seed", "5", "--spotify-profile", "dev-2026",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        first = await asyncio.wait_for(process.stdout.readline(), 10)
        assert f"127.0.0.1:{port}" in first.decode()
        url = f"http://127.0.0.1:{port}/ticketmaster/discovery/v2/attractions/x"
        async with aiohttp.ClientSession() as session, session.get(url) as reply:
            assert reply.status == 401
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0

"""The store against the real PostgreSQL: idempotent upserts, slugs, statuses."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid

import pytest

from theset_daemon.catalog import studio_tracks

from theset_daemon.catalog.matching import link_setlist_to_show
from theset_daemon.catalog.models import (
    Album, Event, Image, Setlist, SetlistSong, SpotifyArtist, TmAttraction, Track, Venue,
)
from theset_daemon.store import (
    SpotifyArtistTaken, artist_counts, mark_artist_synced, set_setlistfm_mbid, shows_for_linking,
    slugify, song_ids_by_title, update_artist_spotify, update_venue_details, upsert_artist_from_tm,
    upsert_setlists, upsert_shows, upsert_songs, upsert_venues,
)


def uid(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex[:12]


async def snapshot(pool, table: str, where: str, *args) -> list[tuple]:
    rows = await pool.fetch(f"select * from {table} where {where} order by 1, 2", *args)
    return [tuple(r.values()) for r in rows]


# -- artists ---------------------------------------------------------------


def test_slugify() -> None:
    assert slugify("Beyoncé & Jay-Z") == "beyonce-and-jay-z"
    assert slugify("Guns N' Roses") == "guns-n-roses"
    assert slugify("!!!") == "artist"
    assert slugify("AC/DC") == "ac-dc"


async def test_artist_upsert_is_idempotent(pool) -> None:
    name = uid("Band ")
    attraction = TmAttraction(uid("K"), name, url="https://tm/x", images=(Image("https://i/1", 100, 100), Image("https://i/2", 640, 640)), genres=("Rock",))
    artist_id, slug = await upsert_artist_from_tm(pool, attraction)
    assert slug == slugify(name)
    before = await snapshot(pool, "artists", "id = $1", artist_id)
    assert await upsert_artist_from_tm(pool, attraction) == (artist_id, slug)
    assert await snapshot(pool, "artists", "id = $1", artist_id) == before
    row = await pool.fetchrow("select image_url, genres, images from artists where id = $1", artist_id)
    assert row["image_url"] == "https://i/2" and row["genres"] == ["Rock"] and len(row["images"]) == 2

    renamed = dataclasses.replace(attraction, name=name + " Renamed", upcoming_events=3)
    assert await upsert_artist_from_tm(pool, renamed) == (artist_id, slug)  # the slug is stable
    assert await pool.fetchval("select name from artists where id = $1", artist_id) == name + " Renamed"


async def test_slug_collisions_get_suffixes(pool) -> None:
    name = uid("Twin ")
    first = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), name))
    second = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), name.upper()))
    assert first[1] == slugify(name) and second[1] == slugify(name) + "-2"
    racers = [TmAttraction(uid("K"), name) for _ in range(8)]
    results = await asyncio.gather(*(upsert_artist_from_tm(pool, a) for a in racers))
    slugs = {slug for _, slug in results}
    assert slugs == {f"{slugify(name)}-{n}" for n in range(3, 11)}
    assert await asyncio.gather(*(upsert_artist_from_tm(pool, a) for a in racers)) == results


async def test_concurrent_upserts_of_one_attraction_agree(pool) -> None:
    attraction = TmAttraction(uid("K"), uid("Same "))
    results = await asyncio.gather(*(upsert_artist_from_tm(pool, attraction) for _ in range(6)))
    assert len(set(results)) == 1 and results[0][1] == slugify(attraction.name)


async def test_spotify_profile_update(pool) -> None:
    artist_id, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Sp "), images=(Image("https://tm/img", 10, 10),)))
    spotify = SpotifyArtist(uid("sp"), "Sp", genres=("indie",), images=(Image("https://sp/img", 640, 640),), popularity=50, followers=1000)
    assert await update_artist_spotify(pool, artist_id, spotify)
    before = await snapshot(pool, "artists", "id = $1", artist_id)
    assert not await update_artist_spotify(pool, artist_id, spotify)
    # Development mode withholds popularity and followers: the stored values stay.
    assert not await update_artist_spotify(pool, artist_id, dataclasses.replace(spotify, popularity=None, followers=None))
    assert await snapshot(pool, "artists", "id = $1", artist_id) == before
    row = await pool.fetchrow("select image_url, popularity, genres from artists where id = $1", artist_id)
    assert (row["image_url"], row["popularity"], row["genres"]) == ("https://sp/img", 50, ["indie"])

    other_id, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Other ")))
    with pytest.raises(SpotifyArtistTaken):
        await update_artist_spotify(pool, other_id, spotify)


async def test_tm_rerun_keeps_spotify_images_and_genres(pool) -> None:
    attraction = TmAttraction(uid("K"), uid("Img "), images=(Image("https://tm/a", 1, 1),), genres=("Rock",))
    artist_id, _ = await upsert_artist_from_tm(pool, attraction)
    await update_artist_spotify(pool, artist_id, SpotifyArtist(uid("sp"), "x", genres=("shoegaze",), images=(Image("https://sp/a", 9, 9),)))
    before = await snapshot(pool, "artists", "id = $1", artist_id)
    await upsert_artist_from_tm(pool, attraction)
    assert await snapshot(pool, "artists", "id = $1", artist_id) == before


async def test_sync_stamps_and_mbid(pool) -> None:
    artist_id, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Stamp ")))
    updated = await pool.fetchval("select updated_at from artists where id = $1", artist_id)
    await mark_artist_synced(pool, artist_id, "catalog")
    row = await pool.fetchrow("select catalog_synced_at, updated_at from artists where id = $1", artist_id)
    assert row["catalog_synced_at"] is not None and row["updated_at"] == updated
    assert await set_setlistfm_mbid(pool, artist_id, "mbid-1")
    assert not await set_setlistfm_mbid(pool, artist_id, "mbid-1")


# -- songs -----------------------------------------------------------------

ALBUM = Album("alb", "Studio Album", "album", "album", "2001-01-01", 3)
LIVE_ALBUM = Album("live", "Live at Leeds", "album", "album", "2002-01-01", 3)


def tr(id: str, name: str, isrc: str | None, album: Album = ALBUM, pop: int | None = None, ms: int = 200_000) -> Track:
    return Track(id, name, album.id, album.name, album.album_type, album.release_date, ms, 1, isrc=isrc, popularity=pop)


async def test_songs_upsert_retire_and_revive(pool) -> None:
    artist_id, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Cat ")))
    tracks = [tr("a", "Live Forever", "I1", pop=70), tr("b", "Supersonic", None), tr("c", "Supersonic", "I3", LIVE_ALBUM),
              tr("d", "Cigarettes - Live", "I4"), tr("e", "Live Forever", "I1", pop=20)]
    kept = studio_tracks([ALBUM, LIVE_ALBUM], tracks, None).tracks
    assert await upsert_songs(pool, artist_id, kept) == 2
    before = await snapshot(pool, "songs", "artist_id = $1", artist_id)
    assert await upsert_songs(pool, artist_id, kept) == 0
    assert await upsert_songs(pool, artist_id, [dataclasses.replace(t, popularity=None) for t in kept]) == 0
    assert await snapshot(pool, "songs", "artist_id = $1", artist_id) == before
    assert await upsert_songs(pool, artist_id, []) == 0

    assert await upsert_songs(pool, artist_id, kept[:1]) == 1  # Supersonic retired, not deleted
    assert (await artist_counts(pool, artist_id))["songs"] == 1
    assert await pool.fetchval("select count(*) from songs where artist_id = $1", artist_id) == 2
    assert await upsert_songs(pool, artist_id, kept) == 1  # revived
    catalogue = await song_ids_by_title(pool, artist_id)
    assert set(catalogue) == {"live forever", "supersonic"}


# -- venues and shows ------------------------------------------------------

D = dt.date(2031, 7, 4)


def venue(id: str, **kw) -> Venue:
    return Venue(id, kw.pop("name", "Madison Square Garden"), city=kw.pop("city", "New York"), **kw)


def event(id: str, v: Venue | None, status: str = "onsale", date: dt.date | None = D, time: str | None = "19:30:00") -> Event:
    return Event(id, f"Show {id}", date, time, status, v, url=f"https://tm/e/{id}")


async def test_venues_and_shows_are_idempotent_and_statuses_current(pool) -> None:
    artist_id, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Tour ")))
    v1, v2 = venue(uid("V"), capacity=20000, latitude=40.75, longitude=-73.99), venue(uid("V"), name=" Roundhouse", city=" London")
    events = [event(uid("E"), v1), event(uid("E"), v2, date=None, time=None), event(uid("E"), v1, "offsale")]
    events.append(events[0])  # repeated across pages
    venue_ids = await upsert_venues(pool, [e.venue for e in events])
    assert set(venue_ids) == {v1.id, v2.id}
    assert await upsert_shows(pool, artist_id, events, venue_ids) == 3
    shows_before = await snapshot(pool, "shows", "artist_id = $1", artist_id)
    venues_before = await snapshot(pool, "venues", "tm_venue_id = any($1)", [v1.id, v2.id])
    assert await upsert_venues(pool, [e.venue for e in events]) == venue_ids
    assert await upsert_shows(pool, artist_id, events, venue_ids) == 0
    assert await snapshot(pool, "shows", "artist_id = $1", artist_id) == shows_before
    assert await snapshot(pool, "venues", "tm_venue_id = any($1)", [v1.id, v2.id]) == venues_before
    assert await pool.fetchval("select city from venues where tm_venue_id = $1", v2.id) == "London"

    changed = [dataclasses.replace(events[0], status="canceled"), dataclasses.replace(events[1], status="postponed")]
    assert await upsert_shows(pool, artist_id, changed, venue_ids) == 2
    statuses = {r["tm_event_id"]: r["status"] for r in await pool.fetch("select tm_event_id, status from shows where artist_id = $1", artist_id)}
    assert statuses == {events[0].id: "cancelled", events[1].id: "postponed", events[2].id: "offsale"}

    counts = await artist_counts(pool, artist_id)
    assert (counts["shows"], counts["upcoming_shows"], counts["venues"]) == (3, 2, 2)


async def test_thin_event_venue_does_not_erase_details(pool) -> None:
    full = venue(uid("V"), capacity=19500, timezone="America/New_York", postal_code="10001")
    await upsert_venues(pool, [venue(full.id)])
    assert await update_venue_details(pool, full)
    assert not await update_venue_details(pool, full)
    before = await snapshot(pool, "venues", "tm_venue_id = $1", full.id)
    await upsert_venues(pool, [venue(full.id)])
    after = await snapshot(pool, "venues", "tm_venue_id = $1", full.id)
    assert after == before
    row = await pool.fetchrow("select capacity, details_synced_at from venues where tm_venue_id = $1", full.id)
    assert row["capacity"] == 19500 and row["details_synced_at"] is not None


async def test_a_festival_show_belongs_to_every_imported_artist(pool) -> None:
    a, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Head ")))
    b, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Support ")))
    v = venue(uid("V"))
    festival = event(uid("E"), v)
    ids = await upsert_venues(pool, [v])
    assert await upsert_shows(pool, a, [festival], ids) == 1
    assert await upsert_shows(pool, b, [festival], ids) == 0
    assert (await artist_counts(pool, b))["shows"] == 1
    assert await pool.fetchval("select artist_id from shows where tm_event_id = $1", festival.id) == a


# -- setlists --------------------------------------------------------------


async def test_setlists_match_songs_link_shows_and_rerun_cleanly(pool) -> None:
    artist_id, _ = await upsert_artist_from_tm(pool, TmAttraction(uid("K"), uid("Sets ")))
    await upsert_songs(pool, artist_id, [tr(uid("t"), "Wonderwall - Remastered", uid("I")), tr(uid("t"), "Supersonic", uid("I"))])
    v = venue(uid("V"), name="Madison Square Garden")
    show = event(uid("E"), v)
    await upsert_shows(pool, artist_id, [show], await upsert_venues(pool, [v]))

    songs = (SetlistSong("Intro", 1, tape=True), SetlistSong("Wonderwall", 2), SetlistSong("Supersonic", 1, set_index=1, encore=1),
             SetlistSong("Hey Jude", 2, set_index=1, encore=1, cover_artist="The Beatles"))
    played = Setlist(uid("s"), D, "mbid", "Madison Square Garden", "New York", "US", tour="Tour", songs=songs)
    other = Setlist(uid("s"), D - dt.timedelta(days=400), "mbid", "Somewhere", "Elsewhere", "US")
    candidates = await shows_for_linking(pool, artist_id, [played.event_date, other.event_date])
    links = {s.id: link for s in (played, other) if (link := link_setlist_to_show(s, candidates))}
    catalogue = await song_ids_by_title(pool, artist_id)

    assert await upsert_setlists(pool, artist_id, [played, other, played], catalogue, links) == 2
    before = await snapshot(pool, "setlists", "artist_id = $1", artist_id)
    assert await upsert_setlists(pool, artist_id, [played, other], catalogue, links) == 0
    assert await upsert_setlists(pool, artist_id, [played], catalogue, {}) == 0  # a lost link keeps the stored one
    assert await snapshot(pool, "setlists", "artist_id = $1", artist_id) == before

    rows = await pool.fetch(
        "select ss.position, ss.song_id is not null as matched, ss.is_tape, ss.encore from setlist_songs ss "
        "join setlists s on s.id = ss.setlist_id where s.setlistfm_id = $1 order by ss.position", played.id)
    assert [(r["position"], r["matched"], r["is_tape"], r["encore"]) for r in rows] == [
        (1, False, True, None), (2, True, False, None), (3, True, False, 1), (4, False, False, 1)]
    assert await pool.fetchval("select show_id from setlists where setlistfm_id = $1", played.id) == links[played.id]

    shorter = dataclasses.replace(played, songs=songs[:2])
    assert await upsert_setlists(pool, artist_id, [shorter], catalogue, links) == 1
    counts = await artist_counts(pool, artist_id)
    assert (counts["setlists"], counts["setlists_linked"], counts["setlist_songs_matched"]) == (2, 1, 1)

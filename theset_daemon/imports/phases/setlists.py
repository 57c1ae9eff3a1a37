"""Past setlists: the setlist.fm artist, its setlists, songs matched, shows linked."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

import asyncpg

from ...catalog.matching import best_artist_match, link_setlist_to_show, match_setlist_songs
from ...providers import Providers
from ...runtime.job_log import note, note_each
from ...runtime.yielding import map_yielding
from ...store import (
    get_artist,
    mark_artist_synced,
    set_setlistfm_mbid,
    shows_for_linking,
    song_ids_by_title,
    upsert_setlists,
)
from . import Report, no_report

#: setlist.fm pages read per sync (20 setlists a page, newest first).
MAX_PAGES = 20


async def sync_setlists(
    providers: Providers, pool: asyncpg.Pool, artist_id: UUID, report: Report = no_report
) -> dict[str, Any]:
    """Store the artist's past setlists; counts setlists, linked shows, matched songs."""
    row = await get_artist(pool, artist_id)
    mbid = row["setlistfm_mbid"]
    if not mbid:
        candidates = await providers.setlistfm.search_artists(row["name"])
        found = best_artist_match(row["name"], candidates)
        if found is None:
            note(f"no setlist.fm artist matches {row['name']!r} ({len(candidates)} candidates): no setlists")
            return {"setlists": 0, "setlistfm_matched": False}
        note(f"setlist.fm artist matched: {found.name!r} ({found.mbid}) among {len(candidates)} candidates")
        mbid = found.mbid
        await set_setlistfm_mbid(pool, artist_id, mbid)
    today = dt.date.today()
    setlists = [s for s in await providers.setlistfm.setlists(mbid, max_pages=MAX_PAGES) if s.event_date <= today and s.songs]
    await report(0.6, f"{len(setlists)} setlists read", None)
    shows = await shows_for_linking(pool, artist_id, [s.event_date for s in setlists])
    linked = await map_yielding(lambda s: link_setlist_to_show(s, shows), setlists)
    links = {s.id: show for s, show in zip(setlists, linked) if show is not None}
    catalogue = await song_ids_by_title(pool, artist_id)
    await _note_matches(setlists, links, catalogue)
    changed = await upsert_setlists(pool, artist_id, setlists, catalogue, links)
    await mark_artist_synced(pool, artist_id, "setlists")
    return {"setlists": len(setlists), "setlists_changed": changed, "setlists_linked": len(links)}


async def _note_matches(setlists: list, links: dict, catalogue: dict) -> None:
    """Log setlists linked to shows and songs matched to the catalogue (the unmatched titles by name)."""
    note(f"{len(setlists)} past setlists with songs; {len(links)} linked to a stored show")
    played = [song for s in setlists for song in s.songs]
    per_setlist = await map_yielding(lambda s: match_setlist_songs(s.songs, catalogue), setlists)
    matched = [song_id for ids in per_setlist for song_id in ids]
    pairs = list(zip(played, matched))
    tapes = sum(1 for song, _ in pairs if song.tape)
    unmatched = sorted({song.name.strip() for song, song_id in pairs if song_id is None and not song.tape})
    note(f"{sum(1 for m in matched if m is not None)} of {len(played) - tapes} songs played matched a catalogue "
         f"song ({tapes} tapes not counted); {len(unmatched)} titles matched none")
    note_each([f"no catalogue song for {title!r}" for title in unmatched], "unmatched titles")

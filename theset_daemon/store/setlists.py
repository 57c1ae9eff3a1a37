"""Setlist rows and their songs, matched to the catalogue and linked to shows.

Songs are stored by 1-based position in play order across all sets (the
provider's own numbering may restart per set). Re-storing a setlist rewrites
only positions that changed and drops positions beyond its new length.
"""

from __future__ import annotations

from typing import Iterable, Mapping
from uuid import UUID

from ..catalog.matching import match_setlist_songs
from ..runtime.yielding import map_yielding
from ..catalog.models import Setlist
from .connection import Db, transaction

_UPSERT = """
insert into setlists (setlistfm_id, artist_id, show_id, venue_name, city, country, event_date, tour, url, song_count)
select r.setlistfm_id, $1, r.show_id, r.venue_name, r.city, r.country, r.event_date, r.tour, r.url, r.song_count
from unnest($2::text[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::date[], $8::text[], $9::text[], $10::int[])
     as r(setlistfm_id, show_id, venue_name, city, country, event_date, tour, url, song_count)
on conflict (setlistfm_id) do update set
    show_id = coalesce(excluded.show_id, setlists.show_id),
    venue_name = excluded.venue_name, city = excluded.city, country = excluded.country,
    event_date = excluded.event_date, tour = excluded.tour, url = excluded.url,
    song_count = excluded.song_count, updated_at = now()
where (setlists.venue_name, setlists.city, setlists.country, setlists.event_date, setlists.tour,
       setlists.url, setlists.song_count)
      is distinct from (excluded.venue_name, excluded.city, excluded.country, excluded.event_date,
       excluded.tour, excluded.url, excluded.song_count)
   or (excluded.show_id is not null and excluded.show_id is distinct from setlists.show_id)
returning setlistfm_id
"""

_UPSERT_SONGS = """
insert into setlist_songs (setlist_id, position, song_id, name, cover_artist, is_tape, encore, set_index, info)
select * from unnest($1::uuid[], $2::int[], $3::uuid[], $4::text[], $5::text[], $6::bool[],
                     $7::int[], $8::int[], $9::text[])
on conflict (setlist_id, position) do update set
    song_id = excluded.song_id, name = excluded.name, cover_artist = excluded.cover_artist,
    is_tape = excluded.is_tape, encore = excluded.encore, set_index = excluded.set_index,
    info = excluded.info
where (setlist_songs.song_id, setlist_songs.name, setlist_songs.cover_artist, setlist_songs.is_tape,
       setlist_songs.encore, setlist_songs.set_index, setlist_songs.info)
      is distinct from (excluded.song_id, excluded.name, excluded.cover_artist, excluded.is_tape,
       excluded.encore, excluded.set_index, excluded.info)
returning setlist_id
"""

_TRIM_SONGS = """
delete from setlist_songs s using unnest($1::uuid[], $2::int[]) as t(setlist_id, song_count)
where s.setlist_id = t.setlist_id and s.position > t.song_count
returning s.setlist_id
"""


async def upsert_setlists(
    db: Db,
    artist_id: UUID,
    setlists: Iterable[Setlist],
    song_ids_by_title: Mapping[str, UUID],
    show_links: Mapping[str, UUID],
) -> int:
    """Store setlists and their songs; the number of setlists inserted or changed.

    ``song_ids_by_title`` is the artist's catalogue by normalised title (see
    :func:`~.songs.song_ids_by_title`); ``show_links`` maps setlist.fm ids to
    the show each was linked to (a missing link keeps a stored one).
    """
    rows = list({s.id: s for s in setlists}.values())
    if not rows:
        return 0
    async with transaction(db) as conn:
        changed = {
            r["setlistfm_id"]
            for r in await conn.fetch(
                _UPSERT,
                artist_id,
                [s.id for s in rows],
                [show_links.get(s.id) for s in rows],
                [s.venue_name for s in rows],
                [s.city for s in rows],
                [s.country for s in rows],
                [s.event_date for s in rows],
                [s.tour for s in rows],
                [s.url for s in rows],
                [len(s.songs) for s in rows],
            )
        }
        ids = {
            r["setlistfm_id"]: r["id"]
            for r in await conn.fetch(
                "select setlistfm_id, id from setlists where setlistfm_id = any($1::text[])", [s.id for s in rows]
            )
        }
        touched = await _store_songs(conn, rows, ids, song_ids_by_title)
    by_uuid = {v: k for k, v in ids.items()}
    return len(changed | {by_uuid[i] for i in touched})


#: Setlists whose songs go in one upsert statement (~20 songs each).
SONG_BATCH = 50


def _song_columns(batch: Iterable[tuple[Setlist, list]], ids: Mapping[str, UUID]) -> tuple[list, ...]:
    """The upsert's nine column arrays for these (setlist, matched song ids) pairs."""
    columns: tuple[list, ...] = ([], [], [], [], [], [], [], [], [])
    for setlist, matched in batch:
        for position, (song, song_id) in enumerate(zip(setlist.songs, matched), start=1):
            values = (ids[setlist.id], position, song_id, song.name.strip(), song.cover_artist,
                      song.tape, song.encore, song.set_index, song.info)
            for column, value in zip(columns, values):
                column.append(value)
    return columns


async def _store_songs(conn, rows: list[Setlist], ids: Mapping[str, UUID], catalogue: Mapping[str, UUID]) -> set[UUID]:
    per_setlist = await map_yielding(lambda s: match_setlist_songs(s.songs, catalogue), rows)
    touched: set[UUID] = set()
    # In batches: encoding and sending one statement of every song held the loop ~25 ms.
    for start in range(0, len(rows), SONG_BATCH):
        batch = zip(rows[start : start + SONG_BATCH], per_setlist[start : start + SONG_BATCH])
        columns = _song_columns(batch, ids)
        if columns[0]:
            touched |= {r["setlist_id"] for r in await conn.fetch(_UPSERT_SONGS, *columns)}
    trimmed = await conn.fetch(_TRIM_SONGS, [ids[s.id] for s in rows], [len(s.songs) for s in rows])
    return touched | {r["setlist_id"] for r in trimmed}

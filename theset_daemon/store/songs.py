"""Song rows: the artist's studio catalogue, keyed on its dedup key.

The caller passes the *whole* kept studio set (``CatalogResult.tracks``):
songs of the artist missing from it are retired (``catalog_removed_at``),
never deleted, because votes and setlists point at them; a song that comes
back is revived. Popularity that Spotify withholds keeps the stored value.
"""

from __future__ import annotations

from typing import Sequence
from uuid import UUID

from ..catalog.dedupe import dedup_key, spotify_track_id
from ..catalog.matching import normalise_title
from ..catalog.models import Track
from ..runtime.yielding import map_yielding
from .connection import Db, transaction

_UPSERT = """
insert into songs (artist_id, spotify_id, name, album, album_id, album_type, release_date,
                   duration_ms, popularity, isrc, dedup_key, track_number, explicit)
select $1, r.* from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::int[], $9::int[], $10::text[], $11::text[], $12::int[], $13::bool[]) as r
on conflict (artist_id, dedup_key) do update set
    spotify_id = excluded.spotify_id, name = excluded.name, album = excluded.album,
    album_id = excluded.album_id, album_type = excluded.album_type,
    release_date = excluded.release_date, duration_ms = excluded.duration_ms,
    popularity = coalesce(excluded.popularity, songs.popularity), isrc = excluded.isrc,
    track_number = excluded.track_number, explicit = excluded.explicit,
    catalog_removed_at = null, updated_at = now()
where (songs.spotify_id, songs.name, songs.album, songs.album_id, songs.album_type,
       songs.release_date, songs.duration_ms, songs.isrc, songs.track_number, songs.explicit)
      is distinct from
      (excluded.spotify_id, excluded.name, excluded.album, excluded.album_id, excluded.album_type,
       excluded.release_date, excluded.duration_ms, excluded.isrc, excluded.track_number, excluded.explicit)
   or (excluded.popularity is not null and excluded.popularity is distinct from songs.popularity)
   or songs.catalog_removed_at is not null
returning 1
"""

_RETIRE = """
update songs set catalog_removed_at = now(), updated_at = now()
where artist_id = $1 and catalog_removed_at is null and dedup_key <> all($2::text[])
"""


#: Songs per upsert statement.
SONG_BATCH = 500


def _columns(rows: Sequence[tuple[str, Track]]) -> tuple[list, ...]:
    """The upsert's column arrays (after the artist id) for these (dedup key, track) pairs."""
    return (
        [spotify_track_id(t) for _, t in rows],
        [t.name for _, t in rows],
        [t.album_name for _, t in rows],
        [t.album_id for _, t in rows],
        [t.album_type for _, t in rows],
        [t.release_date for _, t in rows],
        [t.duration_ms for _, t in rows],
        [t.popularity for _, t in rows],
        [t.isrc for _, t in rows],
        [key for key, _ in rows],
        [t.track_number for _, t in rows],
        [t.explicit for _, t in rows],
    )


async def upsert_songs(db: Db, artist_id: UUID, tracks: Sequence[Track]) -> int:
    """Store the artist's studio set; the number of songs inserted, changed or retired.

    ``tracks`` is the whole kept set; an empty set changes nothing (a failed
    fetch must not retire a catalogue). Tracks sharing a dedup key (not
    produced by :func:`~theset_daemon.catalog.dedupe`) keep the first.
    """
    if not tracks:
        return 0
    by_key: dict[str, Track] = {}
    for track in tracks:
        by_key.setdefault(dedup_key(track), track)
    rows = list(by_key.items())
    async with transaction(db) as conn:
        changed = 0
        # In batches: encoding one statement of a big catalogue held the loop 10-13 ms.
        for start in range(0, len(rows), SONG_BATCH):
            changed += len(await conn.fetch(_UPSERT, artist_id, *_columns(rows[start : start + SONG_BATCH])))
        retired = await conn.execute(_RETIRE, artist_id, list(by_key))
    return changed + int(retired.split()[-1])


async def song_ids_by_title(db: Db, artist_id: UUID) -> dict[str, UUID]:
    """The artist's current songs by :func:`normalise_title` (most popular wins a clash)."""
    rows = await db.fetch(
        "select id, name from songs where artist_id = $1 and catalog_removed_at is null "
        "order by popularity desc nulls last, release_date, id",
        artist_id,
    )
    catalogue: dict[str, UUID] = {}
    for row, title in zip(rows, await map_yielding(lambda r: normalise_title(r["name"]), rows)):
        catalogue.setdefault(title, row["id"])
    return catalogue

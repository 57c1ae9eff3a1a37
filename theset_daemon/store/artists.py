"""Artist rows: created from Ticketmaster, enriched from Spotify, counted.

Every write is conditional: a column is rewritten (and ``updated_at`` bumped)
only when the provider value differs, so re-running an import changes nothing.
Ticketmaster owns the name; Spotify owns genres, images and popularity (a
value Spotify withholds in development mode keeps the stored one).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterable, Literal
from uuid import UUID

import asyncpg
import orjson

from ..catalog.matching import fold
from ..catalog.models import Image, SpotifyArtist, TmAttraction
from ..runtime.package_data import query
from .connection import Db, transaction

#: Longest slug base, in characters (a collision suffix may follow).
SLUG_MAX = 80

#: Which ``*_synced_at`` column :func:`mark_artist_synced` stamps.
SYNC_COLUMNS = {
    "profile": "last_synced_at",
    "catalog": "catalog_synced_at",
    "shows": "shows_synced_at",
    "setlists": "setlists_synced_at",
}


class SpotifyArtistTaken(Exception):
    """Another artist row already holds this Spotify id (a duplicate attraction?)."""

    def __init__(self, artist_id: UUID, spotify_id: str) -> None:
        super().__init__(f"spotify id {spotify_id} already belongs to another artist than {artist_id}")
        self.artist_id = artist_id
        self.spotify_id = spotify_id


def slugify(name: str) -> str:
    """A URL slug of an artist name ("Beyoncé & Jay-Z" → "beyonce-and-jay-z")."""
    text = re.sub(r"\s*[&+]\s*", " and ", fold(name))
    text = re.sub(r"['’]", "", text)
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:SLUG_MAX].strip("-")
    return slug or "artist"


def images_json(images: Iterable[Image]) -> list[dict]:
    """Images as stored in jsonb columns."""
    return [{"url": i.url, "width": i.width, "height": i.height} for i in images]


def largest_image_url(images: Iterable[Image]) -> str | None:
    """The URL of the widest image, or None."""
    best = max(images, key=lambda i: (i.width or 0) * (i.height or 0), default=None)
    return best.url if best else None


async def _free_slug(conn: asyncpg.Connection, base: str) -> str:
    # Artists of one name take turns (until commit), so racing imports pick distinct suffixes.
    await conn.execute("select pg_advisory_xact_lock(hashtext('artist-slug:' || $1))", base)
    taken = {
        r["slug"]
        for r in await conn.fetch(
            "select slug from artists where slug = $1 or slug ~ ('^' || $1 || '-[0-9]+$')", base
        )
    }
    n = 1
    slug = base
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    return slug


_UPSERT_TM = """
insert into artists (slug, name, tm_attraction_id, tm_url, images, image_url, genres, upcoming_events)
values ($1, $2, $3, $4, $5, $6, $7, $8)
on conflict (tm_attraction_id) do update set
    name = excluded.name,
    tm_url = excluded.tm_url,
    upcoming_events = excluded.upcoming_events,
    images = case when artists.images = '[]' then excluded.images else artists.images end,
    image_url = coalesce(artists.image_url, excluded.image_url),
    genres = case when artists.genres = '{}' then excluded.genres else artists.genres end,
    updated_at = now()
where (artists.name, artists.tm_url, artists.upcoming_events)
        is distinct from (excluded.name, excluded.tm_url, excluded.upcoming_events)
   or (artists.images = '[]' and excluded.images <> '[]')
   or (artists.image_url is null and excluded.image_url is not null)
   or (artists.genres = '{}' and excluded.genres <> '{}')
returning id, slug
"""


async def upsert_artist_from_tm(db: Db, attraction: TmAttraction, *, attempts: int = 5) -> tuple[UUID, str]:
    """Create or refresh the artist of a Ticketmaster attraction; ``(artist_id, slug)``.

    A new artist gets the slug of its name, suffixed ``-2``, ``-3``... when
    taken; an existing one keeps its slug. Safe against concurrent imports:
    new artists of one name are serialised by an advisory lock, and a slug
    lost to another name's suffix ("Band 2" vs "Band" #2) is retried up to
    ``attempts`` times.
    """
    args = (
        attraction.name.strip(),
        attraction.id,
        attraction.url,
        images_json(attraction.images),
        largest_image_url(attraction.images),
        list(attraction.genres),
        attraction.upcoming_events,
    )
    for attempt in range(attempts):
        async with transaction(db) as conn:
            existing = await conn.fetchrow(
                "select id, slug from artists where tm_attraction_id = $1", attraction.id
            )
            slug = existing["slug"] if existing else await _free_slug(conn, slugify(attraction.name))
            try:
                async with conn.transaction():
                    row = await conn.fetchrow(_UPSERT_TM, slug, *args)
            except asyncpg.UniqueViolationError:
                if attempt == attempts - 1:
                    raise
                continue
            if row is None:  # unchanged, or inserted meanwhile by a racing import of it
                row = await conn.fetchrow(
                    "select id, slug from artists where tm_attraction_id = $1", attraction.id
                )
            return row["id"], row["slug"]
    raise AssertionError("unreachable")


_UPDATE_SPOTIFY = """
update artists set
    spotify_id = $2,
    genres = case when cardinality($3::text[]) > 0 then $3::text[] else genres end,
    images = case when $4::jsonb <> '[]' then $4::jsonb else images end,
    image_url = coalesce($5::text, image_url),
    popularity = coalesce($6::int, popularity),
    followers = coalesce($7::bigint, followers),
    updated_at = now()
where id = $1 and (
       spotify_id is distinct from $2
    or (cardinality($3::text[]) > 0 and genres is distinct from $3::text[])
    or ($4::jsonb <> '[]' and images is distinct from $4::jsonb)
    or ($5::text is not null and image_url is distinct from $5::text)
    or ($6::int is not null and popularity is distinct from $6::int)
    or ($7::bigint is not null and followers is distinct from $7::bigint))
returning id
"""


async def update_artist_spotify(db: Db, artist_id: UUID, artist: SpotifyArtist) -> bool:
    """Store the Spotify id and profile of an artist; True when something changed.

    Raises:
      SpotifyArtistTaken: another artist row holds ``artist.id``.
    """
    try:
        row = await db.fetchrow(
            _UPDATE_SPOTIFY,
            artist_id,
            artist.id,
            list(artist.genres),
            images_json(artist.images),
            largest_image_url(artist.images),
            artist.popularity,
            artist.followers,
        )
    except asyncpg.UniqueViolationError as exc:
        raise SpotifyArtistTaken(artist_id, artist.id) from exc
    return row is not None


async def set_setlistfm_mbid(db: Db, artist_id: UUID, mbid: str) -> bool:
    """Store the MusicBrainz id setlist.fm knows the artist by; True when changed."""
    status = await db.execute(
        "update artists set setlistfm_mbid = $2, updated_at = now() "
        "where id = $1 and setlistfm_mbid is distinct from $2",
        artist_id,
        mbid,
    )
    return status != "UPDATE 0"


async def mark_artist_synced(
    db: Db, artist_id: UUID, what: Literal["profile", "catalog", "shows", "setlists"]
) -> None:
    """Stamp the artist's ``*_synced_at`` for ``what`` with now (``updated_at`` untouched)."""
    column = SYNC_COLUMNS[what]
    await db.execute(f"update artists set {column} = now() where id = $1", artist_id)


_COUNTS = """
select
    (select count(*) from show_artists sa where sa.artist_id = $1) as shows,
    (select count(*) from show_artists sa join shows s on s.id = sa.show_id
      where sa.artist_id = $1 and s.date >= current_date) as upcoming_shows,
    (select count(distinct s.venue_id) from show_artists sa join shows s on s.id = sa.show_id
      where sa.artist_id = $1) as venues,
    (select count(*) from songs where artist_id = $1 and catalog_removed_at is null) as songs,
    (select count(*) from setlists where artist_id = $1) as setlists,
    (select count(*) from setlists where artist_id = $1 and show_id is not null) as setlists_linked,
    (select count(*) from setlist_songs ss join setlists sl on sl.id = ss.setlist_id
      where sl.artist_id = $1 and ss.song_id is not null) as setlist_songs_matched
"""


async def artist_counts(db: Db, artist_id: UUID) -> dict[str, int]:
    """What the artist page now holds: shows, upcoming_shows, venues, songs,
    setlists, setlists_linked, setlist_songs_matched."""
    row = await db.fetchrow(_COUNTS, artist_id)
    return dict(row)


async def get_artist(db: Db, artist_id: UUID) -> asyncpg.Record | None:
    """The artist's row, or None."""
    return await db.fetchrow("select * from artists where id = $1", artist_id)


async def set_artist_image(db: Db, artist_id: UUID, url: str, width: int | None, height: int | None) -> None:
    """The image chosen for the artist and its size (None: not recognised), checked now."""
    await db.execute(
        """update artists set image_url = $2, image_width = $3, image_height = $4, image_checked_at = now()
           where id = $1""",
        artist_id, url, width, height,
    )


async def trending_artist_ids(db: Db) -> list[str]:
    """Ids of the trending artists, best ranked first."""
    rows = await db.fetch("select id::text as id from artists where is_trending order by trending_rank nulls last, id")
    return [r["id"] for r in rows]


async def active_artists(db: Db, limit: int, window: timedelta) -> list[str]:
    """Ids of the ``limit`` artists with the most activity (upcoming shows, votes, views in
    ``window``), least recently synced first (``sql/queries/active_artists.sql``)."""
    return [r["id"] for r in await db.fetch(query("active_artists"), limit, window)]


async def recently_viewed(db: Db, viewed_within: timedelta, stale_after: timedelta, limit: int) -> list[str]:
    """Ids of artists viewed within ``viewed_within`` whose profile is older than ``stale_after``
    (``sql/queries/recently_viewed.sql``)."""
    return [r["id"] for r in await db.fetch(query("recently_viewed"), viewed_within, stale_after, limit)]


async def artist_page(db: Db, artist_id: str) -> dict[str, Any] | None:
    """The artist page document: the artist, counts, upcoming shows, top songs; None if unknown
    (``sql/queries/artist_page.sql``)."""
    data = await db.fetchval(query("artist_page"), artist_id)
    return None if data is None else (orjson.loads(data) if isinstance(data, (str, bytes)) else data)


async def trending_scores(db: Db, windows: list[timedelta], as_of: datetime, limit: int, *,
                          work_mem: str) -> list[asyncpg.Record]:
    """The ranked artists of each window ending at ``as_of`` (``timeframe`` = the window's 1-based
    position), in one statement run with ``work_mem`` (``sql/queries/trending.sql``)."""
    async with transaction(db) as conn:
        await conn.execute(f"set local work_mem = '{work_mem}'")  # the aggregates sort in memory, not on disk
        return await conn.fetch(query("trending"), *windows, as_of, limit)


async def set_trending(conn: asyncpg.Connection, ids: list[str], scores: list[float], ranks: list[int]) -> None:
    """Flag exactly the artists ``ids`` as trending with their score and rank (one transaction)."""
    async with conn.transaction():
        await conn.execute(
            """update artists set is_trending = false, trending_score = 0, trending_rank = null
               where (is_trending or trending_rank is not null) and not (id = any($1::uuid[]))""",
            ids,
        )
        await conn.execute(
            """update artists a set is_trending = true, trending_score = t.score, trending_rank = t.rank
               from unnest($1::uuid[], $2::float8[], $3::int[]) as t(id, score, rank)
               where a.id = t.id""",
            ids, scores, ranks,
        )

"""Rows of the catalogue written straight to PostgreSQL: artists, shows, votes, views (for trending, cache, cleanup)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

#: "Now" for the ages of votes and views (trending is computed as of this instant).
AS_OF = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)


async def add_artist(conn, name: str, popularity: int, followers: int, **extra) -> str:
    return str(await conn.fetchval(
        """insert into artists (slug, name, popularity, followers, is_trending, trending_rank)
           values ($1, $2, $3, $4, $5, $6) returning id""",
        name.lower(), name, popularity, followers, extra.get("is_trending", False), extra.get("trending_rank"),
    ))


async def add_show(conn, artist_id: str, date, status: str = "onsale") -> str:
    show_id = await conn.fetchval(
        "insert into shows (tm_event_id, artist_id, name, date, status) values ($1, $2, 'show', $3, $4) returning id",
        uuid.uuid4().hex, artist_id, date, status,
    )
    await conn.execute("insert into show_artists (show_id, artist_id) values ($1, $2)", show_id, artist_id)
    return str(show_id)


async def add_votes(conn, show_id: str, artist_id: str, ages: list[timedelta]) -> None:
    song_id = await conn.fetchval(
        "insert into songs (artist_id, name, dedup_key) values ($1, 'song', $2) returning id", artist_id, uuid.uuid4().hex
    )
    for age in ages:
        await conn.execute(
            "insert into votes (show_id, song_id, user_id, created_at) values ($1, $2, $3, $4)",
            show_id, song_id, uuid.uuid4().hex, AS_OF - age,
        )


async def add_views(conn, artist_id: str, ages: list[timedelta]) -> None:
    for age in ages:
        await conn.execute("insert into artist_views (artist_id, viewed_at) values ($1, $2)", artist_id, AS_OF - age)

"""The setlist.fm 1.0 client: artist search and an artist's setlists.

setlist.fm answers XML unless asked for JSON, pages from 1 with 20 setlists a
page (newest first), and reports "no results" — an unknown artist, a page past
the end — as a 404, which this client returns as an empty list.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from ..catalog.models import Setlist, SetlistArtist, SetlistSong
from .errors import ProviderNotFound
from .http import ProviderHttp, Reply, wire_shape

#: Pause after a 429, which carries no Retry-After (a 2 s back-off is observed to work).
THROTTLE_PAUSE_S = 2.0


class SetlistFmClient:
    """setlist.fm calls returning :mod:`theset_daemon.catalog.models` values.

    Parameters:
      http: the ProviderHttp for the API host.
      api_url: e.g. ``https://api.setlist.fm/rest/1.0``.
      api_key: sent as the ``x-api-key`` header.
    """

    def __init__(self, http: ProviderHttp, api_url: str, api_key: str) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.headers = {"x-api-key": api_key, "Accept": "application/json", "Accept-Language": "en"}

    async def search_artists(self, name: str, *, timeout: float | None = None) -> list[SetlistArtist]:
        """The first page of artists matching ``name``, by relevance (none: ``[]``)."""
        endpoint = "/search/artists"
        reply = await self._get(endpoint, endpoint, {"artistName": name, "sort": "relevance", "p": 1}, timeout)
        if reply is None:
            return []
        with wire_shape("setlistfm", endpoint, reply.status):
            return [_artist(item) for item in reply.body.get("artist", [])]

    async def setlists(self, mbid: str, *, max_pages: int | None = None) -> list[Setlist]:
        """The artist's setlists, newest first, every page up to ``max_pages`` (unknown artist: ``[]``)."""
        endpoint = "/artist/{mbid}/setlists"
        path = f"/artist/{mbid}/setlists"
        first = await self._get(path, endpoint, {"p": 1}, None)
        if first is None:
            return []
        with wire_shape("setlistfm", endpoint, first.status):
            total, per_page = int(first.body["total"]), int(first.body["itemsPerPage"])
        pages = -(-total // max(per_page, 1))
        if max_pages is not None:
            pages = min(pages, max_pages)
        rest = await asyncio.gather(*(self._get(path, endpoint, {"p": n}, None) for n in range(2, pages + 1)))
        setlists: dict[str, Setlist] = {}
        for reply in [first, *rest]:
            if reply is None:
                continue
            with wire_shape("setlistfm", endpoint, reply.status):
                for item in reply.body.get("setlist", []):
                    setlist = _setlist(item)
                    setlists.setdefault(setlist.id, setlist)
            await asyncio.sleep(0)  # one page's shaping per loop step, not all pages' in one
        return list(setlists.values())

    async def _get(self, path: str, endpoint: str, params: dict[str, Any], timeout: float | None) -> Reply | None:
        """The reply, or None for setlist.fm's 404 "not found"."""
        try:
            return await self.http.get(
                f"{self.api_url}{path}", endpoint=endpoint, params=params, headers=self.headers, timeout=timeout
            )
        except ProviderNotFound:
            return None


def _artist(body: dict[str, Any]) -> SetlistArtist:
    return SetlistArtist(mbid=str(body["mbid"]), name=str(body["name"]), sort_name=body.get("sortName"))


def _songs(sets: list[dict[str, Any]]) -> tuple[SetlistSong, ...]:
    """Songs in performance order; blank names (real data has them) are left out."""
    songs: list[SetlistSong] = []
    for set_index, block in enumerate(sets):
        for song in block.get("song", []):
            name = str(song.get("name") or "").strip()
            if not name:
                continue
            cover = song.get("cover")
            songs.append(
                SetlistSong(
                    name=name,
                    position=len(songs) + 1,
                    set_index=set_index,
                    encore=block.get("encore"),
                    cover_artist=cover.get("name") if isinstance(cover, dict) else None,
                    tape=bool(song.get("tape", False)),
                    info=song.get("info"),
                )
            )
    return tuple(songs)


def _setlist(body: dict[str, Any]) -> Setlist:
    venue = body.get("venue") or {}
    city = venue.get("city") or {}
    return Setlist(
        id=str(body["id"]),
        event_date=dt.datetime.strptime(body["eventDate"], "%d-%m-%Y").date(),
        artist_mbid=str(body["artist"]["mbid"]),
        venue_name=str(venue.get("name") or ""),
        city=city.get("name"),
        country=(city.get("country") or {}).get("code"),
        tour=(body.get("tour") or {}).get("name"),
        songs=_songs((body.get("sets") or {}).get("set") or []),
        url=body.get("url"),
    )

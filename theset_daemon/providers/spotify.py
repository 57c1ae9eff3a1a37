"""The Spotify Web API client: artists, their albums, tracks and audio features.

Every list endpoint is followed to its last page. Batch endpoints are used
while the app may call them; the first 403 on one switches this process to
one request per item (:mod:`.spotify_access`). Tracks are returned as full
objects, the only ones with ISRC and popularity.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Sequence, TypeVar
from urllib.parse import quote

from ..catalog.models import Album, AudioFeatures, Image, SpotifyArtist, Track
from .errors import AudioFeaturesRefused, MalformedResponse, ProviderNotFound, ProviderRejected
from .http import ProviderHttp, Reply, retry_after_header, wire_shape
from .quota.rules import ProviderReport, now_ms
from .spotify_access import DEV_PAGE, FULL_PAGE, SpotifyAccess

#: IDs per request: several albums, several tracks, audio features.
ALBUMS_PER_BATCH = 20
TRACKS_PER_BATCH = 50
FEATURES_PER_BATCH = 100
#: Album tracks per page (unchanged by the 2026 restrictions).
ALBUM_TRACKS_PAGE = 50

#: Seconds a QUOTA_EXCEEDED 429 without Retry-After holds Spotify calls.
QUOTA_PAUSE_S = 3600.0

T = TypeVar("T")


def quota_exceeded(reply: Reply) -> ProviderReport | None:
    """A development-mode quota 429 (``reason: QUOTA_EXCEEDED``): held until its Retry-After."""
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    if reply.status != 429 or not isinstance(error, dict) or error.get("reason") != "QUOTA_EXCEEDED":
        return None
    wait = retry_after_header(reply)
    return ProviderReport(exhausted_until_ms=now_ms() + int(1000 * (QUOTA_PAUSE_S if wait is None else wait)))
R = TypeVar("R")


class SpotifyClient:
    """Spotify Web API calls returning :mod:`theset_daemon.catalog.models` values.

    Parameters:
      http: the ProviderHttp for the API host, with the client-credentials auth.
      api_url: e.g. ``https://api.spotify.com/v1``.
      market: ISO country code sent on every catalogue call (relinking, de-duplicated albums).
      concurrency: requests in flight at once for per-item and batch fan-out.
    """

    def __init__(self, http: ProviderHttp, api_url: str, market: str, *, concurrency: int = 8) -> None:
        self.http = http
        http.quota_report = quota_exceeded
        self.api_url = api_url.rstrip("/")
        self.market = market
        self._semaphore = asyncio.Semaphore(concurrency)
        self._access = SpotifyAccess()

    @property
    def access(self) -> SpotifyAccess:
        """What this app may call, as detected so far."""
        return self._access

    def _learn(self, **facts: Any) -> None:
        self._access = SpotifyAccess(**{**self._access.__dict__, **facts})

    async def search_artists(self, name: str, *, limit: int = 10, timeout: float | None = None) -> list[SpotifyArtist]:
        """Artists matching ``name``, Spotify's order (fuzzy: never trust the first hit)."""
        params = {"q": name, "type": "artist", "market": self.market}
        reply = await self._get_limited("/search", "/search", params, limit, timeout)
        with wire_shape("spotify", "/search", reply.status):
            return [_artist(item) for item in reply.body["artists"]["items"]]

    async def artist(self, artist_id: str, *, timeout: float | None = None) -> SpotifyArtist:
        """One artist. Raises ProviderNotFound for an unknown id."""
        reply = await self._get(f"/artists/{artist_id}", "/artists/{id}", timeout=timeout)
        with wire_shape("spotify", "/artists/{id}", reply.status):
            return _artist(reply.body)

    async def artist_albums(
        self, artist_id: str, include_groups: str = "album,single,compilation", *, timeout: float | None = None
    ) -> list[Album]:
        """Every release of the artist in ``include_groups``, every page, each id once."""
        endpoint = "/artists/{id}/albums"
        params = {"include_groups": include_groups, "market": self.market, "offset": 0}
        first = await self._get_limited(f"/artists/{artist_id}/albums", endpoint, params, FULL_PAGE, timeout)
        albums: dict[str, Album] = {}
        async for page in self._pages(first, endpoint, timeout):
            for item in page:
                album = _album(item)
                albums.setdefault(album.id, album)
        return list(albums.values())

    async def album_tracks(self, album_ids: Sequence[str]) -> dict[str, list[str]]:
        """Track ids of each album in album order (unknown albums map to ``[]``)."""
        result: dict[str, list[str]] = {album_id: [] for album_id in album_ids}
        remaining = list(dict.fromkeys(album_ids))
        if self._access.batch_albums is not False and remaining:
            chunks = _chunks(remaining, ALBUMS_PER_BATCH)
            try:
                found = await self._albums_batch(chunks[0])
            except ProviderRejected as exc:
                if exc.status != 403:
                    raise
                self._learn(batch_albums=False)
            else:
                self._learn(batch_albums=True)
                for more in await self._fan_out(self._albums_batch, chunks[1:]):
                    found.update(more)
                result.update(found)
                return result
        per_album = await self._fan_out(self._album_track_ids, remaining)
        result.update(zip(remaining, per_album))
        return result

    async def tracks(self, track_ids: Sequence[str]) -> list[Track]:
        """Full track objects in request order; unknown ids are left out."""
        ids = list(dict.fromkeys(track_ids))
        if not ids:
            return []
        if self._access.batch_tracks is not False:
            chunks = _chunks(ids, TRACKS_PER_BATCH)
            try:
                first = await self._tracks_batch(chunks[0])
            except ProviderRejected as exc:
                if exc.status != 403:
                    raise
                self._learn(batch_tracks=False)
            else:
                self._learn(batch_tracks=True)
                rest = await self._fan_out(self._tracks_batch, chunks[1:])
                return [track for batch in [first, *rest] for track in batch]
        found = await self._fan_out(self._track_or_none, ids)
        return [track for track in found if track is not None]

    async def audio_features(self, track_ids: Sequence[str]) -> list[AudioFeatures]:
        """Audio features in batches of 100; tracks without analysis are left out.

        Raises:
          AudioFeaturesRefused: the app may not read audio features (remembered: no
            further request is made by this process).
        """
        if self._access.audio_features is False:
            raise AudioFeaturesRefused()
        ids = list(dict.fromkeys(track_ids))
        try:
            batches = await self._fan_out(self._features_batch, _chunks(ids, FEATURES_PER_BATCH))
        except ProviderRejected as exc:
            if exc.status != 403:
                raise
            self._learn(audio_features=False)
            raise AudioFeaturesRefused() from None
        self._learn(audio_features=True)
        return [features for batch in batches for features in batch]

    # -- one request each -------------------------------------------------

    async def _albums_batch(self, ids: list[str]) -> dict[str, list[str]]:
        reply = await self._get("/albums", "/albums", {"ids": ",".join(ids), "market": self.market})
        found: dict[str, list[str]] = {}
        with wire_shape("spotify", "/albums", reply.status):
            albums = [album for album in reply.body["albums"] if album is not None]
        for album in albums:
            with wire_shape("spotify", "/albums", reply.status):
                album_id, tracks = str(album["id"]), album["tracks"]
                found[album_id] = [_text(item["id"]) for item in tracks["items"]]
            if tracks.get("next"):
                offset = len(found[album_id])
                found[album_id] += await self._album_track_ids(album_id, offset=offset)
        return found

    async def _album_track_ids(self, album_id: str, *, offset: int = 0) -> list[str]:
        endpoint = "/albums/{id}/tracks"
        params = {"market": self.market, "limit": ALBUM_TRACKS_PAGE, "offset": offset}
        try:
            first = await self._get(f"/albums/{album_id}/tracks", endpoint, params)
        except ProviderNotFound:
            return []
        ids: list[str] = []
        async for page in self._pages(first, endpoint, None):
            with wire_shape("spotify", endpoint, first.status):
                ids.extend(_text(item["id"]) for item in page)
        return ids

    async def _tracks_batch(self, ids: list[str]) -> list[Track]:
        reply = await self._get("/tracks", "/tracks", {"ids": ",".join(ids), "market": self.market})
        with wire_shape("spotify", "/tracks", reply.status):
            return [self._track(body, asked) for asked, body in zip(ids, reply.body["tracks"]) if body is not None]

    async def _track_or_none(self, track_id: str) -> Track | None:
        try:
            reply = await self._get(f"/tracks/{track_id}", "/tracks/{id}", {"market": self.market})
        except ProviderNotFound:
            return None
        with wire_shape("spotify", "/tracks/{id}", reply.status):
            return self._track(reply.body, track_id)

    async def _features_batch(self, ids: list[str]) -> list[AudioFeatures]:
        reply = await self._get("/audio-features", "/audio-features", {"ids": ",".join(ids)})
        with wire_shape("spotify", "/audio-features", reply.status):
            return [_features(item) for item in reply.body["audio_features"] if item is not None]

    def _track(self, body: dict[str, Any], asked: str) -> Track:
        self._learn(popularity="popularity" in body)
        return _track(body, asked)

    # -- transport --------------------------------------------------------

    async def _get(
        self, path: str, endpoint: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Reply:
        return await self.http.get(f"{self.api_url}{quote(path)}", endpoint=endpoint, params=params, timeout=timeout)

    async def _get_limited(
        self, path: str, endpoint: str, params: dict[str, Any], wanted: int, timeout: float | None
    ) -> Reply:
        """GET with ``limit``; a 400 "Invalid limit" lowers the app's page limit once and retries."""
        limit = min(wanted, self._access.page_limit)
        try:
            return await self._get(path, endpoint, {**params, "limit": limit}, timeout=timeout)
        except ProviderRejected as exc:
            if exc.status != 400 or "limit" not in exc.detail.lower() or limit <= DEV_PAGE:
                raise
        self._learn(page_limit=DEV_PAGE)
        return await self._get(path, endpoint, {**params, "limit": min(wanted, DEV_PAGE)}, timeout=timeout)

    async def _pages(self, first: Reply, endpoint: str, timeout: float | None) -> AsyncIterator[list[dict[str, Any]]]:
        """The items of each page, following ``next`` (an absolute URL) to the last one."""
        reply = first
        while True:
            with wire_shape("spotify", endpoint, reply.status):
                items, link = list(reply.body["items"]), reply.body.get("next")
            yield items
            if not link or not items:
                return
            if not str(link).startswith(self.api_url):
                raise MalformedResponse("spotify", endpoint, reply.status, "next link leaves the API host")
            reply = await self.http.get(str(link), endpoint=endpoint, timeout=timeout)

    async def _fan_out(self, call: Callable[[T], Awaitable[R]], items: Iterable[T]) -> list[R]:
        """``call`` on every item, ``concurrency`` at a time, results in item order."""

        async def bounded(item: T) -> R:
            async with self._semaphore:
                return await call(item)

        return list(await asyncio.gather(*(bounded(item) for item in items)))


def _text(value: Any) -> str:
    """A required string field (a null id is a malformed body, not the string 'None')."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"expected a non-empty string, got {value!r}")
    return value


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _images(items: Any) -> tuple[Image, ...]:
    return tuple(Image(str(i["url"]), i.get("width"), i.get("height")) for i in items or ())


def _artist(body: dict[str, Any]) -> SpotifyArtist:
    followers = body.get("followers")
    return SpotifyArtist(
        id=_text(body["id"]),
        name=_text(body["name"]),
        genres=tuple(body.get("genres") or ()),
        images=_images(body.get("images")),
        popularity=body.get("popularity"),
        followers=followers.get("total") if isinstance(followers, dict) else None,
    )


def _album(body: dict[str, Any]) -> Album:
    return Album(
        id=_text(body["id"]),
        name=_text(body["name"]),
        album_type=str(body["album_type"]),
        album_group=body.get("album_group"),
        release_date=str(body["release_date"]),
        total_tracks=int(body["total_tracks"]),
        images=_images(body.get("images")),
    )


def _track(body: dict[str, Any], asked: str) -> Track:
    """A full track; a relinked answer names the requested id in ``linked_from_id``
    even where the API withholds ``linked_from`` (development mode 2026)."""
    album = body["album"]
    linked = body.get("linked_from")
    linked_id = linked["id"] if isinstance(linked, dict) else (asked if body["id"] != asked else None)
    return Track(
        id=_text(body["id"]),
        name=_text(body["name"]),
        album_id=_text(album["id"]),
        album_name=str(album["name"]),
        album_type=str(album["album_type"]),
        release_date=str(album["release_date"]),
        duration_ms=int(body["duration_ms"]),
        track_number=int(body["track_number"]),
        disc_number=int(body.get("disc_number", 1)),
        isrc=(body.get("external_ids") or {}).get("isrc"),
        popularity=body.get("popularity"),
        explicit=bool(body.get("explicit", False)),
        artist_ids=tuple(str(a["id"]) for a in body.get("artists", ())),
        linked_from_id=linked_id,
    )


def _features(body: dict[str, Any]) -> AudioFeatures:
    return AudioFeatures(
        track_id=_text(body["id"]),
        liveness=float(body["liveness"]),
        energy=body.get("energy"),
        tempo=body.get("tempo"),
    )

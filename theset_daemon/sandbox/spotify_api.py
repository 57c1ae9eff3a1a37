"""The Spotify Web API and accounts service, as the sandbox serves them.

Mounted at ``/spotify/v1`` and ``/spotify-accounts``. Paging links are
absolute and carry the sandbox's own base URL; ``external_urls`` stay on
open.spotify.com. The profile decides limits, which endpoints answer and
which fields are withheld (research notes §1.6).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from .data import World
from . import links
from .faults import json_response
from .records import AlbumRecord, ArtistIdentity, Catalogue, Decoy, TrackRecord
from .state import STATE, SandboxState

PREFIX = "/spotify/v1"
ACCOUNTS_PREFIX = "/spotify-accounts"
_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_STOP = {"the", "a", "an", "and", "of", "karaoke"}
CACHE = {"Cache-Control": "public, max-age=7200"}


@dataclass(frozen=True)
class Profile:
    max_page: int
    default_page: int
    batches: bool
    audio_features: bool
    withholds: bool  # popularity, followers, available_markets, linked_from, label, album_group


PROFILES = {
    "extended": Profile(50, 20, True, True, False),
    "dev-2024": Profile(50, 20, True, False, False),
    "dev-2026": Profile(10, 5, False, False, True),
}


class SpotifyError(Exception):
    def __init__(self, status: int, message: str | None, headers: dict[str, str] | None = None) -> None:
        self.status, self.message, self.headers = status, message, headers


def error(status: int, message: str | None, headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, Any] = {"status": status}
    if message is not None:
        body["message"] = message
    return json_response({"error": body}, status, headers)


def ok(body: object) -> web.Response:
    return json_response(body, 200, CACHE)


# -- accounts -------------------------------------------------------------------


async def token(request: web.Request) -> web.Response:
    """POST /api/token: client credentials by Basic auth or form fields."""
    state = request.app[STATE]
    form = await request.post()
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            client_id = secret = None
    if not client_id:
        return json_response({"error": "invalid_client"}, 400)
    if client_id != state.options.client_id or secret != state.options.client_secret:
        return json_response({"error": "invalid_client", "error_description": "Invalid client"}, 400)
    if form.get("grant_type") != "client_credentials":
        return json_response({"error": "unsupported_grant_type", "error_description": "grant_type parameter is missing"}, 400)
    ttl = state.options.token_ttl
    return json_response({"access_token": state.tokens.issue(), "token_type": "Bearer", "expires_in": int(ttl) if ttl >= 1 else ttl})


def authorised(state: SandboxState, request: web.Request) -> web.Response | None:
    """None if the bearer token is valid, else the 401 to send."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        www = 'Bearer realm="spotify", error="missing_token", error_description="No token provided"'
        return error(401, "No token provided", {"WWW-Authenticate": www})
    problem = state.tokens.check(header[7:])
    if problem is None:
        return None
    message = "The access token expired" if problem == "expired" else "Invalid access token"
    www = f'Bearer realm="spotify", error="invalid_token", error_description="{message}"'
    return error(401, message, {"WWW-Authenticate": www})


# -- wire objects -----------------------------------------------------------------


class Render:
    """Wire JSON of one request: base URL, market and profile applied."""

    def __init__(self, request: web.Request) -> None:
        self.state = request.app[STATE]
        self.world: World = self.state.world
        self.base = f"{request.url.origin()}{PREFIX}"
        self.market = request.query.get("market") or request.query.get("country")
        self.profile = PROFILES[self.state.options.spotify_profile]

    def ref(self, kind: str, id_: str) -> dict[str, Any]:
        return {"external_urls": {"spotify": links.page("spotify", f"{kind}/{id_}")},
                "href": f"{self.base}/{kind}s/{id_}", "id": id_, "type": kind, "uri": f"spotify:{kind}:{id_}"}

    def artist(self, who: ArtistIdentity | Decoy) -> dict[str, Any]:
        body = {**self.ref("artist", who.spotify_id), "name": who.name, "genres": [who.genre],
                "images": [{"url": links.image(f"ab6761610000e5eb{who.spotify_id.lower()}", 640, 640), "height": 640, "width": 640}]}
        if not self.profile.withholds:
            body["popularity"] = who.popularity
            body["followers"] = {"href": None, "total": who.followers}
        return body

    def markets(self, body: dict[str, Any]) -> None:
        if self.market:
            body["is_playable"] = True
        elif not self.profile.withholds:
            body["available_markets"] = ["CA", "US"]

    def album(self, album: AlbumRecord, owner: ArtistIdentity, *, full: bool = False, id_: str | None = None) -> dict[str, Any]:
        artists = [self.artist_ref(owner)] if album.artist_name is None else [
            {**self.ref("artist", "0LyfQWJT6nXafLPZqxe9Of"), "name": album.artist_name}]
        body = {**self.ref("album", id_ or album.id), "album_type": album.album_type, "total_tracks": len(album.track_ids),
                "name": album.name, "release_date": album.release_date, "release_date_precision": album.precision,
                "images": [{"url": links.image(f"ab67616d0000b273{album.id.lower()}", 640, 640), "height": 640, "width": 640}],
                "artists": artists}
        self.markets(body)
        if not full:
            if not self.profile.withholds:
                body["album_group"] = album.album_group
            return body
        body.update(copyrights=[{"text": f"© {album.release_date[:4]} {album.label}", "type": "C"}],
                    external_ids={"upc": album.upc}, genres=[])
        if not self.profile.withholds:
            body.update(label=album.label, popularity=album.popularity)
        return body

    def artist_ref(self, owner: ArtistIdentity) -> dict[str, Any]:
        return {**self.ref("artist", owner.spotify_id), "name": owner.name}

    def track(self, record: TrackRecord, owner: ArtistIdentity, *, full: bool, asked: str | None = None) -> dict[str, Any]:
        served = record.id
        if asked is not None and asked == record.relinked_to:
            served = record.relinked_to
        elif full and self.market and record.relinked_to:
            served = record.relinked_to  # relinking: another instance is playable in the market
        body = {**self.ref("track", served), "artists": [self.artist_ref(owner)], "disc_number": record.disc,
                "duration_ms": record.duration_ms, "explicit": record.explicit, "name": record.title,
                "preview_url": None, "track_number": record.number, "is_local": False}
        self.markets(body)
        if served != (asked or record.id) and not self.profile.withholds:
            body["linked_from"] = self.ref("track", record.id)
        if full:
            catalogue = self.world.catalogue(owner.index)
            body["album"] = self.album(catalogue.albums[record.album_id], owner)
            body["external_ids"] = {"isrc": record.isrc}
            if not self.profile.withholds:
                body["popularity"] = record.popularity
        return body

    def features(self, record: TrackRecord) -> dict[str, Any]:
        return {"acousticness": 0.2, "analysis_url": f"{self.base}/audio-analysis/{record.id}", "danceability": 0.5,
                "duration_ms": record.duration_ms, "energy": record.energy, "id": record.id, "instrumentalness": 0.0,
                "key": record.number % 12, "liveness": record.liveness, "loudness": -7.5, "mode": 1,
                "speechiness": 0.04, "tempo": record.tempo, "time_signature": 4,
                "track_href": f"{self.base}/tracks/{record.id}", "type": "audio_features",
                "uri": f"spotify:track:{record.id}", "valence": 0.5}

    def paging(self, path: str, items: list[Any], offset: int, limit: int, total: int, query: dict[str, str]) -> dict[str, Any]:
        def link(at: int) -> str:
            return f"{self.base}{path}?{urlencode({**query, 'offset': at, 'limit': limit}, safe=',')}"

        return {"href": link(offset), "items": items, "limit": limit, "offset": offset, "total": total,
                "next": link(offset + limit) if offset + limit < total else None,
                "previous": link(max(0, offset - limit)) if offset > 0 else None}


# -- lookups ---------------------------------------------------------------------


def _valid(id_: str) -> None:
    if not _ID.match(id_):
        raise SpotifyError(400, "Invalid base62 id")


def _ids(request: web.Request, most: int) -> list[str]:
    ids = [i for i in request.query.get("ids", "").split(",") if i]
    if not ids:
        raise SpotifyError(400, "invalid request: ids is required")
    if len(ids) > most:
        raise SpotifyError(400, "Too many ids requested")
    for id_ in ids:
        _valid(id_)
    return ids


def _page(request: web.Request, default: int, most: int) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", default))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        raise SpotifyError(400, "Invalid limit") from None
    if not 1 <= limit <= most:
        raise SpotifyError(400, "Invalid limit")
    if offset < 0:
        raise SpotifyError(400, "Invalid offset")
    return offset, limit


def _owner(world: World, id_: str) -> tuple[ArtistIdentity, Catalogue] | None:
    owner = world.artist_of(id_)
    return (owner, world.catalogue(owner.index)) if owner else None


def _album(world: World, id_: str) -> tuple[ArtistIdentity, AlbumRecord] | None:
    found = _owner(world, id_)
    if not found:
        return None
    owner, catalogue = found
    album = catalogue.albums.get(id_) or next((a for a in catalogue.albums.values() if a.market_copy_id == id_), None)
    return (owner, album) if album else None


def _track(world: World, id_: str) -> tuple[ArtistIdentity, TrackRecord] | None:
    found = _owner(world, id_)
    if not found:
        return None
    owner, catalogue = found
    record = catalogue.tracks.get(id_) or catalogue.served.get(id_)
    return (owner, record) if record else None


def _normalise(name: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", name.lower()) if w not in _STOP}


# -- handlers ----------------------------------------------------------------------


async def search(request: web.Request) -> web.Response:
    r = Render(request)
    q = request.query.get("q") or request.query.get("query") or ""
    if not q.strip():
        raise SpotifyError(400, "No search query")
    types = request.query.get("type")
    if not types:
        raise SpotifyError(400, "missing parameter type")
    offset, limit = _page(request, r.profile.default_page, r.profile.max_page)
    wanted = _normalise(re.sub(r'\b\w+:', " ", q))
    hits = []
    for who in [*r.world.artists, *r.world.decoys]:
        overlap = len(wanted & _normalise(who.name))
        if overlap:
            hits.append((-overlap, -who.popularity, who.name, who))
    hits.sort(key=lambda hit: hit[:3])
    query = {"query": q, "type": types}
    if r.market:
        query["market"] = r.market
    body: dict[str, Any] = {}
    for kind in types.split(","):
        found = [r.artist(hit[3]) for hit in hits[offset : offset + limit]] if kind == "artist" else []
        total = len(hits) if kind == "artist" else 0
        body[f"{kind}s"] = r.paging("/search", found, offset, limit, total, query)
    return ok(body)


async def artist(request: web.Request) -> web.Response:
    r = Render(request)
    id_ = request.match_info["id"]
    _valid(id_)
    who = r.world.by_spotify.get(id_) or r.world.decoys_by_spotify.get(id_)
    if who is None:
        raise SpotifyError(404, "Resource not found")
    return ok(r.artist(who))


async def artist_albums(request: web.Request) -> web.Response:
    r = Render(request)
    id_ = request.match_info["id"]
    _valid(id_)
    offset, limit = _page(request, r.profile.default_page, r.profile.max_page)
    groups = request.query.get("include_groups", "album,single,appears_on,compilation")
    if id_ in r.world.decoys_by_spotify:
        listed: list[tuple[AlbumRecord, str]] = []
        owner = None
    else:
        owner = r.world.by_spotify.get(id_)
        if owner is None:
            raise SpotifyError(404, "Resource not found")
        listed = _discography(r.world.catalogue(owner.index), groups.split(","), bool(r.market))
    items = [r.album(album, owner, id_=shown) for album, shown in listed[offset : offset + limit]] if owner else []
    query = {"include_groups": groups, **({"market": r.market} if r.market else {})}
    return ok(r.paging(f"/artists/{id_}/albums", items, offset, limit, len(listed), query))


def _discography(catalogue: Catalogue, groups: list[str], market: bool) -> list[tuple[AlbumRecord, str]]:
    """Releases by group (album, single, compilation, appears_on), newest first; per-market copies without a market."""
    order = ("album", "single", "compilation", "appears_on")
    listed = []
    for group in (g for g in order if g in groups):
        albums = sorted((a for a in catalogue.albums.values() if a.album_group == group), key=lambda a: a.release_date, reverse=True)
        for album in albums:
            listed.append((album, album.id))
            if album.market_copy_id and not market:
                listed.append((album, album.market_copy_id))
    return listed


def _full_album(r: Render, owner: ArtistIdentity, album: AlbumRecord, shown: str) -> dict[str, Any]:
    catalogue = r.world.catalogue(owner.index)
    tracks = [r.track(catalogue.tracks[t], owner, full=False) for t in album.track_ids]
    body = r.album(album, owner, full=True, id_=shown)
    query = {"market": r.market} if r.market else {}
    body["tracks"] = r.paging(f"/albums/{shown}/tracks", tracks[:50], 0, 50, len(tracks), query)
    return body


async def albums(request: web.Request) -> web.Response:
    r = Render(request)
    if not r.profile.batches:
        raise SpotifyError(403, "Forbidden")
    found = []
    for id_ in _ids(request, 20):
        hit = _album(r.world, id_)
        found.append(_full_album(r, *hit, id_) if hit else None)
    return ok({"albums": found})


async def album(request: web.Request) -> web.Response:
    r = Render(request)
    id_ = request.match_info["id"]
    _valid(id_)
    hit = _album(r.world, id_)
    if hit is None:
        raise SpotifyError(404, "Resource not found")
    return ok(_full_album(r, *hit, id_))


async def album_tracks(request: web.Request) -> web.Response:
    r = Render(request)
    id_ = request.match_info["id"]
    _valid(id_)
    offset, limit = _page(request, 20, 50)
    hit = _album(r.world, id_)
    if hit is None:
        raise SpotifyError(404, "Resource not found")
    owner, record = hit
    catalogue = r.world.catalogue(owner.index)
    items = [r.track(catalogue.tracks[t], owner, full=False) for t in record.track_ids[offset : offset + limit]]
    query = {"market": r.market} if r.market else {}
    return ok(r.paging(f"/albums/{id_}/tracks", items, offset, limit, len(record.track_ids), query))


async def tracks(request: web.Request) -> web.Response:
    r = Render(request)
    if not r.profile.batches:
        raise SpotifyError(403, "Forbidden")
    found = []
    for id_ in _ids(request, 50):
        hit = _track(r.world, id_)
        found.append(r.track(hit[1], hit[0], full=True, asked=id_) if hit else None)
    return ok({"tracks": found})


async def track(request: web.Request) -> web.Response:
    r = Render(request)
    id_ = request.match_info["id"]
    _valid(id_)
    hit = _track(r.world, id_)
    if hit is None:
        raise SpotifyError(404, "Resource not found")
    return ok(r.track(hit[1], hit[0], full=True, asked=id_))


async def audio_features(request: web.Request) -> web.Response:
    r = Render(request)
    if not r.profile.audio_features:
        raise SpotifyError(403, None)
    found = []
    for id_ in _ids(request, 100):
        hit = _track(r.world, id_)
        found.append(r.features(hit[1]) if hit and hit[1].has_features else None)
    return ok({"audio_features": found})


async def audio_features_one(request: web.Request) -> web.Response:
    r = Render(request)
    if not r.profile.audio_features:
        raise SpotifyError(403, None)
    id_ = request.match_info["id"]
    _valid(id_)
    hit = _track(r.world, id_)
    if hit is None or not hit[1].has_features:
        raise SpotifyError(404, "analysis not found")
    return ok(r.features(hit[1]))


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Auth first, then the handler; SpotifyError becomes Spotify's error object."""
    if request.path.startswith(PREFIX):
        refused = authorised(request.app[STATE], request)
        if refused is not None:
            return refused
    try:
        return await handler(request)
    except SpotifyError as exc:
        return error(exc.status, exc.message, exc.headers)


def routes() -> list[web.RouteDef]:
    p = PREFIX
    return [
        web.post(f"{ACCOUNTS_PREFIX}/api/token", token),
        web.get(f"{p}/search", search),
        web.get(f"{p}/artists/{{id}}", artist),
        web.get(f"{p}/artists/{{id}}/albums", artist_albums),
        web.get(f"{p}/albums", albums),
        web.get(f"{p}/albums/", albums),
        web.get(f"{p}/albums/{{id}}", album),
        web.get(f"{p}/albums/{{id}}/tracks", album_tracks),
        web.get(f"{p}/tracks", tracks),
        web.get(f"{p}/tracks/", tracks),
        web.get(f"{p}/tracks/{{id}}", track),
        web.get(f"{p}/audio-features", audio_features),
        web.get(f"{p}/audio-features/", audio_features),
        web.get(f"{p}/audio-features/{{id}}", audio_features_one),
    ]

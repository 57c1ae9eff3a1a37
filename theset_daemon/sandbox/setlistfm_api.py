"""setlist.fm 1.0, as the sandbox serves it, under ``/setlistfm/rest/1.0``.

JSON only with ``Accept: application/json`` (else a minimal XML body, so a
client that forgets the header fails loudly); pages from 1, 20 setlists or
30 artists a page; "no results" is a 404 error body.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from . import links
from .faults import json_response
from .records import ArtistIdentity, Decoy, SetlistRecord, SongEntry
from .state import STATE, SandboxState

PREFIX = "/setlistfm/rest/1.0"
SETLISTS_PER_PAGE = 20
ARTISTS_PER_PAGE = 30


class NotFound(Exception):
    def __init__(self, message: str = "not found") -> None:
        self.message = message


def not_found(message: str) -> web.Response:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return json_response({"code": 404, "status": "Not Found", "message": message, "timestamp": stamp}, 404)


def artist_body(who: ArtistIdentity | Decoy) -> dict[str, Any]:
    name = who.name
    sort_name = f"{name[4:]}, The" if name.startswith("The ") else name
    slug = name.lower().replace(" ", "-").replace(":", "")
    return {"mbid": who.mbid, "name": name, "sortName": sort_name, "disambiguation": "",
            "url": links.page("setlistfm", f"setlists/{slug}-{who.mbid[:8]}.html")}


def _song(song: SongEntry) -> dict[str, Any]:
    body: dict[str, Any] = {"name": song.name}
    if song.tape:
        body["tape"] = True
    if song.cover:
        mbid, name = song.cover
        body["cover"] = {"mbid": mbid, "name": name, "sortName": name, "disambiguation": "",
                         "url": links.page("setlistfm", f"setlists/{mbid[:8]}.html")}
    if song.with_guest:
        mbid, name = song.with_guest
        body["with"] = {"mbid": mbid, "name": name, "sortName": name, "disambiguation": "",
                        "url": links.page("setlistfm", f"setlists/{mbid[:8]}.html")}
    if song.info:
        body["info"] = song.info
    return body


def setlist_body(state: SandboxState, s: SetlistRecord) -> dict[str, Any]:
    who = state.world.by_mbid[s.artist_mbid]
    v = state.world.venues_by_tm[s.venue_id]
    sets = []
    for block in s.sets:
        entry: dict[str, Any] = {"song": [_song(song) for song in block.songs]}
        if block.name:
            entry["name"] = block.name
        if block.encore:
            entry["encore"] = block.encore
        sets.append(entry)
    city: dict[str, Any] = {"id": v.geonames_id, "name": v.city, "country": {"code": v.country_code, "name": v.country}}
    if v.state:
        city.update(state=v.state, stateCode=v.state_code)
    if v.latitude is not None:
        city["coords"] = {"lat": float(v.latitude), "long": float(v.longitude or 0)}
    body: dict[str, Any] = {
        "id": s.id, "versionId": s.version_id, "eventDate": s.event_date.strftime("%d-%m-%Y"),
        "lastUpdated": s.last_updated, "artist": artist_body(who),
        "venue": {"id": v.sf_id, "name": v.sf_name, "city": city,
                  "url": links.page("setlistfm", f"venue/{v.sf_name.lower().replace(' ', '-')}-{v.sf_id}.html")},
        "sets": {"set": sets},
        "url": links.page("setlistfm", f"setlist/{s.id}.html"),
    }
    if s.tour:
        body["tour"] = {"name": s.tour}
    return body


def _page(request: web.Request) -> int:
    try:
        return max(1, int(request.query.get("p", 1)))
    except ValueError:
        return 1


async def artist_setlists(request: web.Request) -> web.Response:
    state = request.app[STATE]
    mbid = request.match_info["mbid"]
    who = state.world.by_mbid.get(mbid)
    if who is None:
        raise NotFound("unknown mbid") if mbid not in state.world.decoys_by_mbid else NotFound()
    found = state.world.setlists(who.index)
    page = _page(request)
    items = found[(page - 1) * SETLISTS_PER_PAGE : page * SETLISTS_PER_PAGE]
    if not items:
        raise NotFound()
    return json_response({"type": "setlists", "itemsPerPage": SETLISTS_PER_PAGE, "page": page, "total": len(found),
                          "setlist": [setlist_body(state, s) for s in items]})


async def search_artists(request: web.Request) -> web.Response:
    state = request.app[STATE]
    wanted = request.query.get("artistName", "").lower().removeprefix("the ").strip()
    if not wanted:
        raise NotFound()
    pool: list[ArtistIdentity | Decoy] = [*state.world.artists, *state.world.decoys]
    found = [who for who in pool if wanted in who.name.lower()]
    if request.query.get("sort") == "relevance":
        found.sort(key=lambda who: (-who.popularity, who.name))
    else:
        found.sort(key=lambda who: artist_body(who)["sortName"])
    page = _page(request)
    items = found[(page - 1) * ARTISTS_PER_PAGE : page * ARTISTS_PER_PAGE]
    if not items:
        raise NotFound()
    return json_response({"type": "artists", "itemsPerPage": ARTISTS_PER_PAGE, "page": page, "total": len(found),
                          "artist": [artist_body(who) for who in items]})


async def artist(request: web.Request) -> web.Response:
    state = request.app[STATE]
    mbid = request.match_info["mbid"]
    who = state.world.by_mbid.get(mbid) or state.world.decoys_by_mbid.get(mbid)
    if who is None:
        raise NotFound("unknown mbid")
    return json_response(artist_body(who))


def _xml(status: int, message: str) -> web.Response:
    body = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><error code="{status}"><message>{message}</message></error>'
    return web.Response(text=body, status=status, content_type="application/xml")


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith(PREFIX):
        return await handler(request)
    if request.headers.get("x-api-key") != request.app[STATE].options.setlistfm_api_key:
        return json_response({"message": "Forbidden"}, 403)
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        response = await handler(request)
    except NotFound as exc:
        return not_found(exc.message) if wants_json else _xml(404, exc.message)
    if not wants_json:
        return _xml(response.status, "this sandbox renders XML bodies only as a stub; send Accept: application/json")
    return response


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{PREFIX}/artist/{{mbid}}/setlists", artist_setlists),
        web.get(f"{PREFIX}/artist/{{mbid}}", artist),
        web.get(f"{PREFIX}/search/artists", search_artists),
    ]

"""Ticketmaster Discovery v2, as the sandbox serves it, under ``/ticketmaster/discovery/v2``.

Paths work with and without ``.json``; ``_links`` are relative, echo the
query and never carry the apikey; ``_embedded`` is absent when a search finds
nothing; paging past the 1,000th item answers DIS1035; latitude and
longitude are strings; statuses are spelled as live data spells them.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from . import links
from .faults import json_response
from .records import ArtistIdentity, EventRecord, VenueRecord
from .state import STATE, SandboxState

PREFIX = "/ticketmaster/discovery/v2"
LINK_PREFIX = "/discovery/v2"
MAX_SIZE = 200
RESULT_CAP = 10_000
_STRICT = "%Y-%m-%dT%H:%M:%SZ"


class DiscoveryError(Exception):
    def __init__(self, code: str, detail: str, http: int = 400, status: str = "400 BAD_REQUEST") -> None:
        self.body = {"errors": [{"code": code, "detail": detail, "status": status,
                                 "_links": {"about": {"href": f"{LINK_PREFIX}/errors.html#{code}"}}}]}
        self.http = http


def _fault(text: str, code: str) -> web.Response:
    return json_response({"fault": {"faultstring": text, "detail": {"errorcode": code}}}, 401)


def authorised(state: SandboxState, request: web.Request) -> web.Response | None:
    key = request.query.get("apikey")
    if key is None:
        return _fault("Failed to resolve API Key variable request.queryparam.apikey", "steps.oauth.v2.FailedToResolveAPIKey")
    if key != state.options.tm_api_key:
        return _fault("Invalid ApiKey", "oauth.v2.InvalidApiKey")
    return None


def _id(request: web.Request) -> str:
    return request.match_info["id"].removesuffix(".json")


def _not_found(id_: str) -> DiscoveryError:
    return DiscoveryError("DIS1004", f"Resource not found with provided criteria (locale=en-us, id={id_})", 404, "404")


# -- wire objects -------------------------------------------------------------------


def venue_body(v: VenueRecord) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": v.name, "type": "venue", "id": v.tm_id, "test": False, "locale": "en-us",
        "url": links.page("ticketmaster", f"venue/{v.tm_id.lower()}"),
        "timezone": v.timezone, "city": {"name": v.city_on_wire},
        "country": {"name": v.country, "countryCode": v.country_code},
        "address": {k: line for k, line in (("line1", v.line1), ("line2", v.line2)) if line},
        "_links": {"self": {"href": f"{LINK_PREFIX}/venues/{v.tm_id}?locale=en-us"}},
        "upcomingEvents": {"_total": 12, "tmr": 12, "_filtered": 0},
    }
    if v.state:
        body["state"] = {"name": v.state, "stateCode": v.state_code}
    if v.postal_code:
        body["postalCode"] = v.postal_code
    if v.latitude is not None:
        body["location"] = {"longitude": v.longitude, "latitude": v.latitude}
    if v.detailed:
        body.update(dmas=[{"id": 324}], boxOfficeInfo={"openHoursDetail": "Mon-Fri 10am-6pm"},
                    generalInfo={"generalRule": "No re-entry."}, parkingDetail="Parking lots open 2 hours before doors.")
    return body


def attraction_body(who: ArtistIdentity, upcoming: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": who.name, "type": "attraction", "id": who.tm_id, "test": False, "locale": "en-us",
        "url": links.page("ticketmaster", f"{who.name.lower().replace(' ', '-')}-tickets/artist/{who.index + 770000}"),
        "images": [{"ratio": "16_9", "url": links.image(f"{who.tm_id}_RETINA_PORTRAIT_16_9", 640, 360),
                    "width": 640, "height": 360, "fallback": False}],
        "classifications": [{"primary": True, "segment": {"id": "KZFzniwnSyZfZ7v7nJ", "name": "Music"},
                             "genre": {"id": "KnvZfZ7vAeA", "name": who.genre.title()},
                             "subGenre": {"id": "KZazBEonSMnZfZ7v6F1", "name": "Alternative Rock"},
                             "type": {"id": "KZAyXgnZfZ7v7l1", "name": "Group"},
                             "subType": {"id": "KZFzBErXgnZfZ7vA7d", "name": "Band"}, "family": False}],
        "upcomingEvents": {"_total": upcoming, "tmr": upcoming, "_filtered": 0},
        "_links": {"self": {"href": f"{LINK_PREFIX}/attractions/{who.tm_id}?locale=en-us"}},
    }
    if who.external_links:
        body["externalLinks"] = {
            "spotify": [{"url": links.page("spotify", f"artist/{who.spotify_id}")}],
            "musicbrainz": [{"id": who.mbid}],
            "homepage": [{"url": links.page("homepage", who.name.lower().replace(' ', ''))}],
        }
    return body


def event_body(state: SandboxState, e: EventRecord) -> dict[str, Any]:
    world = state.world
    venue = world.venues_by_tm[e.venue_id]
    owner = world.by_tm[e.attraction_id]
    start: dict[str, Any] = {"dateTBD": e.tbd, "dateTBA": e.tba, "timeTBA": e.tba, "noSpecificTime": e.local_time is None}
    if e.local_date:
        start["localDate"] = e.local_date.isoformat()
    if e.local_time:
        start["localTime"] = e.local_time
    if e.date_time:
        start["dateTime"] = e.date_time.strftime(_STRICT)
    dates: dict[str, Any] = {"start": start, "status": {"code": e.status}, "spanMultipleDays": False}
    if e.has_timezone:
        dates["timezone"] = venue.timezone
    if e.initial_start_date:
        dates["initialStartDate"] = {"localDate": e.initial_start_date.isoformat()}
    sale_start = "1900-01-01T06:00:00Z" if e.placeholder_sale else (world.anchor - dt.timedelta(days=90)).strftime("%Y-%m-%dT15:00:00Z")
    attractions = [attraction_body(owner, 0)] + [
        {"name": name, "type": "attraction", "id": aid, "test": False, "locale": "en-us",
         "_links": {"self": {"href": f"{LINK_PREFIX}/attractions/{aid}?locale=en-us"}}} for aid, name in e.co_bill]
    return {
        "name": e.name, "type": "event", "id": e.id, "test": False,
        "url": links.page("ticketmaster", f"event/{e.id[2:18].upper()}"), "locale": "en-us",
        "images": [{"ratio": "16_9", "url": links.image(f"{e.id}_RETINA_PORTRAIT_16_9", 640, 360),
                    "width": 640, "height": 360, "fallback": False}],
        "sales": {"public": {"startDateTime": sale_start, "startTBD": False, "startTBA": False}},
        "dates": dates,
        "outlets": [{"url": links.page("ticketmaster", f"venue/{venue.tm_id.lower()}"), "type": "venueBoxOffice"}],
        "classifications": attraction_body(owner, 0)["classifications"],
        "_links": {"self": {"href": f"{LINK_PREFIX}/events/{e.id}?locale=en-us"},
                   "attractions": [{"href": f"{LINK_PREFIX}/attractions/{a['id']}?locale=en-us"} for a in attractions],
                   "venues": [{"href": f"{LINK_PREFIX}/venues/{venue.tm_id}?locale=en-us"}]},
        "_embedded": {"venues": [venue_body(venue)], "attractions": attractions},
    }


# -- search ---------------------------------------------------------------------------


def _when(request: web.Request, name: str) -> dt.datetime | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        return dt.datetime.strptime(text, _STRICT)
    except ValueError:
        raise DiscoveryError("DIS1015", "Query param with date must be of valid format YYYY-MM-DDTHH:mm:ssZ "
                             "{example: 2020-08-01T14:00:00Z }") from None


def _matching(state: SandboxState, request: web.Request) -> list[EventRecord]:
    q = request.query
    events: list[EventRecord] = []
    for aid in filter(None, q.get("attractionId", "").split(",")):
        who = state.world.by_tm.get(aid)
        events += state.world.events(who.index) if who else []
    tba, tbd = q.get("includeTBA", "no"), q.get("includeTBD", "no")
    if tba == "only" and tbd == "only":
        return []
    start, end = _when(request, "startDateTime"), _when(request, "endDateTime")

    def keep(e: EventRecord) -> bool:
        if tba == "only" or tbd == "only":
            return (e.tba and tba == "only") or (e.tbd and tbd == "only")
        if (e.tba and tba == "no") or (e.tbd and tbd == "no"):
            return False
        when = e.sort_time
        if start or end:
            if when is None or (start and when < start) or (end and when > end):
                return False
        return True

    return [e for e in events if keep(e)]


def _sorted(events: list[EventRecord], sort: str) -> list[EventRecord]:
    """Sorted as asked; each repeating event shows up again a few places later."""
    if sort.startswith("id"):
        ordered = sorted(events, key=lambda e: e.id.encode())
    elif sort.startswith("name"):
        ordered = sorted(events, key=lambda e: (e.name, e.id), reverse=sort.endswith("desc"))
    else:
        ordered = sorted(events, key=lambda e: (e.sort_time is None, e.sort_time or dt.datetime.max, e.id))
        if sort == "date,desc":
            dated = [e for e in ordered if e.sort_time is not None][::-1]
            ordered = dated + [e for e in ordered if e.sort_time is None]
    shown = list(ordered)
    for e in ordered:
        if e.repeats_at is not None:
            shown.insert(min(len(shown), shown.index(e) + e.repeats_at), e)
    return shown


async def events(request: web.Request) -> web.Response:
    state = request.app[STATE]
    q = request.query
    size, page = int(q.get("size", 20)), int(q.get("page", 0))
    if size > MAX_SIZE:
        raise DiscoveryError("DIS1036", 'Query param "size" must be less than 200')
    too_deep = page * size >= 1000 if state.options.tm_strict_paging else page * size > 1000
    if too_deep:
        raise DiscoveryError("DIS1035", "API Limits Exceeded: Max paging depth exceeded. (page * size) must be less than 1,000")
    shown = _sorted(_matching(state, request), q.get("sort", "relevance,desc"))
    total = min(len(shown), RESULT_CAP)
    items = shown[page * size : (page + 1) * size]
    body: dict[str, Any] = {}
    if items:
        body["_embedded"] = {"events": [event_body(state, e) for e in items]}
    pages = math.ceil(total / size) if size else 0
    body["_links"] = _links(request, page, size, pages)
    body["page"] = {"size": size, "totalElements": total, "totalPages": pages, "number": page}
    return json_response(body)


def _links(request: web.Request, page: int, size: int, pages: int) -> dict[str, Any]:
    query = {k: v for k, v in request.query.items() if k not in ("apikey", "page", "size")}

    def href(n: int | None = None) -> dict[str, str]:
        params = query if n is None else {**query, "page": n, "size": size}
        return {"href": f"{LINK_PREFIX}/events.json?{urlencode(params, safe=',')}"}

    links = {"first": href(0), "self": href(), "last": href(max(pages - 1, 0))}
    if page + 1 < pages:
        links["next"] = href(page + 1)
    if page > 0:
        links["prev"] = href(page - 1)
    return links


# -- entities ---------------------------------------------------------------------------


async def event(request: web.Request) -> web.Response:
    state = request.app[STATE]
    id_ = _id(request)
    owner = state.world.artist_of(id_[2:]) if id_.startswith("vv") else None
    found = next((e for e in state.world.events(owner.index) if e.id == id_), None) if owner else None
    if found is None:
        raise _not_found(id_)
    return json_response(event_body(state, found))


async def attraction(request: web.Request) -> web.Response:
    state = request.app[STATE]
    who = state.world.by_tm.get(_id(request))
    if who is None:
        raise _not_found(_id(request))
    upcoming = sum(1 for e in state.world.events(who.index) if e.local_date is None or e.local_date >= state.world.anchor)
    return json_response(attraction_body(who, upcoming))


async def attractions(request: web.Request) -> web.Response:
    state = request.app[STATE]
    keyword = request.query.get("keyword", "").lower()
    size, page = int(request.query.get("size", 20)), int(request.query.get("page", 0))
    found = [a for a in state.world.artists if keyword and keyword in a.name.lower()]
    items = found[page * size : (page + 1) * size]
    body: dict[str, Any] = {}
    if items:
        body["_embedded"] = {"attractions": [attraction_body(a, 0) for a in items]}
    pages = math.ceil(len(found) / size)
    body["page"] = {"size": size, "totalElements": len(found), "totalPages": pages, "number": page}
    return json_response(body)


async def venue(request: web.Request) -> web.Response:
    state = request.app[STATE]
    found = state.world.venues_by_tm.get(_id(request))
    if found is None:
        raise _not_found(_id(request))
    return json_response(venue_body(found))


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.path.startswith(PREFIX):
        refused = authorised(request.app[STATE], request)
        if refused is not None:
            return refused
    try:
        return await handler(request)
    except DiscoveryError as exc:
        return json_response(exc.body, exc.http)


def routes() -> list[web.RouteDef]:
    p = PREFIX
    return [
        web.get(f"{p}/events", events),
        web.get(f"{p}/events.json", events),
        web.get(f"{p}/events/{{id}}", event),
        web.get(f"{p}/attractions", attractions),
        web.get(f"{p}/attractions.json", attractions),
        web.get(f"{p}/attractions/{{id}}", attraction),
        web.get(f"{p}/venues/{{id}}", venue),
    ]

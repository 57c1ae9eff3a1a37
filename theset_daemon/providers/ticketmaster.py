"""The Ticketmaster Discovery v2 client: attractions, their events, venues.

An attraction's events are read sorted by date, 200 a page. Ticketmaster
serves no item past the 1,000th of one query (documented: ``size * page <
1000``), so when an attraction has more events the query is split into date
windows, halved until each fits, and the undated (TBA/TBD) events are read by
their own queries. Every event is returned once, de-duplicated by id, because
pages of a result set that shifts between requests repeat items.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from ..catalog.models import Event, Image, TmAttraction, Venue
from .http import ProviderHttp, Reply, wire_shape
from .quota.rules import ProviderReport

#: Events per page (Ticketmaster's maximum).
PAGE_SIZE = 200
#: Items one query can reach (the documented rule, stricter than what is served).
PAGING_DEPTH = 1000
#: Seconds to pause when the daily quota is spent and no reset time is known.
QUOTA_PAUSE_S = 3600.0
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class TicketmasterAttraction(TmAttraction):
    """An attraction plus the links to the other providers it carries, when it does."""

    spotify_id: str | None = None
    musicbrainz_id: str | None = None


class TicketmasterClient:
    """Discovery v2 calls returning :mod:`theset_daemon.catalog.models` values.

    Parameters:
      http: the ProviderHttp for the API host (its 429 policy is set here).
      api_url: e.g. ``https://app.ticketmaster.com/discovery/v2``.
      api_key: sent as the ``apikey`` query parameter (never logged: endpoints are templates).
    """

    def __init__(self, http: ProviderHttp, api_url: str, api_key: str) -> None:
        self.http = http
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self._quota_reset_ms: int | None = None
        http.retry_after = self._retry_after
        http.quota_report = self._quota_report

    async def attraction(self, attraction_id: str, *, timeout: float | None = 2.0) -> TicketmasterAttraction:
        """One attraction. Raises ProviderNotFound for an unknown id."""
        reply = await self._get(f"/attractions/{attraction_id}", "/attractions/{id}", {}, timeout)
        with wire_shape("ticketmaster", "/attractions/{id}", reply.status):
            return _attraction(reply.body)

    async def venue(self, venue_id: str, *, timeout: float | None = None) -> Venue:
        """One venue with its details. Raises ProviderNotFound for an unknown id."""
        reply = await self._get(f"/venues/{venue_id}", "/venues/{id}", {}, timeout)
        with wire_shape("ticketmaster", "/venues/{id}", reply.status):
            return _venue(reply.body)

    async def events(self, attraction_id: str) -> list[Event]:
        """Every event of the attraction exactly once, dated ones by date, undated last."""
        query = {"attractionId": attraction_id, "sort": "date,asc", "size": PAGE_SIZE}
        first = await self._search({**query, "includeTBA": "yes", "includeTBD": "yes"})
        if _total(first) <= PAGING_DEPTH:
            pages = [first, *await self._rest(first, {**query, "includeTBA": "yes", "includeTBD": "yes"})]
        else:
            dated = {**query, "includeTBA": "no", "includeTBD": "no"}
            span = await self._span(dated)
            pages = await self._windows(dated, *span) if span else []
            for undated in ({"includeTBA": "only"}, {"includeTBD": "only"}):
                pages += await self._all_pages({**query, **undated})
        # Shaping 1,000+ events is pure CPU (~100 ms for the big-events act): in a thread, the
        # loop gets the GIL back every switch interval instead of waiting for all of it.
        return await asyncio.to_thread(_unique_events, pages)

    # -- paging -------------------------------------------------------------

    async def _span(self, dated: dict[str, Any]) -> tuple[dt.datetime, dt.datetime] | None:
        """The first and last start time of the dated events (two one-item queries)."""
        ends = await asyncio.gather(
            self._search({**dated, "size": 1}), self._search({**dated, "size": 1, "sort": "date,desc"})
        )
        starts = [_start(event) for reply in ends for event in _events(reply)]
        starts = [start for start in starts if start is not None]
        return (min(starts), max(starts)) if starts else None

    async def _windows(self, dated: dict[str, Any], start: dt.datetime, end: dt.datetime) -> list[Reply]:
        """The pages of [start, end] (both inclusive, whole seconds), halving the window until it fits."""
        window = {**dated, "startDateTime": start.strftime(_TIME_FORMAT), "endDateTime": end.strftime(_TIME_FORMAT)}
        first = await self._search(window)
        if _total(first) <= PAGING_DEPTH or end - start < dt.timedelta(seconds=2):
            return [first, *await self._rest(first, window)]
        middle = start + (end - start) / 2
        middle = middle.replace(microsecond=0)
        halves = await asyncio.gather(
            self._windows(dated, start, middle), self._windows(dated, middle + dt.timedelta(seconds=1), end)
        )
        return halves[0] + halves[1]

    async def _all_pages(self, query: dict[str, Any]) -> list[Reply]:
        first = await self._search(query)
        return [first, *await self._rest(first, query)]

    async def _rest(self, first: Reply, query: dict[str, Any]) -> list[Reply]:
        """Pages 1.. of a query whose page 0 is ``first``, within the paging depth."""
        size = int(query["size"])
        with wire_shape("ticketmaster", "/events", first.status):
            pages = int(first.body["page"]["totalPages"])
        reachable = -(-PAGING_DEPTH // size)
        return list(await asyncio.gather(*(self._search({**query, "page": n}) for n in range(1, min(pages, reachable)))))

    async def _search(self, query: dict[str, Any]) -> Reply:
        return await self._get("/events.json", "/events", {"page": 0, **query}, None)

    # -- transport ------------------------------------------------------------

    async def _get(self, path: str, endpoint: str, params: dict[str, Any], timeout: float | None) -> Reply:
        reply = await self.http.get(
            f"{self.api_url}{path}", endpoint=endpoint, params={**params, "apikey": self.api_key}, timeout=timeout
        )
        reset = reply.headers.get("Rate-Limit-Reset", "")
        if reset.isdigit():
            self._quota_reset_ms = int(reset)
        return reply

    def _quota_report(self, reply: Reply) -> ProviderReport | None:
        """The ``Rate-Limit*`` headers of a 200 (limit, calls left, reset in epoch ms), or
        the reset a QuotaViolation 429 waits for; 4xx carry no headers (they were counted)."""
        if reply.status == 429:
            if not _quota_violation(reply):
                return None
            wait = self._retry_after(reply) or QUOTA_PAUSE_S
            return ProviderReport(available=0, exhausted_until_ms=int((time.time() + wait) * 1000))
        limit, available, reset = (reply.headers.get(h, "") for h in ("Rate-Limit", "Rate-Limit-Available", "Rate-Limit-Reset"))
        if not (limit.isdigit() and available.isdigit()):
            return None
        return ProviderReport(int(limit), int(available), int(reset) if reset.isdigit() else None)

    def _retry_after(self, reply: Reply) -> float | None:
        """No Retry-After on Ticketmaster's 429s: a spent daily quota waits for its reset,
        a spike-arrest fault takes the policy's default pause."""
        if not _quota_violation(reply):
            return None
        if self._quota_reset_ms is None:
            return QUOTA_PAUSE_S
        return max(1.0, self._quota_reset_ms / 1000 - time.time())


def _quota_violation(reply: Reply) -> bool:
    """True for Apigee's daily-quota fault (by its errorcode, not the status alone)."""
    fault = reply.body.get("fault", {}) if isinstance(reply.body, dict) else {}
    detail = fault.get("detail", {}) if isinstance(fault, dict) else {}
    return "QuotaViolation" in str(detail.get("errorcode", "") if isinstance(detail, dict) else "")


def _total(reply: Reply) -> int:
    with wire_shape("ticketmaster", "/events", reply.status):
        return int(reply.body["page"]["totalElements"])


def _events(reply: Reply) -> list[dict[str, Any]]:
    """The events of a page; ``_embedded`` is absent when there are none."""
    with wire_shape("ticketmaster", "/events", reply.status):
        return list(reply.body.get("_embedded", {}).get("events", []))


def _unique_events(pages: list[Reply]) -> list[Event]:
    seen: dict[str, Event] = {}
    for reply in pages:
        for body in _events(reply):
            with wire_shape("ticketmaster", "/events", reply.status):
                event = _event(body)
            seen.setdefault(event.id, event)
    return list(seen.values())


def _start(body: dict[str, Any]) -> dt.datetime | None:
    start = body.get("dates", {}).get("start", {})
    if start.get("dateTime"):
        return dt.datetime.strptime(start["dateTime"], _TIME_FORMAT)
    if start.get("localDate"):
        return dt.datetime.fromisoformat(start["localDate"])
    return None


def _images(items: Any) -> tuple[Image, ...]:
    return tuple(Image(str(i["url"]), i.get("width"), i.get("height")) for i in items or ())


def _float(value: Any) -> float | None:
    """Latitude and longitude arrive as strings ("34.0658"), sometimes not at all."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _name(block: Any) -> str | None:
    name = block.get("name") if isinstance(block, dict) else None
    return name.strip() or None if isinstance(name, str) else None


def _venue(body: dict[str, Any]) -> Venue:
    address = body.get("address") or {}
    location = body.get("location") or {}
    state = body.get("state") or {}
    return Venue(
        id=str(body["id"]),
        name=str(body.get("name") or "").strip(),
        city=_name(body.get("city")),
        state=state.get("stateCode") or _name(state),
        country=(body.get("country") or {}).get("countryCode"),
        address=address.get("line1") or address.get("line2"),
        postal_code=body.get("postalCode"),
        timezone=body.get("timezone"),
        latitude=_float(location.get("latitude")),
        longitude=_float(location.get("longitude")),
        url=body.get("url"),
        images=_images(body.get("images")),
        capacity=body.get("capacity"),
    )


def _event(body: dict[str, Any]) -> Event:
    dates = body.get("dates") or {}
    start = dates.get("start") or {}
    embedded = body.get("_embedded") or {}
    venues = embedded.get("venues") or []
    status = str((dates.get("status") or {}).get("code", "onsale"))
    return Event(
        id=str(body["id"]),
        name=str(body["name"]),
        local_date=dt.date.fromisoformat(start["localDate"]) if start.get("localDate") else None,
        local_time=start.get("localTime"),
        status="cancelled" if status == "canceled" else status,
        venue=_venue(venues[0]) if venues else None,
        url=body.get("url"),
        attraction_ids=tuple(str(a["id"]) for a in embedded.get("attractions") or ()),
    )


def _attraction(body: dict[str, Any]) -> TicketmasterAttraction:
    links = body.get("externalLinks") or {}
    spotify_url = next((str(link.get("url", "")) for link in links.get("spotify", ())), "")
    genres = [
        c["genre"]["name"]
        for c in body.get("classifications") or ()
        if isinstance(c.get("genre"), dict) and c["genre"].get("name") not in (None, "Undefined", "Other")
    ]
    return TicketmasterAttraction(
        id=str(body["id"]),
        name=str(body["name"]),
        url=body.get("url"),
        images=_images(body.get("images")),
        genres=tuple(genres),
        upcoming_events=(body.get("upcomingEvents") or {}).get("_total"),
        spotify_id=spotify_url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or None,
        musicbrainz_id=next((str(link["id"]) for link in links.get("musicbrainz", ()) if link.get("id")), None),
    )

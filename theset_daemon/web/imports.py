"""The import API the web app calls: kickoff and status.

``POST /api/imports`` validates the body, deduplicates on the Ticketmaster
attraction id (a second kickoff while one runs answers the same import),
persists the import in PostgreSQL *before* answering, enqueues phase 1 at
CRITICAL and answers 202 with a signed, expiring ``eventsUrl``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from aiohttp import web

from ..imports.kickoff import kickoff
from ..imports.signing import events_url as signed_events_url
from ..imports.view import load_import_view
from .auth import require_bearer
from .errors import InvalidRequest, json_response
from .keys import SETTINGS, booted

#: Ticketmaster attraction ids are short alphanumeric strings ("K8vZ9171ob7").
ATTRACTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Who may ask, and their label in import records.
OWNER = re.compile(r"^[\w.@:-]{1,100}$")


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400/413/415 naming the problem."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest("body", f"not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("body", "expected a JSON object")
    return body


def parse_kickoff(body: dict[str, Any]) -> tuple[str, str | None]:
    """The attraction id and optional owner of a kickoff body.

    Raises:
      InvalidRequest: naming ``tmAttractionId`` or ``owner``.
    """
    attraction = body.get("tmAttractionId")
    if not isinstance(attraction, str) or not ATTRACTION_ID.match(attraction):
        raise InvalidRequest("tmAttractionId", "required: a Ticketmaster attraction id (1-64 letters, digits, _ or -)")
    owner = body.get("owner")
    if owner is not None and (not isinstance(owner, str) or not OWNER.match(owner)):
        raise InvalidRequest("owner", "optional: 1-100 characters of letters, digits and . @ : _ -")
    unknown = sorted(set(body) - {"tmAttractionId", "owner"})
    if unknown:
        raise InvalidRequest(unknown[0], "unknown field")
    return attraction, owner


def events_url(request: web.Request, import_id: str) -> str:
    settings = request.app[SETTINGS]
    return signed_events_url(settings.public_url, settings.sse_secret, import_id, ttl_s=settings.sse_token_ttl)


async def create_import(request: web.Request) -> web.Response:
    """POST /api/imports — 202 with importId, status, eventsUrl (artistId and slug once known)."""
    await require_bearer(request, request.app[SETTINGS].api_token, realm="imports")
    attraction, owner = parse_kickoff(await read_json_object(request))
    res = booted(request)
    record = await kickoff(res, attraction, owner or "api")
    body = await load_import_view(res.pool, str(record["id"]))
    assert body is not None  # kickoff persisted it
    body["eventsUrl"] = events_url(request, body["importId"])
    body["statusUrl"] = f"{request.app[SETTINGS].public_url}/api/imports/{body['importId']}"
    return json_response(body, status=202, headers={"Location": body["statusUrl"]})


async def get_import(request: web.Request) -> web.Response:
    """GET /api/imports/{import_id} — the import's view: status, progress, phases, counts, error."""
    await require_bearer(request, request.app[SETTINGS].api_token, realm="imports")
    import_id = parse_import_id(request.match_info["import_id"])
    view = await load_import_view(booted(request).pool, import_id)
    if view is None:
        raise web.HTTPNotFound(text=f"no import {import_id}")
    return json_response(view)


def parse_import_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest("import_id", "expected a UUID") from None


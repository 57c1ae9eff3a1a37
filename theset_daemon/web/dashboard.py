"""The operator's dashboard: one page and its files, sign-in and sign-out.

``GET /dashboard`` serves ``web/static/dashboard.html``; its scripts and styles
come from ``GET /dashboard/static/{name}`` (files of ``web/static/``
folder only, no sub-paths). The page talks to the admin API (``/api/admin``,
``/api/jobs``) with the session cookie; every action it sends carries the
session's CSRF token (see :mod:`.admin_auth`).

* ``POST /dashboard/login`` — the admin token as JSON ``{"token"}`` or a form
  field ``token``: starts a new session (a fresh random id, kept in Redis, see
  :mod:`.sessions`), sets the ``theset_session`` cookie (``HttpOnly``,
  ``SameSite=Strict``, ``Path=/``, ``Secure`` when the public URL is https)
  and answers the session (JSON) or a 303 back to the page (form). Wrong tokens
  are throttled per address (:mod:`.throttle`).
* ``GET /dashboard/session`` — ``{"csrfToken", "readOnly", "expiresAt"}`` for a
  valid session, else 401.
* ``POST /dashboard/logout`` — ends the session in Redis and clears the cookie
  (a session must send its CSRF header; read-only mode does not stop a sign-out).

Every response here carries a Content-Security-Policy that allows scripts,
styles and connections from this origin only (no inline scripts), and refuses
framing. Cross-origin ``Origin`` headers on the sign-in and sign-out posts are
refused.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from ..runtime.package_data import static_dir
from .admin_auth import CSRF_HEADER, SESSION_COOKIE, SESSION_TTL_S, csrf_matches, current_session
from .auth import token_matches
from .errors import InvalidRequest, error_body, json_response
from .keys import AUTH_THROTTLE, SESSIONS, SETTINGS
from .sessions import Session

STATIC = static_dir()
#: File names the static route serves (flat: no folders, no dot files).
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|svg|png|ico)$")
_TYPES = {
    "js": "text/javascript",
    "css": "text/css",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _secured(response: web.StreamResponse, *, cache: str = "no-cache") -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = cache
    return response


def _json(data: object, *, status: int = 200) -> web.StreamResponse:
    return _secured(json_response(data, status=status), cache="no-store")


async def page(request: web.Request) -> web.StreamResponse:
    """``GET /dashboard``: the page (its data comes from the admin API once signed in)."""
    return _secured(web.FileResponse(STATIC / "dashboard.html", headers={"Content-Type": "text/html; charset=utf-8"}))


async def static_file(request: web.Request) -> web.StreamResponse:
    """``GET /dashboard/static/{name}``: a file of the package's ``static/`` folder."""
    name = request.match_info["name"]
    path = STATIC / name
    if not STATIC_NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound(text=f"no dashboard file {name}")
    content_type = _TYPES[name.rsplit(".", 1)[1]]
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return _secured(web.FileResponse(path, headers={"Content-Type": content_type}))


def _same_origin(request: web.Request) -> None:
    """Refuse a browser post sent from another origin (the ``Origin`` header, when present)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    public = urlsplit(request.app[SETTINGS].public_url).netloc
    if urlsplit(origin).netloc not in {request.host, public}:
        raise web.HTTPForbidden(text="cross-origin request refused")


def _session_body(request: web.Request, session: Session) -> dict[str, object]:
    readonly = request.app[SETTINGS].dashboard_readonly
    return {"csrfToken": session.csrf_token, "readOnly": readonly, "expiresAt": session.expires_at}


async def _given_token(request: web.Request) -> object:
    """The ``token`` of a form or JSON sign-in body (anything else: 400 naming the body)."""
    if request.content_type != "application/json":
        try:
            return (await request.post()).get("token")
        except (ValueError, LookupError) as exc:  # no multipart boundary, an unknown charset
            raise InvalidRequest("body", f"unreadable form: {exc}") from None
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise InvalidRequest("body", "expected a JSON object with a token") from None
    return body.get("token") if isinstance(body, dict) else None


async def login(request: web.Request) -> web.StreamResponse:
    """``POST /dashboard/login``: trade the admin token for a new session.

    Raises:
      InvalidRequest: no ``token`` field (400).
      HTTPTooManyRequests: this address is blocked after too many wrong tokens (429).
    """
    _same_origin(request)
    settings = request.app[SETTINGS]
    form = request.content_type != "application/json"
    token = await _given_token(request)
    if not isinstance(token, str) or not token:
        raise InvalidRequest("token", "required: the admin token")
    throttle = request.app[AUTH_THROTTLE]
    await throttle.check(request)
    if not token_matches(token, settings.admin_tokens):
        await throttle.failed(request, "dashboard")
        message = "wrong admin token" if settings.admin_token else "no admin token is configured (THESET_ADMIN_TOKEN)"
        return _json(error_body(401, message), status=401)
    session = await request.app[SESSIONS].create()
    if form:
        response = _secured(web.Response(status=303, headers={"Location": "/dashboard"}), cache="no-store")
    else:
        response = _json(_session_body(request, session))
    response.set_cookie(
        SESSION_COOKIE, session.id, max_age=SESSION_TTL_S, path="/", httponly=True, samesite="Strict",
        secure=settings.public_url.startswith("https://"),
    )
    return response


async def session(request: web.Request) -> web.StreamResponse:
    """``GET /dashboard/session``: the page's CSRF token and mode, or 401 without a valid session."""
    current = await current_session(request)
    if current is None:
        return _json(error_body(401, "sign in with the admin token"), status=401)
    return _json(_session_body(request, current))


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /dashboard/logout``: end this browser's session (deleted in Redis; the cookie is cleared)."""
    _same_origin(request)
    current = await current_session(request)
    if current is not None:
        if not csrf_matches(request, current):
            return _json(error_body(401, f"missing or wrong {CSRF_HEADER}"), status=401)
        await request.app[SESSIONS].end(current.id)
    response = _json({"signedOut": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/dashboard")


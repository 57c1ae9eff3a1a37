"""The operator's dashboard: one page and its files, sign-in and sign-out.

``GET /dashboard`` serves ``static/dashboard.html``; its scripts and styles
come from ``GET /dashboard/static/{name}`` (files of the package's ``static/``
folder only, no sub-paths). The page talks to the admin API (``/api/admin``,
``/api/jobs``) with the session cookie; every action it sends carries the
session's CSRF token (see :mod:`.admin_auth`).

* ``POST /dashboard/login`` — the admin token as JSON ``{"token"}`` or a form
  field ``token``: sets the ``theset_session`` cookie (``HttpOnly``,
  ``SameSite=Strict``, ``Path=/``, ``Secure`` when the public URL is https)
  and answers the session (JSON) or a 303 back to the page (form).
* ``GET /dashboard/session`` — ``{"csrfToken", "readOnly", "expiresAt"}`` for a
  valid session, else 401.
* ``POST /dashboard/logout`` — clears the cookie (a session must send its CSRF
  header; read-only mode does not stop a sign-out).

Every response here carries a Content-Security-Policy that allows scripts,
styles and connections from this origin only (no inline scripts), and refuses
framing. Cross-origin ``Origin`` headers on the sign-in and sign-out posts are
refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import urlsplit

from aiohttp import web

from .admin_auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_TTL_S,
    csrf_token,
    new_session,
    session_valid,
)
from ..package_data import static_dir
from .errors import InvalidRequest, error_body, json_response
from .keys import SETTINGS

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


def _token_matches(expected: str, given: str) -> bool:
    # Digests of equal length: the time taken says nothing about the token.
    same = hmac.compare_digest(hashlib.sha256(given.encode()).digest(), hashlib.sha256(expected.encode()).digest())
    return bool(expected) and same


def _session_body(request: web.Request, cookie: str) -> dict[str, object]:
    settings = request.app[SETTINGS]
    expires = int(cookie.partition(".")[0])
    return {"csrfToken": csrf_token(settings, cookie), "readOnly": settings.dashboard_readonly, "expiresAt": expires}


async def login(request: web.Request) -> web.StreamResponse:
    """``POST /dashboard/login``: trade the admin token for a session cookie.

    Raises:
      InvalidRequest: no ``token`` field (400).
      HTTPUnauthorized: a wrong token, or no admin token configured.
    """
    _same_origin(request)
    settings = request.app[SETTINGS]
    form = request.content_type != "application/json"
    if form:
        token = (await request.post()).get("token")
    else:
        try:
            token = (await request.json()).get("token")
        except (ValueError, AttributeError):
            raise InvalidRequest("body", "expected a JSON object with a token") from None
    if not isinstance(token, str) or not token:
        raise InvalidRequest("token", "required: the admin token")
    if not _token_matches(settings.admin_token, token):
        message = "wrong admin token" if settings.admin_token else "no admin token is configured (THESET_ADMIN_TOKEN)"
        return _json(error_body(401, message), status=401)
    cookie, _ = new_session(settings)
    if form:
        response = _secured(web.Response(status=303, headers={"Location": "/dashboard"}), cache="no-store")
    else:
        response = _json(_session_body(request, cookie))
    response.set_cookie(
        SESSION_COOKIE, cookie, max_age=SESSION_TTL_S, path="/", httponly=True, samesite="Strict",
        secure=settings.public_url.startswith("https://"),
    )
    return response


async def session(request: web.Request) -> web.StreamResponse:
    """``GET /dashboard/session``: the page's CSRF token and mode, or 401 without a valid session."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not session_valid(request.app[SETTINGS], cookie):
        return _json(error_body(401, "sign in with the admin token"), status=401)
    return _json(_session_body(request, cookie))


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /dashboard/logout``: end this browser's session (the cookie is cleared)."""
    _same_origin(request)
    settings = request.app[SETTINGS]
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if session_valid(settings, cookie) and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, ""), csrf_token(settings, cookie)
    ):
        return _json(error_body(401, f"missing or wrong {CSRF_HEADER}"), status=401)
    response = _json({"signedOut": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently("/dashboard")


ROUTES = [
    web.get("/dashboard", page),
    web.get("/dashboard/", redirect),
    web.get("/dashboard/static/{name}", static_file),
    web.post("/dashboard/login", login),
    web.get("/dashboard/session", session),
    web.post("/dashboard/logout", logout),
]

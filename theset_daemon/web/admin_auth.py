"""Who may use the admin API: the admin token, or a dashboard session.

Scripts send ``Authorization: Bearer $THESET_ADMIN_TOKEN``. The dashboard signs
in once with that token and gets a session cookie (``HttpOnly``,
``SameSite=Strict``); its mutations must also carry the CSRF token bound to
that session in :data:`CSRF_HEADER`. Sessions are stateless HMACs keyed by the
admin token, so any daemon accepts any daemon's session and rotating the
token ends every session. In read-only mode every mutation is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from aiohttp import web

from ..config import Settings
from .auth import bearer_token, token_matches
from .keys import SETTINGS

SESSION_COOKIE = "theset_session"
CSRF_HEADER = "X-CSRF-Token"
#: Seconds a dashboard session lasts.
SESSION_TTL_S = 8 * 3600


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(b"theset-dashboard-session:" + settings.admin_token.encode()).digest()


def _mac(settings: Settings, text: str) -> str:
    digest = hmac.new(_key(settings), text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_session(settings: Settings, *, now: float | None = None) -> tuple[str, str]:
    """A session cookie value and its CSRF token."""
    expires = int((now or time.time()) + SESSION_TTL_S)
    value = f"{expires}.{_mac(settings, f'session:{expires}')}"
    return value, csrf_token(settings, value)


def csrf_token(settings: Settings, session: str) -> str:
    return _mac(settings, f"csrf:{session}")


def session_valid(settings: Settings, value: str, *, now: float | None = None) -> bool:
    expires, _, mac = value.partition(".")
    if not expires.isdigit() or not settings.admin_token:
        return False
    good = hmac.compare_digest(mac, _mac(settings, f"session:{expires}"))
    return good and int(expires) > (now or time.time())


def require_admin(request: web.Request, *, mutation: bool = False) -> str:
    """Admit the admin (``"token"`` or ``"session"``) or raise 401/403.

    Raises:
      HTTPUnauthorized: no valid admin token or session (or a session mutation without its CSRF token).
      HTTPForbidden: a mutation while ``THESET_DASHBOARD_READONLY`` is on.
    """
    settings = request.app[SETTINGS]
    if token_matches(bearer_token(request), settings.admin_token):
        who = "token"
    else:
        session = request.cookies.get(SESSION_COOKIE, "")
        if not session_valid(settings, session):
            raise web.HTTPUnauthorized(text="admin token or dashboard session required",
                                       headers={"WWW-Authenticate": 'Bearer realm="admin"'})
        if mutation and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf_token(settings, session)):
            raise web.HTTPUnauthorized(text=f"missing or wrong {CSRF_HEADER}")
        who = "session"
    if mutation and settings.dashboard_readonly:
        raise web.HTTPForbidden(text="read-only mode (THESET_DASHBOARD_READONLY): actions are refused")
    return who

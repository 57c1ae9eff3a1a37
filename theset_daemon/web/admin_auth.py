"""Who may use the admin API: the admin token, or a dashboard session.

Scripts send ``Authorization: Bearer $THESET_ADMIN_TOKEN`` (or the previous
token, ``THESET_ADMIN_TOKEN_PREVIOUS``, during a rotation). The dashboard signs
in once with that token and gets a session cookie (``HttpOnly``,
``SameSite=Strict``) naming a session kept in Redis (:mod:`.sessions`); its
mutations must also carry that session's CSRF token in :data:`CSRF_HEADER`.
Sign-out ends the session; ``POST /api/admin/sessions/revoke`` ends them all.
In read-only mode every mutation is refused.
"""

from __future__ import annotations

from aiohttp import web

from .auth import bearer_token, require_bearer, same_text
from .keys import SESSIONS, SETTINGS
from .sessions import SESSION_TTL_S, Session

__all__ = ["CSRF_HEADER", "SESSION_COOKIE", "SESSION_TTL_S", "current_session", "require_admin"]

SESSION_COOKIE = "theset_session"
CSRF_HEADER = "X-CSRF-Token"


async def current_session(request: web.Request) -> Session | None:
    """The live dashboard session named by the request's cookie, if any."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return await request.app[SESSIONS].get(cookie) if cookie else None


def csrf_matches(request: web.Request, session: Session) -> bool:
    return same_text(request.headers.get(CSRF_HEADER, ""), session.csrf_token)


async def require_admin(request: web.Request, *, mutation: bool = False, readonly_ok: bool = False) -> str:
    """Admit the admin (``"token"`` or ``"session"``) or raise 401/403/429.

    Raises:
      HTTPUnauthorized: no valid admin token or session (or a session mutation without its CSRF token).
      HTTPForbidden: a mutation while ``THESET_DASHBOARD_READONLY`` is on (unless ``readonly_ok``:
        ending sessions is allowed in read-only mode, like signing out).
      HTTPTooManyRequests: the address is blocked after too many wrong tokens.
    """
    settings = request.app[SETTINGS]
    session = await current_session(request)
    if session is not None and bearer_token(request) is None:
        who = "session"
    else:
        try:
            await require_bearer(request, settings.admin_tokens, realm="admin")
            who = "token"
        except web.HTTPUnauthorized:
            if session is None:
                raise web.HTTPUnauthorized(text="admin token or dashboard session required",
                                           headers={"WWW-Authenticate": 'Bearer realm="admin"'}) from None
            who = "session"
    if mutation and session is not None and who == "session" and not csrf_matches(request, session):
        raise web.HTTPUnauthorized(text=f"missing or wrong {CSRF_HEADER}")
    if mutation and settings.dashboard_readonly and not readonly_ok:
        raise web.HTTPForbidden(text="read-only mode (THESET_DASHBOARD_READONLY): actions are refused")
    return who

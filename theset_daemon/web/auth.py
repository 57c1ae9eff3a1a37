"""Bearer-token checks for the import and admin APIs: constant-time, rotation-aware, throttled."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from aiohttp import web

from .keys import AUTH_THROTTLE


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _digest(text: str) -> bytes:
    # surrogatepass: a header may carry any code point, even a lone surrogate; it must not raise.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def same_text(given: str, expected: str) -> bool:
    """Constant-time equality of two strings of any content (digests of equal length are compared)."""
    return hmac.compare_digest(_digest(given), _digest(expected))


def token_matches(given: str | None, expected: str | Sequence[str]) -> bool:
    """Whether ``given`` is one of the configured tokens; an unset token matches nothing.

    Every configured token is compared (current and previous, during a rotation),
    so the time taken says nothing about which one matched.
    """
    tokens = [expected] if isinstance(expected, str) else list(expected)
    matches = [same_text(given or "", token) and bool(token) for token in tokens]
    return any(matches)


async def require_bearer(request: web.Request, expected: str | Sequence[str], *, realm: str) -> None:
    """Raise 401 unless the request carries ``Authorization: Bearer <one of expected>``.

    An unset expected token refuses everyone: an API without a configured
    token is closed, not open. A wrong token counts against the client's
    address (:mod:`.throttle`).

    Raises:
      HTTPUnauthorized: no token, or a wrong one.
      HTTPTooManyRequests: the address is blocked after too many wrong tokens.
    """
    configured = [expected] if isinstance(expected, str) else list(expected)
    given = bearer_token(request)
    throttle = request.app.get(AUTH_THROTTLE)
    if given is not None and throttle is not None:
        await throttle.check(request)
    if token_matches(given, configured):
        return
    if given is not None and throttle is not None:
        await throttle.failed(request, realm)
    raise web.HTTPUnauthorized(
        text="missing or wrong bearer token" if any(configured) else f"the {realm} API has no token configured",
        headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
    )

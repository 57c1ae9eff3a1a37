"""Bearer-token checks for the import and admin APIs (constant-time compare)."""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def token_matches(given: str | None, expected: str) -> bool:
    """Whether ``given`` is the configured token; an unset token matches nothing.

    Digests of equal length are compared, so the time taken says nothing about the token.
    """
    digest_given = hashlib.sha256((given or "").encode()).digest()
    digest_expected = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(digest_given, digest_expected) and bool(expected)


def require_bearer(request: web.Request, expected: str, *, realm: str) -> None:
    """Raise 401 unless the request carries ``Authorization: Bearer <expected>``.

    An unset expected token refuses everyone: an API without a configured
    token is closed, not open.
    """
    if not token_matches(bearer_token(request), expected):
        raise web.HTTPUnauthorized(
            text="missing or wrong bearer token" if expected else f"the {realm} API has no token configured",
            headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
        )

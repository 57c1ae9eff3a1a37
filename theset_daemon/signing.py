"""Signed, expiring tokens for an import's SSE URL.

A token is ``<payload>.<mac>``, both base64url without padding: the payload is
``{"i": import_id, "e": expiry}`` (expiry in Unix seconds) and the MAC is
HMAC-SHA256 of the encoded payload under the daemon's SSE secret. The expiry
and the import id are inside what is signed, so neither can be changed; the MAC
is checked (in constant time) before anything in the payload is trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

import orjson

#: Reasons an :class:`InvalidToken` names (its ``reason`` attribute).
MALFORMED = "malformed"
FORGED = "forged"
EXPIRED = "expired"
WRONG_IMPORT = "wrong_import"


class InvalidToken(Exception):
    """A token that does not grant access: ``reason`` is one of the constants above."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str | bytes, payload: str) -> bytes:
    if not secret:
        raise ValueError("no SSE secret configured (THESET_SSE_SECRET)")
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()


def sign_events_token(secret: str | bytes, import_id: str, *, ttl_s: float, now: float | None = None) -> str:
    """A URL-safe token granting the events of ``import_id`` for ``ttl_s`` seconds from ``now``.

    Raises:
      ValueError: when ``secret`` is empty (a token anyone could forge is never issued).
    """
    expires = int((time.time() if now is None else now) + ttl_s)
    payload = _b64encode(orjson.dumps({"i": str(import_id), "e": expires}))
    return f"{payload}.{_b64encode(_mac(secret, payload))}"


def verify_events_token(secret: str | bytes, token: str, import_id: str, *, now: float | None = None) -> None:
    """Return if ``token`` grants the events of ``import_id`` at ``now`` (Unix seconds).

    Raises:
      InvalidToken: malformed, forged (bad MAC), expired, or signed for another import.
      ValueError: when ``secret`` is empty.
    """
    if not secret:
        raise ValueError("no SSE secret configured (THESET_SSE_SECRET)")
    payload, sep, mac_text = (token or "").partition(".")
    if not sep or not payload or not mac_text:
        raise InvalidToken(MALFORMED, "token is not of the form <payload>.<signature>")
    try:
        mac = _b64decode(mac_text)
        payload.encode("ascii")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidToken(MALFORMED, "token is not base64url") from None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise InvalidToken(FORGED, "token signature does not match")
    try:
        claims = orjson.loads(_b64decode(payload))
        signed_id, expires = str(claims["i"]), int(claims["e"])
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise InvalidToken(MALFORMED, "token payload is unreadable") from None
    if signed_id != str(import_id):
        raise InvalidToken(WRONG_IMPORT, "token was issued for another import")
    if (time.time() if now is None else now) >= expires:
        raise InvalidToken(EXPIRED, "token has expired")

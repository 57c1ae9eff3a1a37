"""Signed, expiring tokens for an import's SSE URL.

A token is ``<payload>.<mac>``, both base64url without padding: the payload is
``{"i": import_id, "e": expiry}`` (expiry in Unix seconds) and the MAC is
HMAC-SHA256 of the encoded payload under the daemon's SSE secret. The expiry
and the import id are inside what is signed, so neither can be changed; the MAC
is checked (in constant time) before anything in the payload is trusted.
Both parts are decoded strictly (canonical base64url only), so a token has
exactly one spelling. During a rotation the verifier accepts the MAC of any of
the secrets it is given (current first, then the previous one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Sequence

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


_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def _b64decode(text: str) -> bytes:
    """Strict, canonical base64url without padding: other characters, or unused bits set, are refused.

    Raises:
      ValueError: not the one encoding of some bytes.
    """
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


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


def verify_events_token(secret: str | bytes | Sequence[str], token: str, import_id: str, *,
                        now: float | None = None) -> None:
    """Return if ``token`` grants the events of ``import_id`` at ``now`` (Unix seconds).

    ``secret`` may be a sequence of secrets (a rotation): a MAC under any of them is accepted.

    Raises:
      InvalidToken: malformed, forged (bad MAC), expired, or signed for another import.
      ValueError: when no secret is given.
    """
    secrets = [secret] if isinstance(secret, (str, bytes)) else [s for s in secret if s]
    if not secrets or not all(secrets):
        raise ValueError("no SSE secret configured (THESET_SSE_SECRET)")
    payload, sep, mac_text = (token or "").partition(".")
    if not sep or not payload or not mac_text:
        raise InvalidToken(MALFORMED, "token is not of the form <payload>.<signature>")
    try:
        mac = _b64decode(mac_text)
        payload.encode("ascii")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidToken(MALFORMED, "token is not base64url") from None
    if not any([hmac.compare_digest(mac, _mac(key, payload)) for key in secrets]):
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


#: The path of an import's event stream (served by :mod:`theset_daemon.web.events`).
EVENTS_PATH = "/api/imports/{import_id}/events"


def events_url(public_url: str, secret: str, import_id: str, *, ttl_s: float, now: float | None = None) -> str:
    """The signed SSE URL of an import, as the kickoff answers it (``public_url`` without trailing ``/``)."""
    token = sign_events_token(secret, import_id, ttl_s=ttl_s, now=now)
    return f"{public_url.rstrip('/')}{EVENTS_PATH.format(import_id=import_id)}?token={token}"

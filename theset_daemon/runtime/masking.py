"""One way to hide secrets in anything the daemon shows: :class:`Masker`.

Used by ``theset-daemon config``, configuration errors, the log formatter (on the
values, before they are JSON-encoded), and the job errors, tracebacks and
arguments the admin API and the operator's CLI show. What it hides:

* the configured secrets (``THESET_*`` tokens, keys, passwords), wherever they
  appear in a text, whatever their length;
* in every URL found in a text: the userinfo password (or a bare userinfo of an
  http(s) URL, which is how tokens are put there) and every query value;
* in mappings: the whole value of a key that names a secret (``password``,
  ``token``, ``authorization``, ``cookie``, ``api_key`` ...), which covers
  HTTP headers as well as job arguments;
* the API key Ticketmaster's quota fault embeds (``... Identifier : <apikey>``),
  configured or not.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

MASK = "********"

#: A URL inside free text: a scheme, ``://``, then everything up to a space, a quote or a bracket.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s\"'<>`\\]+")
#: Query values: what follows ``=`` up to the next ``&``, ``#`` or the end.
_QUERY_VALUE = re.compile(r"=[^&#]*")
#: Apigee's QuotaViolation faultstring names the caller's key after "Identifier : ".
_FAULT_IDENTIFIER = re.compile(r"(Identifier\s*:\s*)[^\s\"'\\]+")
#: Mapping keys whose value is a secret as a whole (lower-cased, ``-`` read as ``_``).
_SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|api_?key|apikey|auth(orization)?|cookie|credential|signature)")


class Masker:
    """Masks the given secrets, URL credentials and query values, and secret-named keys.

    Parameters:
      secrets: the configured secret values (empty ones are ignored); each is
        replaced wherever it appears, longest first so one secret containing
        another is masked whole.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def text(self, value: str) -> str:
        """``value`` with every URL's credentials and query values and every secret masked."""
        masked = _URL.sub(lambda m: mask_url(m.group(0)), value) if "://" in value else value
        if "Identifier" in masked:
            masked = _FAULT_IDENTIFIER.sub(rf"\g<1>{MASK}", masked)
        for secret in self.secrets:
            if secret in masked:
                masked = masked.replace(secret, MASK)
        return masked

    def value(self, value: Any) -> Any:
        """A copy of ``value`` (str, mapping, list, tuple, or other) with :meth:`text` applied to every string
        and the values of secret-named keys replaced by the mask."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: (self.secret_value(v) if is_secret_key(k) else self.value(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def secret_value(self, value: Any) -> Any:
        """The mask for a non-empty value, an empty or None value unchanged (so "not set" stays visible)."""
        return MASK if value not in (None, "", b"") else value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """HTTP headers with secret-bearing ones (Authorization, Cookie, X-Api-Key, ...) masked."""
        return self.value(dict(headers))


def is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key.lower().replace("-", "_")))


def mask_url(url: str) -> str:
    """``url`` with its userinfo password and every query value masked.

    A userinfo without a password is kept for database and Redis URLs (a user
    name) and masked for http(s) URLs (where a bare userinfo is a token).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if colon:
            userinfo = f"{user}:{MASK}" if password else userinfo
        elif parts.scheme in {"http", "https"} and user:
            userinfo = MASK
        netloc = f"{userinfo}@{host}"
    query = _QUERY_VALUE.sub("=" + MASK, parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, parts.fragment))


@functools.lru_cache(maxsize=8)
def masker(secrets: tuple[str, ...] = ()) -> Masker:
    """A shared :class:`Masker` for these secrets (``masker(settings.secrets)``)."""
    return Masker(secrets)

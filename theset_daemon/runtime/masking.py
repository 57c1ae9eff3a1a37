"""One way to hide secrets in anything the daemon shows: :class:`Masker`.

Used by ``theset-daemon config``, configuration errors, the log formatter (on the
values, before they are JSON-encoded), and the job errors, tracebacks and
arguments the admin API and the operator's CLI show. What it hides:

* the configured secrets (``THESET_*`` tokens, keys, passwords), wherever they
  appear in a text, whatever their length;
* in every URL found in a text: the userinfo password (or a bare userinfo of an
  http(s) URL, which is how tokens are put there) and the value of every query
  (or fragment) parameter named like a secret (:func:`is_secret_param`:
  ``password``, ``token``, ``apikey``, ``sig``...); options such as
  ``ssl_cert_reqs=required`` or ``sslmode=require`` stay readable;
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
from urllib.parse import SplitResult, unquote_plus, urlsplit, urlunsplit

MASK = "********"

#: A URL inside free text: a scheme, ``://``, then everything up to a space, a quote or a bracket.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s\"'<>`\\]+")
#: Apigee's QuotaViolation faultstring names the caller's key after "Identifier : ".
_FAULT_IDENTIFIER = re.compile(r"(Identifier\s*:\s*)[^\s\"'\\]+")
#: Mapping keys whose value is a secret as a whole (lower-cased, ``-`` read as ``_``).
_SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|api_?key|apikey|auth(orization)?|cookie|credential|signature)")
#: URL parameter names that hold a secret beyond the secret-named keys (and any name ending in ``key``).
_SECRET_PARAMS = frozenset({"sig", "code", "pwd", "session", "sessionid", "sid", "jwt", "otp"})


class Masker:
    """Masks the given secrets, URL credentials and secret-named query values, and secret-named keys.

    Parameters:
      secrets: the configured secret values (empty ones are ignored); each is
        replaced wherever it appears, longest first so one secret containing
        another is masked whole.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def text(self, value: str) -> str:
        """``value`` with every URL's credentials and secret query values and every secret masked."""
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


def is_secret_param(name: str) -> bool:
    """Whether a URL query or fragment parameter named ``name`` (percent-decoded) carries a secret."""
    key = unquote_plus(name).lower().replace("-", "_")
    return is_secret_key(key) or key.endswith("key") or key in _SECRET_PARAMS


def _mask_params(params: str) -> str:
    """``a=1&token=x`` -> ``a=1&token=********``: the non-empty values of secret-named parameters masked."""
    if "=" not in params:
        return params
    out = []
    for param in params.split("&"):
        name, eq, value = param.partition("=")
        out.append(f"{name}={MASK}" if eq and value and is_secret_param(name) else param)
    return "&".join(out)


def mask_url(url: str) -> str:
    """``url`` with its userinfo password and the values of its secret-named parameters masked.

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
    query, fragment = _mask_params(parts.query), _mask_params(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, query, fragment))


@functools.lru_cache(maxsize=8)
def masker(secrets: tuple[str, ...] = ()) -> Masker:
    """A shared :class:`Masker` for these secrets (``masker(settings.secrets)``)."""
    return Masker(secrets)

"""Spotify's client-credentials token: fetched once, cached, renewed before expiry.

There is no refresh token in this flow: a new token is requested when the
cached one is about to expire (10% of its lifetime, at most 60 s, early) or
when the API answers 401 with it (:meth:`ClientCredentials.expired`).
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Callable, Mapping

from .errors import MalformedResponse
from .http import ProviderHttp, wire_shape

ENDPOINT = "/api/token"


class ClientCredentials:
    """A bearer token for the Spotify Web API (the ``Auth`` of its requests).

    Parameters:
      http: a ProviderHttp for the accounts host (no rate limiter, no auth).
      accounts_url: e.g. ``https://accounts.spotify.com``.
      client_id, client_secret: the app's credentials.
      clock: monotonic seconds (tests may substitute one).
    """

    def __init__(
        self,
        http: ProviderHttp,
        accounts_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.url = f"{accounts_url.rstrip('/')}{ENDPOINT}"
        pair = f"{client_id}:{client_secret}".encode()
        self._basic = "Basic " + base64.b64encode(pair).decode()
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        #: Tokens fetched so far by this process.
        self.fetches = 0

    async def header(self) -> dict[str, str]:
        """The Authorization header, fetching a token first if none is fresh."""
        return {"Authorization": f"Bearer {await self.token()}"}

    async def token(self) -> str:
        """A token valid for a while yet (fetches one when needed, one fetch at a time)."""
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def expired(self, sent: Mapping[str, str]) -> None:
        """The API refused the token in ``sent`` (401): drop it unless already replaced."""
        if sent.get("Authorization") == f"Bearer {self._token}":
            self._token = None

    async def _fetch(self) -> None:
        reply = await self.http.request(
            "POST",
            self.url,
            endpoint=ENDPOINT,
            headers={"Authorization": self._basic},
            data={"grant_type": "client_credentials"},
        )
        with wire_shape("spotify", ENDPOINT, reply.status):
            token = str(reply.body["access_token"])
            lifetime = float(reply.body["expires_in"])
            kind = str(reply.body.get("token_type", "Bearer"))
        if kind.lower() != "bearer" or not token:
            raise MalformedResponse("spotify", ENDPOINT, reply.status, f"unexpected token type {kind!r}")
        self._token = token
        self._renew_at = self._clock() + lifetime - min(60.0, lifetime / 10)
        self.fetches += 1

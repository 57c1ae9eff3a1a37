"""The provider clients: Spotify, Ticketmaster and setlist.fm over one HTTP session.

    providers = await Providers.open(settings, redis=aioredis_client)
    artists = await providers.spotify.search_artists("Radiohead", timeout=1.0)
    await providers.close()

Each provider has one cluster-wide rate limiter in Redis
(``{namespace}:rate:provider:{name}``) at its configured rate, and one daily
budget (``{namespace}:quota:{name}``, :mod:`theset_daemon.providers.quota.rules`); base URLs
and credentials come from :class:`~theset_daemon.runtime.config.Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
import redis.asyncio as aioredis

from ..broker.rate_limit import ClusterRateLimiter
from ..runtime.config import Settings
from .errors import (
    AudioFeaturesRefused,
    MalformedResponse,
    ProviderError,
    ProviderNotFound,
    ProviderRejected,
    ProviderThrottled,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaHeld,
)
from .http import HttpPolicy, ProviderHttp
from .quota.rules import quota_policies
from .quota.store import QuotaBudget
from .setlistfm import THROTTLE_PAUSE_S, SetlistFmClient
from .spotify import SpotifyClient
from .spotify_access import SpotifyAccess, version_preference
from .spotify_auth import ClientCredentials
from .ticketmaster import TicketmasterAttraction, TicketmasterClient

__all__ = [
    "AudioFeaturesRefused",
    "HttpPolicy",
    "MalformedResponse",
    "ProviderError",
    "ProviderNotFound",
    "ProviderRejected",
    "ProviderThrottled",
    "ProviderTimeout",
    "ProviderUnavailable",
    "Providers",
    "QuotaHeld",
    "SetlistFmClient",
    "SpotifyAccess",
    "SpotifyClient",
    "TicketmasterAttraction",
    "TicketmasterClient",
    "version_preference",
]

#: Connections open at once, in total and per provider host.
CONNECTION_LIMIT = 64
CONNECTION_LIMIT_PER_HOST = 16

#: Back-to-back admissions per limiter. Spotify counts a 30 s window, so a burst of 2
#: costs nothing and lets a late caller catch up (with 1, every late slot is lost:
#: ~12% under the rate at 50/s). Ticketmaster's spike arrest and setlist.fm's
#: one-token bucket refuse bursts, so they stay evenly spaced.
BURSTS = {"spotify": 2, "ticketmaster": 1, "setlistfm": 1}

#: Default policies; a 429 without Retry-After pauses TM ~1 s (spike arrest), setlist.fm 2 s.
DEFAULT_POLICIES = {
    "spotify": HttpPolicy(),
    "ticketmaster": HttpPolicy(default_retry_after_s=1.0),
    "setlistfm": HttpPolicy(default_retry_after_s=THROTTLE_PAUSE_S),
}


@dataclass
class Providers:
    """The three clients and the session they share; build with :meth:`open`."""

    spotify: SpotifyClient
    ticketmaster: TicketmasterClient
    setlistfm: SetlistFmClient
    session: aiohttp.ClientSession
    limiters: dict[str, ClusterRateLimiter] = field(default_factory=dict)
    budgets: dict[str, QuotaBudget] = field(default_factory=dict)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        redis: aioredis.Redis,
        policies: dict[str, HttpPolicy] | None = None,
        concurrency: int = 8,
    ) -> Providers:
        """Open the shared session and build the clients.

        Parameters:
          settings: base URLs, credentials, per-provider rates (requests/s, cluster-wide).
          redis: the asyncio Redis client holding the limiters.
          policies: per-provider overrides of :data:`DEFAULT_POLICIES` (timeouts, retries, caps).
          concurrency: Spotify requests in flight at once for batch and per-item fan-out.
        """
        chosen = {**DEFAULT_POLICIES, **(policies or {})}
        connector = aiohttp.TCPConnector(limit=CONNECTION_LIMIT, limit_per_host=CONNECTION_LIMIT_PER_HOST)
        session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": "theset-daemon"})
        rates = {
            "spotify": settings.spotify_rate,
            "ticketmaster": settings.ticketmaster_rate,
            "setlistfm": settings.setlistfm_rate,
        }
        limiters = {
            name: ClusterRateLimiter(
                redis,
                f"{settings.redis_namespace}:rate:provider:{name}",
                rate_per_s=rate,
                burst=BURSTS[name],
                name=f"provider:{name}",
            )
            for name, rate in rates.items()
        }

        budgets = {
            name: QuotaBudget(redis, settings.redis_namespace, policy)
            for name, policy in quota_policies(settings).items()
        }

        def http(name: str, **kwargs: object) -> ProviderHttp:
            return ProviderHttp(name, session, limiters[name], chosen[name], budget=budgets[name], **kwargs)  # type: ignore[arg-type]

        accounts = ProviderHttp("spotify", session, None, chosen["spotify"])
        token = ClientCredentials(
            accounts, settings.spotify_accounts_url, settings.spotify_client_id, settings.spotify_client_secret
        )
        return cls(
            spotify=SpotifyClient(
                http("spotify", auth=token), settings.spotify_api_url, settings.spotify_market, concurrency=concurrency
            ),
            ticketmaster=TicketmasterClient(
                http("ticketmaster"), settings.ticketmaster_api_url, settings.ticketmaster_api_key
            ),
            setlistfm=SetlistFmClient(http("setlistfm"), settings.setlistfm_api_url, settings.setlistfm_api_key),
            session=session,
            limiters=limiters,
            budgets=budgets,
        )

    async def close(self) -> None:
        """Close the shared session (in-flight requests fail)."""
        await self.session.close()

"""Failed-authentication throttling: per client address, for the whole cluster (Redis).

A wrong token (``Authorization: Bearer`` on the import or admin API, or the
dashboard's sign-in form) counts as one failure of the client's address. The
first ``free_failures`` in a window cost nothing; each further one blocks the
address for twice as long as the one before (1 s, 2 s, 4 s ... up to
:data:`MAX_BLOCK_S`). While blocked, every authenticated request from that
address gets 429 with ``Retry-After``, right or wrong token, so guessing
proceeds no faster than the backoff. Failures are forgotten :data:`WINDOW_S`
after the last one. One WARNING per address per :data:`LOG_INTERVAL_S` names
the address and the failures counted so far, and one more when the address is
first blocked.

Requests without credentials, and unknown or expired session cookies (random
256-bit ids, not guessable), are not counted. If Redis does not answer the
throttle lets requests through (and says so in the log) rather than lock every
operator out.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Sequence

import redis.asyncio as aioredis
from aiohttp import web

logger = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Seconds after the last failure until an address's count is forgotten.
WINDOW_S = 900
#: Seconds of the first block; doubled by each further failure.
FIRST_BLOCK_S = 1.0
#: Longest block, seconds.
MAX_BLOCK_S = 900.0
#: Seconds between two log lines about the same address.
LOG_INTERVAL_S = 60

#: KEYS: failures, block, logged. ARGV: window s, free failures, first block ms, max block ms, log interval s.
#: Returns {failures, block ms, 1 if this failure is the one to log}.
_RECORD = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local block = 0
local over = n - tonumber(ARGV[2])
if over > 0 then
  block = math.min(tonumber(ARGV[3]) * math.pow(2, math.min(over - 1, 40)), tonumber(ARGV[4]))
  block = math.floor(block)
  redis.call('SET', KEYS[2], n, 'PX', block)
end
local log = redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[5])
if log then return {n, block, 1} end
return {n, block, 0}
"""


def client_address(request: web.Request, trusted_proxies: Sequence[IPNetwork] = ()) -> str:
    """The address a failure is charged to.

    The TCP peer, unless it is one of ``trusted_proxies`` (``THESET_TRUSTED_PROXIES``):
    then the right-most address of ``X-Forwarded-For`` that is not a trusted
    proxy (addresses further left were written by the client and prove nothing).
    """
    address = request.remote or "unknown"
    forwarded = [a.strip() for a in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    while _trusted(address, trusted_proxies) and forwarded:
        address = forwarded.pop() or "unknown"
    return address


def _trusted(address: str, proxies: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies if net.version == ip.version)


class AuthThrottle:
    """Counts failed authentications per address in Redis and blocks with exponential backoff.

    Parameters:
      redis: the daemon's async Redis client.
      namespace: the key prefix (``THESET_REDIS_NAMESPACE``).
      free_failures: failures per window before blocking starts (``THESET_AUTH_MAX_FAILURES``).
      trusted_proxies: networks whose ``X-Forwarded-For`` names the client (``THESET_TRUSTED_PROXIES``).
    """

    def __init__(self, redis: aioredis.Redis, namespace: str, *, free_failures: int = 10,
                 trusted_proxies: Sequence[str] = ()) -> None:
        self.redis = redis
        self.free_failures = free_failures
        self.trusted_proxies = [ipaddress.ip_network(n) for n in trusted_proxies]
        self._prefix = f"{namespace}:auth"
        self._record = redis.register_script(_RECORD)

    def _keys(self, address: str) -> list[str]:
        return [f"{self._prefix}:{kind}:{address}" for kind in ("failures", "block", "logged")]

    async def retry_after(self, address: str) -> int:
        """Whole seconds ``address`` must still wait (0: not blocked)."""
        try:
            ms = await self.redis.pttl(self._keys(address)[1])
        except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            logger.warning("authentication throttle unavailable (Redis): %s", exc)
            return 0
        return math.ceil(ms / 1000) if ms > 0 else 0

    async def check(self, request: web.Request) -> None:
        """Refuse a blocked address before its credentials are even looked at.

        Raises:
          HTTPTooManyRequests: with ``Retry-After`` in seconds.
        """
        wait = await self.retry_after(client_address(request, self.trusted_proxies))
        if wait:
            raise web.HTTPTooManyRequests(
                text=f"too many failed authentications from this address; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    async def failed(self, request: web.Request, realm: str) -> None:
        """Count one failure of the request's address (logged once per interval)."""
        address = client_address(request, self.trusted_proxies)
        try:
            failures, block_ms, log = await self._record(
                keys=self._keys(address),
                args=[WINDOW_S, self.free_failures, int(FIRST_BLOCK_S * 1000), int(MAX_BLOCK_S * 1000), LOG_INTERVAL_S],
            )
        except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            logger.warning("authentication throttle unavailable (Redis): %s", exc)
            return
        if log or failures == self.free_failures + 1:
            logger.warning(
                "failed authentication from %s: %d counted (forgotten %d s after the last)", address, failures, WINDOW_S,
                extra={"remote": address, "failures": failures, "realm": realm, "blocked_s": block_ms / 1000},
            )

"""Injected faults: 500/503, timeouts, truncated bodies and 429 bursts.

Faults come from two places: the ``fault_rate`` draw (random, seeded) and a
queue tests fill with :meth:`FaultPlan.force` to make the next requests of a
provider fail in a chosen way. Each provider's fault answers look like that
provider's (Spotify's error object, Apigee faults, AWS API Gateway bodies).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict, deque

import orjson
from aiohttp import web

from .options import SandboxOptions

_SERVER_ERRORS = {
    ("spotify", 500): {"error": {"status": 500, "message": "Server error."}},
    ("spotify", 503): {"error": {"status": 503, "message": "Service unavailable"}},
    ("ticketmaster", 500): {"fault": {"faultstring": "Internal Server Error", "detail": {"errorcode": "messaging.runtime.InternalError"}}},
    ("ticketmaster", 503): {"fault": {"faultstring": "The Service is temporarily unavailable", "detail": {"errorcode": "messaging.adaptors.http.flow.ServiceUnavailable"}}},
    ("setlistfm", 500): {"code": 500, "status": "Internal Server Error", "message": "internal error", "timestamp": "2026-09-30T12:00:00.000+0000"},
    ("setlistfm", 503): {"message": "Service Unavailable"},
}


class FaultPlan:
    """Which request gets which fault."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self._rng = random.Random(f"faults:{options.seed}")
        self._forced: dict[str, deque[str]] = defaultdict(deque)
        self._bursting: dict[str, int] = defaultdict(int)

    def force(self, provider: str, kind: str, times: int = 1) -> None:
        """Answer the next ``times`` API requests of ``provider`` with fault ``kind``."""
        self._forced[provider].extend([kind] * times)

    def clear(self) -> None:
        self._forced.clear()
        self._bursting.clear()

    def draw(self, provider: str) -> str | None:
        """The fault for this request, if any."""
        if self._forced[provider]:
            return self._forced[provider].popleft()
        if self._bursting[provider] > 0:
            self._bursting[provider] -= 1
            return "429"
        if self.options.fault_rate and self._rng.random() < self.options.fault_rate:
            kind = self._rng.choice(self.options.faults)
            if kind == "429":
                self._bursting[provider] = self.options.burst - 1
            return kind
        return None

    async def latency(self) -> None:
        """Sleep the configured latency plus jitter."""
        ms = self.options.latency_ms + self._rng.uniform(0, self.options.jitter_ms)
        if ms > 0:
            await asyncio.sleep(ms / 1000)


def server_error(provider: str, status: int) -> web.Response:
    return json_response(_SERVER_ERRORS[(provider, status)], status)


def throttled(provider: str, options: SandboxOptions, retry_after: int | None = None) -> web.Response:
    """A 429 as the provider sends it (Retry-After from Spotify only)."""
    if provider == "spotify":
        body = {"error": {"status": 429, "message": "API rate limit exceeded"}}
        seconds = options.retry_after_s if retry_after is None else retry_after
        return json_response(body, 429, {"Retry-After": str(seconds)})
    if provider == "ticketmaster":
        fault = {"faultstring": "Spike arrest violation. Allowed rate : MessageRate{messagesPerPeriod=5, periodInMicroseconds=1000000, maxBurstMessageCount=1.0}",
                 "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"}}
        return json_response({"fault": fault}, 429)
    return json_response({"message": "Too Many Requests"}, 429, {"x-amzn-errortype": "TooManyRequestsException"})


def truncated(response: web.Response) -> web.Response:
    """The same answer cut in half: a 200 whose JSON ends mid-value."""
    body = bytes(response.body or b"")
    cut = body[: max(1, len(body) // 2)]
    return web.Response(body=cut, status=200, content_type="application/json", charset="utf-8")


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type="application/json", charset="utf-8")

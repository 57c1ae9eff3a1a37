"""The providers' own rate limits, as the sandbox enforces them.

Spotify counts calls in a rolling 30 s window per app and answers 429 with
Retry-After in whole seconds. Ticketmaster smooths its per-second limit
(Apigee spike arrest: one call per 1/rate s) and counts a daily quota whose
state it reports in ``Rate-Limit-*`` headers on 200s; its 429s are Apigee
faults without Retry-After. setlist.fm is an AWS API Gateway token bucket of
capacity 1 answering a bare 429.
"""

from __future__ import annotations

import math
import time
from collections import deque

from aiohttp import web

from .faults import json_response, throttled
from .options import SandboxOptions

SPOTIFY_WINDOW_S = 30.0
DAY_MS = 86_400_000


class _Smooth:
    """One call per ``1/rate`` seconds, forgiving early arrivals by ``tolerance`` of an interval."""

    def __init__(self, rate: float, tolerance: float) -> None:
        self.interval = 1.0 / rate
        self.tolerance = tolerance * self.interval
        self.next_at = 0.0

    def admit(self, now: float) -> bool:
        if now < self.next_at - self.tolerance:
            return False
        self.next_at = max(now, self.next_at) + self.interval
        return True


class Limits:
    """Per-provider admission; :meth:`check` returns the 429 to send, or None."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        rates = options.rate_limits
        self._spotify_calls: deque[float] = deque()
        self._spotify_max = max(1, round(rates.get("spotify", 0) * SPOTIFY_WINDOW_S))
        self._tm = _Smooth(rates["ticketmaster"], 0.5) if rates.get("ticketmaster") else None
        self._setlistfm = _Smooth(rates["setlistfm"], 0.1) if rates.get("setlistfm") else None
        self.tm_calls = 0
        self.tm_reset_ms: int | None = None

    def check(self, provider: str) -> web.Response | None:
        now = time.monotonic()
        if provider == "spotify" and self.options.rate_limits.get("spotify"):
            return self._spotify(now)
        if provider == "ticketmaster":
            return self._ticketmaster(now)
        if provider == "setlistfm" and self._setlistfm and not self._setlistfm.admit(now):
            return throttled("setlistfm", self.options)
        return None

    def _spotify(self, now: float) -> web.Response | None:
        calls = self._spotify_calls
        while calls and calls[0] <= now - SPOTIFY_WINDOW_S:
            calls.popleft()
        if len(calls) >= self._spotify_max:
            return throttled("spotify", self.options, math.ceil(calls[0] + SPOTIFY_WINDOW_S - now))
        calls.append(now)
        return None

    def _ticketmaster(self, now: float) -> web.Response | None:
        if self.tm_reset_ms is None:
            self.tm_reset_ms = int(time.time() * 1000) + DAY_MS
        if self.tm_calls >= self.options.tm_daily_quota:
            key = self.options.tm_api_key
            fault = {"faultstring": f"Rate limit quota violation. Quota limit  exceeded. Identifier : {key}",
                     "detail": {"errorcode": "policies.ratelimit.QuotaViolation"}}
            return json_response({"fault": fault}, 429)
        if self._tm and not self._tm.admit(now):
            return throttled("ticketmaster", self.options)
        self.tm_calls += 1
        return None

    def tm_headers(self) -> dict[str, str]:
        """Quota headers Ticketmaster sends on 200s."""
        quota = self.options.tm_daily_quota
        return {
            "Rate-Limit": str(quota),
            "Rate-Limit-Available": str(max(0, quota - self.tm_calls)),
            "Rate-Limit-Over": str(max(0, self.tm_calls - quota)),
            "Rate-Limit-Reset": str(self.tm_reset_ms or 0),
        }

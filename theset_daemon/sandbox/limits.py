"""The providers' own rate limits, as the sandbox enforces them.

Spotify counts calls in a rolling 30 s window per app and answers 429 with
Retry-After in whole seconds. Ticketmaster smooths its per-second limit
(Apigee spike arrest: one call per 1/rate s) and counts a daily quota whose
state it reports in ``Rate-Limit-*`` headers on 200s; its 429s are Apigee
faults without Retry-After. setlist.fm is an AWS API Gateway token bucket of
capacity 1 answering a bare 429.

Daily quotas (:class:`DailyQuota`): a window opens with the first call after
the last one closed and lasts ``quota_window_s`` (a day; seconds in tests).
Every call the per-second limit admits counts, 4xx answers included. Spent:
Ticketmaster answers the QuotaViolation fault (its faultstring embeds the
key, as the real one does), setlist.fm the same bare 429 as its rate limit,
Spotify (``spotify_daily_quota`` > 0, development mode) a 429 with
``reason: QUOTA_EXCEEDED`` and Retry-After until the window's reset.
"""

from __future__ import annotations

import math
import time
from collections import deque

from aiohttp import web

from .faults import json_response, throttled
from .options import SandboxOptions

SPOTIFY_WINDOW_S = 30.0


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


class DailyQuota:
    """Calls per window; the window opens at its first call and closes ``window_s`` later.

    Attributes:
      calls: calls counted in the open window.
      reset_ms: when it closes (epoch ms), None before the first call.
      closed: ``(reset_ms, calls)`` of every closed window, oldest first.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_ms = int(window_s * 1000)
        self.calls = 0
        self.reset_ms: int | None = None
        self.closed: list[tuple[int, int]] = []

    def _roll(self, now_ms: int) -> None:
        if self.reset_ms is not None and now_ms >= self.reset_ms:
            self.closed.append((self.reset_ms, self.calls))
            self.calls, self.reset_ms = 0, None
        if self.reset_ms is None:
            self.reset_ms = now_ms + self.window_ms

    def spent(self, now_ms: int) -> bool:
        """True when the open window (opened now if none is) has no call left (a limit of 0: never)."""
        self._roll(now_ms)
        return self.limit > 0 and self.calls >= self.limit

    def admit(self, now_ms: int) -> bool:
        """Count a call if the window has one left."""
        if self.spent(now_ms):
            return False
        self.calls += 1
        return True

    def total(self) -> int:
        """Calls counted in every window so far."""
        return self.calls + sum(n for _, n in self.closed)


class Limits:
    """Per-provider admission; :meth:`check` returns the 429 to send, or None."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        rates = options.rate_limits
        self._spotify_calls: deque[float] = deque()
        self._spotify_max = max(1, round(rates.get("spotify", 0) * SPOTIFY_WINDOW_S))
        self._tm = _Smooth(rates["ticketmaster"], 0.5) if rates.get("ticketmaster") else None
        self._setlistfm = _Smooth(rates["setlistfm"], 0.1) if rates.get("setlistfm") else None
        window = options.quota_window_s
        self.quotas = {
            "ticketmaster": DailyQuota(options.tm_daily_quota, window),
            "setlistfm": DailyQuota(options.setlistfm_daily_quota, window),
            "spotify": DailyQuota(options.spotify_daily_quota, window),
        }

    def check(self, provider: str) -> web.Response | None:
        now = time.monotonic()
        if provider == "spotify":
            refused = self._spotify(now) if self.options.rate_limits.get("spotify") else None
            return refused or self._spotify_quota()
        if provider == "ticketmaster":
            return self._ticketmaster(now)
        if provider == "setlistfm":
            if self._setlistfm and not self._setlistfm.admit(now):
                return throttled("setlistfm", self.options)
            if not self.quotas["setlistfm"].admit(_now_ms()):
                return throttled("setlistfm", self.options)  # AWS answers a spent quota like a throttle
        return None

    def _spotify_quota(self) -> web.Response | None:
        quota = self.quotas["spotify"]
        if quota.limit <= 0 or quota.admit(_now_ms()):
            return None
        wait = math.ceil(((quota.reset_ms or 0) - _now_ms()) / 1000)
        body = {"error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}}
        return json_response(body, 429, {"Retry-After": str(max(1, wait))})

    def _spotify(self, now: float) -> web.Response | None:
        calls = self._spotify_calls
        while calls and calls[0] <= now - SPOTIFY_WINDOW_S:
            calls.popleft()
        if len(calls) >= self._spotify_max:
            return throttled("spotify", self.options, math.ceil(calls[0] + SPOTIFY_WINDOW_S - now))
        calls.append(now)
        return None

    def _ticketmaster(self, now: float) -> web.Response | None:
        quota = self.quotas["ticketmaster"]
        if quota.spent(_now_ms()):
            key = self.options.tm_api_key
            fault = {"faultstring": f"Rate limit quota violation. Quota limit  exceeded. Identifier : {key}",
                     "detail": {"errorcode": "policies.ratelimit.QuotaViolation"}}
            return json_response({"fault": fault}, 429)
        if self._tm and not self._tm.admit(now):
            return throttled("ticketmaster", self.options)
        quota.admit(_now_ms())
        return None

    @property
    def tm_calls(self) -> int:
        """Ticketmaster calls counted in the open window."""
        return self.quotas["ticketmaster"].calls

    def tm_headers(self) -> dict[str, str]:
        """Quota headers Ticketmaster sends on 200s."""
        quota = self.quotas["ticketmaster"]
        return {
            "Rate-Limit": str(quota.limit),
            "Rate-Limit-Available": str(max(0, quota.limit - quota.calls)),
            "Rate-Limit-Over": str(max(0, quota.calls - quota.limit)),
            "Rate-Limit-Reset": str(quota.reset_ms or 0),
        }


def _now_ms() -> int:
    return int(time.time() * 1000)

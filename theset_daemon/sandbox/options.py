"""The sandbox's options, shared by the CLI (``theset-daemon sandbox``) and tests."""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass, field

PROVIDERS = ("spotify", "ticketmaster", "setlistfm")
#: Faults --fault-rate draws from.
FAULT_KINDS = ("500", "503", "timeout", "truncated", "429")
SPOTIFY_PROFILES = ("extended", "dev-2024", "dev-2026")


@dataclass(frozen=True)
class SandboxOptions:
    """How the sandbox behaves.

    Parameters:
      seed: the data generator's seed.
      anchor: "today" of the generated data (default: the current UTC date).
      latency_ms, jitter_ms: added to every API answer (uniform jitter, milliseconds).
      fault_rate: share of API requests (0-1) answered with a fault drawn from ``faults``.
      faults: the fault kinds to draw from (500, 503, timeout, truncated, 429).
      burst: consecutive 429s per drawn ``429`` fault (a burst).
      rate_limits: requests per second per provider (missing or 0: unlimited). Spotify
        counts a rolling 30 s window, Ticketmaster arrests spikes, setlist.fm keeps a
        one-token bucket.
      spotify_profile: ``extended``, ``dev-2024`` or ``dev-2026`` access.
      token_ttl: lifetime of Spotify access tokens in seconds.
      retry_after_s: Retry-After of Spotify's injected 429s, in seconds.
      hang_s: how long a ``timeout`` fault holds the request, in seconds.
      tm_daily_quota: Ticketmaster calls per key per day.
      setlistfm_daily_quota: setlist.fm calls per key per day.
      spotify_daily_quota: Spotify calls per day before QUOTA_EXCEEDED (0: none, as extended mode).
      quota_window_s: the daily quotas' window in seconds (from its first call; short in tests).
      tm_strict_paging: refuse ``page * size >= 1000`` (the documented rule) instead of ``> 1000``.
      client_id, client_secret, tm_api_key, setlistfm_api_key: the credentials accepted.
    """

    seed: int = 1
    anchor: dt.date | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    burst: int = 3
    rate_limits: dict[str, float] = field(default_factory=dict)
    spotify_profile: str = "extended"
    token_ttl: float = 3600.0
    retry_after_s: int = 1
    hang_s: float = 30.0
    tm_daily_quota: int = 5000
    setlistfm_daily_quota: int = 1440
    spotify_daily_quota: int = 0
    quota_window_s: float = 86_400.0
    tm_strict_paging: bool = False
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    tm_api_key: str = "sandbox-ticketmaster-key"
    setlistfm_api_key: str = "sandbox-setlistfm-key"

    def __post_init__(self) -> None:
        if self.spotify_profile not in SPOTIFY_PROFILES:
            raise ValueError(f"spotify_profile: one of {', '.join(SPOTIFY_PROFILES)}")
        if self.quota_window_s <= 0:
            raise ValueError("quota_window_s: a positive number of seconds")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError("fault_rate: a share between 0 and 1")
        unknown = set(self.faults) - set(FAULT_KINDS) | set(self.rate_limits) - set(PROVIDERS)
        if unknown:
            raise ValueError(f"unknown fault kinds or providers: {sorted(unknown)}")


def _rate(text: str) -> tuple[str, float]:
    provider, _, rate = text.partition("=")
    if provider not in PROVIDERS or not rate:
        raise argparse.ArgumentTypeError(f"PROVIDER=RATE with PROVIDER one of {', '.join(PROVIDERS)}")
    return provider, float(rate)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="theset-daemon sandbox", description="Serve Spotify, Ticketmaster and setlist.fm locally.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8099)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--anchor", type=dt.date.fromisoformat, default=None, help="today of the data, YYYY-MM-DD")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered with a fault")
    p.add_argument("--faults", default=",".join(FAULT_KINDS), help="fault kinds to draw from")
    p.add_argument("--rate-limit", type=_rate, action="append", default=[], metavar="PROVIDER=RATE",
                   help="requests/s, e.g. ticketmaster=5 (repeatable)")
    p.add_argument("--spotify-profile", choices=SPOTIFY_PROFILES, default="extended")
    p.add_argument("--token-ttl", type=float, default=3600.0)
    p.add_argument("--retry-after", type=int, default=1, help="Retry-After of injected Spotify 429s, seconds")
    p.add_argument("--tm-daily-quota", type=int, default=5000)
    p.add_argument("--setlistfm-daily-quota", type=int, default=1440)
    p.add_argument("--spotify-daily-quota", type=int, default=0, help="0: no quota (extended mode)")
    p.add_argument("--quota-window", type=float, default=86_400.0, help="the daily quotas' window, seconds")
    p.add_argument("--tm-strict-paging", action="store_true")
    return p


def from_args(args: argparse.Namespace) -> SandboxOptions:
    return SandboxOptions(
        seed=args.seed,
        anchor=args.anchor,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        fault_rate=args.fault_rate,
        faults=tuple(k for k in args.faults.split(",") if k),
        rate_limits=dict(args.rate_limit),
        spotify_profile=args.spotify_profile,
        token_ttl=args.token_ttl,
        retry_after_s=args.retry_after,
        tm_daily_quota=args.tm_daily_quota,
        setlistfm_daily_quota=args.setlistfm_daily_quota,
        spotify_daily_quota=args.spotify_daily_quota,
        quota_window_s=args.quota_window,
        tm_strict_paging=args.tm_strict_paging,
    )

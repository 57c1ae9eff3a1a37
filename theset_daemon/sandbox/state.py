"""The sandbox's mutable state: issued tokens, the request log, faults, limits."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from aiohttp import web

from .data import World
from .faults import FaultPlan
from .limits import Limits
from .options import SandboxOptions
from .truth import Truth


@dataclass(frozen=True)
class Logged:
    """One request the sandbox answered (``at`` is time.monotonic())."""

    provider: str
    route: str
    status: int
    at: float
    query: str = ""


class Tokens:
    """Spotify access tokens issued by the sandbox, each with its expiry."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = "BQ" + secrets.token_urlsafe(48)
        self._expiry[token] = time.monotonic() + self.ttl
        return token

    def check(self, token: str) -> str | None:
        """None if valid, else why not: ``expired`` or ``invalid``."""
        expiry = self._expiry.get(token)
        if expiry is None:
            return "invalid"
        return "expired" if time.monotonic() >= expiry else None

    def expire_all(self) -> None:
        """Make every issued token expired now (the next API call answers 401)."""
        self._expiry = {token: 0.0 for token in self._expiry}

    @property
    def issued(self) -> int:
        return len(self._expiry)


@dataclass
class SandboxState:
    options: SandboxOptions
    world: World
    truth: Truth
    tokens: Tokens
    faults: FaultPlan
    limits: Limits
    log: list[Logged] = field(default_factory=list)
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @classmethod
    def create(cls, options: SandboxOptions) -> SandboxState:
        world = World(options.seed, options.anchor)
        return cls(options, world, Truth(world), Tokens(options.token_ttl), FaultPlan(options), Limits(options))

    def record(self, entry: Logged) -> None:
        """Log an answered request and wake whoever waits on the log."""
        self.log.append(entry)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, predicate: Callable[[list[Logged]], bool], timeout: float = 10.0) -> None:
        """Return once ``predicate(log)`` holds, re-checked after each logged request."""
        async with asyncio.timeout(timeout):
            while not predicate(self.log):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

    def requests(self, provider: str | None = None, route: str | None = None) -> list[Logged]:
        """Logged requests, filtered by provider and route template."""
        return [e for e in self.log if (provider is None or e.provider == provider) and (route is None or e.route == route)]


STATE = web.AppKey("sandbox_state", SandboxState)

"""The sandbox server: one aiohttp app serving all three provider APIs.

Paths (``{base}`` is e.g. ``http://127.0.0.1:8099``):

* Spotify API ``{base}/spotify/v1``, accounts ``{base}/spotify-accounts`` (token at ``/api/token``);
* Ticketmaster ``{base}/ticketmaster/discovery/v2``;
* setlist.fm ``{base}/setlistfm/rest/1.0``;
* the providers' websites and images their payloads link to, ``{base}/web/...`` and
  ``{base}/images/...`` (:mod:`.links`): no payload names any host but the sandbox's own;
* ``{base}/sandbox/quotas``: the daily quotas as the sandbox counts them (for tests and benches).

Every request passes latency, fault injection and the provider's rate limit
before its handler, and is recorded in the request log tests read.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from aiohttp import web

from . import links, setlistfm_api, spotify_api, ticketmaster_api
from .data import World
from .faults import FaultPlan, json_response, server_error, throttled, truncated
from .options import PROVIDERS, SandboxOptions, from_args, parser
from .state import STATE, Logged, SandboxState
from .truth import Truth

_PREFIXES = (
    (spotify_api.ACCOUNTS_PREFIX, "spotify-accounts"),
    (spotify_api.PREFIX, "spotify"),
    (ticketmaster_api.PREFIX, "ticketmaster"),
    (setlistfm_api.PREFIX, "setlistfm"),
)


def provider_of(path: str) -> str | None:
    return next((name for prefix, name in _PREFIXES if path.startswith(prefix)), None)


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else request.path


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Latency, faults and rate limits before the handler; the request log after."""
    state = request.app[STATE]
    provider = provider_of(request.path) or "other"
    links.ORIGIN.set(str(request.url.origin()))
    arrived = time.monotonic()
    await state.faults.latency()
    response = await _answer(request, handler, state, provider)
    state.record(Logged(provider, _route(request), response.status, arrived, request.query_string))
    return response


async def _answer(request: web.Request, handler: Any, state: SandboxState, provider: str) -> web.StreamResponse:
    kind = state.faults.draw(provider) if provider in PROVIDERS else None
    if kind in ("500", "503"):
        return server_error(provider, int(kind))
    if kind == "429":
        return throttled(provider, state.options)
    if kind == "timeout":
        await asyncio.sleep(state.options.hang_s)
    refused = state.limits.check(provider) if provider in PROVIDERS else None
    if refused is not None:
        return refused
    response = await handler(request)
    if kind == "truncated" and isinstance(response, web.Response):
        return truncated(response)
    if provider == "ticketmaster" and response.status == 200:
        response.headers.update(state.limits.tm_headers())
    return response


async def quotas(request: web.Request) -> web.Response:
    """``GET /sandbox/quotas``: per provider, its limit, the open window and the closed ones."""
    limits = request.app[STATE].limits
    return json_response({
        name: {"limit": q.limit, "calls": q.calls, "resetAt": q.reset_ms, "total": q.total(),
               "closed": [{"resetAt": reset, "calls": calls} for reset, calls in q.closed]}
        for name, q in limits.quotas.items()
    })


def create_app(state: SandboxState) -> web.Application:
    """The sandbox app over ``state`` (one route table for the three APIs)."""
    app = web.Application(
        middlewares=[sandbox_middleware, spotify_api.errors, ticketmaster_api.errors, setlistfm_api.errors]
    )
    app[STATE] = state
    app.add_routes([*spotify_api.routes(), *ticketmaster_api.routes(), *setlistfm_api.routes(), *links.routes(),
                    web.get("/sandbox/quotas", quotas)])
    return app


class Sandbox:
    """The generated world and its ground truth, without a server.

    ``Sandbox(seed).truth.artist(tm_id)`` gives what a sync of that act should find.
    """

    def __init__(self, seed: int = 1, anchor: Any = None) -> None:
        self.world = World(seed, anchor)
        self.truth = Truth(self.world)


@dataclass
class RunningSandbox:
    """A sandbox serving on ``base_url``, with its state open to the test that runs it."""

    base_url: str
    state: SandboxState

    @property
    def truth(self) -> Truth:
        return self.state.truth

    @property
    def world(self) -> World:
        return self.state.world

    @property
    def options(self) -> SandboxOptions:
        return self.state.options

    @property
    def faults(self) -> FaultPlan:
        """``sb.faults.force("spotify", "503", times=2)`` fails the next two Spotify calls."""
        return self.state.faults

    def requests(self, provider: str | None = None, route: str | None = None) -> list[Logged]:
        """Requests answered so far, by provider (``spotify``...) and route template."""
        return self.state.requests(provider, route)

    async def wait_for(self, predicate: Callable[[list[Logged]], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate(request_log)`` holds (checked after every answered request)."""
        await self.state.wait_for(predicate, timeout)

    def expire_tokens(self) -> None:
        """Expire every Spotify token issued so far (the next call with one answers 401)."""
        self.state.tokens.expire_all()

    def settings_env(self) -> dict[str, str]:
        """THESET_* variables pointing the daemon's clients at this sandbox, with its credentials."""
        o = self.options
        return {
            # The sandbox serves its payloads' images itself, on loopback.
            "THESET_ALLOW_PRIVATE_FETCH": "true",
            "THESET_SPOTIFY_API_URL": f"{self.base_url}{spotify_api.PREFIX}",
            "THESET_SPOTIFY_ACCOUNTS_URL": f"{self.base_url}{spotify_api.ACCOUNTS_PREFIX}",
            "THESET_SPOTIFY_CLIENT_ID": o.client_id,
            "THESET_SPOTIFY_CLIENT_SECRET": o.client_secret,
            "THESET_TICKETMASTER_API_URL": f"{self.base_url}{ticketmaster_api.PREFIX}",
            "THESET_TICKETMASTER_API_KEY": o.tm_api_key,
            "THESET_SETLISTFM_API_URL": f"{self.base_url}{setlistfm_api.PREFIX}",
            "THESET_SETLISTFM_API_KEY": o.setlistfm_api_key,
        }


@asynccontextmanager
async def run_sandbox(port: int = 0, host: str = "127.0.0.1", **options: Any) -> AsyncIterator[RunningSandbox]:
    """Serve a sandbox on this event loop for the duration of the block (port 0: any free port).

    ``options`` are :class:`SandboxOptions` fields (seed, latency_ms, fault_rate, spotify_profile ...).
    """
    state = SandboxState.create(SandboxOptions(**options))
    runner = web.AppRunner(create_app(state), handler_cancellation=True, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    try:
        yield RunningSandbox(f"http://{host}:{bound}", state)
    finally:
        await runner.cleanup()


async def serve(options: SandboxOptions, host: str = "127.0.0.1", port: int = 8099) -> None:
    """Serve until SIGINT or SIGTERM, printing the THESET_* variables that point at the sandbox."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with run_sandbox(port, host, **options.__dict__) as sandbox:
        truth = sandbox.truth
        print(f"sandbox serving on {sandbox.base_url} (seed {options.seed}, spotify profile {options.spotify_profile})")
        print(f"demo attraction {truth.demo_attraction_id}; big catalogue {truth.big_catalogue_attraction_id}; "
              f"big events {truth.big_events_attraction_id}")
        for name, value in sandbox.settings_env().items():
            print(f"{name}={value}")
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """``theset-daemon sandbox [options]``: run the sandbox in the foreground; exit status."""
    args = parser().parse_args(argv)
    try:
        options = from_args(args)
    except ValueError as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(options, args.host, args.port))
    return 0

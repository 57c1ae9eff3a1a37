"""The side server refuses to be held by connections that send nothing useful.

aiohttp closes a connection that has not sent a complete request within its
``keepalive_timeout`` of opening or of its last response (the daemon passes
``THESET_HTTP_IDLE_TIMEOUT``, 15 s, instead of aiohttp's 3,630 s): that is the
header timeout and the idle timeout in one. Within that window a crowd of slow
clients (partial headers, idle keep-alives) could still pile up, so
:class:`ConnectionGuard` keeps at most ``max_idle`` connections that are not
inside a request and closes the oldest beyond that: a probe that sends its
request at once (``/readyz``) always gets through, the slowest connections go
first, and a request being served (an SSE stream included) is never cut.
``max_per_peer`` (0 = off) refuses a client address more connections than
that; behind a load balancer every connection comes from the balancer, so
leave it off there and cap per client at the proxy (README).

Wiring::

    guard = ConnectionGuard(max_idle=1024)
    app = web.Application(middlewares=[guard.middleware, ...])
    runner = web.AppRunner(app, keepalive_timeout=15)
    await runner.setup()
    guard.attach(runner.server)
"""

from __future__ import annotations

import logging
import resource
from collections import Counter, OrderedDict
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..runtime.log_throttle import ThrottledLog

logger = logging.getLogger(__name__)


class ConnectionGuard:
    """Bound the connections not inside a request (oldest closed first) and, optionally, per peer.

    Parameters:
      max_idle: connections waiting for (the rest of) a request kept open at most.
      max_per_peer: connections per client address (0: no cap).
    """

    def __init__(self, max_idle: int, max_per_peer: int = 0) -> None:
        self.max_idle = max_idle
        self.max_per_peer = max_per_peer
        self.evicted = 0
        self.refused = 0
        self._idle: OrderedDict[RequestHandler, None] = OrderedDict()
        self._busy: Counter[RequestHandler] = Counter()
        self._peer_of: dict[RequestHandler, str] = {}
        self._peers: Counter[str] = Counter()
        self._log = ThrottledLog(logger)

    @property
    def idle(self) -> int:
        """Open connections not inside a request."""
        return len(self._idle)

    def attach(self, server: web.Server) -> None:
        """Watch every connection ``server`` (``AppRunner.server`` after ``setup()``) accepts."""
        made, lost = server.connection_made, server.connection_lost

        def connection_made(handler: RequestHandler, transport: Any) -> None:
            made(handler, transport)
            self.opened(handler, transport)

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            self.closed(handler)
            lost(handler, exc)

        server.connection_made = connection_made  # type: ignore[method-assign]
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    def opened(self, handler: RequestHandler, transport: Any) -> None:
        peername = transport.get_extra_info("peername")
        peer = str(peername[0]) if isinstance(peername, (tuple, list)) and peername else "?"
        if self.max_per_peer and self._peers[peer] >= self.max_per_peer:
            self.refused += 1
            self._log.warning(f"peer:{peer}", "refused a connection from %s: %d open already", peer, self.max_per_peer)
            handler.force_close()
            return
        self._peer_of[handler] = peer
        self._peers[peer] += 1
        self._idle[handler] = None
        while len(self._idle) > self.max_idle:
            oldest, _ = self._idle.popitem(last=False)
            self.evicted += 1
            self._log.warning("evict", "closed the oldest of %d idle connections (no complete request)", self.max_idle + 1)
            oldest.force_close()

    def closed(self, handler: RequestHandler) -> None:
        self._idle.pop(handler, None)
        self._busy.pop(handler, None)
        peer = self._peer_of.pop(handler, None)
        if peer is not None:
            self._peers[peer] -= 1
            if self._peers[peer] <= 0:
                del self._peers[peer]

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Mark the connection busy while its request is served (never evicted then)."""
        protocol = request.protocol
        self._idle.pop(protocol, None)
        self._busy[protocol] += 1
        try:
            return await handler(request)
        finally:
            self._busy[protocol] -= 1
            if self._busy[protocol] <= 0:
                del self._busy[protocol]
                if protocol in self._peer_of:  # still open: idle again, the newest
                    self._idle[protocol] = None


def raise_open_files_limit(wanted: int = 65536) -> int:
    """Raise this process's soft limit on open files towards ``wanted`` (never above the hard limit).

    Every connection and SSE stream is a descriptor; the usual soft limit (1,024)
    would make the daemon refuse ``/readyz`` long before its stream cap. Returns the new soft limit.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open-files limit from %d to %d: %s", soft, target, exc)
    return soft

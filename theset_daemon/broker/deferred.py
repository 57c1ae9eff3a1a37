"""Work a middleware hook or an async actor starts on the loop without blocking it.

Dramatiq's middleware (Pipelines, Callbacks, GroupCallbacks, Results) call
``broker.enqueue`` or a result backend from their hooks, which are blocking
calls. On the worker's loop the broker turns such an enqueue into a task
(:func:`defer`), and :func:`off_loop` runs any other blocking hook body in a
thread. The worker awaits everything deferred during an attempt
(:func:`settle`) before it records the attempt's outcome, so a follow-up is
in Redis before its job is marked done (at-least-once, as in Dramatiq).
Outside a job (a hook on the loop, no attempt running) the task runs in the
background and a failure is logged.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Awaitable, Callable

logger = logging.getLogger(__name__)

_pending: contextvars.ContextVar[list[asyncio.Future] | None] = contextvars.ContextVar(
    "theset_deferred", default=None
)
_background: set[asyncio.Future] = set()


def on_loop() -> bool:
    """Whether this thread is running an event loop (a blocking call here would stall it)."""
    return asyncio._get_running_loop() is not None


def defer(awaitable: Awaitable[Any]) -> None:
    """Run ``awaitable`` on this thread's loop; the current attempt waits for it before finishing."""
    future = asyncio.ensure_future(awaitable)
    pending = _pending.get()
    if pending is not None:
        pending.append(future)
    else:
        _background.add(future)
        future.add_done_callback(_background_done)


def off_loop(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call blocking ``fn`` now when off the loop, else in a thread awaited by the attempt."""
    if on_loop():
        defer(asyncio.to_thread(fn, *args, **kwargs))
    else:
        fn(*args, **kwargs)


def collect() -> tuple[list[asyncio.Future], contextvars.Token]:
    """Start collecting deferred work for one attempt; pass both to :func:`settle`."""
    pending: list[asyncio.Future] = []
    return pending, _pending.set(pending)


def release(token: contextvars.Token) -> None:
    """End collecting when nothing was deferred (``settle`` without an await)."""
    _pending.reset(token)


async def settle(pending: list[asyncio.Future], token: contextvars.Token) -> None:
    """Wait for the attempt's deferred work (including work it deferred in turn); log failures."""
    try:
        while pending:
            batch = pending[:]
            del pending[:]
            for outcome in await asyncio.gather(*batch, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    logger.error("deferred follow-up failed: %r", outcome)
    finally:
        _pending.reset(token)


def _background_done(future: asyncio.Future) -> None:
    _background.discard(future)
    if not future.cancelled() and future.exception() is not None:
        logger.error("deferred follow-up failed: %r", future.exception())

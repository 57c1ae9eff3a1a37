"""What each phase of an import does, as plain async functions.

Each takes the provider clients, a database pool and plain values, and returns
the counts it reports; none knows about the broker. The actors in ``actors/``
call them inside a :class:`~theset_daemon.imports.run.PhaseRun`.
"""

from typing import Any, Awaitable, Callable

#: ``await report(fraction 0..1, message, counts)`` — how a phase moves the progress bar.
Report = Callable[[float, str, "dict[str, Any] | None"], Awaitable[None]]


async def no_report(fraction: float, message: str, counts: "dict[str, Any] | None" = None) -> None:
    """The reporter of a phase run outside an import (recurring syncs, tests)."""

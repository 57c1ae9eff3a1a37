"""An import fails when one of its phases is dead-lettered.

Retries are the broker's business; only when a phase's message goes to the
dead letters (attempts exhausted, or a permanent error such as an unknown
attraction id) is the import over. Dramatiq's ``after_nack`` hook says so.
"""

from __future__ import annotations

import asyncio
import logging

import dramatiq
from dramatiq.broker import MessageProxy

from .context import resources
from .import_plan import PHASES

logger = logging.getLogger(__name__)

_PHASE_OF_ACTOR = {p.actor: p.name for p in PHASES}


class ImportFailures(dramatiq.Middleware):
    """Mark the import failed, with the reason, when a phase's message is dead-lettered."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def after_nack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        import_id = message.kwargs.get("import_id")
        phase = _PHASE_OF_ACTOR.get(message.actor_name)
        if not import_id or phase is None:
            return
        exc = message._exception
        error = f"{phase}: {type(exc).__name__}: {exc}" if exc is not None else f"{phase}: dead-lettered"
        task = asyncio.get_running_loop().create_task(self._fail(import_id, phase, error[:500]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fail(self, import_id: str, phase: str, error: str) -> None:
        from .phase_run import fail_import

        try:
            await fail_import(resources(), import_id, phase, error)
        except Exception:
            logger.exception("could not mark import failed", extra={"import_id": import_id})

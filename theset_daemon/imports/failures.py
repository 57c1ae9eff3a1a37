"""An import fails when one of its phases is dead-lettered.

Retries are the broker's business; only when a phase's message goes to the
dead letters (attempts exhausted, or a permanent error such as an unknown
attraction id) is the import over. Dramatiq's ``after_nack`` hook says so, with
the failure's stable code (:func:`~theset_daemon.imports.errors.failure_of`).
An unknown attraction never gets here: phase 1 answers it ``not_found``
itself (:meth:`~theset_daemon.imports.run.PhaseRun.fail`).
"""

from __future__ import annotations

import asyncio
import logging

import dramatiq
from dramatiq.broker import MessageProxy

from ..runtime.resources import resources
from .errors import ImportFailure, failure_of
from .plan import PHASES
from .run import fail_import

logger = logging.getLogger(__name__)

_PHASE_OF_ACTOR = {p.job.actor: p.name for p in PHASES}


class ImportFailures(dramatiq.Middleware):
    """Mark the import failed, with the reason, when a phase's message is dead-lettered."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def after_nack(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        import_id = message.kwargs.get("import_id")
        phase = _PHASE_OF_ACTOR.get(message.actor_name)
        if not import_id or phase is None:
            return
        failure = failure_of(message._exception, phase)
        task = asyncio.get_running_loop().create_task(self._fail(import_id, phase, failure))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fail(self, import_id: str, phase: str, error: ImportFailure) -> None:
        try:
            await fail_import(resources(), import_id, phase, error)
        except Exception:
            logger.exception("could not mark import failed", extra={"import_id": import_id})

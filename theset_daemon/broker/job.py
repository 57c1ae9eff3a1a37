"""The job an actor is running, visible to it through :func:`current_job`."""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from dramatiq import Message

if TYPE_CHECKING:
    from .records import Recorder

#: Longest log line kept, in characters.
LOG_LINE_MAX = 2000


@dataclass(eq=False, slots=True)
class Job:
    """One fetched attempt of a job.

    Attributes:
      job_id: the job's id (the message's ``job_id`` option, else its message id).
      queue: the queue it was fetched from.
      priority: 0 (CRITICAL) .. 4 (BACKGROUND).
      attempt: this attempt's number, 1-based; an interrupted attempt is not counted.
      token: the lease token of this attempt (finish records carry it).
      message: the Dramatiq message.
    """

    job_id: str
    queue: str
    priority: int
    attempt: int
    token: str
    message: Message
    recorder: "Recorder | None" = field(default=None, repr=False)
    handing_back: bool = field(default=False, repr=False)

    def progress(self, value: Any) -> None:
        """Record the job's progress (a number, a string or JSON-able value) in its job record.

        Written in the next batch to Redis; never blocks the loop.
        """
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if self.recorder is not None:
            self.recorder.add("progress", self.job_id, self.token, text)

    def log(self, text: str) -> None:
        """Add a line to the job's log (BullMQ's ``job.log``), kept in its record with the same retention.

        Each line carries the time (ms, this host's clock) and the attempt; lines
        longer than :data:`LOG_LINE_MAX` characters are cut. The record keeps the
        newest 32 KiB of lines (``logsDropped`` counts the ones let go). Written
        in the next batch to Redis; never blocks the loop; safe from an actor's thread.
        """
        if self.recorder is None:
            return
        text = str(text)
        if len(text) > LOG_LINE_MAX:
            text = text[: LOG_LINE_MAX - 1] + "…"
        line = orjson.dumps({"at": int(time.time() * 1000), "attempt": self.attempt, "text": text}).decode()
        self.recorder.add("log", self.job_id, self.token, line)


_current: contextvars.ContextVar[Job | None] = contextvars.ContextVar("theset_current_job", default=None)
#: The context of the job running in this task (job id, queue, actor, chosen kwargs), set by the
#: worker; the daemon's JSON log lines carry it.
job_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("job_context", default={})


def current_job() -> Job | None:
    """The job running in this task (or this actor's thread), or None outside a job."""
    return _current.get()

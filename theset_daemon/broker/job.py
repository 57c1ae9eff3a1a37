"""The job an actor is running, visible to it through :func:`current_job`."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from dramatiq import Message

if TYPE_CHECKING:
    from .records import Recorder


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


_current: contextvars.ContextVar[Job | None] = contextvars.ContextVar("theset_current_job", default=None)


def current_job() -> Job | None:
    """The job running in this task (or this actor's thread), or None outside a job."""
    return _current.get()

"""Logs as one JSON object per line on stdout (journald), with job context.

The job id, queue, actor and import id of the code running are carried in
context variables, so every line logged while a job runs names them without
the caller passing them around. Configured secrets are scrubbed from every line,
and so is the API key a Ticketmaster quota fault embeds ("Identifier : <key>"),
configured or not.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from typing import Any, Iterable

import orjson

#: The context of the job running in this task, set by the worker.
job_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("job_context", default={})

#: Apigee's quota faultstring names the caller's key after "Identifier : ".
_FAULT_IDENTIFIER = re.compile(r"(Identifier\s*:\s*)[^\s\\\"']+")

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: ts, level, logger, message, context, extras."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= 4)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(job_context.get())
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        line = orjson.dumps(entry, default=str).decode()
        for secret in self.secrets:
            line = line.replace(secret, "********")
        return _FAULT_IDENTIFIER.sub(r"\g<1>********", line)


def setup(level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Send every log record to stdout as JSON lines; idempotent."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime

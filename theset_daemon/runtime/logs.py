"""Logs as one JSON object per line on stdout (journald), with job context.

The job id, queue, actor and import id of the code running are carried in
context variables, so every line logged while a job runs names them without
the caller passing them around. Every value is masked (:mod:`.masking`: configured
secrets, URL credentials and secret query values, secret-named fields) before it is
JSON-encoded, so escaping cannot hide a secret from the scrubber.

When the stream is systemd's journal (``JOURNAL_STREAM`` names its device and
inode), each line starts with the syslog priority prefix ``<N>``, which journald
strips and records as the entry's priority (``journalctl -p warning`` works);
anywhere else the lines are plain JSON.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Iterable, Mapping, TextIO

import orjson

from ..broker.job import job_context
from .masking import Masker

#: syslog(3) priorities journald reads from a ``<N>`` line prefix.
SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line: ts, level, logger, message, context, extras."""

    def __init__(self, secrets: Iterable[str] = (), *, journal: bool = False) -> None:
        super().__init__()
        self.masker = Masker(secrets)
        self.journal = journal

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
        line = orjson.dumps(self.masker.value(entry), default=self._text).decode()
        if self.journal:
            return f"<{SYSLOG_PRIORITY.get(record.levelno, 6)}>{line}"
        return line

    def _text(self, value: Any) -> str:
        return self.masker.text(str(value))


def is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``stream`` is connected to the journal: ``JOURNAL_STREAM`` is its ``device:inode``."""
    wanted = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # closed, or no file descriptor (pytest capture)
        return False
    return wanted == f"{stat.st_dev}:{stat.st_ino}"


def setup(level: str = "INFO", secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stdout) as JSON lines, ``<N>``-prefixed for the journal; idempotent."""
    stream = sys.stdout if stream is None else stream
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(secrets, journal=is_journal(stream)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.Formatter.converter = time.gmtime

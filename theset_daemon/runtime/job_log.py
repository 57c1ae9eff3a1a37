"""What the work decided, written to the running job's log (``current_job().log``).

Phases call :func:`note` with plain sentences ("12 tracks dropped: live album
'Alive 2007'", "setlist.fm artist matched: …"); the line lands in the job's
record, shown on the dashboard's job page and by ``theset-daemon jobs show``,
so an operator can answer "why is this song missing". Outside a job (tests,
scripts) a note only goes to the daemon's debug log.

:func:`counting_requests` counts the provider requests made inside it (each
page of a paged endpoint is one), so a phase can log the pages it fetched.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections import Counter
from collections.abc import Iterator

from ..broker import current_job

logger = logging.getLogger(__name__)

#: Most lines one :func:`note_each` call writes (the rest is summed up in one line).
MAX_ITEMS = 100

_requests: contextvars.ContextVar[Counter | None] = contextvars.ContextVar("theset_job_requests", default=None)


def note(text: str) -> None:
    """Add ``text`` to the running job's log (no-op outside a job)."""
    job = current_job()
    if job is not None:
        job.log(text)
    logger.debug(text)


def note_each(lines: list[str], what: str) -> None:
    """One note per line, at most :data:`MAX_ITEMS`; then "… and N more ``what``"."""
    for line in lines[:MAX_ITEMS]:
        note(line)
    if len(lines) > MAX_ITEMS:
        note(f"… and {len(lines) - MAX_ITEMS} more {what}")


@contextlib.contextmanager
def counting_requests() -> Iterator[Counter]:
    """Count provider requests by (provider, endpoint) made in this context (tasks it starts included)."""
    counts: Counter = Counter()
    token = _requests.set(counts)
    try:
        yield counts
    finally:
        _requests.reset(token)


def count_request(provider: str, endpoint: str) -> None:
    """Called by the provider client for each HTTP request sent."""
    counts = _requests.get()
    if counts is not None:
        counts[(provider, endpoint)] += 1


def requests_line(counts: Counter) -> str:
    """``provider requests: spotify /artists/{id}/albums ×3, …`` (sorted), or ``no provider requests``."""
    if not counts:
        return "no provider requests"
    parts = [f"{p} {e} ×{n}" for (p, e), n in sorted(counts.items())]
    return "provider requests (pages): " + ", ".join(parts)

"""A phase while PostgreSQL is away: postponed (no attempt spent), never failed for it.

Found by the chaos run (bench/chaos.py, PostgreSQL stopped for 30 s): every
phase that touched the database during the outage spent its three attempts
(2 s + 4 s backoff) on "Connection refused", went to the dead letters, and its
import failed, although nothing was wrong with the work.
"""

from __future__ import annotations

import asyncpg
import pytest

from theset_daemon.broker import Postpone
from theset_daemon.imports.run import DatabaseAway, PhaseRun
from theset_daemon.providers.errors import ProviderUnavailable


class _Pool:
    """A pool whose every acquire fails the way asyncpg does when the server is down."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def acquire(self):
        raise self.exc


class _Res:
    def __init__(self, pool) -> None:
        self.pool = pool


@pytest.mark.parametrize("exc", [
    ConnectionRefusedError(111, "Connection refused"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed, [Errno 99] Cannot assign requested address"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
])
async def test_starting_a_phase_while_postgres_is_down_postpones_it(exc) -> None:
    with pytest.raises(Postpone) as raised:
        async with PhaseRun(_Res(_Pool(exc)), "6d1f3c1e-0000-4000-8000-000000000001", "catalog", "a1"):
            pass
    assert isinstance(raised.value, DatabaseAway) and raised.value.delay_ms > 0


@pytest.mark.parametrize("exc", [
    asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionResetError(104, "Connection reset by peer"),
])
async def test_losing_postgres_inside_a_recurring_sync_postpones_it(exc) -> None:
    with pytest.raises(DatabaseAway):
        async with PhaseRun(_Res(None), None, "shows"):
            raise exc


@pytest.mark.parametrize("exc", [
    ValueError("a bug"),
    ProviderUnavailable("ticketmaster", "/events", 503, "on every attempt"),
    TimeoutError(),
])
async def test_other_failures_are_still_failures(exc) -> None:
    with pytest.raises(type(exc)):
        async with PhaseRun(_Res(None), None, "shows"):
            raise exc

"""Refusals retrying cannot cure: a dependency answering "no" to the configuration itself.

A wrong Redis password or ACL user, a Redis db index out of range, an unknown
PostgreSQL role or database: the daemon stops its start with one line naming
the variable and the host (never the password) and exit status 78, instead of
retrying every second. A refused connection or a timeout is not one of these.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import asyncpg

from ..broker import connection
from .config import ConfigError, Settings

_POSTGRES = {
    asyncpg.InvalidPasswordError: "the password was refused",
    asyncpg.InvalidAuthorizationSpecificationError: "the role was refused",
    asyncpg.InvalidCatalogNameError: "the database does not exist",
    asyncpg.InsufficientPrivilegeError: "the role lacks a privilege the daemon needs",
}


class DependencyRefused(ConfigError):
    """PostgreSQL or Redis refuses the configured credentials or database."""

    def __init__(self, variable: str, reason: str, where: str) -> None:
        self.variable = variable
        self.expected = reason
        ValueError.__init__(self, f"{variable}: {reason} at {where}")


def postgres_where(url: str) -> str:
    """``host:port/database`` of a PostgreSQL URL (no user, no password)."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


def dependency_refusal(exc: BaseException, settings: Settings, where: str) -> DependencyRefused | None:
    """The refusal ``exc`` (or an exception it was raised from) stands for, else None."""
    cause: BaseException | None = exc
    while cause is not None:
        for kind, reason in _POSTGRES.items():
            if isinstance(cause, kind):
                return DependencyRefused("THESET_DATABASE_URL", f"{reason} ({cause})", where)
        reason = connection.permanent_reason(cause)
        if reason is not None:
            variable = "THESET_REDIS_PASSWORD" if "authentication" in reason and settings.redis_password else "THESET_REDIS_URL"
            return DependencyRefused(variable, reason, where)
        cause = cause.__cause__ or cause.__context__
    return None

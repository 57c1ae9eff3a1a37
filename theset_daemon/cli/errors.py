"""What the ``theset-daemon`` command says when a command fails because of its surroundings.

:func:`explain` turns the exceptions a user can cause (Redis or PostgreSQL not
answering, a wrong URL or password, a missing database, a port in use, a
refused token) into one :class:`Failure`: a sentence naming the cause and the
variable or flag to look at. :func:`report` prints it as one line, or as a JSON
object under ``--json`` (``{"error": code, "message", "variable", "status"}``, the
HTTP API's error shape plus the variable). Tracebacks are for ``--debug`` only.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import urlparse

import asyncpg
import orjson
import redis.exceptions

from ..runtime import config
from ..store.migrate import MigrationError
from .follow import KickoffRefused


@dataclass
class Failure(Exception):
    """A failed command, explained: a stable ``code`` (``redis_unavailable``, ``database_missing`` ...),
    a ``message`` naming the cause, the ``variable`` or flag to change, the exit ``status``."""

    code: str
    message: str
    variable: str | None = None
    status: int = 1

    def __str__(self) -> str:
        named = not self.variable or self.variable in self.message
        return self.message + ("" if named else f" ({self.variable})")


def report(failure: Failure, *, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print ``failure`` on stderr (one line, or JSON); return its exit status."""
    out = sys.stderr if out is None else out
    if as_json:
        body = {"error": failure.code, "message": failure.message, "variable": failure.variable,
                "status": failure.status}
        out.write(orjson.dumps(body).decode() + "\n")
    else:
        out.write(f"theset-daemon: {failure}\n")
    out.flush()
    return failure.status


def explain(exc: BaseException, port_flag: str = "THESET_HTTP_PORT") -> Failure:
    """The one-line account of ``exc``; an unexpected error still gets one line (and the hint to use --debug).

    ``port_flag`` names what sets the port the failed command listened on.
    """
    if isinstance(exc, Failure):
        return exc
    for check in (_redis, _postgres, _listen, _daemon):
        found = check(exc, port_flag)
        if found is not None:
            return found
    return Failure("unexpected", f"unexpected {type(exc).__name__}: {reason(exc)}; run with --debug for the traceback")


def _configured(name: str) -> str:
    """The configured value of a URL setting (its default when the configuration itself is wrong)."""
    try:
        return getattr(config.load(), name)
    except config.ConfigError:
        return config.VARIABLES[name].default


def _where(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return parsed.path
    return f"{parsed.hostname or '?'}:{parsed.port or ''}".rstrip(":")


def reason(exc: BaseException) -> str:
    """The innermost cause's text: ``Connection refused`` rather than the wrappers around it."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def _raised_in(exc: BaseException, package: str) -> bool:
    return any(f"/{package}/" in frame.filename for frame in traceback.extract_tb(exc.__traceback__))


def _redis(exc: BaseException, _: str) -> Failure | None:
    where, variable = _where(_configured("redis_url")), "THESET_REDIS_URL"
    refused = isinstance(exc, redis.exceptions.ResponseError) and str(exc).split(" ", 1)[0] in ("WRONGPASS", "NOAUTH")
    if refused or isinstance(exc, redis.exceptions.AuthenticationError):
        return Failure("redis_refused", f"Redis at {where} refused the login: {reason(exc)}", variable)
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return Failure("redis_unavailable", f"cannot reach Redis at {where}: {reason(exc)}", variable)
    return None


def _postgres(exc: BaseException, _: str) -> Failure | None:
    where, variable = _where(_configured("database_url")), "THESET_DATABASE_URL"
    name = urlparse(_configured("database_url")).path.lstrip("/")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return Failure("database_missing", f"PostgreSQL at {where} has no database {name!r}; "
                       "`theset-daemon migrate` creates it", variable)
    if isinstance(exc, (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)):
        return Failure("postgres_refused", f"PostgreSQL at {where} refused the login: {exc}", variable)
    if isinstance(exc, asyncpg.UndefinedTableError):
        return Failure("schema_missing", f"database {name!r} has no schema yet ({exc}); run `theset-daemon migrate`",
                       variable)
    if isinstance(exc, (OSError, TimeoutError)) and _raised_in(exc, "asyncpg"):
        return Failure("postgres_unavailable", f"cannot reach PostgreSQL at {where}: {reason(exc)}", variable)
    if isinstance(exc, MigrationError):
        return Failure("migration_failed", str(exc), variable)
    return None


def _listen(exc: BaseException, port_flag: str) -> Failure | None:
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
        # The text names the address: "error while attempting to bind on address (...): address already in use".
        return Failure("port_unavailable", f"cannot listen: {exc.strerror or exc}", port_flag)
    return None


def _daemon(exc: BaseException, _: str) -> Failure | None:
    if not isinstance(exc, KickoffRefused):
        return None
    body: Any = exc.body
    detail = (body.get("message") or body.get("error")) if isinstance(body, dict) else str(body)
    if exc.status in (401, 403):
        return Failure("token_refused", f"the daemon refused the token (HTTP {exc.status}: {detail})", "THESET_API_TOKEN")
    field = body.get("field") if isinstance(body, dict) else None
    return Failure("import_refused", f"the daemon refused the import (HTTP {exc.status}: {detail})", field)

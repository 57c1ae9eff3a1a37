"""JSON errors for every failure the side server returns.

Clients get ``{"error": <stable code>, "message": <text>}`` (plus ``field`` for
validation errors); tracebacks go to the log, never to the client. A body the
server cannot decode (bad ``Content-Encoding``, a broken chunk, nesting too
deep) is the client's fault: 400, one WARNING line without a traceback. Redis
or PostgreSQL not answering is 503 with ``Retry-After`` (``redis_unavailable``,
``postgres_unavailable``), one WARNING line.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import orjson
import redis.exceptions
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from ..store.pool import DATABASE_UNREACHABLE
from .keys import SETTINGS

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}

#: OSErrors that name a local file, not a connection (DATABASE_UNREACHABLE holds every OSError).
_LOCAL_FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)

#: Seconds a client is asked to wait before retrying while Redis or PostgreSQL is away.
REDIS_RETRY_AFTER_S = 5


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """An ``application/json`` response rendered with orjson."""
    return web.Response(
        body=orjson.dumps(data, default=str), status=status, content_type="application/json", headers=headers
    )


class InvalidRequest(web.HTTPBadRequest):
    """A request field has a value the API cannot accept (400, naming the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(reason="Bad Request")
        self.field = field
        self.detail = message


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": extra.pop("code", None) or _CODES.get(status, "error"), "message": message, **extra}


#: What a client can break: aiohttp's own 400s (bad framing, an undecodable body) are its fault, not ours.
CLIENT_ERRORS = (HttpProcessingError, RequestPayloadError, RecursionError, UnicodeError)


class ClientErrorsAsWarnings(logging.Filter):
    """Turn aiohttp's ERROR-with-traceback about a malformed request into one WARNING line.

    aiohttp logs those itself when the HTTP framing is broken (before any
    handler runs) or when it drains an undecodable body the handler did not
    read; the client gets aiohttp's 400 either way.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, CLIENT_ERRORS):
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_client_errors() -> None:
    """Install :class:`ClientErrorsAsWarnings` on aiohttp's server logger (idempotent)."""
    server_logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorsAsWarnings) for f in server_logger.filters):
        server_logger.addFilter(ClientErrorsAsWarnings())


def _malformed(request: web.Request, exc: Exception) -> web.Response:
    """400 for a request the server could not decode; the connection closes after it."""
    logger.warning("malformed request %s %s from %s: %s", request.method, request.path, request.remote,
                   type(exc).__name__)
    if isinstance(exc, RequestPayloadError):
        # The body stream holds the error: mark it ended, or aiohttp reads it again after the
        # response to drain the connection and logs the error with a traceback (aiohttp 3.14).
        request.content.feed_eof()
    response = json_response(error_body(400, f"malformed request: {type(exc).__name__}", code="malformed_request"),
                             status=400)
    response.force_close()
    return response


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every HTTP error and unexpected exception into a JSON error body."""
    try:
        return await handler(request)
    except InvalidRequest as exc:
        return json_response(error_body(400, exc.detail, field=exc.field, code="invalid_request"), status=400)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body_bytes
        return json_response(error_body(413, f"request body over the {limit} byte limit"), status=413)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after", "www-authenticate"}}
        return json_response(error_body(exc.status, message or exc.reason), status=exc.status, headers=headers)
    except CLIENT_ERRORS as exc:
        return _malformed(request, exc)
    except redis.exceptions.RedisError as exc:  # down, frozen (every call is bounded), out of memory, read-only
        logger.warning("Redis unavailable for %s %s: %s", request.method, request.path, exc)
        body = error_body(503, f"Redis is unavailable ({type(exc).__name__}); retry shortly", code="redis_unavailable")
        return json_response(body, status=503, headers={"Retry-After": str(REDIS_RETRY_AFTER_S)})
    except _LOCAL_FILE_ERRORS:  # a file of ours is missing or unreadable: our fault, not PostgreSQL's
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return json_response(error_body(500, "internal error", code="internal"), status=500)
    except DATABASE_UNREACHABLE as exc:  # refused, lost mid-query, shutting down; a pool acquire timing out
        logger.warning("PostgreSQL unavailable for %s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
        body = error_body(503, f"PostgreSQL is unavailable ({type(exc).__name__}); retry shortly",
                          code="postgres_unavailable")
        return json_response(body, status=503, headers={"Retry-After": str(REDIS_RETRY_AFTER_S)})
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return json_response(error_body(500, "internal error", code="internal"), status=500)

"""JSON errors for every failure the side server returns.

Clients get ``{"error": <stable code>, "message": <text>}`` (plus ``field`` for
validation errors); tracebacks go to the log, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web
from redis.exceptions import RedisError

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

#: Seconds a client is asked to wait before retrying while Redis is away.
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
    except RedisError as exc:  # down, frozen (every call is bounded), out of memory, read-only
        logger.warning("%s %s: Redis unavailable: %s", request.method, request.path, exc)
        body = error_body(503, f"Redis is unavailable ({type(exc).__name__}); retry shortly", code="redis_unavailable")
        return json_response(body, status=503, headers={"Retry-After": str(REDIS_RETRY_AFTER_S)})
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return json_response(error_body(500, "internal error", code="internal"), status=500)

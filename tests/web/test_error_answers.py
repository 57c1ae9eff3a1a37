"""What the error middleware answers for failures that are not the client's: a store that
does not answer is 503 with Retry-After; a bug of ours (a missing file included) is 500."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from theset_daemon.runtime import config
from theset_daemon.web.errors import json_errors
from theset_daemon.web.keys import SETTINGS


def _raising(exc: BaseException):
    async def handler(request: web.Request) -> web.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ConnectionRefusedError(111, "Connection refused"), 503, "postgres_unavailable"),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), 503, "postgres_unavailable"),
        (asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"), 503,
         "postgres_unavailable"),
        (FileNotFoundError(2, "No such file or directory", "dashboard.html"), 500, "internal"),
        (PermissionError(13, "Permission denied"), 500, "internal"),
    ],
)
async def test_unreachable_store_is_503_and_our_own_fault_is_500(exc, status, code) -> None:
    app = web.Application(middlewares=[json_errors])
    app[SETTINGS] = config.load({})
    app.router.add_get("/boom", _raising(exc))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/boom")
        body = await response.json()
    assert (response.status, body["error"]) == (status, code)
    assert ("Retry-After" in response.headers) == (status == 503)

"""The client side of the SSE tests: one aiohttp server standing for a daemon, a text/event-stream reader."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp
import orjson
import redis.asyncio as aioredis
from aiohttp import web

from tests.helpers.openapi_contract import check_event
from theset_daemon.imports.signing import sign_events_token
from theset_daemon.imports.stream import ProgressHub

SECRET = "sse-test-secret-" + "s" * 24
TIMEOUT = 5.0


@dataclass
class Daemon:
    """One aiohttp server standing for one daemon: its own hub and Redis client."""

    url: str
    hub: ProgressHub
    runner: web.AppRunner
    redis: aioredis.Redis


class SseReader:
    """Parse a text/event-stream response block by block."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def block(self) -> dict[str, Any] | None:
        """The next block (event or comment) as a dict, or None at the end of the stream."""
        block: dict[str, Any] = {}
        while True:
            line = (await asyncio.wait_for(self.response.content.readline(), TIMEOUT)).decode()
            if not line:
                return block or None
            line = line.rstrip("\n")
            if not line:
                if block:
                    return block
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                block["comment"] = value
            elif name == "data":
                block["data"] = orjson.loads(value)
            else:
                block[name] = value

    async def event(self) -> dict[str, Any] | None:
        """The next event, skipping keepalive comments; None at the end of the stream.

        Every event's data is checked against the OpenAPI document's schema for that event.
        """
        while (block := await self.block()) is not None and "event" not in block:
            pass
        if block is not None:
            check_event(block["event"], block.get("data"))
        return block


async def connect(
    http: aiohttp.ClientSession, daemon: Daemon, import_id: str, *, token: str | None = None, last_id: str | None = None
) -> aiohttp.ClientResponse:
    token = sign_events_token(SECRET, import_id, ttl_s=60) if token is None else token
    headers = {"Last-Event-ID": last_id} if last_id else {}
    return await http.get(f"{daemon.url}/api/imports/{import_id}/events", params={"token": token}, headers=headers)


async def open_stream(http: aiohttp.ClientSession, daemon: Daemon, import_id: str, **kw: Any) -> tuple[SseReader, dict]:
    response = await connect(http, daemon, import_id, **kw)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    reader = SseReader(response)
    snapshot = await reader.event()
    assert snapshot is not None and snapshot["event"] == "snapshot"
    return reader, snapshot


async def eventually(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait for a server-side condition that has no event to await (a disconnect seen by the server)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def expect_error(response: aiohttp.ClientResponse, status: int, error: str, **fields: str) -> dict:
    assert response.status == status
    assert response.headers["Content-Type"].startswith("application/json")
    body = await response.json()
    assert body["error"] == error and body["message"]
    for name, value in fields.items():
        assert body[name] == value
    return body

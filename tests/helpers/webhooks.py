"""A webhook endpoint on loopback that answers with scripted statuses and verifies each signature."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from tests.helpers.environment import free_port
from theset_daemon.services import webhooks

#: The webhook secret of the tests (deliveries are signed with it, the receiver verifies with it).
SECRET = "webhook-secret-for-tests-" + "w" * 16


class Receiver:
    """An HTTP endpoint on loopback that answers with scripted statuses and verifies signatures."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Queue()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ts, sig = request.headers[webhooks.TIMESTAMP_HEADER], request.headers[webhooks.SIGNATURE_HEADER]
        entry = {"body": orjson.loads(body), "verified": webhooks.verify(SECRET, ts, body, sig),
                 "event": request.headers[webhooks.EVENT_HEADER], "delivery": request.headers[webhooks.DELIVERY_HEADER]}
        status = self.statuses.pop(0) if self.statuses else 200
        entry["status"] = status
        self.received.append(entry)
        self.arrived.put_nowait(entry)
        return web.Response(status=status)

    async def next(self, timeout: float = 20.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.arrived.get(), timeout)

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def close(self) -> None:
        await self.runner.cleanup()

"""Following an import from the terminal: kickoff over HTTP, progress bars from SSE.

The same API the web app uses: ``POST /api/imports`` with the service token,
then the signed ``eventsUrl`` read as a server-sent-event stream. A dropped
connection is resumed with ``Last-Event-ID``, so no event is missed.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, TextIO

import aiohttp
import orjson

#: Seconds to wait before resuming a dropped stream.
RECONNECT_S = 1.0
BAR_WIDTH = 30


class KickoffRefused(RuntimeError):
    """The daemon answered the kickoff with an error (status and body kept)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}: {body}")


@dataclass
class SseEvent:
    id: str | None = None
    event: str = "message"
    data: str = ""


async def start_import(session: aiohttp.ClientSession, base_url: str, token: str, attraction_id: str) -> dict[str, Any]:
    """POST the kickoff; the 202 body (importId, eventsUrl ...)."""
    async with session.post(
        f"{base_url}/api/imports", json={"tmAttractionId": attraction_id, "owner": "cli"},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        body = await resp.json(content_type=None)
        if resp.status != 202:
            raise KickoffRefused(resp.status, body)
        return body


async def read_events(resp: aiohttp.ClientResponse) -> AsyncIterator[SseEvent]:
    """Parse a ``text/event-stream`` body into events (comments skipped)."""
    event = SseEvent()
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if event.data or event.id:
                yield event
            event = SseEvent()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            event.data = f"{event.data}\n{value}" if event.data else value
        elif name == "id":
            event.id = value
        elif name == "event":
            event.event = value


async def follow_events(session: aiohttp.ClientSession, events_url: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Yield (event name, data) until the ``done`` event, resuming dropped connections."""
    last_id: str | None = None
    while True:
        headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last_id} if last_id else {})}
        try:
            async with session.get(events_url, headers=headers, timeout=aiohttp.ClientTimeout(sock_read=60)) as resp:
                if resp.status != 200:
                    raise KickoffRefused(resp.status, await resp.text())
                async for event in read_events(resp):
                    last_id = event.id or last_id
                    data = orjson.loads(event.data) if event.data.startswith("{") else {"message": event.data}
                    yield event.event, data
                    if event.event == "done":
                        return
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientConnectionError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(RECONNECT_S)


@dataclass
class ProgressBars:
    """Render progress events as one bar per stage on a terminal (plain lines otherwise)."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    last_stage: str | None = None

    def show(self, name: str, data: dict[str, Any]) -> None:
        if name == "reconnect":
            self.out.write("\n(daemon restarting; resuming...)\n")
            return
        stage, progress = data.get("stage", "?"), int(data.get("progress", 0))
        filled = BAR_WIDTH * progress // 100
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"[{bar}] {progress:3d}%  {stage:<16} {data.get('message', '')}"[:110]
        tty = self.out.isatty()
        if tty and stage == self.last_stage:
            self.out.write("\r\033[K" + line)
        else:
            self.out.write(("\n" if tty and self.last_stage else "") + line + ("" if tty else "\n"))
        self.last_stage = stage
        if name == "done":
            self.out.write("\n")
        self.out.flush()

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


@dataclass(frozen=True)
class ImportState:
    """The fields of an SSE event (or status body) the terminal shows; the one place they are read."""

    status: str
    progress: int
    message: str
    phases: dict[str, tuple[str, int]]  # name -> (state, progress)
    error: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> ImportState:
        phases = {name: (str(p.get("state", "pending")), int(p.get("progress", 0)))
                  for name, p in (data.get("phases") or {}).items()}
        error = data.get("error")
        if isinstance(error, dict):
            error = f"{error.get('code')}: {error.get('message')}"
        return cls(str(data.get("status", "?")), int(data.get("progress", 0)), str(data.get("message", "")),
                   phases, error)


def bar(progress: int, width: int = BAR_WIDTH) -> str:
    filled = width * max(0, min(100, progress)) // 100
    return "#" * filled + "-" * (width - filled)


@dataclass
class ProgressBars:
    """Render progress events as one bar per phase (redrawn in place on a terminal, a line per change otherwise)."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    shown: dict[str, tuple[str, int]] = field(default_factory=dict)
    drawn_lines: int = 0

    def show(self, name: str, data: dict[str, Any]) -> None:
        if name == "reconnect":
            self.out.write("\n(daemon restarting; resuming...)\n")
            self.drawn_lines = 0
            return
        state = ImportState.of(data)
        lines = [f"[{bar(p)}] {p:3d}%  {phase:<16} {st}" for phase, (st, p) in state.phases.items()]
        overall = f"[{bar(state.progress)}] {state.progress:3d}%  {'import':<16} {state.status}  {state.message}"[:110]
        if self.out.isatty():
            if self.drawn_lines:
                self.out.write(f"\033[{self.drawn_lines}F")
            self.out.write("".join(f"\033[K{line}\n" for line in [*lines, overall]))
            self.drawn_lines = len(lines) + 1
        else:
            changed = [line for (phase, value), line in zip(state.phases.items(), lines) if self.shown.get(phase) != value]
            self.out.write("".join(f"{line}\n" for line in changed))
            if name == "done":
                self.out.write(overall + "\n")
        self.shown = dict(state.phases)
        if name == "done" and state.error:
            self.out.write(f"error: {state.error}\n")
        self.out.flush()

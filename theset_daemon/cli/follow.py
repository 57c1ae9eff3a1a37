"""Following an import from the terminal: kickoff over HTTP, a progress bar per phase from SSE.

The same API the web app uses: ``POST /api/imports`` with the service token,
then the signed ``eventsUrl`` read as a server-sent-event stream. A dropped
connection is resumed with ``Last-Event-ID``, so no event is missed.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, TextIO

import aiohttp
import orjson

from ..imports.plan import PHASES, PHASES_BY_NAME

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


# -- reading events: the one place that knows the event's field names ----------------------


def phase_updates(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What an event says about each phase: ``{phase: {"state", "progress" (0-100 or None), "message"}}``.

    Reads the ``phases`` map when the event carries one; otherwise derives the
    one phase the event is about from its ``stage`` and ``message``
    (``"catalog: started"``, ``"25/52 venues detailed"``, ``"catalog: done"``).
    """
    if isinstance(data.get("phases"), dict):
        return {name: {"state": p.get("state"), "progress": _percent(p.get("progress")),
                       "message": (p.get("error") or {}).get("message", "") if isinstance(p.get("error"), dict)
                       else str(p.get("error") or "")}
                for name, p in data["phases"].items() if isinstance(p, dict)}
    stage, message = data.get("stage", ""), data.get("message", "")
    if stage not in PHASES_BY_NAME:
        return {}
    if data.get("status") == "failed":
        return {stage: {"state": "failed", "progress": None, "message": str(data.get("error") or message)}}
    if message == f"{stage}: done":
        return {stage: {"state": "done", "progress": 100, "message": ""}}
    fraction = re.search(r"(\d+)/(\d+)", message)
    progress = 100 * int(fraction.group(1)) // int(fraction.group(2)) if fraction and int(fraction.group(2)) else None
    return {stage: {"state": "running", "progress": progress, "message": message.removeprefix(f"{stage}: ")}}


def overall(data: dict[str, Any]) -> tuple[int, str]:
    """The import's overall progress (0-100) and status from an event."""
    return int(data.get("progress", 0) or 0), str(data.get("status", ""))


def error_text(data: dict[str, Any]) -> str | None:
    """The import's error as one line (``code: message``), None when there is none."""
    error = data.get("error")
    if isinstance(error, dict):
        return f"{error.get('code')}: {error.get('message')}"
    return str(error) if error else None


def _percent(value: Any) -> int | None:
    if not isinstance(value, (int, float)):
        return None
    return round(value * 100) if isinstance(value, float) and value <= 1 else int(value)


# -- drawing -----------------------------------------------------------------------------------


@dataclass
class PhaseBar:
    """One phase's bar: its state, percent and latest message."""

    state: str = "waiting"
    percent: int = 0
    message: str = ""

    def update(self, state: str | None, progress: int | None, message: str) -> None:
        """Apply an update; a finished phase stays finished, a percent never goes back."""
        if self.state in ("done", "failed"):
            return
        self.state = state or self.state
        self.percent = 100 if self.state == "done" else max(self.percent, progress or 0)
        self.message = "" if self.state == "done" else (message or self.message)


@dataclass
class ProgressBars:
    """One bar per import phase plus the overall one: redrawn in place on a terminal,
    a line per phase change (and per quarter) otherwise."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    bars: dict[str, PhaseBar] = field(default_factory=lambda: {p.name: PhaseBar() for p in PHASES})
    progress: int = 0
    status: str = "queued"
    _drawn: int = 0
    _printed: dict[str, tuple[str, int]] = field(default_factory=dict)

    def show(self, name: str, data: dict[str, Any]) -> None:
        if name == "reconnect":
            self.out.write("(the daemon is restarting; resuming...)\n")
            self._drawn = 0
            return
        for phase, update in phase_updates(data).items():
            if phase in self.bars:
                self.bars[phase].update(update["state"], update["progress"], update["message"])
        self.progress, self.status = overall(data)
        if self.status == "completed":
            for bar in self.bars.values():
                bar.update("done", 100, "")
        if self.out.isatty():
            self._redraw()
        else:
            self._print_changes()
        self.out.flush()

    def lines(self) -> list[str]:
        width = max(40, shutil.get_terminal_size((100, 20)).columns - 1)
        rows = [_line(name, bar.percent, bar.state if not bar.message else f"{bar.state}: {bar.message}", width)
                for name, bar in self.bars.items()]
        return rows + [_line("overall", self.progress, self.status, width)]

    def _redraw(self) -> None:
        lines = self.lines()
        if self._drawn:
            self.out.write(f"\033[{self._drawn}F")
        self.out.write("".join(f"\033[2K{line}\n" for line in lines))
        self._drawn = len(lines)

    def _print_changes(self) -> None:
        for (name, bar), line in zip(self.bars.items(), self.lines()):
            mark = (bar.state, bar.percent // 25)
            if bar.state != "waiting" and self._printed.get(name) != mark:
                self._printed[name] = mark
                self.out.write(line + "\n")
        if self.status in ("completed", "failed"):
            self.out.write(self.lines()[-1] + "\n")


def _line(label: str, percent: int, note: str, width: int) -> str:
    filled = BAR_WIDTH * percent // 100
    return f"{label:<16}[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {percent:3d}%  {note}"[:width]

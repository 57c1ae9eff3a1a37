"""What the web app does during a chaos run: kickoffs and SSE followers, routed like a load balancer.

``POST /api/imports`` to a routable daemon (the LB's job: skip one that refuses or is
draining), then the signed SSE stream, resumed with ``Last-Event-ID`` on any daemon after a
``reconnect`` event or a dropped connection. :class:`ImportRun` is one import as it saw it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from tests.chaos.cluster import Cluster
from theset_daemon.cli.follow import read_events


@dataclass
class ImportRun:
    """One import as the web app saw it."""

    attraction: str
    import_id: str | None = None
    kicked_at: float = 0.0
    done_at: float | None = None
    status: str | None = None  # from the SSE done event
    error: str | None = None
    kickoff_error: str | None = None
    events: int = 0
    reconnects: int = 0  # reconnect events received
    drops: int = 0  # connections that ended without done or reconnect
    refusals: list[int] = field(default_factory=list)  # non-200 answers to the events URL
    progress: list[int] = field(default_factory=list)
    ids_out_of_order: int = 0
    follow_error: str | None = None

    @property
    def saw_done(self) -> bool:
        return self.status is not None


def _id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class WebApp:
    """Kickoffs and SSE followers, routed like a load balancer over the cluster's daemons."""

    def __init__(self, cluster: Cluster, token: str) -> None:
        self.cluster = cluster
        self.token = token
        self._rr = itertools.count()
        self.session: aiohttp.ClientSession | None = None
        self.runs: list[ImportRun] = []

    async def __aenter__(self) -> "WebApp":
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=2))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.session is not None
        await self.session.close()

    def pick(self) -> int | None:
        routable = self.cluster.routable()
        return routable[next(self._rr) % len(routable)] if routable else None

    async def kickoff(self, attraction: str, timeout: float = 60) -> dict[str, Any]:
        """POST /api/imports to a routable daemon, the next one on a refusal or 5xx."""
        assert self.session is not None
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            i = self.pick()
            if i is None:
                await asyncio.sleep(0.2)
                continue
            try:
                async with self.session.post(
                    f"{self.cluster.url(i)}/api/imports", json={"tmAttractionId": attraction, "owner": "chaos"},
                    headers={"Authorization": f"Bearer {self.token}"}, timeout=aiohttp.ClientTimeout(total=10),
                ) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status == 202:
                        return body
                    last = (resp.status, body)
                    if resp.status < 500:
                        raise AssertionError(f"kickoff of {attraction} refused: {last}")
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
                last = repr(exc)
            await asyncio.sleep(0.2)
        raise AssertionError(f"kickoff of {attraction} did not succeed in {timeout}s: {last}")

    async def follow(self, run: ImportRun, events_url: str, timeout: float) -> None:
        """Read the import's events until ``done``, resuming with Last-Event-ID on any daemon."""
        assert self.session is not None
        parts = urlsplit(events_url)
        path = f"{parts.path}?{parts.query}"
        last_id: str | None = None
        last_progress_id: tuple[int, int] = (0, 0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            i = self.pick()
            if i is None:
                await asyncio.sleep(0.2)
                continue
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last_id} if last_id else {})}
            reconnect = False
            try:
                async with self.session.get(
                    self.cluster.url(i) + path, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=2, sock_read=30),
                ) as resp:
                    if resp.status != 200:
                        run.refusals.append(resp.status)
                        if resp.status in (401, 404):
                            run.follow_error = f"events answered {resp.status}: {await resp.text()}"
                            return
                        await asyncio.sleep(0.3)
                        continue
                    async for event in read_events(resp):
                        run.events += 1
                        data = orjson.loads(event.data) if event.data.startswith("{") else {}
                        if event.event == "reconnect":
                            run.reconnects += 1
                            reconnect = True
                            break
                        if event.event in ("progress", "done") and event.id:
                            key = _id_key(event.id)
                            if key <= last_progress_id:
                                run.ids_out_of_order += 1
                            last_progress_id = key
                        if event.id:
                            last_id = event.id
                        if "progress" in data and event.event != "snapshot":
                            run.progress.append(int(data["progress"]))
                        if event.event == "done":
                            run.status = data.get("status")
                            run.error = data.get("error")
                            run.done_at = time.monotonic()
                            return
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
                pass
            if not reconnect:
                run.drops += 1
            await asyncio.sleep(0.3)
        run.follow_error = f"no done event within {timeout}s"

    async def run_import(self, attraction: str, timeout: float) -> ImportRun:
        run = ImportRun(attraction, kicked_at=time.monotonic())
        self.runs.append(run)
        try:
            body = await self.kickoff(attraction)
        except AssertionError as exc:
            run.kickoff_error = str(exc)
            return run
        run.import_id = body["importId"]
        await self.follow(run, body["eventsUrl"], timeout)
        return run

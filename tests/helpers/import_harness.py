"""A sandbox and daemons as subprocesses, and the web app's side of an import (its API calls, its SSE)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import aiohttp
import asyncpg

from tests.helpers.environment import API_TOKEN, REPO, free_port
from tests.helpers.daemon_process import DaemonProcess
from theset_daemon.cli.follow import follow_events


#: The seed of the sandbox's world in the import tests (its truth is the ``truth`` fixture's).
SANDBOX_SEED = 7


class SandboxProcess:
    """``theset-daemon sandbox`` on a free port; its env points daemons at it."""

    def __init__(self, *args: str, seed: int = SANDBOX_SEED) -> None:
        self.port = free_port()
        self.seed = seed
        cmd = [sys.executable, "-m", "theset_daemon.cli.main", "sandbox", "--port", str(self.port), "--seed", str(seed), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, text=True)
        self.env: dict[str, str] = {}
        for line in self.proc.stdout:  # the sandbox prints its THESET_* variables once serving
            if line.startswith("THESET_"):
                name, _, value = line.strip().partition("=")
                self.env[name] = value
                if name == "THESET_SETLISTFM_API_KEY":
                    break
        assert self.env, "sandbox did not start"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def start_daemon(env: dict[str, str], sandbox: SandboxProcess, **overrides: str) -> DaemonProcess:
    full = {**env, **sandbox.env, "THESET_ALLOW_PRIVATE_FETCH": "true", "THESET_ACTOR_MODULES": "theset_daemon.actors", **overrides}
    return DaemonProcess(full).start().wait_ready()


def call(daemon: DaemonProcess, method: str, path: str, body: Any = None, token: str = API_TOKEN,
         timeout: float = 5.5) -> tuple[int, dict, dict]:
    """One HTTP request to the daemon, as the web app (:meth:`DaemonProcess.request`): (status, JSON body,
    headers); the client gives up after ``timeout`` s (a hang fails the test)."""
    return daemon.request(method, path, body=body, token=token, timeout=timeout)


def import_status(daemon: DaemonProcess, import_id: str) -> str:
    """The import's ``status`` as ``GET /api/imports/{id}`` answers it ("" if none)."""
    return call(daemon, "GET", f"/api/imports/{import_id}")[1].get("status", "")


async def kickoff(base_url: str, token: str, attraction: str, **extra: Any) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base_url}/api/imports", json={"tmAttractionId": attraction, **extra},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            return resp.status, await resp.json()


async def follow(events_url: str, timeout: float = 120.0) -> list[tuple[str, dict]]:
    """Every SSE event of an import until ``done``."""
    seen: list[tuple[str, dict]] = []

    async def read() -> None:
        async with aiohttp.ClientSession() as session:
            async for name, data in follow_events(session, events_url):
                seen.append((name, data))

    await asyncio.wait_for(read(), timeout)
    return seen


def run_import(daemon: DaemonProcess, attraction: str, timeout: float = 120.0) -> tuple[dict, list[tuple[str, dict]]]:
    async def go():
        status, body = await kickoff(daemon.url, daemon.env["THESET_API_TOKEN"], attraction)
        assert status == 202, body
        return body, await follow(body["eventsUrl"], timeout)

    return asyncio.run(go())


def query(database_url: str, sql: str, *args: Any) -> list[dict]:
    async def go() -> list[dict]:
        conn = await asyncpg.connect(database_url)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(go())

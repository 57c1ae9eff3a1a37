"""``theset-daemon demo``: the sandbox, the daemon and one artist import, in one command.

Starts the sandbox providers and a daemon (as child processes, the daemon's
JSON logs going to ``.demo/daemon.log``), imports the sandbox's demo artist
through the same HTTP API and SSE stream the web app uses, shows live progress
bars, prints what landed, and leaves the daemon serving until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from .follow import ImportState, ProgressBars, follow_events, start_import

DEMO_DIR = Path(".demo")
DEMO_DATABASE = "postgresql://root@127.0.0.1:5432/theset_demo"
#: Sandbox latency per provider call, milliseconds (realistic but quick).
SANDBOX_LATENCY_MS = "15"


def port_or_free(port: int) -> int:
    """``port`` if nothing listens on it, else any free port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return port
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]


def start_sandbox(port: int) -> tuple[subprocess.Popen[str], dict[str, str], dict[str, str]]:
    """The sandbox child, its THESET_* variables and the attraction ids it announces."""
    cmd = [sys.executable, "-m", "theset_daemon.cli", "sandbox", "--port", str(port), "--seed", "7",
           "--latency-ms", SANDBOX_LATENCY_MS, "--jitter-ms", "10"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    env: dict[str, str] = {}
    ids: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("demo attraction"):
            ids["demo"] = line.split()[2].rstrip(";")
        if line.startswith("THESET_"):
            name, _, value = line.strip().partition("=")
            env[name] = value
            if name == "THESET_SETLISTFM_API_KEY":
                break
    if not env:
        raise RuntimeError("the sandbox did not start")
    return proc, env, ids


def daemon_env(port: int, sandbox_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env.setdefault("THESET_DATABASE_URL", DEMO_DATABASE)
    env.setdefault("THESET_REDIS_NAMESPACE", "theset-demo")
    env.setdefault("THESET_API_TOKEN", secrets.token_urlsafe(24))
    env.setdefault("THESET_ADMIN_TOKEN", secrets.token_urlsafe(24))
    env.setdefault("THESET_SSE_SECRET", secrets.token_urlsafe(32))
    env.update(sandbox_env, THESET_HTTP_HOST="127.0.0.1", THESET_HTTP_PORT=str(port), THESET_ALLOW_PRIVATE_FETCH="true")
    env["THESET_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    return env


async def wait_ready(base_url: str, daemon: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Poll /readyz the way a load balancer does until it answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise RuntimeError(f"the daemon exited with status {daemon.returncode}; see {DEMO_DIR / 'daemon.log'}")
            try:
                async with session.get(f"{base_url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the daemon was not ready within {timeout:.0f}s; see {DEMO_DIR / 'daemon.log'}")


async def summary(database_url: str, import_id: str) -> dict[str, Any]:
    """What landed for the imported artist, from PostgreSQL."""
    from .store import artist_counts

    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "select i.counts, a.id, a.name, a.slug from import_status i join artists a on a.id = i.artist_id where i.id = $1",
            import_id,
        )
        counts = dict(await artist_counts(conn, row["id"]))
    finally:
        await conn.close()
    import orjson

    progress = orjson.loads(row["counts"]) if isinstance(row["counts"], str) else dict(row["counts"])
    live_tracks = sum(progress.get(f"catalog_{k}", 0) for k in ("live_album_tracks_dropped", "live_titles_dropped", "liveness_dropped"))
    return {"artist": row["name"], "slug": row["slug"], **counts,
            "studio_tracks_kept": progress.get("catalog_kept", 0),
            "live_albums_dropped": progress.get("catalog_live_albums_dropped", 0),
            "live_tracks_dropped": live_tracks,
            "duplicates_merged": progress.get("catalog_duplicates_merged", 0)}


async def run_import(base_url: str, token: str, attraction: str, database_url: str) -> bool:
    began = time.monotonic()
    async with aiohttp.ClientSession() as session:
        started = await start_import(session, base_url, token, attraction)
        print(f"\nimporting attraction {attraction} as import {started['importId']}")
        bars, final = ProgressBars(), {}
        async for name, data in follow_events(session, started["eventsUrl"]):
            bars.show(name, data)
            final = data
    outcome = ImportState.of(final)
    if outcome.status != "completed":
        print(f"import {outcome.status}: {outcome.error}")
        return False
    landed = {**await summary(database_url, started["importId"]), "import_seconds": round(time.monotonic() - began, 1)}
    print("\nwhat landed:")
    for key, value in landed.items():
        print(f"  {key:<24} {value}")
    return True


def stop(proc: subprocess.Popen[Any], timeout: float = 40.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; the exit status is 0 when the import completed."""
    DEMO_DIR.mkdir(exist_ok=True)
    sandbox_port, port = port_or_free(args.sandbox_port), port_or_free(args.port)
    sandbox, sandbox_env, ids = start_sandbox(sandbox_port)
    env = daemon_env(port, sandbox_env)
    base_url = env["THESET_PUBLIC_URL"]
    log = open(DEMO_DIR / "daemon.log", "ab")
    daemon = subprocess.Popen([sys.executable, "-m", "theset_daemon.cli", "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        print(f"sandbox providers on http://127.0.0.1:{sandbox_port}; daemon on {base_url} (logs: {DEMO_DIR / 'daemon.log'})")
        asyncio.run(wait_ready(base_url, daemon))
        ok = asyncio.run(run_import(base_url, env["THESET_API_TOKEN"], args.artist or ids["demo"], env["THESET_DATABASE_URL"]))
        if args.exit:
            return 0 if ok else 1
        print(f"\nthe daemon keeps serving on {base_url}: /readyz, /metrics, /api/imports "
              f"(THESET_API_TOKEN={env['THESET_API_TOKEN']}). Ctrl-C stops it.")
        try:
            daemon.wait()
        except KeyboardInterrupt:
            print("\nstopping (the daemon drains)...")
        return 0 if ok else 1
    finally:
        stop(daemon)
        stop(sandbox)
        log.close()

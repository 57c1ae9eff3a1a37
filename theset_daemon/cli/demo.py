"""``theset-daemon demo``: the sandbox, the daemon and one artist import, in one command.

Starts the sandbox providers and a daemon (as child processes, the daemon's
JSON logs going to ``.demo/daemon.log``), imports the sandbox's demo artist
through the same HTTP API and SSE stream the web app uses, shows a live
progress bar per phase, prints what landed and a hand-over banner (dashboard
and admin token, the exports that point the CLI at the demo, the other
artists the sandbox serves), and leaves the daemon serving until Ctrl-C.

The children run in sessions of their own, so the terminal's Ctrl-C reaches
only the demo, which then sends the daemon one SIGTERM and waits for its drain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
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
import orjson

from ..runtime import config
from ..store import artist_counts
from ..store.imports import import_summary
from .follow import ProgressBars, error_text, follow_events, overall, start_import

DEMO_DIR = Path(".demo")
#: The sandbox's announced attractions, by the names the banner uses.
ATTRACTION_NAMES = {"demo attraction": "demo", "big catalogue": "big catalogue", "big events": "big events"}
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
    """The sandbox child, its THESET_* variables and the attraction ids it announces (demo, big catalogue, big events)."""
    cmd = [sys.executable, "-m", "theset_daemon", "sandbox", "--port", str(port), "--seed", "7",
           "--latency-ms", SANDBOX_LATENCY_MS, "--jitter-ms", "10"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    env: dict[str, str] = {}
    ids: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("demo attraction"):
            ids.update(re.findall(r"(demo attraction|big catalogue|big events) (\S+?)[;\s]", line + " "))
        if line.startswith("THESET_"):
            name, _, value = line.strip().partition("=")
            env[name] = value
            if name == "THESET_SETLISTFM_API_KEY":
                break
    if not env:
        raise RuntimeError("the sandbox did not start")
    return proc, env, {ATTRACTION_NAMES[name]: value for name, value in ids.items()}


def daemon_env(port: int, sandbox_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env.setdefault("THESET_DATABASE_URL", DEMO_DATABASE)
    env.setdefault("THESET_REDIS_URL", config.VARIABLES["redis_url"].default)
    env.setdefault("THESET_REDIS_NAMESPACE", "theset-demo")
    env.setdefault("THESET_API_TOKEN", secrets.token_urlsafe(32))
    env.setdefault("THESET_ADMIN_TOKEN", secrets.token_urlsafe(32))
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
    conn = await asyncpg.connect(database_url)
    try:
        row = await import_summary(conn, import_id)
        counts = dict(await artist_counts(conn, row["id"]))
    finally:
        await conn.close()

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
        say(f"importing attraction {attraction} (import {started['importId']}): a bar per phase")
        bars, final = ProgressBars(), {}
        async for name, data in follow_events(session, started["eventsUrl"]):
            bars.show(name, data)
            final = data
    _, status = overall(final)
    if status != "completed":
        print(f"import {status}: {error_text(final)}")
        return False
    landed = {**await summary(database_url, started["importId"]), "import_seconds": round(time.monotonic() - began, 1)}
    print("\nwhat landed:")
    for key, value in landed.items():
        print(f"  {key:<24} {value}")
    return True


def say(text: str) -> None:
    """One progress line of the demo itself, flushed at once."""
    print(f"demo: {text}", flush=True)


def stop(proc: subprocess.Popen[Any], timeout: float = 40.0) -> int | None:
    """One SIGTERM, then wait (a Ctrl-C while waiting forwards one SIGINT: the daemon's "exit now"); its status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def cli_command() -> str:
    """How to call this installation's ``theset-daemon`` from the current directory."""
    script = Path(sys.executable).with_name("theset-daemon")
    if not script.exists():
        return "theset-daemon"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def banner(env: dict[str, str], ids: dict[str, str], imported: str, serving: bool) -> str:
    """What a newcomer needs to go on: dashboard and token, the CLI's exports, the other artists."""
    base, cmd = env["THESET_PUBLIC_URL"], cli_command()
    exports = {name: env[name] for name in ("THESET_DATABASE_URL", "THESET_REDIS_URL", "THESET_REDIS_NAMESPACE",
                                              "THESET_HTTP_PORT", "THESET_API_TOKEN") if name in env}
    others = [(name, value) for name, value in ids.items() if value != imported]
    lines = ["", "=" * 72]
    if serving:
        lines += [f"the demo daemon serves on {base}  (Ctrl-C stops it; it drains first)",
                  f"  dashboard    {base}/dashboard",
                  f"  admin token  {env['THESET_ADMIN_TOKEN']}   (sign in with it; also the admin API's bearer)",
                  f"  metrics      {base}/metrics      readiness {base}/readyz"]
    lines += ["point the CLI at the demo (another terminal, in this directory):"]
    lines += [f"  export {name}={value}" for name, value in exports.items()]
    lines += [f"  {cmd} queues        {cmd} schedules        {cmd} dlq list"]
    if others:
        lines += ["other artists the sandbox serves:"]
        lines += [f"  {name:<14} {value}   " + (f"{cmd} import {value} --follow" if serving else f"scripts/demo --artist {value}")
                  for name, value in others]
    lines += ["=" * 72]
    return "\n".join(lines)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; the exit status is 0 when the import completed (and the daemon stopped cleanly)."""
    DEMO_DIR.mkdir(exist_ok=True)
    sandbox_port, port = port_or_free(args.sandbox_port), port_or_free(args.port)
    say(f"starting the sandbox providers (Spotify, Ticketmaster, setlist.fm stand-ins) on 127.0.0.1:{sandbox_port}")
    sandbox, sandbox_env, ids = start_sandbox(sandbox_port)
    env = daemon_env(port, sandbox_env)
    base_url = env["THESET_PUBLIC_URL"]
    log = open(DEMO_DIR / "daemon.log", "ab")
    say(f"starting the daemon on {base_url} (migrations, workers, scheduler; logs: {DEMO_DIR / 'daemon.log'})")
    began = time.monotonic()
    daemon = subprocess.Popen([sys.executable, "-m", "theset_daemon", "run"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    ok, interrupted = False, False
    try:
        asyncio.run(wait_ready(base_url, daemon))
        say(f"the daemon is ready ({time.monotonic() - began:.1f} s)")
        attraction = args.artist or ids["demo"]
        ok = asyncio.run(run_import(base_url, env["THESET_API_TOKEN"], attraction, env["THESET_DATABASE_URL"]))
        print(banner(env, ids, attraction, serving=not args.exit), flush=True)
        if not args.exit:
            daemon.wait()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if daemon.poll() is None:
            say("stopping: the daemon drains (in-flight jobs finish or go back to their queue)...")
        status = stop(daemon)
        stop(sandbox)
        log.close()
    say(f"the daemon stopped (exit status {status})")
    if interrupted:
        return 130
    return 0 if ok and status == 0 else 1

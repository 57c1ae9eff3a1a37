"""Daemon lifecycle figures, printed as one JSON object.

    .venv/bin/python bench/daemon.py [--runs 5]

* ``ready_s``: process start to systemd's READY=1 (median and all runs), received
  on a real NOTIFY_SOCKET exactly as systemd would;
* ``rss_idle_mb``: resident memory of the idle daemon 3 s after READY;
* ``stop_empty_s``: SIGTERM to exit with nothing running;
* ``stop_inflight_s``: SIGTERM to exit with a job in flight that ends 0.5 s
  after the signal (the drain waits for it).

Uses a scratch Redis namespace and a scratch PostgreSQL database, removed after.
"""

from __future__ import annotations

import os
import sys

# bench/queue.py would shadow the standard library's queue module: drop this folder from the path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse
import asyncio
import signal
import statistics
import time
import uuid
from pathlib import Path

import asyncpg
import dramatiq
import orjson
import redis

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from tests.helpers.daemon_process import DaemonProcess  # noqa: E402
from theset_daemon.broker import TheSetBroker  # noqa: E402
from theset_daemon.queues import QUEUES  # noqa: E402

PG_ADMIN = "postgresql://root@127.0.0.1:5432/postgres"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def one_run(env: dict[str, str], namespace: str, *, with_job: bool) -> dict[str, float]:
    daemon = DaemonProcess({**env, "THESET_HTTP_PORT": str(free_port())})
    started = time.monotonic()
    daemon.start()
    try:
        daemon.wait_ready(60)
        ready_s = time.monotonic() - started
        figures = {"ready_s": ready_s}
        client = redis.Redis.from_url(env["THESET_REDIS_URL"])
        if with_job:
            broker = TheSetBroker(redis_url=env["THESET_REDIS_URL"], namespace=namespace, queues=QUEUES, host_id="bench")
            broker.enqueue(dramatiq.Message(queue_name="webhook", actor_name="hold", args=(),
                                            kwargs={"tag": "bench", "release": "bench-release"}, options={}))
            assert client.blpop([f"{namespace}:test:started"], timeout=30)
        else:
            time.sleep(3)
            figures["rss_idle_mb"] = rss_mb(daemon.proc.pid)
        signalled = time.monotonic()
        daemon.signal(signal.SIGTERM)
        if with_job:
            time.sleep(0.5)
            client.rpush(f"{namespace}:test:bench-release", "x")
        code = daemon.wait_exit(60)
        figures["stop_inflight_s" if with_job else "stop_empty_s"] = time.monotonic() - signalled
        assert code == 0, daemon.read_log()
        client.close()
        return figures
    finally:
        daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    namespace, database = f"bench-{run_id}", f"theset_bench_{run_id}"
    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    env = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    env.update(THESET_REDIS_URL="redis://127.0.0.1:6379/0", THESET_REDIS_NAMESPACE=namespace,
               THESET_DATABASE_URL=f"postgresql://root@127.0.0.1:5432/{database}", THESET_API_TOKEN="bench-api-token-" + "b" * 24,
               THESET_SSE_SECRET="bench-sse-secret-" + "b" * 24, THESET_ACTOR_MODULES="theset_daemon.actors,tests.helpers.daemon_actors")
    try:
        idle = [one_run(env, namespace, with_job=False) for _ in range(args.runs)]
        busy = [one_run(env, namespace, with_job=True) for _ in range(args.runs)]
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        client = redis.Redis()
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            client.delete(key)
    runs = idle + busy
    print(orjson.dumps({
        "runs": args.runs,
        "ready_s_median": round(statistics.median(r["ready_s"] for r in runs), 3),
        "ready_s": [round(r["ready_s"], 3) for r in runs],
        "rss_idle_mb_median": round(statistics.median(r["rss_idle_mb"] for r in idle), 1),
        "stop_empty_s_median": round(statistics.median(r["stop_empty_s"] for r in idle), 3),
        "stop_inflight_s_median": round(statistics.median(r["stop_inflight_s"] for r in busy), 3),
        "note": "stop_inflight includes the 0.5 s the job still runs after SIGTERM",
    }).decode())


if __name__ == "__main__":
    main()

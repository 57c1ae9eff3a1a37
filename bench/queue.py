"""Queue benchmark of theset-daemon's broker, optionally beside BullMQ in the same invocation.

Prints ONE JSON object: enqueue_per_s (sequential awaited sends), bulk_enqueue_per_s
(batches of 1000), process_per_s (no-op async actor, concurrency 8, the better of two
drains), idle_latency_p50_ms / p99_ms (200 samples, idle gaps alternating 500 and 50 ms,
time.time() at enqueue vs at job start), idle_redis_cmds_per_s (INFO total_commands_processed
over idle seconds, minus our own INFO calls; Lua-internal calls included, and every other
client of the Redis too: see idle_redis_cmds_per_s_ours for ours alone, from MONITOR).

With --peer (and node on the PATH) BullMQ's scripts from ../shared/bench/peers/bullmq run
from a temp copy (npm install there) in the same invocation, and ``peer`` and ``ratios``
(ours/theirs; latency inverted, so > 1 is better) are added.

usage: .venv/bin/python bench/queue.py [--peer] [--jobs 20000] [--redis-url redis://127.0.0.1:6379/13]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the stdlib module `queue`: keep its folder off the import path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import dramatiq
import redis
import uvloop

from theset_daemon.runtime import encoder  # noqa: E402
from theset_daemon.broker import TheSetBroker, Worker  # noqa: E402
from theset_daemon.queues import JobDefaults, Priority, QueueSpec  # noqa: E402

PEER_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "peers" / "bullmq"
BENCH_QUEUE = QueueSpec("bench", 8, None, Priority.NORMAL)
LATENCY_QUEUE = QueueSpec("latency", 4, None, Priority.NORMAL)


class Counter:
    """Counts no-op jobs and signals when the target is reached."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.done = asyncio.Event()

    def arm(self, target: int) -> None:
        self.count, self.target = 0, target
        self.done.clear()


def make_broker(url: str, namespace: str, keep_completed: int = 0) -> TheSetBroker:
    # like BullMQ's removeOnComplete: keep no completed records (--keep-completed N keeps N per queue)
    defaults = JobDefaults(completed_max_per_queue=keep_completed)
    return TheSetBroker(redis_url=url, namespace=namespace, queues=[BENCH_QUEUE, LATENCY_QUEUE],
                        defaults=defaults, host_id=f"bench-{os.getpid()}")


async def throughput(broker: TheSetBroker, jobs: int) -> dict[str, float]:
    counter = Counter()

    @dramatiq.actor(queue_name="bench", broker=broker)
    async def noop(i: int) -> None:
        counter.count += 1
        if counter.count == counter.target:
            counter.done.set()

    started = time.perf_counter()
    for i in range(jobs):
        await broker.enqueue_async(noop.message(i))
    enqueue = jobs / (time.perf_counter() - started)

    process1 = await drain_all(broker, counter, jobs)

    started = time.perf_counter()
    for first in range(0, jobs, 1000):
        await broker.enqueue_many_async([noop.message(i) for i in range(first, min(jobs, first + 1000))])
    bulk = jobs / (time.perf_counter() - started)

    process2 = await drain_all(broker, counter, jobs)

    started = time.perf_counter()
    n_sync = min(jobs, 5000)
    await asyncio.to_thread(lambda: [noop.send(i) for i in range(n_sync)])
    enqueue_sync = n_sync / (time.perf_counter() - started)
    await drain_all(broker, counter, n_sync)
    return {"enqueue_per_s": enqueue, "bulk_enqueue_per_s": bulk, "process_per_s": max(process1, process2),
            "process_per_s_runs": [round(process1), round(process2)], "enqueue_sync_send_per_s": enqueue_sync}


async def drain_all(broker: TheSetBroker, counter: Counter, jobs: int) -> float:
    counter.arm(jobs)
    worker = Worker(broker, queues=[BENCH_QUEUE])
    started = time.perf_counter()
    await worker.start()
    await counter.done.wait()
    rate = jobs / (time.perf_counter() - started)
    await worker.drain(5)
    return rate


async def latency(broker: TheSetBroker, samples: int) -> dict[str, float]:
    lat: list[float] = []
    arrived = asyncio.Event()

    @dramatiq.actor(queue_name="latency", broker=broker)
    async def ping(t: float) -> None:
        lat.append((time.time() - t) * 1000)
        arrived.set()

    worker = Worker(broker, queues=[LATENCY_QUEUE])
    await worker.start()
    await asyncio.sleep(1.0)
    for i in range(samples):
        arrived.clear()
        await broker.enqueue_async(ping.message(time.time()))
        await arrived.wait()
        await asyncio.sleep(0.05 if i % 2 else 0.5)
    cmds, ours = await idle_commands(broker, 5.0)
    await worker.drain(5)
    lat.sort()

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(len(lat) * p))], 2)

    return {"idle_latency_p50_ms": pct(0.5), "idle_latency_p99_ms": pct(0.99), "idle_latency_max_ms": pct(1.0),
            "idle_redis_cmds_per_s": cmds, "idle_redis_cmds_per_s_ours": ours}


async def idle_commands(broker: TheSetBroker, seconds: float) -> tuple[float, float]:
    """(all commands/s on the server from INFO, ours/s from MONITOR lines naming our namespace)."""
    stop = threading.Event()
    ours = [0]

    def monitor() -> None:
        client = redis.Redis.from_url(broker.redis_url)
        with client.monitor() as m:
            for line in m.listen():
                if broker.namespace in line["command"]:
                    ours[0] += 1
                if stop.is_set():
                    break

    thread = threading.Thread(target=monitor, daemon=True)
    thread.start()
    await asyncio.sleep(0.2)
    client = redis.Redis.from_url(broker.redis_url)
    before = client.info("stats")["total_commands_processed"]
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    after = client.info("stats")["total_commands_processed"]
    elapsed = time.perf_counter() - started
    stop.set()
    client.ping()  # lets the monitor thread see one more line and stop
    thread.join(2)
    client.close()
    return round((after - before - 1) / elapsed, 2), round(ours[0] / elapsed, 2)


def cleanup(url: str, namespace: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
    client.close()


def run_peer(jobs: int, samples: int) -> dict[str, float]:
    """BullMQ's own scripts from a temp copy (npm install there), db 14 as its README says."""
    with tempfile.TemporaryDirectory(prefix="bullmq-peer-") as tmp:
        for item in PEER_DIR.iterdir():
            if item.is_file():
                shutil.copy(item, tmp)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out: dict[str, float] = {}
        for cmd in (["node", "throughput.js", str(jobs), "8"], ["node", "latency.js", str(samples)]):
            line = subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, text=True).stdout.strip()
            out.update(json.loads(line.splitlines()[-1]))
    return out


async def ours(url: str, jobs: int, samples: int, keep_completed: int = 0) -> dict[str, float]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    broker = make_broker(url, namespace, keep_completed)
    try:
        result = await throughput(broker, jobs)
        result.update(await latency(broker, samples))
    finally:
        await broker.close()
        cleanup(url, namespace)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--peer", action="store_true", help="run BullMQ beside us and add ratios")
    parser.add_argument("--keep-completed", type=int, default=0,
                        help="completed job records kept per queue (default 0, like removeOnComplete; DESIGN.md: 100)")
    args = parser.parse_args()
    encoder.install()
    result: dict[str, object] = {"broker": "theset-daemon", "jobs": args.jobs, "concurrency": 8,
                                 "keep_completed": args.keep_completed}
    result.update({k: round(v) if isinstance(v, float) and "latency" not in k and "cmds" not in k else v
                   for k, v in uvloop.run(ours(args.redis_url, args.jobs, args.samples, args.keep_completed)).items()})
    if args.peer and shutil.which("node"):
        peer = run_peer(args.jobs, args.samples)
        result["peer"] = peer
        result["ratios"] = ratios(result, peer)
    print(json.dumps(result))


def ratios(ours: dict, peer: dict) -> dict[str, float]:
    out = {}
    for key in ("enqueue_per_s", "bulk_enqueue_per_s", "process_per_s"):
        out[key] = round(ours[key] / peer[key], 2)
    for key in ("idle_latency_p50_ms", "idle_latency_p99_ms"):
        out[key] = round(peer[key] / ours[key], 2)
    return out


if __name__ == "__main__":
    main()

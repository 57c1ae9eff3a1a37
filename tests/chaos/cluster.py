"""The daemons of a chaos run: N processes on one Redis and one PostgreSQL, killed, drained, restarted."""

from __future__ import annotations

import contextlib
import shutil
import signal
import time
from pathlib import Path
from typing import Iterable

from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.environment import free_port
from tests.helpers.waiting import wait_until


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Cluster:
    """N daemons on one Redis and one PostgreSQL, each with its own port and host id."""

    def __init__(self, env: dict[str, str], n: int = 3) -> None:
        self.base_env = env
        self.ports = [free_port() for _ in range(n)]
        self.daemons: list[DaemonProcess | None] = [None] * n
        self.history: list[DaemonProcess] = []  # every process ever started (their logs are grepped)
        self.draining: set[int] = set()
        self.exits: list[tuple[str, int]] = []  # (host id, exit status) of every daemon that ended

    def host_id(self, i: int) -> str:
        return f"chaos-{i}"

    def env(self, i: int) -> dict[str, str]:
        return {**self.base_env, "THESET_HTTP_PORT": str(self.ports[i]), "THESET_HOST_ID": self.host_id(i),
                "THESET_PUBLIC_URL": f"http://127.0.0.1:{self.ports[i]}"}

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def spawn(self, i: int) -> DaemonProcess:
        proc = DaemonProcess(self.env(i)).start()
        self.daemons[i] = proc
        self.history.append(proc)
        self.draining.discard(i)
        return proc

    def start(self, i: int, timeout: float = 60) -> float:
        """Start daemon ``i`` and wait for READY; the seconds it took."""
        started = time.monotonic()
        self.spawn(i).wait_ready(timeout)
        return time.monotonic() - started

    def start_all(self, timeout: float = 90) -> None:
        procs = [self.spawn(i) for i in range(len(self.ports))]
        for proc in procs:
            proc.wait_ready(timeout)

    def alive(self, i: int) -> bool:
        d = self.daemons[i]
        return d is not None and d.proc is not None and d.proc.poll() is None

    def routable(self) -> list[int]:
        """What the LB would route to: running and not told to stop."""
        return [i for i in range(len(self.ports)) if self.alive(i) and i not in self.draining]

    def kill(self, i: int) -> None:
        d = self.daemons[i]
        assert d is not None
        self.draining.add(i)
        d.signal(signal.SIGKILL)
        code = d.wait_exit(10)
        self.exits.append((self.host_id(i), code))

    def terminate(self, i: int, timeout: float = 90) -> tuple[float, int]:
        """SIGTERM daemon ``i``; (seconds until it exited, exit status)."""
        d = self.daemons[i]
        assert d is not None
        self.draining.add(i)
        started = time.monotonic()
        d.signal(signal.SIGTERM)
        code = d.wait_exit(timeout)
        self.exits.append((self.host_id(i), code))
        return time.monotonic() - started, code

    def readyz(self, i: int) -> int:
        d = self.daemons[i]
        if d is None or not self.alive(i):
            return 0
        try:
            status, _ = d.get("/readyz", timeout=2)
            return status
        except OSError:
            return 0

    def wait_readyz(self, indexes: Iterable[int], timeout: float) -> float:
        idx = list(indexes)
        started = time.monotonic()
        wait_until(lambda: all(self.readyz(i) == 200 for i in idx), timeout, f"readyz 200 on {idx}")
        return time.monotonic() - started

    def rss(self) -> list[int]:
        return [rss_bytes(d.proc.pid) if d is not None and d.proc is not None and self.alive(i) else 0
                for i, d in enumerate(self.daemons)]

    def crashed(self) -> list[str]:
        """Daemons that exited without being told to (a crash)."""
        return [self.host_id(i) for i, d in enumerate(self.daemons)
                if d is not None and d.proc is not None and d.proc.poll() is not None and i not in self.draining]

    def log_lines(self) -> list[str]:
        return [line for d in self.history for line in d.read_log().splitlines()]

    def stop(self, keep_logs: bool = False) -> None:
        for d in self.daemons:
            if d is not None and d.proc is not None and d.proc.poll() is None:
                d.signal(signal.SIGTERM)
        for d in self.history:
            with contextlib.suppress(Exception):
                if d.proc is not None and d.proc.poll() is None:
                    d.proc.wait(40)
            d.stop()
            if not keep_logs:
                shutil.rmtree(d.dir, ignore_errors=True)

"""Run ``theset-daemon run`` as a real subprocess, the way systemd does.

The test owns the ``NOTIFY_SOCKET``: a unix datagram socket on which it
receives READY / STOPPING / WATCHDOG exactly as systemd would.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers.environment import REPO

DAEMON = [sys.executable, "-m", "theset_daemon.cli.main"]


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``theset-daemon <args>`` of this checkout, run to its end (a non-zero exit is the caller's to check)."""
    return subprocess.run([*DAEMON, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)


class DaemonProcess:
    """One daemon subprocess with its own notify socket and log file."""

    def __init__(self, env: dict[str, str], *, args: tuple[str, ...] = ("run",),
                 command: tuple[str, ...] = tuple(DAEMON), cwd: Path = REPO) -> None:
        """``command`` and ``cwd`` default to this checkout's daemon (an installed one: its own script, any dir)."""
        self.env = dict(env)
        self.command, self.cwd = command, cwd
        self.dir = Path(tempfile.mkdtemp(prefix="theset-daemon-"))
        self.notify_path = str(self.dir / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.notify_path)
        self.env["NOTIFY_SOCKET"] = self.notify_path
        if cwd == REPO:
            self.env.setdefault("THESET_ACTOR_MODULES", "theset_daemon.actors,tests.helpers.daemon_actors")
            self.env["PYTHONPATH"] = str(REPO)
        self.log_path = self.dir / "daemon.log"
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.messages: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['THESET_HTTP_PORT']}"

    def start(self) -> "DaemonProcess":
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([*self.command, *self.args], env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.cwd)
        return self

    def wait_notify(self, wanted: str, timeout: float = 30.0) -> list[str]:
        """Block until a datagram containing ``wanted`` arrives; return every line seen so far."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.proc and self.proc.poll() is not None and wanted not in self.messages):
                raise AssertionError(f"no {wanted!r} from daemon; got {self.messages}; log:\n{self.read_log()}")
            self.sock.settimeout(min(remaining, 0.5))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.messages.extend(data.splitlines())
            if wanted in data.splitlines():
                return self.messages

    def wait_ready(self, timeout: float = 30.0) -> "DaemonProcess":
        self.wait_notify("READY=1", timeout)
        return self

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, Any]:
        """GET a path of the side server: (status, parsed JSON or text)."""
        return self.request("GET", path, timeout=timeout)[:2]

    def request(self, method: str, path: str, *, body: Any = None, token: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, Any, dict[str, str]]:
        """One HTTP request to the side server (``body`` sent as JSON, ``token`` as a bearer token):
        (status, parsed JSON, or the text when it is not JSON ({} when empty), response headers).
        The client gives up after ``timeout`` s (a hang fails the test)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as resp:
                status, text, got = resp.status, resp.read().decode(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, text, got = err.code, err.read().decode(), dict(err.headers)
        try:
            return status, json.loads(text) if text else {}, got
        except ValueError:
            return status, text, got

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"daemon did not exit within {timeout}s; log:\n{self.read_log()}") from None
        self._collect_pending()
        return code

    def _collect_pending(self) -> None:
        """Read the datagrams still queued on the socket (sent before the exit)."""
        self.sock.setblocking(False)
        try:
            while True:
                self.messages.extend(self.sock.recv(4096).decode().splitlines())
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.read_log().splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
        return lines

    def stop(self) -> None:
        """Kill if still running and release the socket (fixture teardown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.sock.close()
        if hasattr(self, "log"):
            self.log.close()

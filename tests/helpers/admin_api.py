"""Helpers of the admin API tests (no tests here): a daemon per module, HTTP calls with tokens,
and a webhook receiver whose answer the test chooses."""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
import urllib.request
import uuid
from typing import Any

import redis
from tests.helpers.environment import ADMIN_TOKEN, RUN_ID, delete_namespace, daemon_environment
from tests.helpers.daemon_process import DaemonProcess

def module_env(redis_url: str, database_url: str, **extra: str) -> tuple[dict[str, str], str]:
    """A daemon environment with its own namespace (the caller deletes it with :func:`drop_namespace`)."""
    namespace = f"test-{RUN_ID}-{uuid.uuid4().hex[:8]}"
    env = daemon_environment(
        redis_url, namespace, database_url,
        THESET_WEBHOOK_SECRET="test-webhook-secret-" + "w" * 16, THESET_ALLOW_PRIVATE_FETCH="true", **extra,
    )
    return env, namespace


def drop_namespace(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    delete_namespace(client, namespace)
    client.close()


def call(daemon: DaemonProcess, method: str, path: str, *, body: Any = None, token: str | None = ADMIN_TOKEN,
         headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, Any]:
    """One HTTP request to the daemon, as the operator (:meth:`DaemonProcess.request`): (status, parsed JSON or text)."""
    return daemon.request(method, path, body=body, token=token, headers=headers, timeout=timeout)[:2]


def sign_in(daemon: DaemonProcess, token: str = ADMIN_TOKEN) -> tuple[str, str]:
    """Sign in to the dashboard: (the session cookie's value, its CSRF token)."""
    request = urllib.request.Request(daemon.url + "/dashboard/login", data=json.dumps({"token": token}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        cookie = resp.headers["Set-Cookie"].split(";", 1)[0].split("=", 1)[1]
        return cookie, json.loads(resp.read())["csrfToken"]


def poll(fetch, check, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Call ``fetch`` until ``check`` accepts its value (state in another process has no event to await)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last value: {value!r}")
        time.sleep(interval)


def queue_row(daemon: DaemonProcess, name: str) -> dict:
    status, body = call(daemon, "GET", "/api/admin/queues")
    assert status == 200, body
    return next(q for q in body["queues"] if q["name"] == name)


class WebhookReceiver:
    """An HTTP server on loopback answering every POST with :attr:`status`; bodies go to :attr:`received`."""

    def __init__(self) -> None:
        self.status = 200
        self.received: queue.Queue[dict] = queue.Queue()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.status
                receiver.received.put({"status": status, "body": json.loads(body or b"{}")})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout: float = 20.0) -> dict:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

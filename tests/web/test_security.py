"""Findings of the attack review (issue 16) against the side server, in-process on real Redis.

Sessions that end (1), throttled failed authentication and 32-character secrets (2),
malformed input answered 4xx without a traceback (5), and the smaller items: strict
SSE tokens, lastEventId used as validated, key rotation, /metrics access, readiness
bodies. The fetch guard (3) is in test_safe_fetch.py, masking (4) in test_masking.py.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from multidict import CIMultiDict

from theset_daemon.cli import main as cli

from theset_daemon.runtime import config
from theset_daemon.runtime.loop_monitor import LoopMonitor
from theset_daemon.runtime.readiness import ReadinessCheck
from theset_daemon.imports.signing import InvalidToken, sign_events_token, verify_events_token
from theset_daemon.web import events
from theset_daemon.web.admin_auth import CSRF_HEADER, SESSION_COOKIE, require_admin
from theset_daemon.web.app import ADMIN_ROUTES, DASHBOARD_ROUTES, IMPORT_ROUTES, add_fallback, create_app, mount_auth
from theset_daemon.web.errors import json_response
from theset_daemon.web.keys import AUTH_THROTTLE
from theset_daemon.web.throttle import MAX_BLOCK_S

ADMIN = "admin-token-for-the-security-tests-0001"
OLD_ADMIN = "the-previous-admin-token-still-valid-0002"
API = "import-api-token-for-security-tests-0003"
METRICS = "metrics-token-for-the-security-tests-04"
FREE = 3


async def guarded_action(request: web.Request) -> web.Response:
    return json_response({"who": await require_admin(request, mutation=True)})


@pytest.fixture
async def make_client(redis_url, namespace) -> AsyncIterator[Callable[..., TestClient]]:
    """Start side servers (as daemons of one cluster: same Redis namespace) with the given extra settings."""
    started: list[tuple[TestClient, aioredis.Redis]] = []

    async def start(readiness: ReadinessCheck | None = None, **env: str) -> TestClient:
        settings = config.load({
            "THESET_ADMIN_TOKEN": ADMIN, "THESET_API_TOKEN": API, "THESET_SSE_SECRET": "s" * 40,
            "THESET_REDIS_NAMESPACE": namespace, "THESET_AUTH_MAX_FAILURES": str(FREE), **env,
        })
        app = create_app(settings, readiness or ReadinessCheck(), LoopMonitor())
        redis_client = aioredis.Redis.from_url(redis_url)
        mount_auth(app, redis_client, settings)
        app.add_routes([*DASHBOARD_ROUTES, *ADMIN_ROUTES, *IMPORT_ROUTES, web.post("/test/action", guarded_action)])
        add_fallback(app)
        client = TestClient(TestServer(app))
        await client.start_server()
        started.append((client, redis_client))
        return client

    yield start
    for client, redis_client in started:
        await client.close()
        await redis_client.aclose()


async def sign_in(client: TestClient, token: str = ADMIN) -> tuple[str, str]:
    resp = await client.post("/dashboard/login", json={"token": token})
    assert resp.status == 200, await resp.text()
    return resp.cookies[SESSION_COOKIE].value, (await resp.json())["csrfToken"]


def as_session(cookie: str, csrf: str | None = None) -> dict[str, str]:
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    if csrf is not None:
        headers[CSRF_HEADER] = csrf
    return headers


# -- 1. sessions ---------------------------------------------------------------------------------


async def test_sign_out_ends_the_session_on_the_server(make_client) -> None:
    client = await make_client()
    cookie, csrf = await sign_in(client)
    client.session.cookie_jar.clear()
    assert (await client.post("/test/action", headers=as_session(cookie, csrf))).status == 200
    assert (await client.post("/dashboard/logout", headers=as_session(cookie, csrf))).status == 200
    # the old cookie, replayed after sign-out, neither reads nor acts
    assert (await client.get("/dashboard/session", headers=as_session(cookie))).status == 401
    assert (await client.post("/test/action", headers=as_session(cookie, csrf))).status == 401


async def test_every_sign_in_gets_a_fresh_id_and_its_own_csrf_token(make_client) -> None:
    client = await make_client()
    (one, csrf_one), (two, csrf_two) = await asyncio.gather(sign_in(client), sign_in(client))
    client.session.cookie_jar.clear()
    assert one != two and csrf_one != csrf_two and len(one) >= 43
    assert (await client.post("/test/action", headers=as_session(two, csrf_one))).status == 401
    assert (await client.post("/test/action", headers=as_session(two, csrf_two))).status == 200


async def test_sign_out_everywhere_revokes_every_session_on_every_daemon(make_client, sync_redis, namespace) -> None:
    first, second = await make_client(), await make_client()
    sessions = [await sign_in(first), await sign_in(second)]
    first.session.cookie_jar.clear()
    second.session.cookie_jar.clear()
    assert (await second.get("/dashboard/session", headers=as_session(sessions[0][0]))).status == 200
    assert not any(cookie.encode() in key for cookie, _ in sessions for key in sync_redis.keys(f"{namespace}:*")), \
        "Redis keeps digests of session ids, never the ids"
    resp = await first.post("/api/admin/sessions/revoke", headers={"Authorization": f"Bearer {ADMIN}"})
    assert resp.status == 200 and (await resp.json())["revoked"] == 2
    for client in (first, second):
        for cookie, _ in sessions:
            assert (await client.get("/dashboard/session", headers=as_session(cookie))).status == 401


async def test_sign_out_everywhere_works_in_read_only_mode_and_needs_the_csrf_token(make_client) -> None:
    client = await make_client(THESET_DASHBOARD_READONLY="true")
    cookie, csrf = await sign_in(client)
    client.session.cookie_jar.clear()
    assert (await client.post("/api/admin/sessions/revoke", headers=as_session(cookie))).status == 401
    resp = await client.post("/api/admin/sessions/revoke", headers=as_session(cookie, csrf))
    assert resp.status == 200 and (await resp.json())["revoked"] == 1
    assert (await client.get("/dashboard/session", headers=as_session(cookie))).status == 401


# -- 2. throttling and secret length --------------------------------------------------------------


async def test_wrong_admin_tokens_are_throttled_cluster_wide_with_retry_after(make_client, caplog) -> None:
    caplog.set_level(logging.WARNING)
    first, second = await make_client(), await make_client()
    statuses = []
    for i in range(FREE + 20):
        resp = await first.get("/api/admin/queues", headers={"Authorization": f"Bearer wrong-{i}"})
        statuses.append(resp.status)
    assert statuses[:FREE + 1] == [401] * (FREE + 1) and set(statuses[FREE + 1:]) == {429}, statuses
    blocked = await second.get("/api/admin/queues", headers={"Authorization": f"Bearer {ADMIN}"})
    assert blocked.status == 429, "the block holds on every daemon, even for the right token"
    assert int(blocked.headers["Retry-After"]) >= 1
    assert (await blocked.json())["error"] == "too_many_requests"
    lines = [r for r in caplog.records if "failed authentication" in r.getMessage()]
    assert len(lines) == 2, "one line per address per interval (and one when blocking starts), not one per failure"
    assert lines[0].remote == "127.0.0.1" and lines[0].failures == 1 and lines[0].levelno == logging.WARNING
    assert lines[1].failures == FREE + 1 and lines[1].blocked_s == 1.0


async def test_sign_in_form_and_import_api_count_failures_too(make_client) -> None:
    client = await make_client()
    for i in range(FREE):
        assert (await client.post("/dashboard/login", json={"token": f"guess-{i}"})).status == 401
    assert (await client.post("/api/imports", json={}, headers={"Authorization": "Bearer guess"})).status == 401
    assert (await client.post("/dashboard/login", json={"token": ADMIN})).status == 429
    assert (await client.get(f"/api/imports/{'0' * 8}-0000-0000-0000-{'0' * 12}",
                             headers={"Authorization": f"Bearer {API}"})).status == 429


async def test_the_block_doubles_with_each_further_failure_up_to_the_cap(make_client) -> None:
    client = await make_client()
    throttle = client.app[AUTH_THROTTLE]
    request = SimpleNamespace(remote="192.0.2.7", headers=CIMultiDict())  # what the throttle reads of a request
    waits = []
    for _ in range(FREE + 4):
        await throttle.failed(request, "admin")
        waits.append(await throttle.retry_after("192.0.2.7"))
    assert waits == [0] * FREE + [1, 2, 4, 8], waits
    for _ in range(20):
        await throttle.failed(request, "admin")
    assert await throttle.retry_after("192.0.2.7") == MAX_BLOCK_S


async def test_behind_a_trusted_proxy_the_forwarded_client_is_charged(make_client) -> None:
    proxied = await make_client(THESET_TRUSTED_PROXIES="127.0.0.0/8, ::1")

    async def attempt(client: TestClient, forwarded: str, token: str = "wrong") -> int:
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded}
        return (await client.post("/test/action", headers=headers)).status

    # the client wrote "198.51.100.1" itself; the proxy appended the address it saw
    assert [await attempt(proxied, "198.51.100.1, 203.0.113.5") for _ in range(FREE + 1)] == [401] * (FREE + 1)
    assert await attempt(proxied, "203.0.113.5", ADMIN) == 429
    assert await attempt(proxied, "203.0.113.6", ADMIN) == 200, "another client behind the same proxy is not blocked"
    assert await attempt(proxied, "203.0.113.6, 198.51.100.1", ADMIN) == 200
    direct = await make_client()  # not trusted: X-Forwarded-For is ignored, the peer is charged
    assert [await attempt(direct, f"203.0.113.{i}") for i in range(FREE + 2)][-1] == 429


@pytest.mark.parametrize("variable", ["THESET_API_TOKEN", "THESET_ADMIN_TOKEN", "THESET_SSE_SECRET",
                                      "THESET_WEBHOOK_SECRET", "THESET_ADMIN_TOKEN_PREVIOUS",
                                      "THESET_SSE_SECRET_PREVIOUS", "THESET_METRICS_TOKEN"])
def test_tokens_and_secrets_shorter_than_32_characters_stop_the_start(variable, monkeypatch, capsys) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("THESET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(variable, "a" * 31)
    assert cli.main(["config"]) == config.EXIT_CONFIG
    err = capsys.readouterr().err
    assert variable in err and "32 characters" in err and "a" * 31 not in err
    monkeypatch.setenv(variable, "a" * 32)
    assert cli.main(["config"]) == 0


# -- 5. malformed input -------------------------------------------------------------------------


async def raw(client: TestClient, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are (headers no client library would send) and read the answer."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    body = await reader.readexactly(length)
    writer.close()
    return int(head.split()[1]), body


def _post(path: str, body: bytes, *headers: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close",
             f"Content-Length: {len(body)}".encode(), *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _get(path: str, *headers: bytes) -> bytes:
    return b"\r\n".join([f"GET {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close", *headers]) + \
        b"\r\n\r\n"


async def test_malformed_input_gets_a_4xx_json_answer_and_no_traceback(make_client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(THESET_AUTH_MAX_FAILURES="1000")
    deep = b"[" * 30_000 + b"]" * 30_000
    cookie, _ = await sign_in(client)
    cases = {
        "30,000-deep JSON to sign-in": _post("/dashboard/login", deep, b"Content-Type: application/json"),
        "deep JSON to the import API": _post("/api/imports", deep, b"Content-Type: application/json",
                                             f"Authorization: Bearer {API}".encode()),
        "bearer token with a lone surrogate": _get("/api/admin/queues", b"Authorization: Bearer \xed\xa0\x80"),
        "import API token with a lone surrogate": _get("/api/imports/x", b"Authorization: Bearer \xed\xa0\x80"),
        "session cookie 1999999999.\\xe9": _get("/dashboard/session", b"Cookie: theset_session=1999999999.\xe9"),
        "session cookie on an admin route": _get("/api/admin/queues", b"Cookie: theset_session=1999999999.\xe9"),
        "CSRF header that is not ASCII": _post("/dashboard/logout", b"", b"X-CSRF-Token: \xff\xfe",
                                               f"Cookie: {SESSION_COOKIE}={cookie}".encode()),
        "invalid gzip body to sign-in": _post("/dashboard/login", b"not gzip at all", b"Content-Type: application/json",
                                             b"Content-Encoding: gzip"),
        "invalid gzip body to the import API": _post("/api/imports", b"\x1f\x8b garbage",
                                                     b"Content-Type: application/json", b"Content-Encoding: gzip",
                                                     f"Authorization: Bearer {API}".encode()),
        "gzip that inflates to invalid JSON": _post("/dashboard/login", gzip.compress(b"{" * 5000),
                                                    b"Content-Type: application/json", b"Content-Encoding: gzip"),
        "lastEventId past 64 bits": _get("/api/imports/x/events?token=a.b&lastEventId=99999999999999999999-0"),
        "multipart form without a boundary": _post("/dashboard/login", b"x", b"Content-Type: multipart/form-data"),
        "form in an unknown charset": _post("/dashboard/login", b"token=a",
                                            b"Content-Type: application/x-www-form-urlencoded; charset=bogus"),
    }
    for name, request in cases.items():
        status, body = await raw(client, request)
        assert 400 <= status < 500, (name, status, body[:200])
        assert b'"error"' in body and b'"message"' in body, (name, body[:200])
    loud = [r for r in caplog.records if r.levelno > logging.WARNING or r.exc_info]
    assert not loud, [(r.name, r.getMessage()) for r in loud]


async def test_broken_http_framing_is_a_400_and_one_warning_line(make_client, caplog) -> None:
    """aiohttp answers these itself (before any handler, in plain text); its log line must stay quiet."""
    caplog.set_level(logging.DEBUG)
    client = await make_client()
    chunked = (b"POST /dashboard/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
               b"Content-Type: application/json\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    brotli = _post("/dashboard/login", b"nope", b"Content-Type: application/json", b"Content-Encoding: br")
    for request in (chunked, brotli):
        status, _ = await raw(client, request)
        assert status == 400
    ignored_body = _post("/test/action", b"\x1f\x8b garbage", f"Authorization: Bearer {ADMIN}".encode(),
                         b"Content-Encoding: gzip")
    assert (await raw(client, ignored_body))[0] == 200, "a body the action never reads is drained, quietly"
    loud = [r for r in caplog.records if r.levelno > logging.WARNING or r.exc_info]
    assert not loud, [(r.name, r.getMessage()) for r in loud]
    assert any(r.name == "aiohttp.server" and r.levelno == logging.WARNING for r in caplog.records)


# -- smaller items ------------------------------------------------------------------------------


def test_sse_token_macs_are_decoded_strictly() -> None:
    secret = "x" * 40
    token = sign_events_token(secret, "imp", ttl_s=60)
    verify_events_token(secret, token, "imp")
    payload, mac = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(mac[-1])
    same_bytes = alphabet[last ^ 0b01]  # the unused low bits of the last character
    variants = [f"{payload}.{mac[:-1]}{same_bytes}", f"{payload}.{mac}=", f"{payload}.{mac[:10]}!{mac[10:]}",
                f"{payload}.{mac[:10]}+{mac[11:]}"]
    for forged in variants:
        with pytest.raises(InvalidToken) as info:
            verify_events_token(secret, forged, "imp")
        assert info.value.reason == "malformed", forged


@pytest.mark.parametrize(("given", "used"), [("5-0", "5-0"), (" 5-0 ", "5-0"), ("5-0\n", "5-0"), ("7", "7"),
                                             ("99999999999999999999-0", None), ("5-0x", None), ("", None)])
def test_last_event_id_is_used_exactly_as_validated(given, used) -> None:
    request = make_mocked_request("GET", f"/x?lastEventId={quote(given)}")
    assert events._requested_after(request) == used  # noqa: SLF001


async def test_the_previous_admin_token_and_sse_secret_work_during_a_rotation(make_client) -> None:
    new_sse, old_sse = "n" * 40, "o" * 40
    client = await make_client(THESET_ADMIN_TOKEN_PREVIOUS=OLD_ADMIN, THESET_SSE_SECRET=new_sse,
                               THESET_SSE_SECRET_PREVIOUS=old_sse)
    for token in (ADMIN, OLD_ADMIN):
        assert (await client.post("/test/action", headers={"Authorization": f"Bearer {token}"})).status == 200
        await sign_in(client, token)
    settings = config.load({"THESET_SSE_SECRET": new_sse, "THESET_SSE_SECRET_PREVIOUS": old_sse})
    verify_events_token(settings.sse_secrets, sign_events_token(old_sse, "imp", ttl_s=60), "imp")
    verify_events_token(settings.sse_secrets, sign_events_token(new_sse, "imp", ttl_s=60), "imp")
    with pytest.raises(InvalidToken):
        verify_events_token(settings.sse_secrets, sign_events_token("r" * 40, "imp", ttl_s=60), "imp")


async def test_metrics_need_the_metrics_token_when_one_is_set(make_client) -> None:
    open_metrics = await make_client()
    assert (await open_metrics.get("/metrics")).status == 200
    closed = await make_client(THESET_METRICS_TOKEN=METRICS)
    refused = await closed.get("/metrics")
    assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await closed.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"})).status == 200


async def test_readiness_tells_only_the_admin_why_a_check_fails(make_client) -> None:
    async def redis_down() -> None:
        raise ConnectionRefusedError("Error 111 connecting to 10.20.30.40:6379. Connection refused.")

    client = await make_client(ReadinessCheck(checks={"redis": redis_down}))
    anonymous = await client.get("/readyz")
    body = await anonymous.text()
    assert anonymous.status == 503 and "10.20.30.40" not in body and '"redis":"failed"' in body
    guess = await client.get("/readyz", headers={"Authorization": "Bearer not-the-admin-token"})
    assert "10.20.30.40" not in await guess.text()
    operator = await client.get("/readyz", headers={"Authorization": f"Bearer {ADMIN}"})
    assert operator.status == 503 and "10.20.30.40" in (await operator.json())["checks"]["redis"]

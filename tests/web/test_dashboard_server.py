"""The dashboard's server side without a browser: files, headers, sign-in, session, sign-out.

The browser tests (``test_dashboard_browser.py``) drive the page; these pin the
HTTP contract the page relies on: the cookie's attributes, the CSRF token that
admin mutations accept, the Content-Security-Policy, and that only the
package's own files are served.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from theset_daemon.runtime.config import load
from theset_daemon.runtime.loop_monitor import LoopMonitor
from theset_daemon.runtime.readiness import ReadinessCheck
from theset_daemon.web import dashboard
from theset_daemon.web.admin_auth import CSRF_HEADER, SESSION_COOKIE, require_admin
from theset_daemon.web.app import ADMIN_ROUTES, DASHBOARD_ROUTES, add_fallback, create_app, mount_auth
from theset_daemon.web.errors import json_response

TOKEN = "dashboard-test-admin-token-" + "t" * 16


async def guarded_action(request: web.Request) -> web.Response:
    """Stands in for an admin mutation (the admin API checks the same way)."""
    return json_response({"who": await require_admin(request, mutation=True)})


@pytest.fixture
async def make_app(redis_url, namespace) -> AsyncIterator[Callable[..., web.Application]]:
    """Build the dashboard's app on this test's Redis namespace (sessions and throttle live there)."""
    clients: list[aioredis.Redis] = []

    def build(**env: str) -> web.Application:
        settings = load({"THESET_ADMIN_TOKEN": TOKEN, "THESET_REDIS_NAMESPACE": namespace, **env})
        app = create_app(settings, ReadinessCheck(), LoopMonitor())
        clients.append(aioredis.Redis.from_url(redis_url))
        mount_auth(app, clients[-1], settings)
        app.add_routes([*DASHBOARD_ROUTES, *ADMIN_ROUTES, web.post("/test/action", guarded_action)])
        add_fallback(app)
        return app

    yield build
    for redis_client in clients:
        await redis_client.aclose()


@pytest.fixture
async def client(make_app) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(make_app())) as c:
        yield c


def assert_secured(resp) -> None:
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp and "style-src 'self'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


async def test_page_and_files_are_served_with_a_strict_policy(client: TestClient) -> None:
    resp = await client.get("/dashboard")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert_secured(resp)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline scripts"
    assert " style=" not in html, "no inline styles"
    for src in re.findall(r'(?:src|href)="(/dashboard/static/[^"]+)"', html):
        file = await client.get(src)
        assert file.status == 200, src
        assert_secured(file)
    js = await client.get("/dashboard/static/app.js")
    assert js.content_type == "text/javascript"
    assert (await client.get("/dashboard/static/dashboard.css")).content_type == "text/css"


async def test_static_route_serves_only_flat_package_files(client: TestClient) -> None:
    for name in ("missing.js", "..%2Fdashboard.py", "%2E%2E%2Fweb%2Fdashboard.py", ".hidden.js", "dashboard.html"):
        resp = await client.get(f"/dashboard/static/{name}")
        assert resp.status == 404, name
    assert (await client.get("/dashboard/static/../dashboard.py")).status == 404


async def test_every_page_script_avoids_html_parsing_of_data(client: TestClient) -> None:
    """Job data must reach the DOM as text: no innerHTML / outerHTML / insertAdjacentHTML / document.write / eval."""
    for path in sorted(dashboard.STATIC.glob("*.js")):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in source, f"{path.name} uses {sink}"


async def test_sign_in_sets_a_strict_http_only_cookie_and_returns_the_csrf_token(client: TestClient) -> None:
    wrong = await client.post("/dashboard/login", json={"token": "nope"})
    assert wrong.status == 401 and (await wrong.json())["error"] == "unauthorized"
    assert SESSION_COOKIE not in wrong.cookies
    missing = await client.post("/dashboard/login", json={})
    assert missing.status == 400 and (await missing.json())["field"] == "token"

    assert (await client.get("/dashboard/session")).status == 401
    resp = await client.post("/dashboard/login", json={"token": TOKEN})
    assert resp.status == 200
    body = await resp.json()
    assert body["readOnly"] is False and body["csrfToken"]
    cookie = resp.headers["Set-Cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attribute.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower(), "plain http public URL: no Secure flag (the browser would drop it)"

    session = await client.get("/dashboard/session")
    assert session.status == 200 and (await session.json())["csrfToken"] == body["csrfToken"]
    assert session.headers["Cache-Control"] == "no-store"


async def test_the_session_admits_mutations_only_with_its_csrf_token(client: TestClient) -> None:
    body = await (await client.post("/dashboard/login", json={"token": TOKEN})).json()
    assert (await client.post("/test/action")).status == 401
    assert (await client.post("/test/action", headers={CSRF_HEADER: "forged"})).status == 401
    ok = await client.post("/test/action", headers={CSRF_HEADER: body["csrfToken"]})
    assert ok.status == 200 and (await ok.json())["who"] == "session"


async def test_sign_out_needs_the_csrf_token_and_clears_the_cookie(client: TestClient) -> None:
    body = await (await client.post("/dashboard/login", json={"token": TOKEN})).json()
    assert (await client.post("/dashboard/logout")).status == 401
    resp = await client.post("/dashboard/logout", headers={CSRF_HEADER: body["csrfToken"]})
    assert resp.status == 200
    assert f"{SESSION_COOKIE}=\"\"" in resp.headers["Set-Cookie"] or "Max-Age=0" in resp.headers["Set-Cookie"]
    client.session.cookie_jar.clear()
    assert (await client.get("/dashboard/session")).status == 401


async def test_cross_origin_sign_in_is_refused(client: TestClient) -> None:
    resp = await client.post("/dashboard/login", json={"token": TOKEN}, headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    same = await client.post("/dashboard/login", json={"token": TOKEN}, headers={"Origin": str(client.make_url(""))})
    assert same.status == 200


async def test_form_sign_in_redirects_to_the_page(make_app) -> None:
    async with TestClient(TestServer(make_app())) as c:
        resp = await c.post("/dashboard/login", data={"token": TOKEN}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/dashboard"
        assert SESSION_COOKIE in resp.cookies


async def test_https_public_url_marks_the_cookie_secure_and_read_only_mode_is_reported(make_app) -> None:
    app = make_app(THESET_PUBLIC_URL="https://ops.example", THESET_DASHBOARD_READONLY="true")
    async with TestClient(TestServer(app)) as c:
        resp = await c.post("/dashboard/login", json={"token": TOKEN})
        assert "secure" in resp.headers["Set-Cookie"].lower()
        body = await resp.json()
        assert body["readOnly"] is True
        action = await c.post("/test/action", headers={CSRF_HEADER: body["csrfToken"],
                                                       "Cookie": f"{SESSION_COOKIE}={resp.cookies[SESSION_COOKIE].value}"})
        assert action.status == 403


async def test_no_admin_token_configured_means_no_sign_in(make_app) -> None:
    settings_app = make_app(THESET_ADMIN_TOKEN="")
    async with TestClient(TestServer(settings_app)) as c:
        resp = await c.post("/dashboard/login", json={"token": "anything"})
        assert resp.status == 401
        assert "THESET_ADMIN_TOKEN" in (await resp.json())["message"]

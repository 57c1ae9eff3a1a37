"""The OpenAPI document names every answer the side server really gives.

Walks the route table (``web/app.py``) and the document together: every API route
is documented, every operation that reads Redis, PostgreSQL or the booted daemon
documents 503 (JSON error body, ``Retry-After``), every authenticated one 401 and
429, every mutation 403. Then a daemon on a private redis-server answers every
operation three times (no credentials; an address the auth throttle blocks; Redis
stopped) and each real status must be documented for its operation (not merely
covered by ``default``), with ``Retry-After`` on 429 and 503 and a body of the
documented schema.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from typing import Any, Iterator

import jsonschema_rs
import pytest

from tests.chaos.servers import PrivatePostgres
from tests.helpers.admin_api import drop_namespace, module_env
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.environment import ADMIN_TOKEN, SSE_SECRET, token_for
from tests.helpers.redis_servers import PrivateRedis
from theset_daemon.imports.signing import sign_events_token
from theset_daemon.web.app import ADMIN_ROUTES, HEALTH_ROUTES, IMPORT_ROUTES
from theset_daemon.web.openapi import build_document

#: Operations that touch neither Redis, PostgreSQL nor the booted daemon: no 503 path.
NO_BACKEND = {("get", "/healthz"), ("get", "/api/openapi.json")}
METHODS = ("get", "post", "put", "patch", "delete")


def _skeleton(path: str) -> str:
    """``/api/jobs/{job_id}`` and ``/api/jobs/{jobId}`` alike: ``/api/jobs/{}``."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _operations(document: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


DOCUMENT = build_document(["artist_import", "cleanup"], ["cleanup-old-jobs"])


def test_every_api_route_is_documented_and_nothing_else():
    routes = {(r.method.lower(), _skeleton(r.path)) for r in HEALTH_ROUTES + IMPORT_ROUTES + ADMIN_ROUTES}
    documented = {(method, _skeleton(path)) for method, path, _ in _operations(DOCUMENT)}
    assert routes == documented, (routes - documented, documented - routes)


@pytest.mark.parametrize(("method", "path", "operation"), list(_operations(DOCUMENT)),
                         ids=[f"{m.upper()} {p}" for m, p, _ in _operations(DOCUMENT)])
def test_every_operation_documents_its_refusals(method, path, operation):
    responses = operation["responses"]
    if (method, path) not in NO_BACKEND:
        unavailable = responses.get("503")
        assert unavailable, f"{method} {path}: no 503 documented"
        assert unavailable["headers"]["Retry-After"]["required"] is True
        assert "application/json" in unavailable["content"]
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    if schemes:
        assert "401" in responses, f"{method} {path}: {sorted(responses)}"
    if schemes & {"adminToken", "apiToken"} or path in ("/metrics", "/readyz"):  # a bearer token: throttled
        assert "429" in responses, f"{method} {path}: {sorted(responses)}"
        assert responses["429"]["headers"]["Retry-After"]["required"] is True
    if method != "get" and path.startswith(("/api/admin", "/api/jobs")):
        assert "403" in responses, f"{method} {path}: read-only mode refuses mutations"


# -- against a running daemon ------------------------------------------------------------------


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture
def daemon(redis_server, database_url) -> Iterator[DaemonProcess]:
    env, _ = module_env(redis_server.url, database_url)
    process = DaemonProcess(env).start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _bearer(path: str) -> bool:
    """Authenticated by a bearer token (the events stream has a signed URL; /readyz takes the admin token)."""
    return (token_for(path) is not None and not path.endswith("/events")) or path == "/readyz"


def _concrete(path: str, operation: dict) -> tuple[str, Any]:
    """The path with every parameter filled (the first enum value, a fresh UUID, or an unknown id) and a body."""
    for param in operation.get("parameters", []):
        if param["in"] != "path":
            continue
        schema = param["schema"]
        value = schema["enum"][0] if "enum" in schema else (
            str(uuid.uuid4()) if schema.get("format") == "uuid" or param["name"] == "importId" else "no-such-job")
        path = path.replace("{" + param["name"] + "}", value)
    body = None
    if "requestBody" in operation:
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        body = {"tmAttractionId": "K8vZ9170000"} if ref.endswith("KickoffRequest") else {"jobId": "no-such-job"}
    return path, body


def _send(daemon: DaemonProcess, method: str, path: str, body: Any, token: str | None) -> tuple[int, dict, Any]:
    request = urllib.request.Request(daemon.url + path, method=method.upper(),
                                     data=None if body is None else json.dumps(body).encode())
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:
            status, headers, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, headers, raw = err.code, dict(err.headers), err.read()
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw.decode(errors="replace")


def _answers(daemon: DaemonProcess, document: dict, credentials: str) -> dict[tuple[str, str], tuple[int, dict, Any]]:
    """Every operation's real answer: with ``credentials`` "none", "right" (or "wrong" for a blocked address)."""
    seen = {}
    for method, path, operation in _operations(document):
        target, body = _concrete(path, operation)
        token = None if credentials == "none" else token_for(path)
        if path.endswith("/events") and credentials != "none":
            import_id = target.split("/")[3]
            target += f"?token={sign_events_token(SSE_SECRET, import_id, ttl_s=300)}"
        if credentials == "blocked":
            token = token or ADMIN_TOKEN
        seen[(method, path)] = _send(daemon, method, target, body, token)
    return seen


def _json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema (``nullable``, component refs as definitions)."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if not k.startswith("x-") and k != "nullable"}
    if "$ref" in out:
        out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def _schema_errors(document: dict, schema: dict, body: Any) -> list[str]:
    """How ``body`` breaks ``schema`` of the served ``document`` (its own queue and schedule enums)."""
    definitions = {k: _json_schema(v) for k, v in document["components"]["schemas"].items()}
    validator = jsonschema_rs.Draft7Validator({**_json_schema(schema), "definitions": definitions})
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(body)]


def _check_documented(document: dict, seen: dict) -> None:
    problems = []
    for (method, path), (status, headers, body) in seen.items():
        documented = document["paths"][path][method]["responses"].get(str(status))
        if documented is None:
            problems.append(f"{method.upper()} {path}: {status} is not documented ({body!r:.200})")
            continue
        if status in (429, 503) and not headers.get("Retry-After", "").isdigit():
            problems.append(f"{method.upper()} {path}: {status} without Retry-After ({headers})")
        schema = documented.get("content", {}).get("application/json", {}).get("schema", {})
        if schema:
            problems += [f"{method.upper()} {path}: {status}: {e}" for e in _schema_errors(document, schema, body)]
    assert not problems, "\n".join(problems)


def test_every_real_answer_is_documented_with_redis_stopped_and_refusals(daemon, redis_server):
    status, _, document = _send(daemon, "get", "/api/openapi.json", None, None)
    assert status == 200

    anonymous = _answers(daemon, document, "none")
    _check_documented(document, anonymous)
    assert {k: s for k, (s, _, _) in anonymous.items() if token_for(k[1]) and s != 401} == {}

    block = f"{daemon.env['THESET_REDIS_NAMESPACE']}:auth:block:127.0.0.1"  # as web/throttle.py names it
    with redis_server.client() as admin:  # the block the throttle sets after too many wrong tokens
        admin.set(block, 99, px=60_000)
        blocked = _answers(daemon, document, "blocked")
        admin.delete(block)
    _check_documented(document, blocked)
    assert {k: s for k, (s, _, _) in blocked.items() if _bearer(k[1]) and s != 429} == {}

    redis_server.kill()
    down = _answers(daemon, document, "right")
    for name, seen in (("no credentials", anonymous), ("blocked", blocked), ("Redis stopped", down)):
        print(name, {f"{m.upper()} {p}": s for (m, p), (s, _, _) in seen.items()})  # -s shows them
    _check_documented(document, down)
    unavailable = {(m, p) for (m, p), (s, _, _) in down.items() if s == 503}
    assert {("get", "/readyz"), ("get", "/api/admin/queues"), ("get", "/api/jobs"),
            ("post", "/api/admin/schedules/{name}/run")} <= unavailable, {k: s for k, (s, _, _) in down.items()}
    assert {k: s for k, (s, _, _) in down.items() if s >= 500 and s != 503} == {}
    assert "unhandled error" not in daemon.read_log()


@pytest.fixture
def postgres_server() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        yield server.init().start()
    finally:
        server.destroy()


def test_every_real_answer_is_documented_with_postgres_stopped(postgres_server, redis_url):
    env, namespace = module_env(redis_url, postgres_server.create_database("theset"))
    daemon = DaemonProcess(env).start()
    try:
        daemon.wait_ready()
        status, _, document = _send(daemon, "get", "/api/openapi.json", None, None)
        assert status == 200
        postgres_server.stop()
        down = _answers(daemon, document, "right")
        print("PostgreSQL stopped", {f"{m.upper()} {p}": s for (m, p), (s, _, _) in down.items()})  # -s shows it
        _check_documented(document, down)
        assert {k: s for k, (s, _, _) in down.items() if s >= 500 and s != 503} == {}
        assert {("get", "/readyz"), ("post", "/api/imports"), ("get", "/api/imports/{importId}"),
                ("get", "/api/admin/imports")} <= {k for k, (s, _, _) in down.items() if s == 503}
        assert "unhandled error" not in daemon.read_log()
    finally:
        daemon.stop()
        drop_namespace(redis_url, namespace)

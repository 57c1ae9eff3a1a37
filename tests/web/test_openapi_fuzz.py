"""Fuzz the running daemon from its own /api/openapi.json with schemathesis.

Every operation gets a few schema-valid cases (and, for the admin API, a few
schema-invalid ones) sent with the right token; the daemon must never answer
5xx, and every answer must conform to the document (status, content type,
body schema). Bounded: a handful of examples per operation and a time cap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import schemathesis
from tests.helpers.daemon_process import DaemonProcess
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from tests.helpers.admin_api import call, drop_namespace, module_env
from tests.helpers.environment import ADMIN_TOKEN, token_for

#: Examples per operation and mode; the whole run stays well under a minute.
EXAMPLES = 12
#: Seconds the fuzzing may take in all before it stops early.
TIME_CAP_S = 60.0
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def daemon(redis_url, database_url) -> Iterator[DaemonProcess]:
    env, namespace = module_env(redis_url, database_url)
    process = DaemonProcess(env).start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
        drop_namespace(redis_url, namespace)


def _fuzzer(strategy, base_url: str, headers: dict[str, str], deadline: float):
    """A hypothesis test sending ``strategy``'s cases to the daemon with ``headers`` until ``deadline``."""

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        if time.monotonic() > deadline:
            return
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=10)

    return fuzz


def test_the_daemon_survives_fuzzing_from_its_own_openapi_document(daemon, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # schemathesis keeps a crash cache in the working directory
    status, document = call(daemon, "GET", "/api/openapi.json", token=None)
    assert status == 200
    schema = schemathesis.openapi.from_dict(document)
    deadline = time.monotonic() + TIME_CAP_S
    ran: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path
        if path.endswith("/events"):
            modes = [GenerationMode.NEGATIVE]  # a valid token would hold a stream open; invalid ones must 4xx
        elif token_for(path) == ADMIN_TOKEN:
            modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        else:
            modes = [GenerationMode.POSITIVE]
        headers = {"Authorization": f"Bearer {token_for(path)}"} if token_for(path) else {}
        for mode in modes:
            if time.monotonic() > deadline:
                break

            fuzz = _fuzzer(operation.as_strategy(generation_mode=mode), daemon.url, headers, deadline)
            fuzz()
            ran.append(f"{operation.method.upper()} {path} {mode.value}")
    assert len(ran) >= 20, ran
    assert "unhandled error" not in daemon.read_log()

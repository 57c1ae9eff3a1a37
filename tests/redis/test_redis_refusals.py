"""Permanent refusals stop the start: exit 78 with one line naming the variable and the host, never the password."""

from __future__ import annotations

import json
import signal
import time
from typing import Iterator

import pytest

from tests.helpers.environment import ADMIN_TOKEN, free_port
from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.import_harness import call
from tests.helpers.redis_servers import PrivateRedis

SECRET = "s3cret-never-logged"


@pytest.fixture(scope="module")
def locked_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis("--requirepass", "the-right-one").start()
    yield server
    server.stop()


def refused(env: dict[str, str], *args: str) -> tuple[int, str]:
    daemon = DaemonProcess(env, args=("run", *args)).start()
    try:
        return daemon.wait_exit(60), daemon.read_log()
    finally:
        daemon.stop()


def config_error_line(log: str) -> str:
    lines = [line for line in log.splitlines() if line.startswith("theset-daemon: configuration error:")]
    assert len(lines) == 1, log[-3000:]
    return lines[0]


@pytest.mark.parametrize("where", ["url", "file"])
def test_a_wrong_redis_password_exits_78_naming_the_variable_and_host(locked_redis, daemon_env, migrated_database_url,
                                                                      tmp_path, where):
    env = {**daemon_env, "THESET_DATABASE_URL": migrated_database_url}
    if where == "url":
        env["THESET_REDIS_URL"] = f"redis://:{SECRET}@127.0.0.1:{locked_redis.port}/0"
        variable = "THESET_REDIS_URL"
    else:
        (tmp_path / "redis_password").write_text(SECRET + "\n")
        env.update(THESET_REDIS_URL=f"redis://127.0.0.1:{locked_redis.port}/0",
                   THESET_REDIS_PASSWORD_FILE=str(tmp_path / "redis_password"))
        variable = "THESET_REDIS_PASSWORD"
    code, log = refused(env)
    line = config_error_line(log)
    assert code == 78 and variable in line and f"127.0.0.1:{locked_redis.port}" in line and "authentication" in line, line
    assert SECRET not in log


def test_the_right_password_from_a_credential_file_is_used(locked_redis, daemon_env, migrated_database_url, tmp_path):
    (tmp_path / "theset_redis_password").write_text("the-right-one\n")  # as the unit names it
    env = {**daemon_env, "THESET_DATABASE_URL": migrated_database_url, "CREDENTIALS_DIRECTORY": str(tmp_path),
           "THESET_REDIS_URL": f"redis://127.0.0.1:{locked_redis.port}/0"}
    daemon = DaemonProcess(env).start()
    try:
        daemon.wait_ready()
        assert daemon.get("/readyz")[0] == 200
    finally:
        daemon.stop()


def test_a_redis_db_index_out_of_range_exits_78(redis_url, daemon_env, migrated_database_url):
    base = redis_url.rsplit("/", 1)[0]
    code, log = refused({**daemon_env, "THESET_DATABASE_URL": migrated_database_url, "THESET_REDIS_URL": f"{base}/4000"})
    line = config_error_line(log)
    assert code == 78 and "THESET_REDIS_URL" in line and "out of range" in line, line


@pytest.mark.parametrize(
    "url, says",
    [
        ("postgresql://no_such_role_theset@127.0.0.1:5432/postgres", "role"),
        ("postgresql://root@127.0.0.1:5432/no_such_database_theset", "database does not exist"),
    ],
)
def test_an_unknown_postgres_role_or_database_exits_78(daemon_env, url, says):
    """(Migrating creates a missing database, so the missing database is checked with --no-migrate.)"""
    code, log = refused({**daemon_env, "THESET_DATABASE_URL": url}, "--no-migrate")
    line = config_error_line(log)
    assert code == 78 and "THESET_DATABASE_URL" in line and "127.0.0.1:5432" in line and says in line, line


def test_a_refused_connection_keeps_retrying_naming_the_host(daemon_env, migrated_database_url):
    port = free_port()  # nothing listens: refused, which may change any moment
    daemon = DaemonProcess({**daemon_env, "THESET_DATABASE_URL": migrated_database_url,
                            "THESET_REDIS_URL": f"redis://127.0.0.1:{port}/0"}).start()
    try:
        deadline = time.monotonic() + 30
        while sum(f"redis://127.0.0.1:{port}/0" in ln.get("message", "") for ln in daemon.log_lines()) < 2:
            assert daemon.proc.poll() is None, daemon.read_log()[-2000:]
            assert time.monotonic() < deadline, daemon.read_log()[-2000:]
            time.sleep(0.1)
        status, body, _ = call(daemon, "GET", "/readyz", token=ADMIN_TOKEN)  # the reasons are the admin's to see
        assert status == 503 and "refused" in json.dumps(body).lower(), body
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.stop()

"""The command explains: one line naming the cause and the variable or flag, JSON under --json,
tracebacks only with --debug, help naming the variables read, a confirmation before purging."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys

import pytest
import redis.exceptions
from tests.helpers.environment import API_TOKEN, free_port
from tests.helpers.daemon_process import REPO, DaemonProcess

from theset_daemon.cli import main as cli

from theset_daemon.runtime import config
from theset_daemon.cli.errors import explain


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    return free_port()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, redis_url: str, namespace: str) -> pytest.MonkeyPatch:
    """The test's Redis namespace, nothing else configured."""
    for name in [k for k in os.environ if k.startswith("THESET_") or k == "CREDENTIALS_DIRECTORY"]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("THESET_REDIS_URL", redis_url)
    monkeypatch.setenv("THESET_REDIS_NAMESPACE", namespace)
    return monkeypatch


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_redis_not_answering_is_one_line_naming_the_variable(env, closed_port, capsys):
    env.setenv("THESET_REDIS_URL", f"redis://127.0.0.1:{closed_port}/0")
    assert cli.main(["queues"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"cannot reach Redis at 127.0.0.1:{closed_port}: Connection refused" in line and "THESET_REDIS_URL" in line

    assert cli.main(["queues", "--json"]) == 1
    body = json.loads(one_line(capsys.readouterr().err))
    assert body["error"] == "redis_unavailable" and body["variable"] == "THESET_REDIS_URL"
    assert "Connection refused" in body["message"] and body["status"] == 1


def test_postgresql_not_answering_or_missing_database_is_one_line(env, closed_port, capsys):
    env.setenv("THESET_DATABASE_URL", f"postgresql://root@127.0.0.1:{closed_port}/theset")
    assert cli.main(["migrate"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"cannot reach PostgreSQL at 127.0.0.1:{closed_port}" in line and "THESET_DATABASE_URL" in line

    # In a process of its own: `schedules` declares the actors on a broker of its own (global dramatiq state).
    env.setenv("THESET_DATABASE_URL", "postgresql://root@127.0.0.1:5432/theset_no_such_database_here")
    schedules = subprocess.run([sys.executable, "-m", "theset_daemon", "schedules", "--json"], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
    assert schedules.returncode == 1, schedules.stderr
    body = json.loads(one_line(schedules.stderr))
    assert body["error"] == "database_missing" and body["variable"] == "THESET_DATABASE_URL"
    assert "no database 'theset_no_such_database_here'" in body["message"] and "migrate" in body["message"]


def test_debug_shows_the_traceback_instead(env, closed_port):
    env.setenv("THESET_REDIS_URL", f"redis://127.0.0.1:{closed_port}/0")
    with pytest.raises(redis.exceptions.ConnectionError):
        cli.main(["queues", "--debug"])


def test_a_wrong_url_is_a_configuration_error_naming_it(env, capsys):
    env.setenv("THESET_DATABASE_URL", "mysql://x")
    assert cli.main(["config", "--json"]) == config.EXIT_CONFIG
    body = json.loads(one_line(capsys.readouterr().err))
    assert body["error"] == "config" and body["variable"] == "THESET_DATABASE_URL"


def test_an_unexpected_error_is_still_one_line_pointing_at_debug():
    assert str(explain(RuntimeError("boom"))) == "unexpected RuntimeError: boom; run with --debug for the traceback"


def test_a_port_in_use_names_the_port_setting(daemon_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**daemon_env, "THESET_HTTP_PORT": str(port)}
        run = subprocess.run([sys.executable, "-m", "theset_daemon", "run", "--no-migrate"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        sandbox = subprocess.run([sys.executable, "-m", "theset_daemon", "sandbox", "--port", str(port)], env=env,
                                 cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "address already in use (THESET_HTTP_PORT)" in one_line(run.stderr)
    assert sandbox.returncode == 1 and "address already in use (--port)" in one_line(sandbox.stderr)


def test_a_refused_token_and_no_daemon_are_one_line(daemon_env, migrated_database_url, closed_port):
    daemon = DaemonProcess({**daemon_env, "THESET_DATABASE_URL": migrated_database_url}).start().wait_ready()
    try:
        env = {**daemon.env, "THESET_API_TOKEN": "not-" + API_TOKEN}
        refused = subprocess.run([sys.executable, "-m", "theset_daemon", "import", "K8vZ9171ob7", "--url", daemon.url],
                                 env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    finally:
        daemon.signal()
        daemon.wait_exit()
        daemon.stop()
    assert refused.returncode == 1
    assert "the daemon refused the token (HTTP 401" in one_line(refused.stderr) and "THESET_API_TOKEN" in refused.stderr
    nobody = subprocess.run([sys.executable, "-m", "theset_daemon", "import", "K8vZ9171ob7", "--url",
                             f"http://127.0.0.1:{closed_port}"], env=env, cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert nobody.returncode == 1 and "no daemon answering" in one_line(nobody.stderr) and "(--url)" in nobody.stderr


def test_purging_dead_letters_needs_yes_without_a_terminal(env, closed_port, capsys, monkeypatch):
    env.setenv("THESET_REDIS_URL", f"redis://127.0.0.1:{closed_port}/0")  # it must not even connect
    monkeypatch.setattr(sys, "stdin", open("/dev/null"))
    assert cli.main(["dlq", "purge"]) == 2
    assert "confirm with --yes" in one_line(capsys.readouterr().err)
    assert cli.main(["dlq", "purge", "--yes"]) == 1  # went on: now it is Redis that is missing
    assert "cannot reach Redis" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(("argv", "suggested"), [
    (["queus"], "'queues'"), (["queues", "--jsn"], "'--json'"), (["dlq", "purg"], "'purge'"), (["migrat"], "'migrate'"),
])
def test_typos_get_a_suggestion(argv, suggested, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert f"did you mean {suggested}?" in capsys.readouterr().err


def test_every_subcommand_help_describes_it_and_names_the_variables_it_reads():
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        if name == "sandbox":  # parses its own options
            continue
        text = sub.format_help()
        assert sub.description and "environment:" in text and "THESET_" in text, name


def test_a_daemon_without_tokens_or_keys_warns_at_boot():
    bare = cli.boot_warnings(config.load({}), {})
    assert any("THESET_API_TOKEN" in w for w in bare) and any("THESET_ADMIN_TOKEN" in w for w in bare)
    assert any("THESET_TICKETMASTER_API_KEY" in w for w in bare) and any("THESET_DATABASE_URL" in w for w in bare)
    configured = {"THESET_API_TOKEN": "a" * 32, "THESET_ADMIN_TOKEN": "b" * 32, "THESET_SSE_SECRET": "c" * 32,
                  "THESET_SPOTIFY_CLIENT_ID": "id", "THESET_SPOTIFY_CLIENT_SECRET": "s", "THESET_TICKETMASTER_API_KEY": "k",
                  "THESET_SETLISTFM_API_KEY": "k", "THESET_DATABASE_URL": "postgresql://h/db", "THESET_REDIS_URL": "redis://h"}
    assert cli.boot_warnings(config.load(configured), configured) == []


@pytest.fixture
def redis_with_password(tmp_path):
    """A private redis-server on a free port that wants a password (stopped afterwards)."""
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                               "no", "--dir", str(tmp_path), "--requirepass", "right-password"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        for line in server.stdout:  # bounded by the server's own start-up output
            if "Ready to accept connections" in line:
                break
        yield port
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("auth", ["", ":wrong-password@"])
def test_a_refused_redis_login_names_the_url(env, redis_with_password, capsys, auth):
    env.setenv("THESET_REDIS_URL", f"redis://{auth}127.0.0.1:{redis_with_password}/0")
    assert cli.main(["queues"]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"Redis at 127.0.0.1:{redis_with_password} refused the login" in line and "(THESET_REDIS_URL)" in line
    assert "wrong-password" not in line

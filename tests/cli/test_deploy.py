"""What an operator deploys: the unit's hardening and credentials, journald priorities, URL secrets."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import sys
import subprocess
from pathlib import Path

import pytest

from tests.helpers.daemon_process import DaemonProcess
from tests.helpers.environment import REPO
from tests.helpers.import_harness import SandboxProcess, run_import

from theset_daemon.runtime import config, logs
from theset_daemon.sandbox import Sandbox

UNIT = REPO / "systemd" / "theset-daemon.service"
#: systemd-analyze security --offline score of the unit (lower is better); it must not rise.
MAX_EXPOSURE = 1.3


def test_log_lines_carry_the_journald_priority_only_when_writing_to_the_journal(tmp_path, monkeypatch):
    out = tmp_path / "stdout"
    with open(out, "w") as stream:
        stat = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        try:
            logs.setup("DEBUG", stream=stream)
            for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL):
                logging.getLogger("theset.test").log(level, "hello")
            monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino + 1}")  # another stream is the journal
            logs.setup("DEBUG", stream=stream)
            logging.getLogger("theset.test").warning("plain")
        finally:
            logging.getLogger().handlers.clear()
    lines = out.read_text().splitlines()
    assert [line[:3] for line in lines[:5]] == ["<7>", "<6>", "<4>", "<3>", "<2>"]
    assert all(json.loads(line[3:])["message"] == "hello" for line in lines[:5])
    assert json.loads(lines[5])["message"] == "plain"


def test_the_database_and_redis_urls_come_from_files_and_credentials(tmp_path):
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "redis_url").write_text("redis://:s3cret-pass@10.0.0.5:6379/0\n")
    (creds / "webhook_secret").write_text("")  # empty: unset
    (tmp_path / "db").write_text("postgresql://theset:pg-pass@10.0.0.6/theset\n")
    settings = config.load({"CREDENTIALS_DIRECTORY": str(creds), "THESET_DATABASE_URL_FILE": str(tmp_path / "db")})
    assert settings.redis_url == "redis://:s3cret-pass@10.0.0.5:6379/0"
    assert settings.database_url == "postgresql://theset:pg-pass@10.0.0.6/theset"
    assert settings.webhook_secret == ""
    shown = settings.masked()
    assert "s3cret-pass" not in str(shown) and "pg-pass" not in str(shown)
    assert config.load({"CREDENTIALS_DIRECTORY": str(creds), "THESET_REDIS_URL": "redis://direct:6379/1"}).redis_url \
        == "redis://direct:6379/1"


def test_the_unit_loads_the_credentials_directory_and_every_secret_and_url_is_read_from_it(tmp_path):
    unit = UNIT.read_text()
    assert re.findall(r"^LoadCredential=(.+)$", unit, re.M) == ["theset:/etc/theset-daemon/credentials"]
    # systemd names a directory's files <id>_<file>: theset_api_token, theset_database_url ...
    wanted = {name: var for name, var in config.VARIABLES.items() if var.secret or var.credential}
    assert {"database_url", "redis_url", "webhook_secret", "api_token", "admin_token"} <= set(wanted)
    values = {"database_url": "postgresql://u:p@db.internal/theset", "redis_url": "redis://:p@cache.internal/0"}
    for name, var in wanted.items():
        text = values.setdefault(name, f"{name}-" + "x" * 40)
        (tmp_path / f"theset_{name}").write_text(text + "\n")
    settings = config.load({"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert {name: getattr(settings, name) for name in wanted} == values
    for name in wanted:  # each secret the unit's comment lists, so an operator knows the file names
        assert re.search(rf"\b{name}\b", unit), name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_unit_is_hardened_and_its_exposure_does_not_rise(tmp_path):
    unit = UNIT.read_text()
    for directive in ("LimitNOFILE=65536", "ProtectProc=invisible", "PrivateMounts=yes", "RemoveIPC=yes",
                      "SystemCallFilter=~@privileged @resources", "SystemCallErrorNumber=EPERM"):
        assert re.search(rf"^{re.escape(directive)}$", unit, re.M), directive
    copy = tmp_path / "theset-daemon.service"
    copy.write_text(unit)
    result = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(copy)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def syscall_groups() -> dict[str, list[str]]:
    """systemd's system call groups (``@name`` -> members, groups nested), from ``systemd-analyze syscall-filter``."""
    listing = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager"], capture_output=True, text=True,
                             timeout=60).stdout
    groups: dict[str, list[str]] = {}
    current = None
    for line in listing.splitlines():
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if not line.startswith(" ") and word.startswith("@"):
            current = groups.setdefault(word, [])
        elif current is not None:
            current.append(word)
    return groups


def expand(groups: dict[str, list[str]], *names: str) -> set[str]:
    calls: set[str] = set()
    for name in names:
        for member in groups.get(name, ()):
            calls |= expand(groups, member) if member.startswith("@") else {member}
    return calls


@pytest.mark.skipif(not (shutil.which("strace") and shutil.which("systemd-analyze")), reason="needs strace and systemd")
def test_a_daemon_importing_and_draining_makes_only_system_calls_the_unit_allows(tmp_path, daemon_env):
    unit = UNIT.read_text()
    allowed_groups = re.findall(r"^SystemCallFilter=(@[\w-]+)$", unit, re.M)
    denied_groups = re.findall(r"^SystemCallFilter=~(.+)$", unit, re.M)[0].split()
    trace = tmp_path / "trace"
    sandbox = SandboxProcess(seed=7)
    env = {**daemon_env, **sandbox.env, "THESET_ACTOR_MODULES": "theset_daemon.actors"}
    daemon = DaemonProcess(env, command=("strace", "-f", "-qq", "-o", str(trace), sys.executable, "-m", "theset_daemon"))
    def traced() -> list[int]:
        """The daemon under strace (signals go to it, as systemd sends them to the daemon)."""
        strace = daemon.proc.pid
        return [int(pid) for pid in Path(f"/proc/{strace}/task/{strace}/children").read_text().split()]

    try:
        daemon.start().wait_ready(90)
        _, events = run_import(daemon, Sandbox(7).truth.demo_attraction_id)
        assert events[-1][1]["status"] == "completed"
        os.kill(traced()[0], signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:  # killing strace alone would orphan the daemon
            for pid in traced():
                os.kill(pid, signal.SIGKILL)
        daemon.stop()
        sandbox.stop()
    used = set(re.findall(r"^\d+\s+([a-z0-9_]+)\(", trace.read_text(), re.M))
    groups = syscall_groups()
    assert len(used) > 30, sorted(used)
    assert not used - expand(groups, *allowed_groups), "outside " + " ".join(allowed_groups)
    assert not used & expand(groups, *denied_groups), "denied by ~" + " ".join(denied_groups)

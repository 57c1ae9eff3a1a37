"""The demo hands over: it says what it does, a bar per phase, a banner to go on with; one Ctrl-C drains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.environment import free_port

pytestmark = pytest.mark.timeout(180)


def start_demo(tmp_path: Path, redis_url: str, namespace: str, database_url: str, *args: str) -> subprocess.Popen[str]:
    """``theset-daemon demo`` in its own process group, as a terminal's foreground job is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THESET_")}
    env.update(THESET_REDIS_URL=redis_url, THESET_REDIS_NAMESPACE=namespace, THESET_DATABASE_URL=database_url,
               PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "theset_daemon", "demo", "--port", str(free_port()), "--sandbox-port",
           str(free_port()), *args]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def test_the_demo_shows_a_bar_per_phase_and_hands_over(tmp_path, redis_url, namespace, database_url):
    demo = start_demo(tmp_path, redis_url, namespace, database_url, "--exit")
    out, _ = demo.communicate(timeout=150)
    assert demo.returncode == 0, out
    assert out.startswith("demo: starting the sandbox providers"), out
    for phase in ("artist", "spotify_profile", "catalog", "shows", "venues", "setlists", "images"):
        assert f"\n{phase:<16}[{'#' * 30}] 100%  done" in out, phase
    assert f"export THESET_DATABASE_URL={database_url}" in out and f"export THESET_REDIS_NAMESPACE={namespace}" in out
    assert "big catalogue  K8v" in out and "big events     K8v" in out
    assert "the daemon stopped (exit status 0)" in out


def test_one_ctrl_c_drains_the_daemon_cleanly(tmp_path, redis_url, namespace, database_url):
    demo = start_demo(tmp_path, redis_url, namespace, database_url)
    seen = []
    assert demo.stdout is not None
    for line in demo.stdout:
        seen.append(line)
        if line.startswith("demo: importing attraction"):
            break
    os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C does: SIGINT to the terminal's foreground group
    out = "".join(seen) + demo.communicate(timeout=90)[0]
    assert demo.returncode == 130, out
    assert "stopping: the daemon drains" in out and "the daemon stopped (exit status 0)" in out, out
    log = (tmp_path / ".demo" / "daemon.log").read_text()
    assert log.count("received: draining") == 1 and "without finishing the drain" not in log, log[-2000:]

"""Configuration: validated at start-up, secrets from files or systemd credentials, masked when shown."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.daemon_process import REPO, run_cli

from theset_daemon.runtime import config, logs



@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("THESET_HTTP_PORT", "eighty", "TCP port"),
        ("THESET_HTTP_PORT", "70000", "TCP port"),
        ("THESET_DRAIN_TIMEOUT", "-1", "positive number"),
        ("THESET_REDIS_URL", "http://x", "redis"),
        ("THESET_DATABASE_URL", "mysql://x/y", "postgres"),
        ("THESET_JOB_JITTER", "2", "between 0 and 1"),
        ("THESET_ALLOW_PRIVATE_FETCH", "maybe", "boolean"),
        ("THESET_WEBHOOK_URLS", "ftp://x", "URL"),
        ("THESET_LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_expects(variable, value, expected):
    with pytest.raises(config.ConfigError) as err:
        config.load({variable: value})
    assert err.value.variable == variable
    assert expected in str(err.value)


def test_the_cli_exits_with_the_config_status(tmp_path):
    result = run_cli("config", env={"THESET_DRAIN_TIMEOUT": "soon", "PATH": "/usr/bin:/bin"})
    assert result.returncode == config.EXIT_CONFIG
    assert "THESET_DRAIN_TIMEOUT" in result.stderr and "positive number" in result.stderr


def test_secrets_come_from_env_file_or_systemd_credentials(tmp_path):
    pad = "-" + "p" * 26
    (tmp_path / "token").write_text(f"from-file-token{pad}\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "admin_token").write_text(f"from-credential{pad}")
    settings = config.load(
        {"THESET_API_TOKEN_FILE": str(tmp_path / "token"), "CREDENTIALS_DIRECTORY": str(creds),
         "THESET_SSE_SECRET": f"direct{pad}"}
    )
    assert settings.api_token == f"from-file-token{pad}"
    assert settings.admin_token == f"from-credential{pad}"
    assert settings.sse_secret == f"direct{pad}"
    with pytest.raises(config.ConfigError) as err:
        config.load({"THESET_API_TOKEN_FILE": str(tmp_path / "missing")})
    assert err.value.variable == "THESET_API_TOKEN_FILE"


def test_config_command_masks_every_secret_and_database_password():
    env = {
        "PATH": "/usr/bin:/bin",
        "THESET_API_TOKEN": "api-secret-value-" + "v" * 16,
        "THESET_SPOTIFY_CLIENT_SECRET": "spotify-secret-value",
        "THESET_DATABASE_URL": "postgresql://u:db-password-value@h:5432/d",
    }
    result = run_cli("config", "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["THESET_API_TOKEN"] == config.MASK
    assert shown["THESET_HTTP_PORT"] == 8080
    for secret in ("api-secret-value", "spotify-secret-value", "db-password-value"):
        assert secret not in result.stdout


def test_log_lines_are_json_with_job_context_and_no_secrets(capsys):
    logs.setup("INFO", secrets=["hunter2-secret"])
    token = logs.job_context.set({"job_id": "j1", "queue": "spotify_sync", "actor": "sync_profile"})
    try:
        logging.getLogger("theset.test").info("calling with hunter2-secret", extra={"import_id": "imp-1"})
    finally:
        logs.job_context.reset(token)
        logging.getLogger().handlers.clear()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["level"] == "INFO" and line["logger"] == "theset.test"
    assert line["job_id"] == "j1" and line["queue"] == "spotify_sync" and line["import_id"] == "imp-1"
    assert "hunter2-secret" not in line["message"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_the_unit_file_passes_systemd_analyze_verify(tmp_path):
    unit = (REPO / "systemd" / "theset-daemon.service").read_text()
    executable = Path(sys.executable).with_name("theset-daemon")
    assert "/opt/theset-daemon/venv/bin/theset-daemon" in unit
    (tmp_path / "theset-daemon.service").write_text(unit.replace("/opt/theset-daemon/venv/bin/theset-daemon", str(executable)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(tmp_path / "theset-daemon.service")], capture_output=True, text=True
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    for required in ("Type=notify", "WatchdogSec=", "KillMode=mixed", "Restart=on-failure", "LoadCredential=",
                     "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "EnvironmentFile="):
        assert required in unit
    stop_timeout = int(unit.split("TimeoutStopSec=")[1].split()[0])
    assert stop_timeout > config.load({}).drain_timeout + 5, "systemd must not kill the daemon mid-drain"

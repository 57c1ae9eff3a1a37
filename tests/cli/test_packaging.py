"""The package as an operator installs it: a wheel built from the checkout, in a fresh venv.

The wheel is built without build isolation (the test venv's pinned setuptools)
and installed with ``--no-index`` from the wheelhouse ``scripts/bootstrap``
fills with the pinned dependencies, so nothing here reaches a package index.
The installed daemon then runs from an empty directory outside the checkout:
migrate, sandbox, daemon, one import followed to the end.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import asyncpg
import pytest

from tests.helpers.environment import REPO, daemon_environment
from tests.helpers.daemon_process import DaemonProcess
from theset_daemon import __version__

WHEELHOUSE = Path(sys.prefix) / "wheelhouse"
#: What the source copy leaves out (local state, never part of a build).
IGNORED = shutil.ignore_patterns(".git", ".venv", ".demo", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", "artifacts", "node_modules")

pytestmark = pytest.mark.timeout(240)


def run(cmd: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; fail the test with its output when it exits non-zero."""
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a clean copy of the checkout (no stale build/ folder can leak in)."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(REPO, source, ignore=IGNORED)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", base / "dist", source])
    (built,) = (base / "dist").glob("theset_daemon-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    """A fresh venv with the wheel and its pinned dependencies, installed offline."""
    if not any(WHEELHOUSE.glob("dramatiq-*.whl")):
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: run scripts/bootstrap (it fills it from pyproject.toml)")
    target = wheel.parent.parent / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", target])
    run([sys.executable, "-m", "pip", "--python", target / "bin" / "python", "install", "-q", "--no-index",
         "--disable-pip-version-check", "--find-links", WHEELHOUSE, wheel])
    return target


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """An empty working directory outside the checkout."""
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    assert not empty.resolve().is_relative_to(REPO)
    return empty


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus anything pointing into the checkout or its venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("THESET_")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(REPO)))
    return {**env, **extra}


def test_the_wheel_has_one_top_level_name_and_every_file_it_reads(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"theset_daemon", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    shipped = set(names)
    for folder, package in (("actors", "theset_daemon/actors"), ("sql", "theset_daemon/sql"),
                            ("schedules", "theset_daemon/schedules"), ("theset_daemon", "theset_daemon")):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".sql", ".toml", ".lua", ".js",
                                                                                      ".css", ".html", ".svg"):
                assert f"{package}/{path.relative_to(REPO / folder).as_posix()}" in shipped, f"{path} is not in the wheel"


def test_the_wheel_carries_its_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (meta_name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(archive.read(meta_name).decode())
        entry_points = archive.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert meta["Name"] == "theset-daemon" and meta["Version"] == __version__
    assert meta["License-Expression"]
    assert meta.get_all("Project-URL") and meta.get_all("Classifier")
    assert meta["Description-Content-Type"] == "text/markdown" and "theset-daemon" in meta.get_payload()
    assert meta.get_all("Requires-Dist") and all("==" in r for r in meta.get_all("Requires-Dist") if "extra ==" not in r)
    assert "theset-daemon = theset_daemon.cli.main:main" in entry_points


def test_the_installed_daemon_migrates_serves_and_imports_from_anywhere(
    venv: Path, outside: Path, redis_url: str, namespace: str, database_url: str
) -> None:
    bin_dir = venv / "bin"
    daemon_cmd = str(bin_dir / "theset-daemon")
    env = clean_env(**{k: v for k, v in daemon_environment(redis_url, namespace, database_url).items()
                       if k.startswith("THESET_")})

    version = run([daemon_cmd, "--version"], cwd=outside, env=env).stdout
    assert run([bin_dir / "python", "-m", "theset_daemon", "--version"], cwd=outside, env=env).stdout == version
    where = run([bin_dir / "python", "-c", "import theset_daemon, theset_daemon.actors as a; print(a.__file__)"],
                cwd=outside, env=env).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    assert subprocess.run([bin_dir / "python", "-c", "import actors"], cwd=outside, env=env,
                          stderr=subprocess.DEVNULL).returncode == 1

    migrated = run([daemon_cmd, "migrate"], cwd=outside, env=env).stdout
    assert re.match(r"applied [1-9]\d* migration\(s\): 001_schema", migrated), migrated

    sandbox = subprocess.Popen([daemon_cmd, "sandbox", "--port", "0", "--seed", "7", "--latency-ms", "0"],
                               cwd=outside, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    daemon: DaemonProcess | None = None
    try:
        sandbox_env, demo = read_sandbox(sandbox)
        daemon = DaemonProcess({**env, **sandbox_env}, command=(daemon_cmd,), cwd=outside).start().wait_ready(60)
        assert daemon.get("/dashboard")[0] == 200  # the static files, from the installed package

        schedules = run([daemon_cmd, "schedules"], cwd=outside, env=daemon.env).stdout
        assert "trending" in schedules, schedules

        imported = run([daemon_cmd, "import", demo, "--follow", "--url", daemon.url], cwd=outside, env=daemon.env,
                       timeout=120)
        assert "100%" in imported.stdout, imported.stdout
        print(f"\n{version}{migrated}{imported.stdout[-400:]}")
        assert asyncio.run(artists_named(database_url)) >= 1
    finally:
        if daemon is not None:
            daemon.stop()
        sandbox.terminate()
        sandbox.wait(10)


def read_sandbox(sandbox: subprocess.Popen[str]) -> tuple[dict[str, str], str]:
    """The THESET_* lines and the demo attraction id the sandbox prints once serving."""
    env: dict[str, str] = {}
    demo = ""
    assert sandbox.stdout is not None
    for line in sandbox.stdout:
        if line.startswith("demo attraction"):
            demo = line.split()[2].rstrip(";")
        elif line.startswith("THESET_"):
            name, _, value = line.strip().partition("=")
            env[name] = value
            if name == "THESET_SETLISTFM_API_KEY":
                break
    assert env and demo, "the installed sandbox did not print its start-up lines"
    return env, demo


async def artists_named(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("select count(*) from artists where name <> ''")
    finally:
        await conn.close()

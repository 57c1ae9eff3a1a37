"""The chaos run's own PostgreSQL cluster on a free loopback port (its Redis is a ``PrivateRedis``).

The machine's shared PostgreSQL (5432) is never touched: this one can be stopped and started.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from tests.helpers.environment import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    """A PostgreSQL cluster of this run only (initdb'd in a temp dir, run as ``postgres``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        shutil.chown(self.dir, "postgres")
        self.running = False

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> "PrivatePostgres":
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "root", "--no-sync")
        return self

    def start(self) -> "PrivatePostgres":
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.log), "-w", "start")
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://root@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        async def go() -> None:
            conn = await asyncpg.connect(self.url())
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(go())
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

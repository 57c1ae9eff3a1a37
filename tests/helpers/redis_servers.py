"""Private redis-server / Sentinel processes on loopback, and a throwaway CA, for the connection tests.

Everything here runs in a temporary directory, binds 127.0.0.1 only, keeps
nothing on disk, and is stopped by :meth:`PrivateRedis.stop` (call it from a
fixture finalizer). The shared Redis is never touched.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import redis

from tests.helpers.environment import free_port
from tests.helpers.waiting import wait_until


class Ca:
    """A throwaway certificate authority (openssl) issuing certificates for 127.0.0.1/localhost."""

    def __init__(self, directory: Path, name: str = "ca") -> None:
        self.dir = directory
        self.name = name
        self.cert = directory / f"{name}.crt"
        self.key = directory / f"{name}.key"
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", self.key, "-out", self.cert, "-days", "1", "-subj", f"/CN=theset test {name}")

    def _openssl(self, *args: object) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, cwd=self.dir)

    def issue(self, name: str) -> tuple[Path, Path]:
        """A certificate (and its key) for 127.0.0.1 and localhost, signed by this CA."""
        key, csr, cert = (self.dir / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        ext = self.dir / f"{name}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
                      "-out", cert, "-days", "1", "-extfile", ext)
        return cert, key


def _cluster_port() -> int:
    """A free port whose cluster bus port (10,000 higher, so at most 65,535) is free too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 <= 65535 and _is_free(port + 10000):
            return port
    raise AssertionError("no free port pair for a cluster node")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class PrivateRedis:
    """A redis-server of its own on a free loopback port.

    Parameters:
      tls: a :class:`Ca` to serve TLS only (``--port 0 --tls-port``) with a certificate it issues;
        clients must present a certificate from the same CA.
      args: extra redis-server arguments (``--requirepass``, ``--maxmemory``...).
      sentinel: run as a Sentinel (``redis-server conf --sentinel``) with ``sentinel_conf`` lines.
    """

    def __init__(self, *args: str, tls: Ca | None = None, sentinel_conf: str | None = None) -> None:
        self.port = _cluster_port() if "--cluster-enabled" in args else free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="theset-redis-"))
        self.tls = tls
        self.args = list(args)
        self.sentinel_conf = sentinel_conf
        self.proc: subprocess.Popen | None = None
        self.frozen = False

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def client_kwargs(self) -> dict:
        if not self.tls:
            return {"host": "127.0.0.1", "port": self.port}
        cert, key = self.tls.dir / "client.crt", self.tls.dir / "client.key"
        return {"host": "127.0.0.1", "port": self.port, "ssl": True, "ssl_ca_certs": str(self.tls.cert),
                "ssl_certfile": str(cert), "ssl_keyfile": str(key)}

    def client(self, **extra) -> redis.Redis:
        return redis.Redis(**self.client_kwargs(), socket_timeout=5, **extra)

    def start(self) -> "PrivateRedis":
        if self.sentinel_conf is not None:
            conf = self.dir / "sentinel.conf"
            conf.write_text(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n{self.sentinel_conf}")
            cmd = ["redis-server", str(conf), "--sentinel"]
        else:
            cmd = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.dir)]
            if self.tls:
                if not (self.tls.dir / "server.crt").exists():
                    self.tls.issue("server")
                    self.tls.issue("client")
                cmd += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(self.tls.dir / "server.crt"),
                        "--tls-key-file", str(self.tls.dir / "server.key"), "--tls-ca-cert-file", str(self.tls.cert)]
            else:
                cmd += ["--port", str(self.port)]
            cmd += self.args
        self.proc = subprocess.Popen(cmd, stdout=open(self.dir / "redis.log", "wb"), stderr=subprocess.STDOUT)
        wait_until(self._serving, 15, f"private redis-server on {self.port}", interval=0.05)
        return self

    def _serving(self) -> bool:
        """Answers a PING; a server that exited fails at once with its log."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"redis-server on {self.port} exited: {(self.dir / 'redis.log').read_text()[-600:]}")
        return self.ping()

    def ping(self, **extra) -> bool:
        try:
            client = self.client(**extra)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except redis.exceptions.AuthenticationError:
            return True  # up, and wants a password
        except redis.RedisError:
            return False

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.proc is not None and self.frozen:
            self.proc.send_signal(signal.SIGCONT)
            self.frozen = False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.thaw()
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def used_memory(self) -> int:
        """INFO memory's ``used_memory``, in bytes."""
        client = self.client()
        try:
            return int(client.info("memory")["used_memory"])
        finally:
            client.close()

    def retained(self, pattern: str) -> tuple[int, int]:
        """(keys, bytes) matching ``pattern`` (MEMORY USAGE of each): what retention keeps by design."""
        client = self.client()
        try:
            keys = list(client.scan_iter(match=pattern, count=1000))
            total = 0
            for i in range(0, len(keys), 500):
                with client.pipeline(transaction=False) as pipe:
                    for key in keys[i:i + 500]:
                        pipe.memory_usage(key, samples=0)
                    total += sum(v or 0 for v in pipe.execute())
            return len(keys), total
        finally:
            client.close()

    def log(self) -> str:
        path = self.dir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


def spawn_sentinels(primary: PrivateRedis, service: str, n: int = 3) -> list[PrivateRedis]:
    """``n`` Sentinels watching ``primary`` as ``service`` (quorum 2, down after 1 s, failover within 3 s)."""
    conf = (
        f"sentinel monitor {service} 127.0.0.1 {primary.port} 2\n"
        f"sentinel down-after-milliseconds {service} 1000\n"
        f"sentinel failover-timeout {service} 3000\n"
        f"sentinel parallel-syncs {service} 1\n"
    )
    sentinels = []
    try:
        for _ in range(n):
            sentinels.append(PrivateRedis(sentinel_conf=conf).start())
    except BaseException:
        for s in sentinels:
            s.stop()
        raise
    return sentinels

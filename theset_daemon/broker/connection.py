"""Where the daemon's Redis is and how to reach it: one parsed target, every client built from it.

A :class:`RedisTarget` is read once from ``THESET_REDIS_URL`` (plus the
password and TLS files given apart from it) and every Redis connection the
daemon opens is made from it: the hot-path script client (``resp.py``) asks
:func:`primary` for the address and :func:`ssl_context` for TLS; redis-py
clients come from :func:`async_client` / :func:`sync_client`. So TLS, ACL
users, Sentinel, timeouts and keepalive hold on every connection alike.

URLs: ``redis://[user:pass@]host:port/db``, ``rediss://…`` (TLS),
``unix:///path?db=N``, and ``redis+sentinel://[user:pass@]h1:p1,h2:p2/service/db``
(``rediss+sentinel://`` for TLS to the sentinels and the primary). Query
options: ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``,
``ssl_cert_reqs`` (none/optional/required), ``ssl_check_hostname``,
``socket_timeout``, ``socket_connect_timeout``.

This module imports nothing of the application.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as asentinel
import redis.sentinel as sentinel
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError
from redis.retry import Retry

#: Seconds to open a connection (TCP, TLS and the AUTH/SELECT handshake) unless configured.
CONNECT_TIMEOUT_S = 2.0
#: Seconds one call may wait for its reply unless configured (blocking calls add their block).
#: Two Redis steps in one API request (the auth throttle, then the work) stay under 5 s.
CALL_TIMEOUT_S = 2.0
#: Retries of a redis-py call after a connection error or timeout.
RETRIES = 1
#: TCP keepalive: idle seconds before the first probe, seconds between probes, probes before giving up.
KEEPALIVE = (10, 5, 3)

SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "rediss+sentinel")
_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}
_OPTIONS = {
    "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname",
    "socket_timeout", "socket_connect_timeout", "db",
}


@dataclass(frozen=True)
class Tls:
    """TLS settings: CA bundle, client certificate and key (files), verification."""

    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    cert_reqs: str = "required"
    check_hostname: bool = True


@dataclass(frozen=True)
class RedisTarget:
    """One Redis deployment: a server (TCP or unix socket) or a Sentinel-watched service.

    ``tls`` is None for plain TCP. ``sentinels``/``service`` are set for Sentinel;
    ``host``/``port`` are then only the last primary seen (see :func:`primary`).
    """

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    tls: Tls | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    timeout_s: float = CALL_TIMEOUT_S

    @property
    def where(self) -> str:
        """The target in words for log lines and errors (never the password)."""
        scheme = "rediss" if self.tls else "redis"
        if self.service:
            hosts = ",".join(f"{h}:{p}" for h, p in self.sentinels)
            return f"{scheme}+sentinel://{hosts}/{self.service}/{self.db}"
        if self.path:
            return f"unix://{self.path}?db={self.db}"
        return f"{scheme}://{self.host}:{self.port}/{self.db}"


def parse(
    url: str,
    *,
    password: str | None = None,
    tls: Tls | None = None,
    connect_timeout_s: float | None = None,
    timeout_s: float | None = None,
) -> RedisTarget:
    """The target of ``url``; ``password``, ``tls`` files and timeouts given here win over the URL's.

    Raises:
      ValueError: naming what is wrong with the URL (never echoing its password).
    """
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme not in SCHEMES:
        raise ValueError(f"a URL with scheme {', '.join(s + '://' for s in SCHEMES)}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - _OPTIONS)
    if unknown:
        raise ValueError(f"known URL options ({', '.join(sorted(_OPTIONS))}), not {', '.join(unknown)}")
    fields: dict[str, Any] = {}
    userinfo, _, hosts = parts.netloc.rpartition("@")
    if userinfo:
        user, _, secret = userinfo.partition(":")
        fields["username"] = unquote(user) or None
        fields["password"] = unquote(secret) or None
    path = [p for p in parts.path.split("/") if p]
    if scheme == "unix":
        fields["path"] = parts.path
        fields["db"] = _int(query.get("db", "0"), "db")
    elif scheme.endswith("+sentinel"):
        fields["sentinels"] = tuple(_host_port(h, 26379) for h in hosts.split(",") if h)
        if not fields["sentinels"] or not path:
            raise ValueError("redis+sentinel://host1:port1,host2:port2/<service>/<db>")
        fields["service"] = unquote(path[0])
        fields["db"] = _int(path[1] if len(path) > 1 else query.get("db", "0"), "db")
    else:
        if not hosts:
            raise ValueError("a host in the URL")
        fields["host"], fields["port"] = _host_port(hosts, 6379)
        fields["db"] = _int(path[0] if path else query.get("db", "0"), "db")
    if scheme.startswith("rediss") or tls is not None:
        fields["tls"] = _tls(query, tls)
    if password:
        fields["password"] = password
    fields["connect_timeout_s"] = connect_timeout_s or _seconds(query.get("socket_connect_timeout"), CONNECT_TIMEOUT_S)
    fields["timeout_s"] = timeout_s or _seconds(query.get("socket_timeout"), CALL_TIMEOUT_S)
    return RedisTarget(**fields)


def _int(text: str, name: str) -> int:
    if not text.isdigit():
        raise ValueError(f"a number for {name}, not {text!r}")
    return int(text)


def _seconds(text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise ValueError(f"a positive number of seconds, not {text!r}")
    return value


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):  # [::1]:6379
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = text.partition(":")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"host:port, not {text!r}")
    return unquote(host), int(port) if port else default_port


def _tls(query: dict[str, str], given: Tls | None) -> Tls:
    base = given or Tls()
    reqs = query.get("ssl_cert_reqs", base.cert_reqs).lower()
    if reqs not in _CERT_REQS:
        raise ValueError(f"ssl_cert_reqs one of {', '.join(_CERT_REQS)}, not {reqs!r}")
    check = query.get("ssl_check_hostname")
    return Tls(
        ca_certs=base.ca_certs or query.get("ssl_ca_certs"),
        certfile=base.certfile or query.get("ssl_certfile"),
        keyfile=base.keyfile or query.get("ssl_keyfile"),
        cert_reqs=reqs,
        check_hostname=base.check_hostname if check is None else check.lower() in {"1", "true", "yes", "on"},
    )


# --- the hot-path client's side ---------------------------------------------------------


def ssl_context(tls: Tls) -> ssl.SSLContext:
    """An SSL context for ``tls`` (the same checks redis-py applies)."""
    context = ssl.create_default_context(cafile=tls.ca_certs)
    context.check_hostname = tls.check_hostname and tls.cert_reqs != "none"
    context.verify_mode = _CERT_REQS[tls.cert_reqs]
    if tls.certfile:
        context.load_cert_chain(tls.certfile, tls.keyfile)
    return context


def set_keepalive(sock: socket.socket) -> None:
    """TCP keepalive on ``sock`` (a dead peer is noticed in ~25 s even while idle)."""
    if sock.family == socket.AF_UNIX:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    idle, interval, count = KEEPALIVE
    for name, value in (("TCP_KEEPIDLE", idle), ("TCP_KEEPINTVL", interval), ("TCP_KEEPCNT", count)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def handshake(target: RedisTarget, name: str | None) -> list[list[Any]]:
    """The commands a new connection sends first: AUTH, SELECT, CLIENT SETNAME."""
    commands: list[list[Any]] = []
    if target.password:
        commands.append([b"AUTH", *([target.username] if target.username else []), target.password])
    if target.db:
        commands.append([b"SELECT", target.db])
    if name:
        commands.append([b"CLIENT", b"SETNAME", name])
    return commands


def handshake_error(target: RedisTarget, reply: ResponseError) -> Exception:
    """The exception for an error reply to the handshake (authentication errors typed as such)."""
    text = str(reply)
    if text.startswith(("WRONGPASS", "NOAUTH")) or "invalid password" in text or "invalid username" in text:
        return AuthenticationError(f"{target.where}: {text}")
    return ResponseError(f"{target.where}: {text}")


async def primary(target: RedisTarget) -> tuple[str, int]:
    """The address to connect to now: the server's, or the primary Sentinel names."""
    if not target.service:
        return target.host, target.port
    manager = asentinel.Sentinel(target.sentinels, sentinel_kwargs=_sentinel_kwargs(target))
    try:
        host, port = await manager.discover_master(target.service)
    finally:
        for node in manager.sentinels:
            await node.aclose()
    return host, int(port)


def primary_sync(target: RedisTarget) -> tuple[str, int]:
    """:func:`primary`, blocking."""
    if not target.service:
        return target.host, target.port
    manager = sentinel.Sentinel(target.sentinels, sentinel_kwargs=_sentinel_kwargs(target))
    try:
        host, port = manager.discover_master(target.service)
    finally:
        for node in manager.sentinels:
            node.close()
    return host, int(port)


# --- redis-py clients ---------------------------------------------------------------------


def _sentinel_kwargs(target: RedisTarget) -> dict[str, Any]:
    kwargs = {
        "socket_timeout": target.timeout_s,
        "socket_connect_timeout": target.connect_timeout_s,
        "socket_keepalive": True,
    }
    if target.tls:
        kwargs.update(_ssl_kwargs(target.tls))
    return kwargs


def _ssl_kwargs(tls: Tls) -> dict[str, Any]:
    return {
        "ssl": True,
        "ssl_ca_certs": tls.ca_certs,
        "ssl_certfile": tls.certfile,
        "ssl_keyfile": tls.keyfile,
        "ssl_cert_reqs": tls.cert_reqs,
        "ssl_check_hostname": tls.check_hostname and tls.cert_reqs != "none",
    }


def client_kwargs(target: RedisTarget, *, socket_timeout: float | None = None) -> dict[str, Any]:
    """redis-py connection keyword arguments for ``target`` (without the address for Sentinel)."""
    kwargs: dict[str, Any] = {
        "db": target.db,
        "username": target.username,
        "password": target.password,
        "socket_timeout": socket_timeout or target.timeout_s,
        "socket_connect_timeout": target.connect_timeout_s,
        # No health-check PING before a command on an idle connection: it would double the
        # wait on a frozen Redis; TCP keepalive finds dead connections instead.
        "health_check_interval": 0,
    }
    if target.path:
        kwargs["unix_socket_path"] = target.path
        return kwargs
    kwargs["socket_keepalive"] = True
    kwargs["socket_keepalive_options"] = _keepalive_options()
    if target.tls:
        kwargs.update(_ssl_kwargs(target.tls))
    if not target.service:
        kwargs.update(host=target.host, port=target.port)
    return kwargs


def _keepalive_options() -> dict[int, int]:
    names = ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT")
    return {getattr(socket, n): v for n, v in zip(names, KEEPALIVE) if hasattr(socket, n)}


def async_client(
    target: RedisTarget,
    *,
    max_connections: int | None = None,
    socket_timeout: float | None = None,
    client_name: str | None = None,
    pool_wait_s: float | None = None,
) -> aioredis.Redis:
    """A redis-py asyncio client for ``target`` that follows a Sentinel failover.

    ``socket_timeout`` overrides the per-call timeout (a blocking reader passes
    its block plus a margin); ``pool_wait_s`` makes the pool a blocking one (at
    most ``max_connections``, a caller waits that long for one; with Sentinel the
    pool does not wait but refuses past ``max_connections``). A call that lost its connection is retried once
    (a connection gone stale in a failover), a timed-out one never, instead of
    redis-py's ten retries: a frozen Redis fails a call within its timeout.
    """
    kwargs = client_kwargs(target, socket_timeout=socket_timeout)
    kwargs["retry"] = AsyncRetry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), RETRIES, (ConnectionError,))
    if client_name:
        kwargs["client_name"] = client_name
    if max_connections is not None:
        kwargs["max_connections"] = max_connections
    if target.service:
        manager = asentinel.Sentinel(target.sentinels, sentinel_kwargs=_sentinel_kwargs(target))
        return manager.master_for(target.service, **kwargs)
    if pool_wait_s is not None:  # a burst waits up to pool_wait_s for a connection instead of opening more
        if target.path:
            kwargs["connection_class"] = aioredis.UnixDomainSocketConnection
            kwargs["path"] = kwargs.pop("unix_socket_path")
        elif target.tls:
            kwargs["connection_class"] = aioredis.SSLConnection
            kwargs.pop("ssl")
        pool = aioredis.BlockingConnectionPool(timeout=pool_wait_s, **kwargs)
        return aioredis.Redis(connection_pool=pool)
    return aioredis.Redis(**kwargs)


def sync_client(
    target: RedisTarget, *, max_connections: int | None = None, socket_timeout: float | None = None
) -> redis.Redis:
    """A blocking redis-py client for ``target`` (Sentinel and retries as in :func:`async_client`)."""
    kwargs = client_kwargs(target, socket_timeout=socket_timeout)
    kwargs["retry"] = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), RETRIES, (ConnectionError,))
    if max_connections is not None:
        kwargs["max_connections"] = max_connections
    if target.service:
        manager = sentinel.Sentinel(target.sentinels, sentinel_kwargs=_sentinel_kwargs(target))
        return manager.master_for(target.service, **kwargs)
    return redis.Redis(**kwargs)


# --- what an error means ------------------------------------------------------------------


def permanent_reason(exc: BaseException) -> str | None:
    """Why ``exc`` will not go away by retrying (wrong password, no such db index), else None."""
    text = str(exc)
    if isinstance(exc, AuthenticationError) or text.startswith(("WRONGPASS", "NOAUTH")) or "WRONGPASS" in text:
        return "authentication failed (check the user and password)"
    if "DB index is out of range" in text or "invalid DB index" in text:
        return "the database index is out of range on this server"
    return None


def describe(exc: BaseException) -> str:
    """A short reason for ``exc``, naming TLS when a certificate or handshake is the cause."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed: {cause.verify_message or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake failed: {cause}"
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if "SSL" in text or "certificate" in text:
        return f"TLS: {text}"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

"""A lean RESP client for the broker's hot path (script calls), async and sync.

redis-py spends 100-250 µs of Python per call on this machine; the broker's
enqueue/fetch/finish calls are all EVALSHA with flat arguments, so it talks to
Redis through this small client instead: arguments packed straight into RESP,
replies parsed by hiredis, and on the loop one connection shared by every
caller with requests pipelined (replies are matched first-in first-out, so a
cancelled caller never desynchronises the connection). Everything else
(operator reads, the rate limiter, pause/resume) uses redis-py (``broker.aredis``).
Both are built from one :class:`~theset_daemon.broker.connection.RedisTarget`
(TLS, ACL user, Sentinel), and every call is bounded: a connect timeout, a
watchdog on replies, TCP keepalive.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import ssl
import threading
from collections import deque
from typing import Any, Callable, Sequence

import hiredis
from redis.exceptions import ConnectionError, ReadOnlyError, ResponseError, TimeoutError

from . import connection
from .connection import RedisTarget

_DEFAULT = object()


def pack(args: Sequence[Any]) -> bytes:
    """One command in RESP: bytes as they are, str as UTF-8, numbers in decimal."""
    parts = [b"*%d" % len(args)]
    _frame(args, parts)
    return b"\r\n".join(parts)


def _frame(args: Sequence[Any], parts: list[bytes]) -> None:
    """Append each argument's bulk-string length line and data to ``parts``, then the final empty
    part: ``b"\\r\\n".join(parts)`` is the command (every line ends in CRLF)."""
    append = parts.append
    for arg in args:
        kind = type(arg)
        if kind is str:
            arg = arg.encode()
        elif kind is int:
            arg = b"%d" % arg
        elif kind is not bytes:
            arg = repr(arg).encode() if kind is float else str(arg).encode()
        append(b"$%d" % len(arg))
        append(arg)
    append(b"")


def _reader() -> hiredis.Reader:
    return hiredis.Reader(replyError=ResponseError)


class Script:
    """A Lua script called by SHA, loaded on first NOSCRIPT.

    Parameters:
      source: the Lua text.
      head: leading ARGV every call passes (packed once, here).
    """

    def __init__(self, source: str, head: Sequence[Any] = ()) -> None:
        self.source = source.encode()
        self.sha = hashlib.sha1(self.source).hexdigest().encode()
        self._fixed = 3 + len(head)
        # the framed EVALSHA, sha, 0 and head, without the count line and the last CRLF
        self._head = pack([b"EVALSHA", self.sha, b"0", *head])[len(b"*%d\r\n" % self._fixed) : -2]

    def command(self, args: Sequence[Any]) -> bytes:
        """The RESP bytes of one call: EVALSHA sha 0 head... args..."""
        parts = [b"*%d\r\n%s" % (self._fixed + len(args), self._head)]
        _frame(args, parts)
        return b"\r\n".join(parts)


def _target(where: RedisTarget | str) -> RedisTarget:
    return where if isinstance(where, RedisTarget) else connection.parse(where)


def _check(target: RedisTarget, reply: Any) -> Any:
    """``reply``, or raise: READONLY means the primary moved (the caller's connection is dropped)."""
    if isinstance(reply, ResponseError):
        if str(reply).startswith("READONLY"):
            raise ReadOnlyError(f"{target.where}: {reply} (the primary has moved)")
        raise reply
    return reply


class _Protocol(asyncio.Protocol):
    """One connection: replies matched to waiters first-in first-out, bounded by a watchdog.

    While any reply is awaited, a reply (or part of one) must arrive every
    ``timeout`` seconds, or the connection is aborted and every waiter gets a
    TimeoutError: a frozen or half-open Redis never hangs a caller. ``None``
    disables the watchdog (the blocking client bounds its own calls).
    """

    def __init__(self, timeout: float | None) -> None:
        self.reader = _reader()
        self.waiters: deque[asyncio.Future] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.timeout = timeout
        self.progress_at = 0.0
        self.timed_out = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_event_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def expect(self, futures: list[asyncio.Future]) -> None:
        if not self.waiters:
            self._arm()
        self.waiters.extend(futures)

    def request(self, data: bytes) -> asyncio.Future:
        """Write one command; the future gets its reply (the one-reply fast path of ``expect``)."""
        future = self._loop.create_future()
        if not self.waiters:
            self._arm()
        self.waiters.append(future)
        self.transport.write(data)  # type: ignore[union-attr]
        return future

    def _arm(self) -> None:
        self.progress_at = self._loop.time()
        if self._timer is None and self.timeout is not None:
            self._timer = self._loop.call_later(self.timeout, self._watch)

    def _watch(self) -> None:
        self._timer = None
        if self.closed or not self.waiters or self.timeout is None:
            return
        silent = self._loop.time() - self.progress_at
        if silent >= self.timeout:
            self.timed_out = True
            if self.transport is not None:
                self.transport.abort()
            return
        self._timer = self._loop.call_later(self.timeout - silent, self._watch)

    def data_received(self, data: bytes) -> None:
        self.progress_at = self._loop.time()
        self.reader.feed(data)
        gets, waiters = self.reader.gets, self.waiters
        while (reply := gets()) is not False:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.timed_out:
            error: Exception = TimeoutError(f"Redis did not answer within {self.timeout:g}s")
        else:
            error = ConnectionError(f"Redis connection lost: {exc}")
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)


class AsyncResp:
    """One pipelined connection per event loop; reconnects on the next call after a loss.

    Parameters:
      target: the Redis (a :class:`RedisTarget`, or a URL parsed into one): TLS,
        ACL user, db and Sentinel honoured, as on every other client.
      name: the connection's CLIENT SETNAME (no spaces), to find it in CLIENT LIST.
      timeout_s: the longest silence while a reply is awaited before the connection
        is dropped and callers get TimeoutError (default the target's; None: unbounded,
        for a client whose caller bounds its blocking calls itself).
    """

    def __init__(self, target: RedisTarget | str, *, name: str | None = None, timeout_s: float | None | object = _DEFAULT) -> None:
        self.target = _target(target)
        self.name = name
        self.timeout_s = self.target.timeout_s if timeout_s is _DEFAULT else timeout_s
        self._ssl = connection.ssl_context(self.target.tls) if self.target.tls else None
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future | None = None
        self.address: tuple[str, int] | None = None
        #: Called with (old, new) address when a reconnect lands on another server (a Sentinel failover).
        self.on_moved: Callable[[tuple[str, int], tuple[str, int]], None] | None = None

    async def _connection(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            return protocol
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> _Protocol:
        target = self.target
        try:
            return await asyncio.wait_for(self._open(), target.connect_timeout_s)
        except (asyncio.TimeoutError, TimeoutError) as exc:
            raise TimeoutError(f"cannot connect to Redis at {target.where}: no answer within {target.connect_timeout_s:g}s") from exc
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionError(f"cannot connect to Redis at {target.where}: {connection.describe(exc)}") from exc

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        target = self.target
        factory = lambda: _Protocol(self.timeout_s)  # noqa: E731
        if target.path:
            _, protocol = await loop.create_unix_connection(factory, target.path)
        else:
            host, port = await connection.primary(target)
            _, protocol = await loop.create_connection(
                factory, host, port, ssl=self._ssl, server_hostname=host if self._ssl else None
            )
        sock = protocol.transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.set_keepalive(sock)
        try:
            for command in connection.handshake(target, self.name):
                reply = await self._send(protocol, pack(command))
                if isinstance(reply, ResponseError):
                    raise connection.handshake_error(target, reply)
        except BaseException:
            protocol.transport.close()
            raise
        self._protocol = protocol
        if not target.path:
            self._note_address((host, port))
        return protocol

    def _note_address(self, address: tuple[str, int]) -> None:
        old, self.address = self.address, address
        if old is not None and old != address and self.on_moved is not None:
            self.on_moved(old, address)

    @staticmethod
    def _send(protocol: _Protocol, data: bytes, replies: int = 1) -> Any:
        if protocol.closed or protocol.transport is None:
            raise ConnectionError("Redis connection closed")
        if replies == 1:
            return protocol.request(data)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(replies)]
        protocol.expect(futures)
        protocol.transport.write(data)
        return futures[0] if replies == 1 else asyncio.gather(*futures)

    def _checked(self, protocol: _Protocol, reply: Any) -> Any:
        try:
            return _check(self.target, reply)
        except ReadOnlyError:
            if protocol.transport is not None:
                protocol.transport.close()  # reconnect (Sentinel: to the new primary) on the next call
            raise

    async def connect(self) -> None:
        """Open the connection now (a no-op while it is open); calls otherwise connect on first use."""
        await self._connection()

    async def execute(self, *args: Any) -> Any:
        """Run one command; raise ResponseError on an error reply."""
        protocol = await self._connection()
        return self._checked(protocol, await self._send(protocol, pack(args)))

    async def evalsha(self, script: Script, args: Sequence[Any]) -> Any:
        """Run ``script`` with no KEYS and its head plus ``args`` as ARGV."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connection()
        reply = await self._send(protocol, script.command(args))
        if isinstance(reply, ResponseError):
            if str(reply).startswith("NOSCRIPT"):
                return (await self.evalsha_many(script, [args]))[0]
            return self._checked(protocol, reply)
        return reply

    async def evalsha_many(self, script: Script, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """Run ``script`` once per argument list (after its head), all in one write (one round trip)."""
        protocol = await self._connection()
        data = b"".join(script.command(args) for args in calls)
        replies = await self._send(protocol, data, len(calls))
        replies = replies if len(calls) > 1 else [replies]
        if any(isinstance(r, ResponseError) and str(r).startswith("NOSCRIPT") for r in replies):
            self._checked(protocol, await self._send(protocol, pack([b"SCRIPT", b"LOAD", script.source])))
            return await self.evalsha_many(script, calls)
        return [self._checked(protocol, r) for r in replies]

    async def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


class SyncResp:
    """A blocking client with one connection per thread (producers off the loop), bounded like :class:`AsyncResp`."""

    def __init__(self, target: RedisTarget | str, *, name: str | None = None) -> None:
        self.target = _target(target)
        self.name = name
        self._ssl = connection.ssl_context(self.target.tls) if self.target.tls else None
        self._local = threading.local()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def _open(self) -> socket.socket:
        target = self.target
        try:
            if target.path:
                sock = socket.socket(socket.AF_UNIX)
                sock.settimeout(target.connect_timeout_s)
                sock.connect(target.path)
            else:
                host, port = connection.primary_sync(target)
                sock = socket.create_connection((host, port), target.connect_timeout_s)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                connection.set_keepalive(sock)
                if self._ssl is not None:
                    sock = self._ssl.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionError(f"cannot connect to Redis at {target.where}: {connection.describe(exc)}") from exc
        sock.settimeout(target.timeout_s)
        return sock

    def _socket(self) -> tuple[socket.socket, hiredis.Reader]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        sock = self._open()
        with self._lock:
            self._sockets.add(sock)
        conn = self._local.conn = (sock, _reader())
        for command in connection.handshake(self.target, self.name):
            reply = self._roundtrip(pack(command), 1)[0]
            if isinstance(reply, ResponseError):
                self._local.conn = None
                self._discard(sock)
                raise connection.handshake_error(self.target, reply)
        return conn

    def _roundtrip(self, data: bytes, replies: int) -> list[Any]:
        sock, reader = self._socket()
        try:
            sock.sendall(data)
            out: list[Any] = []
            while len(out) < replies:
                reply = reader.gets()
                if reply is False:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("Redis closed the connection")
                    reader.feed(chunk)
                else:
                    out.append(reply)
            return out
        except socket.timeout as exc:
            self._local.conn = None
            self._discard(sock)
            raise TimeoutError(f"Redis at {self.target.where} did not answer within {self.target.timeout_s:g}s") from exc
        except (OSError, ConnectionError) as exc:
            self._local.conn = None
            self._discard(sock)
            raise ConnectionError(f"Redis connection lost: {exc}") from exc

    def evalsha_many(self, script: Script, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """Run ``script`` once per argument list in one round trip."""
        replies = self._roundtrip(b"".join(script.command(args) for args in calls), len(calls))
        if any(isinstance(r, ResponseError) and str(r).startswith("NOSCRIPT") for r in replies):
            _check(self.target, self._roundtrip(pack([b"SCRIPT", b"LOAD", script.source]), 1)[0])
            return self.evalsha_many(script, calls)
        try:
            return [_check(self.target, r) for r in replies]
        except ReadOnlyError:
            self.close()
            raise

    def _discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        sock.close()

    def close(self) -> None:
        """Close the connections of every thread (a thread reconnects on its next call)."""
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            sock.close()
        self._local = threading.local()

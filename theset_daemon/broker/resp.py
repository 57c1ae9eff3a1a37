"""A lean RESP client for the broker's hot path (script calls), async and sync.

redis-py spends 100-250 µs of Python per call on this machine; the broker's
enqueue/fetch/finish calls are all EVALSHA with flat arguments, so it talks to
Redis through this small client instead: arguments packed straight into RESP,
replies parsed by hiredis, and on the loop one connection shared by every
caller with requests pipelined (replies are matched first-in first-out, so a
cancelled caller never desynchronises the connection). Everything else
(operator reads, the rate limiter, pause/resume) uses redis-py (``broker.aredis``).
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections import deque
from typing import Any, Sequence

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError, ResponseError

#: Seconds to wait for a TCP connection.
CONNECT_TIMEOUT_S = 5.0


def pack(args: Sequence[Any]) -> bytes:
    """One command in RESP: bytes as they are, str as UTF-8, numbers in decimal."""
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for arg in args:
        kind = type(arg)
        if kind is bytes:
            data = arg
        elif kind is str:
            data = arg.encode()
        elif kind is int:
            data = b"%d" % arg
        else:
            data = repr(arg).encode() if kind is float else str(arg).encode()
        append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _reader() -> hiredis.Reader:
    return hiredis.Reader(replyError=ResponseError)


def _raise_error(reply: Any) -> Any:
    if isinstance(reply, ResponseError):
        raise reply
    return reply


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
        self._head = pack([b"EVALSHA", self.sha, b"0", *head])[len(b"*%d\r\n" % self._fixed) :]

    def command(self, args: Sequence[Any]) -> bytes:
        """The RESP bytes of one call: EVALSHA sha 0 head... args..."""
        body = pack(args)
        return b"*%d\r\n" % (self._fixed + len(args)) + self._head + body[body.index(b"\n") + 1 :]


def _connect_args(url: str) -> dict[str, Any]:
    return parse_url(url)


def _handshake(options: dict[str, Any], name: str | None) -> list[bytes]:
    commands = []
    if options.get("password"):
        auth = [b"AUTH"] + ([options["username"]] if options.get("username") else []) + [options["password"]]
        commands.append(pack(auth))
    if options.get("db"):
        commands.append(pack([b"SELECT", options["db"]]))
    if name:
        commands.append(pack([b"CLIENT", b"SETNAME", name]))
    return commands


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = _reader()
        self.waiters: deque[asyncio.Future] = deque()
        self.transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        gets, waiters = self.reader.gets, self.waiters
        while (reply := gets()) is not False:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError(f"Redis connection lost: {exc}"))


class AsyncResp:
    """One pipelined connection per event loop; reconnects on the next call after a loss.

    Parameters:
      url: a redis:// or unix:// URL (password and db honoured).
      name: the connection's CLIENT SETNAME (no spaces), to find it in CLIENT LIST.
    """

    def __init__(self, url: str, *, name: str | None = None) -> None:
        self.options = _connect_args(url)
        self.name = name
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future | None = None

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
        loop = asyncio.get_running_loop()
        options = self.options
        try:
            if options.get("path"):
                connect = loop.create_unix_connection(_Protocol, options["path"])
            else:
                connect = loop.create_connection(_Protocol, options.get("host", "localhost"), options.get("port", 6379))
            _, protocol = await asyncio.wait_for(connect, CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectionError(f"cannot connect to Redis: {exc}") from exc
        sock = protocol.transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for command in _handshake(options, self.name):
            _raise_error(await self._send(protocol, command))
        self._protocol = protocol
        return protocol

    @staticmethod
    def _send(protocol: _Protocol, data: bytes, replies: int = 1) -> Any:
        if protocol.closed or protocol.transport is None:
            raise ConnectionError("Redis connection closed")
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(replies)]
        protocol.waiters.extend(futures)
        protocol.transport.write(data)
        return futures[0] if replies == 1 else asyncio.gather(*futures)

    async def execute(self, *args: Any) -> Any:
        """Run one command; raise ResponseError on an error reply."""
        protocol = await self._connection()
        return _raise_error(await self._send(protocol, pack(args)))

    async def evalsha(self, script: Script, args: Sequence[Any]) -> Any:
        """Run ``script`` with no KEYS and its head plus ``args`` as ARGV."""
        protocol = await self._connection()
        reply = await self._send(protocol, script.command(args))
        if isinstance(reply, ResponseError) and str(reply).startswith("NOSCRIPT"):
            return (await self.evalsha_many(script, [args]))[0]
        return _raise_error(reply)

    async def evalsha_many(self, script: Script, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """Run ``script`` once per argument list (after its head), all in one write (one round trip)."""
        protocol = await self._connection()
        data = b"".join(script.command(args) for args in calls)
        replies = await self._send(protocol, data, len(calls))
        replies = replies if len(calls) > 1 else [replies]
        if any(isinstance(r, ResponseError) and str(r).startswith("NOSCRIPT") for r in replies):
            _raise_error(await self._send(protocol, pack([b"SCRIPT", b"LOAD", script.source])))
            return await self.evalsha_many(script, calls)
        return [_raise_error(r) for r in replies]

    async def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None


class SyncResp:
    """A blocking client with one connection per thread (producers off the loop)."""

    def __init__(self, url: str, *, name: str | None = None) -> None:
        self.options = _connect_args(url)
        self.name = name
        self._local = threading.local()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def _socket(self) -> tuple[socket.socket, hiredis.Reader]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        options = self.options
        try:
            if options.get("path"):
                sock = socket.socket(socket.AF_UNIX)
                sock.settimeout(CONNECT_TIMEOUT_S)
                sock.connect(options["path"])
            else:
                sock = socket.create_connection(
                    (options.get("host", "localhost"), options.get("port", 6379)), CONNECT_TIMEOUT_S
                )
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise ConnectionError(f"cannot connect to Redis: {exc}") from exc
        sock.settimeout(None)
        with self._lock:
            self._sockets.add(sock)
        conn = self._local.conn = (sock, _reader())
        for command in _handshake(options, self.name):
            _raise_error(self._roundtrip(command, 1)[0])
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
        except (OSError, ConnectionError) as exc:
            self._local.conn = None
            self._discard(sock)
            raise ConnectionError(f"Redis connection lost: {exc}") from exc

    def evalsha_many(self, script: Script, calls: Sequence[Sequence[Any]]) -> list[Any]:
        """Run ``script`` once per argument list in one round trip."""
        replies = self._roundtrip(b"".join(script.command(args) for args in calls), len(calls))
        if any(isinstance(r, ResponseError) and str(r).startswith("NOSCRIPT") for r in replies):
            _raise_error(self._roundtrip(pack([b"SCRIPT", b"LOAD", script.source]), 1)[0])
            return self.evalsha_many(script, calls)
        return [_raise_error(r) for r in replies]

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

"""Dashboard sessions kept in Redis: a fresh random id per sign-in, ended by sign-out or revoked all at once.

The cookie carries only the session id (256 random bits, base64url). Redis keeps,
under the SHA-256 of the id (so a copy of Redis grants nothing), the session's
CSRF token and expiry, for the session's lifetime; an index (a sorted set scored
by expiry) lets "sign out everywhere" find every live session. Any daemon on the
namespace accepts any daemon's session.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

#: Seconds a dashboard session lasts.
SESSION_TTL_S = 8 * 3600
#: The shape of a session id (what :func:`secrets.token_urlsafe` (32) returns); anything else is not looked up.
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Session:
    """One signed-in browser: its id (the cookie value), CSRF token and expiry (Unix seconds)."""

    id: str
    csrf_token: str
    expires_at: int


class SessionStore:
    """Create, read, end and revoke dashboard sessions in Redis.

    Parameters:
      redis: the daemon's async Redis client.
      namespace: the key prefix (``THESET_REDIS_NAMESPACE``).
      ttl_s: seconds a session lasts (:data:`SESSION_TTL_S`).
    """

    def __init__(self, redis: aioredis.Redis, namespace: str, *, ttl_s: int = SESSION_TTL_S) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._prefix = f"{namespace}:session:"
        self._index = f"{namespace}:sessions"

    def _key(self, digest: str) -> str:
        return self._prefix + digest

    @staticmethod
    def _digest(session_id: str) -> str:
        return hashlib.sha256(session_id.encode("ascii")).hexdigest()

    async def create(self) -> Session:
        """A new session with a fresh random id and CSRF token, stored for :attr:`ttl_s` seconds."""
        now = time.time()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), int(now + self.ttl_s))
        digest = self._digest(session.id)
        record = orjson.dumps({"csrf": session.csrf_token, "exp": session.expires_at})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(digest), record, ex=self.ttl_s)
            pipe.zadd(self._index, {digest: session.expires_at})
            pipe.zremrangebyscore(self._index, "-inf", int(now))
            pipe.expire(self._index, self.ttl_s)
            await pipe.execute()
        return session

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id, or None (unknown, ended, revoked, expired or not a session id)."""
        if not SESSION_ID.match(session_id or ""):
            return None
        raw = await self.redis.get(self._key(self._digest(session_id)))
        if raw is None:
            return None
        record = orjson.loads(raw)
        if record["exp"] <= time.time():
            return None
        return Session(session_id, record["csrf"], int(record["exp"]))

    async def end(self, session_id: str) -> bool:
        """Delete this session (sign-out); whether it existed."""
        if not SESSION_ID.match(session_id or ""):
            return False
        digest = self._digest(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(digest))
            pipe.zrem(self._index, digest)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    async def revoke_all(self) -> int:
        """Delete every session of the namespace ("sign out everywhere"); how many were live."""
        digests = [d.decode() for d in await self.redis.zrange(self._index, 0, -1)]
        revoked = 0
        for start in range(0, len(digests), 500):
            batch = digests[start : start + 500]
            revoked += await self.redis.delete(*(self._key(d) for d in batch))
            await self.redis.zrem(self._index, *batch)
        return revoked

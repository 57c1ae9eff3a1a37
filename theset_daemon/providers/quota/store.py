"""The daily budget's counters in Redis, shared by every daemon.

Redis keys (``ns`` = namespace, ``p`` = provider):

===============================  ======  ==============================================
``ns:quota:<p>``                 HASH    the open window: ``started``, ``reset`` (ms),
                                         ``used``, ``person``, ``recurring``, ``other``,
                                         ``held_person``, ``held_recurring``,
                                         ``reported_limit``, ``hold_until`` (ms)
``ns:quota:<p>:history``         LIST    closed windows (JSON), newest first, 30 kept
``ns:quota:<p>:cost``            HASH    calls per actor, all windows (the forecast's costs)
``ns:quota:<p>:jobs:<actor>``    HLL     jobs of the actor that made calls (same)
===============================  ======  ==============================================

Spending is one Lua script (the window check, the reserve and the count in
one step, on Redis's clock), so two daemons can never both take the last
call above the reserve. A reply's quota headers and refunds go through a
second script. Nothing here waits or sleeps.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis.asyncio as aioredis

from .rules import KINDS, PERSON, ProviderReport, QuotaPolicy, QuotaState, Spend

#: Closed windows kept per provider.
HISTORY = 30

_PRELUDE = """
local t = redis.call('TIME')
local NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local KEY, HISTORY_KEY = KEYS[1], KEYS[2]
-- a window left unused this many windows after its reset expires unarchived (a namespace abandoned)
local KEEP = 7

local function num(name) return tonumber(redis.call('HGET', KEY, name) or '0') or 0 end

-- Close the window if its time is up; open a new one (from NOW) when asked.
local function roll(window_ms, open, reset_at)
  local reset = tonumber(redis.call('HGET', KEY, 'reset') or '')
  if reset and NOW < reset and not reset_at then return reset end
  local hold = tonumber(redis.call('HGET', KEY, 'hold_until') or '0') or 0
  if reset then
    local closed = redis.call('HGETALL', KEY)
    local entry = {}
    for i = 1, #closed, 2 do entry[closed[i]] = tonumber(closed[i + 1]) or closed[i + 1] end
    redis.call('LPUSH', HISTORY_KEY, cjson.encode(entry))
    redis.call('LTRIM', HISTORY_KEY, 0, tonumber(ARGV[#ARGV]) - 1)
    redis.call('DEL', KEY)
  end
  if not open then return nil end
  reset = reset_at or (NOW + window_ms)
  redis.call('HSET', KEY, 'started', NOW, 'reset', reset, 'used', 0)
  if hold > NOW then redis.call('HSET', KEY, 'hold_until', hold) end
  redis.call('PEXPIREAT', KEY, math.max(reset, hold) + KEEP * window_ms)
  return reset
end

local function limit_of(configured)
  local reported = tonumber(redis.call('HGET', KEY, 'reported_limit') or '')
  return reported or configured
end
"""

# KEYS: window, history, cost, jobs-hll. ARGV: window_ms, limit, reserve, kind, actor, job_id, history.
_SPEND = _PRELUDE + """
local window_ms, configured, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kind, actor, job = ARGV[4], ARGV[5], ARGV[6]
local reset = roll(window_ms, true)
local hold = num('hold_until')
local limit = limit_of(configured)
local used = num('used')
if hold > NOW then
  redis.call('HINCRBY', KEY, 'held_' .. kind, 1)
  return {0, limit > 0 and math.max(0, limit - used) or -1, reset, hold}
end
if limit > 0 then
  local floor = 0
  if kind ~= 'person' then floor = math.ceil(limit * reserve) end
  if used + 1 > limit - floor then
    redis.call('HINCRBY', KEY, 'held_' .. kind, 1)
    return {0, math.max(0, limit - used), reset, reset}
  end
end
used = redis.call('HINCRBY', KEY, 'used', 1)
redis.call('HINCRBY', KEY, kind, 1)
if actor ~= '' then
  redis.call('HINCRBY', KEYS[3], actor, 1)
  if job ~= '' then redis.call('PFADD', KEYS[4], job) end
end
return {1, limit > 0 and (limit - used) or -1, reset, 0}
"""

# KEYS: window, history, cost. ARGV: kind, actor, refund, limit, available, reset, exhausted_until,
# window_ms, history. -1 = not reported.
_SETTLE = _PRELUDE + """
local kind, actor, refund = ARGV[1], ARGV[2], tonumber(ARGV[3])
local rep_limit, available, rep_reset = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local exhausted, window_ms = tonumber(ARGV[7]), tonumber(ARGV[8])
local reset = tonumber(redis.call('HGET', KEY, 'reset') or '')
if refund == 1 and reset and NOW < reset and num('used') > 0 then
  redis.call('HINCRBY', KEY, 'used', -1)
  if num(kind) > 0 then redis.call('HINCRBY', KEY, kind, -1) end
  if actor ~= '' and tonumber(redis.call('HGET', KEYS[3], actor) or '0') > 0 then
    redis.call('HINCRBY', KEYS[3], actor, -1)
  end
end
if rep_reset > 0 then
  -- a reset already past is a late reply from a closed window: it says nothing about this one
  if rep_reset <= NOW then return 0 end
  if not reset or NOW >= reset then
    reset = roll(window_ms, true, rep_reset)  -- ours has closed and the provider's is open
  elseif rep_reset ~= reset then
    reset = rep_reset  -- the same window: the provider's reset is the true one
    redis.call('HSET', KEY, 'reset', reset)
    redis.call('PEXPIREAT', KEY, reset + KEEP * window_ms)
  end
end
if not reset then return 0 end
if rep_limit >= 0 then redis.call('HSET', KEY, 'reported_limit', rep_limit) end
if available >= 0 then
  local limit = rep_limit >= 0 and rep_limit or limit_of(-1)
  if limit and limit >= 0 then
    local counted = limit - available
    local used = num('used')
    if counted > used then
      -- the provider counted calls no daemon did (another client on the key, lost counters)
      redis.call('HINCRBY', KEY, 'used', counted - used)
      redis.call('HINCRBY', KEY, 'other', counted - used)
    end
  end
end
if exhausted > NOW then
  if exhausted > num('hold_until') then redis.call('HSET', KEY, 'hold_until', exhausted) end
end
return 1
"""


class QuotaBudget:
    """One provider's daily budget, shared by every daemon on the Redis.

    Parameters:
      client: an asyncio Redis client.
      namespace: the key prefix (``THESET_REDIS_NAMESPACE``).
      policy: the provider's limit, window and reserve.
    """

    def __init__(self, client: aioredis.Redis, namespace: str, policy: QuotaPolicy) -> None:
        self.client = client
        self.policy = policy
        self.key = f"{namespace}:quota:{policy.provider}"
        self.history_key = f"{self.key}:history"
        self.cost_key = f"{self.key}:cost"
        self._spend = client.register_script(_SPEND)
        self._settle = client.register_script(_SETTLE)

    @property
    def provider(self) -> str:
        return self.policy.provider

    def _jobs_key(self, actor: str) -> str:
        return f"{self.key}:jobs:{actor}"

    async def spend(self, kind: str = PERSON, *, actor: str = "", job_id: str = "") -> Spend:
        """Count one call of ``kind`` if the window allows it; else say until when to wait."""
        p = self.policy
        allowed, remaining, reset, hold = await self._spend(
            keys=[self.key, self.history_key, self.cost_key, self._jobs_key(actor or "-")],
            args=[int(p.window_s * 1000), p.limit, p.reserve, kind, actor, job_id, HISTORY],
        )
        return Spend(bool(allowed), int(remaining), int(reset), int(hold))

    async def settle(
        self, kind: str = PERSON, *, actor: str = "", refund: bool = False, report: ProviderReport | None = None
    ) -> None:
        """After a call: give it back (``refund``: the provider refused it) and/or apply what
        the provider said about its quota (its limit, what is left, its reset, a refusal)."""
        if not refund and report is None:
            return
        r = report or ProviderReport()
        await self._settle(
            keys=[self.key, self.history_key, self.cost_key],
            args=[kind, actor, int(refund), _opt(r.limit), _opt(r.available), _opt(r.reset_ms),
                  _opt(r.exhausted_until_ms), int(self.policy.window_s * 1000), HISTORY],
        )

    async def state(self, now_ms: int) -> QuotaState:
        """The open window as stored (a window whose reset has passed reads as empty)."""
        raw = {k.decode(): v.decode() for k, v in (await self.client.hgetall(self.key)).items()}
        reset = _int(raw.get("reset"))
        if reset is None or reset <= now_ms:
            raw, reset = {"hold_until": raw.get("hold_until", "0")}, None
        limit = _int(raw.get("reported_limit"))
        return QuotaState(
            provider=self.provider,
            limit=self.policy.limit if limit is None else limit,
            reserve=self.policy.reserve,
            used=_int(raw.get("used")) or 0,
            reset_ms=reset,
            started_ms=_int(raw.get("started")),
            by_kind={k: _int(raw.get(k)) or 0 for k in KINDS},
            held={k: _int(raw.get(f"held_{k}")) or 0 for k in KINDS},
            other=_int(raw.get("other")) or 0,
            hold_until_ms=max(0, _int(raw.get("hold_until")) or 0),
        )

    async def history(self, count: int = HISTORY) -> list[dict[str, Any]]:
        """Closed windows, newest first (``started``, ``reset``, ``used``, by kind, held)."""
        return [orjson.loads(entry) for entry in await self.client.lrange(self.history_key, 0, count - 1)]

    async def costs(self) -> dict[str, float]:
        """Average calls per job, by actor, over every window counted so far."""
        calls = {k.decode(): int(v) for k, v in (await self.client.hgetall(self.cost_key)).items()}
        if not calls:
            return {}
        async with self.client.pipeline(transaction=False) as pipe:
            for actor in calls:
                pipe.pfcount(self._jobs_key(actor))
            jobs = await pipe.execute()
        return {actor: n / max(1, j) for (actor, n), j in zip(calls.items(), jobs) if n > 0}


def _opt(value: int | None) -> int:
    return -1 if value is None else int(value)


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


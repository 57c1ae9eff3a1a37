-- The periodic check of a live daemon: renew its leases, write its heartbeat (ns:daemon:<host> HASH,
-- ns:daemons ZSET by time), reclaim lapsed leases, trim retention (lib.lua's trim, 1000 ids per set and turn).
-- ARGV[8] = n leases, then 3 per lease: queue, job_id, token; then the number of queues, then names,
-- then the check interval in ms (a queue's reclaim and trim run on one daemon per interval).
-- Returns the number of jobs reclaimed per queue, in order (0 where another daemon had the turn).

local function reclaim(q)
  local lapsed = redis.call('ZRANGEBYSCORE', qkey(q, 'active'), '-inf', NOW, 'LIMIT', 0, 1000)
  for _, id in ipairs(lapsed) do
    local key = job_key(id)
    if redis.call('HGET', key, 'state') == 'active' then
      give_back(q, id, key, 'reclaims')
    else
      redis.call('ZREM', qkey(q, 'active'), id)
    end
  end
  return #lapsed
end

local n = tonumber(ARGV[8])
for i = 0, n - 1 do
  local b = 9 + i * 3
  local q, id, token = ARGV[b], ARGV[b + 1], ARGV[b + 2]
  local f = redis.call('HMGET', job_key(id), 'state', 'runs')
  if f[1] == 'active' and f[2] == token then
    redis.call('ZADD', qkey(q, 'active'), 'XX', NOW + LEASE_MS, id)
  end
end
local base = 9 + n * 3
local nq = tonumber(ARGV[base])
local interval = tonumber(ARGV[base + nq + 1])

-- This daemon's heartbeat: when, and which jobs it holds (ids one per line).
local held = {}
for i = 0, n - 1 do held[i + 1] = ARGV[10 + i * 3] end
local beat = NS .. ':daemon:' .. HOST
redis.call('HSET', beat, 'host_id', HOST, 'heartbeat', NOW, 'interval_ms', interval, 'lease_ms', LEASE_MS,
  'active', n, 'jobs', table.concat(held, '\n'))
redis.call('HDEL', beat, 'stopped_at')
redis.call('PEXPIRE', beat, 86400000)
redis.call('ZADD', NS .. ':daemons', NOW, HOST)
local out = {}
for i = 1, nq do
  local q = ARGV[base + i]
  out[i] = 0
  if redis.call('SET', qkey(q, 'maintain'), HOST, 'PX', interval, 'NX') then
    out[i] = reclaim(q)
    trim(q, 'completed', COMPLETED_TTL, 1000)
    trim(q, 'dead', DEAD_TTL, 1000)
    trim(q, 'failed', FAILED_TTL, 1000)
    if i == 1 then redis.call('ZREMRANGEBYSCORE', NS .. ':daemons', '-inf', NOW - 86400000) end
  end
end
return out

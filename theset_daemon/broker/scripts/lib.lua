-- The job-lifecycle prelude of every script but enqueue (after core.lua): the rest of the
-- seven-argument header, ARGV[2..7]; a script's own arguments start at ARGV[8].
local HOST = ARGV[2]
local LEASE_MS = tonumber(ARGV[3])
local COMPLETED_TTL = tonumber(ARGV[4])
local COMPLETED_MAX = tonumber(ARGV[5])
local FAILED_TTL = tonumber(ARGV[6])
local DEAD_TTL = tonumber(ARGV[7])

-- Jobs completed per queue in this call; count_done() adds them to the per-minute
-- throughput counters (ns:q:<queue>:done:<minute>, kept 16 minutes) once per call.
local DONE = {}
local function count_done()
  local minute = math.floor(NOW / 60000)
  for q, n in pairs(DONE) do
    local key = qkey(q, 'done:' .. minute)
    if redis.call('INCRBY', key, n) == n then redis.call('PEXPIRE', key, 960000) end
  end
end

-- Put a job in its queue's waiting set; keep_seq keeps its place (hand-back, reclaim).
local function make_waiting(q, id, key, keep_seq)
  local f = redis.call('HMGET', key, 'priority', 'seq')
  local seq = tonumber(f[2])
  if not keep_seq or not seq then
    seq = redis.call('INCR', NS .. ':seq')
  end
  redis.call('ZADD', qkey(q, 'waiting'), tonumber(f[1]) * SPAN + seq, id)
  redis.call('HSET', key, 'state', 'waiting', 'seq', seq, 'ready_at', NOW)
  redis.call('HDEL', key, 'owner', 'due_at')
end

-- An attempt that was interrupted, not failed: back to waiting, attempt not counted.
local function give_back(q, id, key, field)
  redis.call('ZREM', qkey(q, 'active'), id)
  redis.call('HINCRBY', key, 'attempts', -1)
  redis.call('HINCRBY', key, field, 1)
  make_waiting(q, id, key, true)
  wake(q)
end

local function trim_completed(q)
  local zkey = qkey(q, 'completed')
  local n = redis.call('ZCARD', zkey)
  if n <= COMPLETED_MAX then return end
  local old = redis.call('ZRANGE', zkey, 0, n - COMPLETED_MAX - 1)
  redis.call('ZREMRANGEBYRANK', zkey, 0, n - COMPLETED_MAX - 1)
  for _, id in ipairs(old) do
    local key = job_key(id)
    if redis.call('HGET', key, 'state') == 'completed' then redis.call('DEL', key) end
  end
end

-- Retention: drop the ids of ``q``'s ``kind`` set (completed, dead or failed) older than ``ttl`` ms,
-- at most ``limit``, with their records when still in that final state (a failed-index entry's
-- record is its pending retry's: kept). The periodic check (maintain.lua) and the operator's
-- ``retention`` action (admin_queue.lua) both trim through here. Returns how many ids it dropped.
local function trim(q, kind, ttl, limit)
  local zkey = qkey(q, kind)
  local old = redis.call('ZRANGEBYSCORE', zkey, '-inf', NOW - ttl, 'LIMIT', 0, limit)
  for _, id in ipairs(old) do
    local key = job_key(id)
    if kind ~= 'failed' and redis.call('HGET', key, 'state') == kind then redis.call('DEL', key) end
    redis.call('ZREM', zkey, id)
  end
  return #old
end

-- A job's log (Job.log): JSON lines in the record's 'logs' field, at most LOG_MAX_BYTES; the oldest
-- lines go first, counted in 'logs_dropped'. Same key, so same retention as the record.
local LOG_MAX_BYTES = 32768
local function append_log(key, line)
  local logs = (redis.call('HGET', key, 'logs') or '') .. line .. '\n'
  local dropped = 0
  while #logs > LOG_MAX_BYTES do
    local cut = string.find(logs, '\n', 1, true)
    logs = string.sub(logs, cut + 1)
    dropped = dropped + 1
  end
  redis.call('HSET', key, 'logs', logs)
  if dropped > 0 then redis.call('HINCRBY', key, 'logs_dropped', dropped) end
end

local function set_failure(key, info)
  redis.call('HSET', key, 'error', info.error or '', 'exc_type', info.exc_type or '',
    'traceback', info.traceback or '', 'last_failed_at', NOW)
  redis.call('HSETNX', key, 'first_failed_at', NOW)
  redis.call('HINCRBY', key, 'failures', 1)
end

-- Apply one finish record of this daemon's; a stale token (job reclaimed meanwhile) is ignored.
local function finish(kind, id, token, extra)
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'state', 'runs', 'queue')
  if f[1] ~= 'active' or f[2] ~= token then return 0 end
  local q = f[3]
  if kind == 'progress' then
    redis.call('HSET', key, 'progress', extra)
    return 1
  end
  if kind == 'log' then
    append_log(key, extra)
    return 1
  end
  if kind == 'handback' then
    give_back(q, id, key, 'handbacks')
    return 1
  end
  if kind == 'postpone' then
    -- Not a failure either: the attempt is not counted; the job waits extra ms.
    local due = NOW + tonumber(extra)
    redis.call('ZREM', qkey(q, 'active'), id)
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('HINCRBY', key, 'postpones', 1)
    redis.call('HSET', key, 'state', 'delayed', 'due_at', due)
    redis.call('HDEL', key, 'owner')
    redis.call('ZADD', qkey(q, 'delayed'), due, id)
    wake(q)
    return 1
  end
  redis.call('ZREM', qkey(q, 'active'), id)
  redis.call('HDEL', key, 'owner')
  if kind == 'ack' then
    DONE[q] = (DONE[q] or 0) + 1
    if COMPLETED_MAX <= 0 then
      redis.call('DEL', key)
      return 1
    end
    redis.call('HSET', key, 'state', 'completed', 'finished_at', NOW)
    redis.call('ZADD', qkey(q, 'completed'), NOW, id)
    redis.call('PEXPIRE', key, COMPLETED_TTL)
    trim_completed(q)
  elseif kind == 'retry' then
    local info = cjson.decode(extra)
    local due = NOW + tonumber(info.delay_ms)
    set_failure(key, info)
    if info.msg then redis.call('HSET', key, 'msg', info.msg) end -- the message with its new retries
    redis.call('HSET', key, 'state', 'failed', 'due_at', due)
    redis.call('ZADD', qkey(q, 'delayed'), due, id)
    redis.call('ZADD', qkey(q, 'failed'), NOW, id)
    wake(q)
  elseif kind == 'dead' then
    local info = cjson.decode(extra)
    set_failure(key, info)
    redis.call('HSET', key, 'state', 'dead', 'reason', info.reason or '', 'finished_at', NOW)
    redis.call('ZADD', qkey(q, 'dead'), NOW, id)
    redis.call('ZADD', qkey(q, 'failed'), NOW, id)
    redis.call('PEXPIRE', key, DEAD_TTL)
  end
  return 1
end

-- Move due delayed jobs of q to waiting (at the back of their priority level).
local function promote(q)
  local due = redis.call('ZRANGEBYSCORE', qkey(q, 'delayed'), '-inf', NOW, 'LIMIT', 0, 1000)
  if #due == 0 then return 0 end
  for _, id in ipairs(due) do
    local key = job_key(id)
    if redis.call('EXISTS', key) == 1 then make_waiting(q, id, key, false) end
  end
  redis.call('ZREM', qkey(q, 'delayed'), unpack(due))
  return #due
end

-- Milliseconds until the next delayed job of q is due, or -1 if there is none.
local function next_due(q)
  local first = redis.call('ZRANGE', qkey(q, 'delayed'), 0, 0, 'WITHSCORES')
  if #first == 0 then return -1 end
  return math.max(0, tonumber(first[2]) - NOW)
end

-- Enqueue a batch of jobs (core.lua is its only prelude). ARGV[1] = namespace, ARGV[2] = n, then 7 per job:
--   job_id, queue, actor, priority (0-4), delay_ms (0 = none), debounce_ms (0 = none), encoded message.
-- Returns one entry per job: 0 if enqueued, else the existing job's encoded message ('' if its record is gone).
-- Numbers written to a record go as the argument strings (no Lua number-to-string conversion).
local n = tonumber(ARGV[2])
local out = {}
for i = 0, n - 1 do
  local b = 3 + i * 7
  local id, q, actor, priority = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local delay, debounce, msg = tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5]), ARGV[b + 6]
  local key = job_key(id)
  local taken = false
  if debounce > 0 then
    taken = not redis.call('SET', NS .. ':debounce:' .. id, '1', 'PX', debounce, 'NX')
  end
  local state = redis.call('HGET', key, 'state')
  if not taken and state and ACTIVE_STATES[state] then taken = true end
  if taken then
    out[i + 1] = redis.call('HGET', key, 'msg') or ''
  else
    if state then
      local old_q = redis.call('HGET', key, 'queue')
      redis.call('ZREM', qkey(old_q, 'completed'), id)
      redis.call('ZREM', qkey(old_q, 'dead'), id)
      redis.call('ZREM', qkey(old_q, 'failed'), id)
      redis.call('DEL', key)
    end
    if delay > 0 then
      redis.call('HSET', key, 'msg', msg, 'job_id', id, 'queue', q, 'actor', actor, 'priority', priority,
        'attempts', '0', 'runs', '0', 'enqueued_at', NOW, 'state', 'delayed', 'due_at', NOW + delay)
      redis.call('ZADD', qkey(q, 'delayed'), NOW + delay, id)
    else
      local seq = redis.call('INCR', NS .. ':seq')
      redis.call('HSET', key, 'msg', msg, 'job_id', id, 'queue', q, 'actor', actor, 'priority', priority,
        'attempts', '0', 'runs', '0', 'enqueued_at', NOW, 'state', 'waiting', 'seq', seq)
      redis.call('ZADD', qkey(q, 'waiting'), tonumber(priority) * SPAN + seq, id)
    end
    wake(q)
    out[i + 1] = 0
  end
end
return out

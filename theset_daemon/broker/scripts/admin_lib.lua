-- Shared by the admin_*.lua scripts (prepended after lib.lua): operator actions on job records.

-- The record fields of a job summary, in this order (admin_search and admin_job reply with them).
local SUMMARY = {'state', 'queue', 'actor', 'priority', 'attempts', 'enqueued_at', 'started_at',
  'finished_at', 'due_at', 'error'}

local function summary(id)
  return redis.call('HMGET', job_key(id), unpack(SUMMARY))
end

-- A failed (retry pending), delayed or dead job goes to the back of its priority level now.
-- A dead letter starts again with its attempts reset; its failure story (error, failures) is kept.
local function revive(q, id, key, state)
  if state == 'dead' then
    redis.call('ZREM', qkey(q, 'dead'), id)
    redis.call('PERSIST', key)
    redis.call('HSET', key, 'attempts', 0)
    redis.call('HDEL', key, 'finished_at', 'reason')
  else
    redis.call('ZREM', qkey(q, 'delayed'), id)
  end
  make_waiting(q, id, key, false)
  wake(q)
end

-- Remove a job that is not running: its record and every index entry.
local function remove(q, id)
  for _, kind in ipairs({'waiting', 'delayed', 'completed', 'failed', 'dead'}) do
    redis.call('ZREM', qkey(q, kind), id)
  end
  redis.call('DEL', job_key(id))
end

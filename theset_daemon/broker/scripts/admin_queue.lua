-- Operator actions on a whole queue, at most ARGV[10] jobs per call (the caller repeats until a
-- call affects fewer). ARGV[8] = action, [9] = queue, [10] = batch, [11] / [12] = ages in ms (clean:
-- completed records, failed-index entries).
--   purge:      drop waiting and delayed jobs (records too); running jobs are left alone
--   retry_dead: every dead letter back to waiting, attempts reset, data kept
--   purge_dead: drop every dead letter
--   clean:      drop completed records and failed-index entries older than the age
--               (a job whose retry is still pending, and dead letters, are kept)
--   retention:  apply the queue's retention now (what the periodic check trims a little at a time:
--               completed, dead and failed-index entries past their TTL, see lib.lua's trim)
-- Returns the number of jobs affected.
local action, q, batch = ARGV[8], ARGV[9], tonumber(ARGV[10])
local affected = 0
if action == 'purge' then
  for _, kind in ipairs({'waiting', 'delayed'}) do
    local ids = redis.call('ZRANGE', qkey(q, kind), 0, batch - affected - 1)
    for _, id in ipairs(ids) do
      local state = redis.call('HGET', job_key(id), 'state')
      if state == 'active' then
        redis.call('ZREM', qkey(q, kind), id) -- a stale entry: the job runs, leave its record
      else
        remove(q, id)
      end
      affected = affected + 1
    end
    if affected >= batch then break end
  end
elseif action == 'retry_dead' or action == 'purge_dead' then
  local ids = redis.call('ZRANGE', qkey(q, 'dead'), 0, batch - 1)
  for _, id in ipairs(ids) do
    local key = job_key(id)
    if redis.call('HGET', key, 'state') == 'dead' then
      if action == 'retry_dead' then revive(q, id, key, 'dead') else remove(q, id) end
    else
      redis.call('ZREM', qkey(q, 'dead'), id)
    end
    affected = affected + 1
  end
elseif action == 'retention' then
  affected = trim(q, 'completed', COMPLETED_TTL, batch) + trim(q, 'dead', DEAD_TTL, batch)
    + trim(q, 'failed', FAILED_TTL, batch)
elseif action == 'clean' then
  affected = trim(q, 'completed', tonumber(ARGV[11]), batch)
  local failed = redis.call('ZRANGE', qkey(q, 'failed'), '-inf', NOW - tonumber(ARGV[12]), 'BYSCORE',
    'LIMIT', 0, batch)
  for _, id in ipairs(failed) do
    if redis.call('HGET', job_key(id), 'state') ~= 'failed' then
      redis.call('ZREM', qkey(q, 'failed'), id)
      affected = affected + 1
    end
  end
else
  return redis.error_reply('unknown action ' .. action)
end
return affected

-- Apply finish records, then fetch jobs. ARGV[8] = r, then 4 per record: kind, job_id, token, extra;
-- then the number of queues, then 2 per queue: name, count.
-- Returns {next_due_ms (-1 = none), then per queue: remaining, paused (0/1), n, then n x
--          (job_id, message, attempt, token, priority, ms in queue since ready); then, after the last
--          queue, "queue:job_id" of each waiting id whose record was gone (evicted or deleted): never
--          dropped silently}.
local r = tonumber(ARGV[8])
for i = 0, r - 1 do
  local b = 9 + i * 4
  finish(ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3])
end
local base = 9 + r * 4
local nq = tonumber(ARGV[base])
local out = {-1}
local soonest = -1
local lost = {}
for i = 0, nq - 1 do
  local q, count = ARGV[base + 1 + i * 2], tonumber(ARGV[base + 2 + i * 2])
  local paused = redis.call('EXISTS', qkey(q, 'paused'))
  promote(q)
  local jobs = {}
  local lost_here = 0
  if paused == 0 and count > 0 then
    local popped = redis.call('ZPOPMIN', qkey(q, 'waiting'), count)
    for j = 1, #popped, 2 do
      local id = popped[j]
      local key = job_key(id)
      local f = redis.call('HMGET', key, 'msg', 'priority', 'ready_at', 'enqueued_at')
      if f[1] then
        local runs = redis.call('HINCRBY', key, 'runs', 1)
        local attempt = redis.call('HINCRBY', key, 'attempts', 1)
        redis.call('HSET', key, 'state', 'active', 'started_at', NOW, 'owner', HOST)
        redis.call('ZADD', qkey(q, 'active'), NOW + LEASE_MS, id)
        jobs[#jobs + 1] = id
        jobs[#jobs + 1] = f[1]
        jobs[#jobs + 1] = attempt
        jobs[#jobs + 1] = tostring(runs)
        jobs[#jobs + 1] = tonumber(f[2])
        jobs[#jobs + 1] = math.max(0, NOW - (tonumber(f[3] or f[4]) or NOW))
      else
        lost[#lost + 1] = q .. ':' .. id
        lost_here = lost_here + 1
      end
    end
  end
  local remaining = redis.call('ZCARD', qkey(q, 'waiting'))
  if paused == 0 then
    if remaining == 0 then
      redis.call('DEL', qkey(q, 'marker')) -- nothing left to wake anyone for
    elseif #jobs > 0 or lost_here > 0 then
      wake(q) -- more waiting: another idle daemon may help (and a round of lost ids must not park us)
    end
  end
  local due = next_due(q)
  if due >= 0 and (soonest < 0 or due < soonest) then soonest = due end
  out[#out + 1] = remaining
  out[#out + 1] = paused
  out[#out + 1] = #jobs / 6
  for _, v in ipairs(jobs) do out[#out + 1] = v end
end
out[1] = soonest
for _, v in ipairs(lost) do out[#out + 1] = v end
count_done()
return out

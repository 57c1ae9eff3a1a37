-- Queue depths in one call, optionally claiming the cluster's metrics lead.
-- ARGV[8] = lead ms (0 = do not claim), ARGV[9..] = queue names.
-- Returns {lead (1 = this daemon holds the lead), then per queue 12 values: waiting, delayed, active, dead,
-- paused, waiting per priority 0..4, ms since the longest-waiting head became ready (-1 = none), ms the
-- longest-running active job has run (-1 = none)}.
local lead_ms = tonumber(ARGV[8])
local lead = 0
if lead_ms > 0 then
  local key = NS .. ':metrics:leader'
  local holder = redis.call('GET', key)
  if not holder or holder == HOST then
    redis.call('SET', key, HOST, 'PX', lead_ms)
    lead = 1
  end
end
local out = {lead}
for i = 9, #ARGV do
  local q = ARGV[i]
  local waiting = qkey(q, 'waiting')
  out[#out + 1] = redis.call('ZCARD', waiting)
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'delayed'))
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'active'))
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'dead'))
  out[#out + 1] = redis.call('EXISTS', qkey(q, 'paused'))
  local oldest = -1
  for p = 0, 4 do
    out[#out + 1] = redis.call('ZCOUNT', waiting, p * SPAN, '(' .. ((p + 1) * SPAN))
    local head = redis.call('ZRANGE', waiting, p * SPAN, '(' .. ((p + 1) * SPAN), 'BYSCORE', 'LIMIT', 0, 1)
    if #head > 0 then
      local f = redis.call('HMGET', job_key(head[1]), 'ready_at', 'enqueued_at')
      local at = tonumber(f[1] or f[2])
      if at and (oldest < 0 or at < oldest) then oldest = at end
    end
  end
  out[#out + 1] = oldest < 0 and -1 or math.max(0, NOW - oldest)
  local started = -1
  for _, id in ipairs(redis.call('ZRANGE', qkey(q, 'active'), 0, 999)) do
    local at = tonumber(redis.call('HGET', job_key(id), 'started_at'))
    if at and (started < 0 or at < started) then started = at end
  end
  out[#out + 1] = started < 0 and -1 or math.max(0, NOW - started)
end
return out

-- Everything the queue overview shows, in one call. ARGV[8..] = queue names.
-- Per queue, 27 values: waiting, delayed (not failed), active, completed, failed (retry pending), dead,
-- paused (0/1), waiting per priority 0..4, enqueued_at of the oldest head of a priority level (-1 = none),
-- then jobs completed per minute for the last 15 minutes, oldest first.
local out = {}
local minute = math.floor(NOW / 60000)
for i = 8, #ARGV do
  local q = ARGV[i]
  local waiting, delayed = qkey(q, 'waiting'), qkey(q, 'delayed')
  -- a job whose attempt failed waits for its retry in the delayed set and in the failed index
  local failed = redis.call('ZINTERCARD', 2, qkey(q, 'failed'), delayed)
  out[#out + 1] = redis.call('ZCARD', waiting)
  out[#out + 1] = redis.call('ZCARD', delayed) - failed
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'active'))
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'completed'))
  out[#out + 1] = failed
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'dead'))
  out[#out + 1] = redis.call('EXISTS', qkey(q, 'paused'))
  local oldest = -1
  for p = 0, 4 do
    out[#out + 1] = redis.call('ZCOUNT', waiting, p * SPAN, '(' .. ((p + 1) * SPAN))
    local head = redis.call('ZRANGE', waiting, p * SPAN, '(' .. ((p + 1) * SPAN), 'BYSCORE', 'LIMIT', 0, 1)
    if #head > 0 then
      local at = tonumber(redis.call('HGET', job_key(head[1]), 'enqueued_at'))
      if at and (oldest < 0 or at < oldest) then oldest = at end
    end
  end
  out[#out + 1] = oldest
  for m = minute - 14, minute do
    out[#out + 1] = tonumber(redis.call('GET', qkey(q, 'done:' .. m)) or 0)
  end
end
out[#out + 1] = NOW
return out

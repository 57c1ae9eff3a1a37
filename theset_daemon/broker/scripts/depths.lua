-- Queue depths in one call. ARGV[8..] = queue names.
-- Returns per queue: waiting, delayed, active, dead, paused, then waiting per priority 0..4.
local out = {}
for i = 8, #ARGV do
  local q = ARGV[i]
  local waiting = qkey(q, 'waiting')
  out[#out + 1] = redis.call('ZCARD', waiting)
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'delayed'))
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'active'))
  out[#out + 1] = redis.call('ZCARD', qkey(q, 'dead'))
  out[#out + 1] = redis.call('EXISTS', qkey(q, 'paused'))
  for p = 0, 4 do
    out[#out + 1] = redis.call('ZCOUNT', waiting, p * SPAN, '(' .. ((p + 1) * SPAN))
  end
end
return out

-- One page of a job search: walks segments (a queue's index of one state), newest (highest score) first,
-- keeping the jobs whose record is in that state and matches every filter.
-- ARGV[8] = n segments, then 2 per segment: queue, state; then: segment to start in (0-based), cursor job id
-- ('' = from the segment's top), cursor score, page size, most index entries to look at, actor ('' = any),
-- lowercase substring of the encoded message or the error ('' = any), enqueued since ms, until ms (-1 = open).
-- Returns {next segment (-1 = no more), next cursor id, its score, n, then n x (job_id, summary fields...)}.
local nseg = tonumber(ARGV[8])
local b = 9 + nseg * 2
local seg, cursor, cursor_score = tonumber(ARGV[b]), ARGV[b + 1], ARGV[b + 2]
local limit, budget = tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
local actor, text = ARGV[b + 5], ARGV[b + 6]
local since, till = tonumber(ARGV[b + 7]), tonumber(ARGV[b + 8])

local function matches(id, f)
  if actor ~= '' and f[3] ~= actor then return false end
  if since >= 0 or till >= 0 then
    local at = tonumber(f[6])
    if not at or (since >= 0 and at < since) or (till >= 0 and at > till) then return false end
  end
  if text ~= '' then
    if f[10] and string.find(string.lower(f[10]), text, 1, true) then return true end
    local msg = redis.call('HGET', job_key(id), 'msg') or ''
    if not string.find(string.lower(msg), text, 1, true) then return false end
  end
  return true
end

local jobs, found, scanned = {}, 0, 0
local next_seg, next_id, next_score = -1, '', ''
while seg < nseg do
  local q, state = ARGV[9 + seg * 2], ARGV[10 + seg * 2]
  local key = qkey(q, state)
  local start = 0
  if cursor ~= '' then
    local rank = redis.call('ZREVRANK', key, cursor)
    if rank then start = rank + 1 else start = redis.call('ZCOUNT', key, '(' .. cursor_score, '+inf') end
    cursor = ''
  end
  local last_id, last_score = nil, nil
  while found < limit and scanned < budget do
    local chunk = redis.call('ZRANGE', key, start, start + 99, 'REV', 'WITHSCORES')
    if #chunk == 0 then break end
    for j = 1, #chunk, 2 do
      local id = chunk[j]
      scanned = scanned + 1
      last_id, last_score = id, chunk[j + 1]
      local f = summary(id)
      if f[1] == state and matches(id, f) then
        found = found + 1
        jobs[#jobs + 1] = id
        for k = 1, #SUMMARY do jobs[#jobs + 1] = f[k] end
      end
      if found >= limit or scanned >= budget then break end
    end
    start = start + #chunk / 2
  end
  if found >= limit or scanned >= budget then
    -- stopped inside this segment: continue after the last entry looked at, or at the next segment
    local rank = last_id and redis.call('ZREVRANK', key, last_id)
    if rank and rank + 1 < redis.call('ZCARD', key) then
      next_seg, next_id, next_score = seg, last_id, last_score
    elseif last_id == nil and start < redis.call('ZCARD', key) then
      next_seg = seg
    elseif seg + 1 < nseg then
      next_seg = seg + 1
    end
    break
  end
  seg = seg + 1
end
local out = {next_seg, next_id, next_score, found}
for _, v in ipairs(jobs) do out[#out + 1] = v end
return out

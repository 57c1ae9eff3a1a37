-- One page of a queue's jobs in one state, newest (highest score) first.
-- ARGV[8] = queue, [9] = index (waiting|delayed|active|completed|failed|dead), [10] = state the record
-- must have, [11] = cursor job id ('' = from the top), [12] = cursor score, [13] = page size,
-- [14] = most index entries to look at (records in another state are skipped).
-- Returns {next cursor id ('' = no more), its score, n, then n x (job_id, summary fields...)}.
local q, kind, state = ARGV[8], ARGV[9], ARGV[10]
local cursor, cursor_score = ARGV[11], ARGV[12]
local limit, budget = tonumber(ARGV[13]), tonumber(ARGV[14])
local key = qkey(q, kind)
local start = 0
if cursor ~= '' then
  local rank = redis.call('ZREVRANK', key, cursor)
  if rank then start = rank + 1 else start = redis.call('ZCOUNT', key, '(' .. cursor_score, '+inf') end
end
local jobs, found, scanned = {}, 0, 0
local last_id, last_score = nil, nil
while found < limit and scanned < budget do
  local chunk = redis.call('ZRANGE', key, start, start + 99, 'REV', 'WITHSCORES')
  if #chunk == 0 then break end
  for j = 1, #chunk, 2 do
    local id = chunk[j]
    scanned = scanned + 1
    last_id, last_score = id, chunk[j + 1]
    local f = summary(id)
    if f[1] == state then
      found = found + 1
      jobs[#jobs + 1] = id
      for k = 1, #SUMMARY do jobs[#jobs + 1] = f[k] end
    end
    if found >= limit or scanned >= budget then break end
  end
  start = start + #chunk / 2
end
local next_id, next_score = '', ''
if last_id then
  local rank = redis.call('ZREVRANK', key, last_id)
  if rank and rank + 1 < redis.call('ZCARD', key) then next_id, next_score = last_id, last_score end
end
local out = {next_id, next_score, found}
for _, v in ipairs(jobs) do out[#out + 1] = v end
return out

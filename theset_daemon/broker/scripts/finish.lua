-- Apply finish records only (when no fetch is due to carry them).
-- ARGV[8] = r, then 4 per record: kind (ack|retry|dead|handback|postpone|progress|log), job_id, token, extra.
local r = tonumber(ARGV[8])
local applied = 0
for i = 0, r - 1 do
  local b = 9 + i * 4
  applied = applied + finish(ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3])
end
count_done()
return applied

-- Operator actions on single jobs. ARGV[8] = action, then job ids.
--   retry:      a failed (retry pending) or dead job runs now (a dead one with attempts reset)
--   retry_dead: the same, for dead letters only
--   promote:    a delayed (or failed, retry pending) job runs now
--   delete:     remove a job that is not running
-- Returns per id: 'ok', 'missing', or the state that forbids the action.
local action = ARGV[8]
local allowed = {
  retry = {failed = true, dead = true},
  retry_dead = {dead = true},
  promote = {delayed = true, failed = true},
  delete = {waiting = true, delayed = true, completed = true, failed = true, dead = true},
}
local ok_states = allowed[action]
if not ok_states then return redis.error_reply('unknown action ' .. action) end
local out = {}
for i = 9, #ARGV do
  local id = ARGV[i]
  local key = job_key(id)
  local f = redis.call('HMGET', key, 'state', 'queue')
  local state, q = f[1], f[2]
  if not state then
    out[#out + 1] = 'missing'
  elseif not ok_states[state] then
    out[#out + 1] = state
  else
    if action == 'delete' then remove(q, id) else revive(q, id, key, state) end
    out[#out + 1] = 'ok'
  end
end
return out

-- The prelude of every broker script (prepended by scripts/__init__.py): ARGV[1] is the
-- namespace; keys are built from it (see theset_daemon/broker/__init__.py for the layout).
-- The enqueue script has only this prelude (its own arguments start at ARGV[2]); every other
-- script also has lib.lua, whose header fills ARGV[2..7] (its own arguments start at ARGV[8]).
local NS = ARGV[1]
-- waiting score = priority * SPAN + seq: lower priority value first, FIFO (seq) within a level
local SPAN = 17592186044416 -- 2^44
local ACTIVE_STATES = {waiting = true, delayed = true, active = true, failed = true}

local clock = redis.call('TIME')
local NOW = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function job_key(id) return NS .. ':job:' .. id end
local function qkey(q, kind) return NS .. ':q:' .. q .. ':' .. kind end
local function wake(q) redis.call('ZADD', qkey(q, 'marker'), '0', '1') end

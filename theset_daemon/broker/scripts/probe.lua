-- Readiness probe (ARGV[8] = a queue name): what a fetch needs of Redis, and nothing more.
-- It reads a queue key and writes an expiring key of this daemon through the script path,
-- so an ACL user without the namespace's keys, a replica (READONLY), a Redis out of memory
-- (OOM) or a cluster node (non-local key) fail here as the jobs would.
redis.call('SET', NS .. ':host:' .. HOST .. ':probe', NOW, 'PX', 60000)
return redis.call('EXISTS', qkey(ARGV[8], 'paused'))

-- Which queues an operator paused, kept where Redis eviction or data loss cannot take it.
--
-- The pause flag the fetch script checks lives in Redis (ns:q:<queue>:paused); a Redis
-- that evicts keys, restarts empty or loses its last writes in a failover would silently
-- un-pause a queue. Every daemon re-asserts the flags of the queues paused here
-- (theset_daemon/runtime/pauses.py), so a pause holds until someone resumes the queue.
create table queue_pauses (
    queue      text primary key,
    paused_at  timestamptz not null default now(),
    paused_by  text not null default ''
);

-- One row per fire of a recurring schedule, for the whole cluster.
--
-- Every daemon runs the scheduler; at each fire each one tries to insert
-- (name, fire_time) and only the one whose insert lands enqueues the job, so a
-- fire is enqueued once however many hosts run. The row outlives the job and
-- Redis: it is what a restarted cluster compares with the cron to catch up a
-- missed fire, and what `theset-daemon schedules` shows as the last run.
create table schedule_fires (
    name        text not null,
    fire_time   timestamptz not null,          -- the cron's scheduled time, not the wall clock
    job_id      text not null,
    host_id     text not null,                 -- the daemon that enqueued it
    outcome     text not null check (outcome in ('claimed', 'enqueued', 'enqueue_failed')),
    caught_up   boolean not null default false, -- fired at start-up for a fire missed while down
    error       text,
    recorded_at timestamptz not null default now(),
    primary key (name, fire_time)
);

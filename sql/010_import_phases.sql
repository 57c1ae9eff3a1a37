-- The phases of each import: which are enqueued, running, done or failed, how far
-- each has got (fraction 0..1) and what it counted. The import is complete when
-- every phase of theset_daemon/import_plan.py is done; rows survive Redis losing
-- its data, so reconciliation can re-enqueue what was in flight.
create table import_phases (
    import_id   uuid not null references import_status on delete cascade,
    phase       text not null,
    state       text not null check (state in ('enqueued', 'running', 'done', 'failed')),
    fraction    real not null default 0 check (fraction between 0 and 1),
    counts      jsonb not null default '{}',
    error       text,
    started_at  timestamptz,
    finished_at timestamptz,
    updated_at  timestamptz not null default now(),
    primary key (import_id, phase)
);
create index import_phases_state_idx on import_phases (state, updated_at);

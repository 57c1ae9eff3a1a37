"""An ``import_status`` table of the test's own (a fresh schema), as the progress and SSE tests use it."""

from __future__ import annotations

import uuid

import asyncpg

IMPORT_STATUS_DDL = """
CREATE TABLE IF NOT EXISTS import_status (
    id uuid PRIMARY KEY,
    tm_attraction_id text NOT NULL,
    artist_id uuid NULL,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    stage text NOT NULL DEFAULT 'queued',
    progress int NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    message text NOT NULL DEFAULT '',
    counts jsonb NOT NULL DEFAULT '{}'::jsonb,
    error text NULL,
    owner text NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz NULL
)
"""


#: What the import's view reads besides import_status (sql/001, sql/010), trimmed to those columns.
IMPORT_VIEW_DDL = """
CREATE TABLE IF NOT EXISTS artists (id uuid PRIMARY KEY, slug text NOT NULL);
CREATE TABLE IF NOT EXISTS import_phases (
    import_id uuid NOT NULL REFERENCES import_status ON DELETE CASCADE,
    phase text NOT NULL,
    state text NOT NULL CHECK (state IN ('enqueued', 'running', 'done', 'failed')),
    fraction real NOT NULL DEFAULT 0,
    counts jsonb NOT NULL DEFAULT '{}',
    error text,
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (import_id, phase)
)
"""


async def new_import(pool: asyncpg.Pool) -> str:
    """A queued import of attraction K8vZ9171; its id."""
    import_id = str(uuid.uuid4())
    await pool.execute("INSERT INTO import_status (id, tm_attraction_id) VALUES ($1::text::uuid, 'K8vZ9171')", import_id)
    return import_id

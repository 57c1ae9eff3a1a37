"""Recurring refreshes (queue ``scheduled_sync``): fan-outs of the import's phase actors.

Each fan-out selects artists through :mod:`theset_daemon.store.artists` (a named query) and
enqueues their syncs in ONE bulk enqueue, each with a deterministic job id
(``sync:<artist_id>:<phase>``) so an artist already waiting is not queued twice.
The phase actors run with ``import_id=None`` (no import bookkeeping), marked
``work="recurring"``: they stop at the daily quota's reserve (:mod:`theset_daemon.providers.quota.rules`).
They run at the catalogue's recurring priority, below the import's (:mod:`theset_daemon.jobs`), so a
fan's import on the same queue starts before the fan-out's backlog.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Iterable

import dramatiq

from theset_daemon import jobs
from theset_daemon.imports.phases.spotify_profile import sync_spotify_profile as sync_profile
from theset_daemon.imports.plan import PHASES_BY_NAME
from theset_daemon.providers.quota.rules import RECURRING, WORK_OPTION
from theset_daemon.runtime.resources import resources
from theset_daemon.store.artists import active_artists, recently_viewed, trending_artist_ids

#: How far back votes and views make an artist active.
ACTIVITY_WINDOW = timedelta(days=7)


def sync_messages(artist_ids: Iterable[str], phases: Iterable[str]) -> list[dramatiq.Message]:
    """One message per artist and phase, with the job id ``sync:<artist_id>:<phase>``, at the phase job's
    recurring priority (below an import's).

    Raises:
      ValueError: a phase whose job has no recurring priority (nothing runs below the import's).
    """
    return [
        PHASES_BY_NAME[name].job.recurring_message(job_id=jobs.sync_id(artist_id, name),
                                                   options={WORK_OPTION: RECURRING}, artist_id=artist_id)
        for artist_id in artist_ids for name in phases
    ]


@jobs.actor(jobs.SYNC_ACTIVE_ARTISTS)
async def sync_active_artists(limit: int = 50) -> int:
    """Profile and shows of the ``limit`` most active artists, least recently synced first."""
    res = resources()
    artist_ids = await active_artists(res.pool, limit, ACTIVITY_WINDOW)
    messages = sync_messages(artist_ids, ("spotify_profile", "shows"))
    if messages:
        await res.broker.enqueue_many_async(messages)
    return len(artist_ids)


@jobs.actor(jobs.DEEP_SYNC_TRENDING)
async def deep_sync_trending() -> int:
    """Full catalogue and shows of every trending artist."""
    res = resources()
    artist_ids = await trending_artist_ids(res.pool)
    messages = sync_messages(artist_ids, ("catalog", "shows"))
    if messages:
        await res.broker.enqueue_many_async(messages)
    return len(artist_ids)


@jobs.actor(jobs.QUICK_SYNC_VIEWED_ARTISTS)
async def quick_sync_viewed_artists(viewed_within_s: int = 3600, stale_after_s: int = 21600, limit: int = 100) -> int:
    """A quick profile refresh of recently viewed artists whose profile is stale."""
    res = resources()
    artist_ids = await recently_viewed(res.pool, timedelta(seconds=viewed_within_s),
                                       timedelta(seconds=stale_after_s), limit)
    messages = [
        jobs.QUICK_SYNC_ARTIST.message(job_id=jobs.quick_sync_id(artist_id), options={WORK_OPTION: RECURRING},
                                       artist_id=artist_id)
        for artist_id in artist_ids
    ]
    if messages:
        await res.broker.enqueue_many_async(messages)
    return len(artist_ids)


@jobs.actor(jobs.QUICK_SYNC_ARTIST)
async def quick_sync_artist(artist_id: str) -> dict:
    """The artist's Spotify profile, refreshed outside any import."""
    res = resources()
    return await sync_profile(res.providers, res.pool, artist_id)

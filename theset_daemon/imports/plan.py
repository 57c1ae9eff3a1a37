"""The artist import as a graph of phases, declared as data.

Each phase names its job in the catalogue (:mod:`theset_daemon.jobs`: the
actor, queue and priority that run it), its share of the progress bar and the phases whose output it needs. Phase 1 (``artist``)
fans out to every phase that needs only the artist; a phase that needs
others' rows (venue details need the shows' venues; setlists need the
catalogue to match songs and the shows to link to) is enqueued when the
last of its inputs finishes. The progress bar is the weighted share of
phases done, so it only ever moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .. import jobs
from ..jobs import Job


@dataclass(frozen=True)
class Phase:
    """One step of an import.

    Parameters:
      name: the stage name reported to the web app.
      job: the catalogue's job that runs it (actor, queue, priority).
      weight: its share of the progress bar, in percent.
      after: the phases that must be done before it starts.
    """

    name: str
    job: Job
    weight: int
    after: tuple[str, ...] = ()


PHASES: tuple[Phase, ...] = (
    Phase("artist", jobs.IMPORT_ARTIST, 10),
    Phase("spotify_profile", jobs.SYNC_SPOTIFY_PROFILE, 5, ("artist",)),
    Phase("catalog", jobs.SYNC_CATALOG, 30, ("artist",)),
    Phase("shows", jobs.SYNC_SHOWS, 20, ("artist",)),
    Phase("venues", jobs.SYNC_VENUE_DETAILS, 10, ("shows",)),
    Phase("setlists", jobs.SYNC_SETLISTS, 15, ("catalog", "shows")),
    Phase("images", jobs.PROCESS_IMAGES, 5, ("spotify_profile",)),
)
PHASES_BY_NAME: dict[str, Phase] = {p.name: p for p in PHASES}
#: The stage of an import before its first phase reports, and after its last.
QUEUED, DONE = "queued", "done"
#: Every stage a progress report may name: queued, each phase, done.
STAGES: tuple[str, ...] = (QUEUED, *PHASES_BY_NAME, DONE)
#: The share of the bar left for the final "done" step.
DONE_WEIGHT = 100 - sum(p.weight for p in PHASES)
assert DONE_WEIGHT >= 0


def ready_phases(done: Iterable[str], started: Iterable[str] = ()) -> list[Phase]:
    """Phases not yet done or started whose inputs are all done, in declaration order."""
    done_set, started_set = set(done), set(started)
    return [
        p for p in PHASES
        if p.name not in done_set and p.name not in started_set and all(d in done_set for d in p.after)
    ]


def is_complete(done: Iterable[str]) -> bool:
    return set(done) >= set(PHASES_BY_NAME)


def overall_progress(fractions: Mapping[str, float]) -> int:
    """The progress bar, 0-99, from each phase's completed fraction (0..1).

    100 is reserved for the final ``done`` event, sent once every phase is done.
    """
    share = sum(PHASES_BY_NAME[name].weight * min(1.0, max(0.0, f)) for name, f in fractions.items() if name in PHASES_BY_NAME)
    return min(99, int(share))

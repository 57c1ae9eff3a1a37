"""The artist import as a graph of phases, declared as data.

Each phase names the actor and queue that run it, its priority, its share of
the progress bar and the phases whose output it needs. Phase 1 (``artist``)
fans out to every phase that needs only the artist; a phase that needs
others' rows (venue details need the shows' venues; setlists need the
catalogue to match songs and the shows to link to) is enqueued when the
last of its inputs finishes. The progress bar is the weighted share of
phases done, so it only ever moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from .queues import Priority


@dataclass(frozen=True)
class Phase:
    """One step of an import.

    Parameters:
      name: the stage name reported to the web app.
      actor: the Dramatiq actor that runs it.
      queue: the queue of that actor.
      priority: the priority its message is sent with.
      weight: its share of the progress bar, in percent.
      after: the phases that must be done before it starts.
    """

    name: str
    actor: str
    queue: str
    priority: Priority
    weight: int
    after: tuple[str, ...] = ()


PHASES: tuple[Phase, ...] = (
    Phase("artist", "import_artist", "artist_import", Priority.CRITICAL, 10),
    Phase("spotify_profile", "sync_spotify_profile", "spotify_sync", Priority.HIGH, 5, ("artist",)),
    Phase("catalog", "sync_catalog", "spotify_catalog", Priority.LOW, 30, ("artist",)),
    Phase("shows", "sync_shows", "ticketmaster_sync", Priority.NORMAL, 20, ("artist",)),
    Phase("venues", "sync_venue_details", "venue_sync", Priority.NORMAL, 10, ("shows",)),
    Phase("setlists", "sync_setlists", "setlist_sync", Priority.LOW, 15, ("catalog", "shows")),
    Phase("images", "process_images", "image_processing", Priority.BACKGROUND, 5, ("spotify_profile",)),
)
PHASES_BY_NAME: dict[str, Phase] = {p.name: p for p in PHASES}
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

"""Collapse the versions of one recording into the one song fans vote on.

Two tracks are the same song when they share an ISRC, share a Spotify id
(market copies, relinked ids), or have the same :func:`normalise_title` and
durations within :data:`DURATION_TOLERANCE_MS` (remasters re-issued under a new
ISRC, ISRC-less tracks). The groups are closed transitively.

The version kept is the first by :func:`preference`: the most popular; when
popularity is missing or equal (Spotify development mode withholds it) the
album version over the single over a compilation, the original release over a
deluxe/remaster/anniversary reissue, the earliest release, then the lowest
track id. The order depends only on the tracks, never on their input order.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

from .matching import normalise_title
from .models import Track

#: Same normalised title and durations at most this far apart = same song (ms).
DURATION_TOLERANCE_MS = 3000

#: Duration granularity of a title dedup key (ms): nearest 3 s.
DEDUP_KEY_ROUND_MS = 3000

#: Lower ranks first when popularity does not decide.
ALBUM_TYPE_RANK = {"album": 0, "single": 1, "compilation": 2}

_REISSUE = re.compile(
    r"\b(?:remaster(?:ed)?|deluxe|expanded|anniversary|edition|reissue|bonus|collector'?s)\b", re.I
)


def spotify_track_id(track: Track) -> str:
    """The stable Spotify id: the requested one when Spotify relinked the track."""
    return track.linked_from_id or track.id


def dedup_key(track: Track) -> str:
    """``isrc:<ISRC>``, else ``title:<normalised title>|<duration rounded to 3 s, in s>``."""
    if track.isrc:
        return f"isrc:{track.isrc.strip().upper()}"
    seconds = (track.duration_ms + DEDUP_KEY_ROUND_MS // 2) // DEDUP_KEY_ROUND_MS * DEDUP_KEY_ROUND_MS // 1000
    return f"title:{normalise_title(track.name)}|{seconds}"


def _release(date: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", date or "")][:3]
    return tuple(parts + [0] * (3 - len(parts))) if parts else (9999, 0, 0)


def preference(track: Track) -> tuple:
    """Sort key of the versions of one song; the smallest is kept."""
    reissue = bool(_REISSUE.search(track.album_name) or _REISSUE.search(track.name))
    return (
        -(track.popularity if track.popularity is not None else -1),
        ALBUM_TYPE_RANK.get(track.album_type, len(ALBUM_TYPE_RANK)),
        reissue,
        _release(track.release_date),
        track.id,
    )


def _catalogue_order(track: Track) -> tuple:
    return (_release(track.release_date), track.album_id, track.disc_number, track.track_number, track.id)


def dedupe(tracks: Iterable[Track]) -> list[Track]:
    """One track per song (see the module rule), in release/album/track order."""
    ordered = sorted(tracks, key=preference)
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(group: list[int]) -> None:
        for i in group[1:]:
            a, b = root(group[0]), root(i)
            parent[max(a, b)] = min(a, b)

    by_isrc: dict[str, list[int]] = defaultdict(list)
    by_id: dict[str, list[int]] = defaultdict(list)
    by_title: dict[str, list[int]] = defaultdict(list)
    for i, track in enumerate(ordered):
        if track.isrc:
            by_isrc[track.isrc.strip().upper()].append(i)
        by_id[spotify_track_id(track)].append(i)
        if title := normalise_title(track.name):
            by_title[title].append(i)
    for group in (*by_isrc.values(), *by_id.values()):
        join(group)
    for group in by_title.values():
        group.sort(key=lambda i: (ordered[i].duration_ms, i))
        for a, b in zip(group, group[1:]):
            if ordered[b].duration_ms - ordered[a].duration_ms <= DURATION_TOLERANCE_MS:
                join([a, b])
    # The root of every group is its smallest index, i.e. its preferred version.
    kept = [track for i, track in enumerate(ordered) if root(i) == i]
    return sorted(kept, key=_catalogue_order)

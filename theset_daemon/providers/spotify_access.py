"""What this Spotify app may call, as detected from the API's answers.

Spotify narrowed development-mode apps twice (2024-11-27: no audio features;
February 2026: no batch endpoints, pages of at most 10, no popularity). The
client starts optimistic and records each refusal once, for the process, so
the catalogue can degrade (per-item calls, a tie-break without popularity,
no liveness layer) and report which level of access it ran with.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.models import Track

#: Largest page a classic or extended-quota app may request (search, artist albums).
FULL_PAGE = 50
#: Largest page in development mode since February 2026.
DEV_PAGE = 10


@dataclass(frozen=True)
class SpotifyAccess:
    """The app's access, as far as it is known (None: not tried yet).

    Attributes:
      batch_tracks: ``GET /tracks?ids=`` answers (False: one request per track).
      batch_albums: ``GET /albums?ids=`` answers (False: one request per album).
      audio_features: ``GET /audio-features`` answers (False: skip the liveness layer).
      popularity: tracks carry ``popularity`` (False: use :func:`version_preference`'s tie-break).
      page_limit: the largest ``limit`` accepted by search and artist albums.
    """

    batch_tracks: bool | None = None
    batch_albums: bool | None = None
    audio_features: bool | None = None
    popularity: bool | None = None
    page_limit: int = FULL_PAGE

    @property
    def profile(self) -> str:
        """The closest named level: ``extended``, ``dev-2024``, ``dev-2026`` or ``unknown``."""
        if self.batch_tracks is False or self.batch_albums is False or self.page_limit < FULL_PAGE:
            return "dev-2026"
        if self.audio_features is False:
            return "dev-2024"
        if self.audio_features and self.popularity:
            return "extended"
        return "unknown"


_ALBUM_TYPE_RANK = {"album": 0, "single": 1, "compilation": 2}


def _date_key(release_date: str) -> str:
    """``1981`` and ``1981-12`` sort before any day of that year or month."""
    parts = (release_date.split("-") + ["00", "00"])[:3]
    return "-".join(part.zfill(2) for part in parts)


def version_preference(track: Track) -> tuple[int, int, str, int, int, str]:
    """Sort key choosing which version of a song to keep: smallest is best.

    The most popular first; without popularity (dev-2026), or on a tie, the
    original album over singles and compilations, then the earliest release,
    then the album position, then the id, so the choice is deterministic.
    """
    popularity = -(track.popularity or 0)
    rank = _ALBUM_TYPE_RANK.get(track.album_type, 3)
    return (popularity, rank, _date_key(track.release_date), track.disc_number, track.track_number, track.id)

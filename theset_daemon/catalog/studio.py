"""The catalogue filter: from everything Spotify lists to the studio songs.

Four layers, each counted so the import can tell the user what it skipped:

1. drop live albums (:func:`~.live_markers.is_live_album`) and their tracks;
2. drop live titles (:func:`~.live_markers.is_live_title`);
3. drop tracks whose audio-features ``liveness`` is above
   :data:`LIVENESS_THRESHOLD` — only when audio features are available; when
   the provider refused them (pass ``None``) the layer is skipped and
   reported, tracks without features are kept;
4. :func:`~.dedupe.dedupe` the versions of one song.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable, Mapping

from .dedupe import dedupe
from .live_markers import is_live_album, is_live_title
from .models import Album, AudioFeatures, Track

#: Spotify: "a value above 0.8 provides strong likelihood that the track is live".
LIVENESS_THRESHOLD = 0.8


@dataclass(frozen=True)
class CatalogResult:
    """The kept studio tracks and what each layer removed."""

    tracks: tuple[Track, ...]
    live_albums_dropped: int = 0
    live_album_tracks_dropped: int = 0
    live_titles_dropped: int = 0
    liveness_dropped: int = 0
    duplicates_merged: int = 0
    audio_features_skipped: bool = False
    #: (track name, why it was dropped), in layer order: what the job log tells the operator.
    dropped: tuple[tuple[str, str], ...] = ()

    @property
    def kept(self) -> int:
        return len(self.tracks)

    def counts(self) -> dict[str, int | bool]:
        """The per-layer counts, for the import status and its progress events."""
        # Not asdict(): it deep-copies every kept track only to throw them away (40 ms for 1,730).
        counts = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("tracks", "dropped")}
        return {**counts, "kept": self.kept}


def live_albums(albums: Iterable[Album]) -> list[Album]:
    """The albums layer 1 drops."""
    return [album for album in albums if is_live_album(album)]


def _on_live_album(track: Track, live_ids: set[str], known_ids: set[str]) -> bool:
    if track.album_id in known_ids:
        return track.album_id in live_ids
    album = Album(track.album_id, track.album_name, track.album_type, None, track.release_date, 0)
    return is_live_album(album)


def _too_live(track: Track, features: Mapping[str, AudioFeatures]) -> bool:
    found = features.get(track.id) or (track.linked_from_id and features.get(track.linked_from_id))
    return bool(found) and found.liveness > LIVENESS_THRESHOLD  # type: ignore[union-attr]


def studio_tracks(
    albums: Iterable[Album],
    tracks: Iterable[Track],
    audio_features: Mapping[str, AudioFeatures] | None = None,
) -> CatalogResult:
    """Run the four layers over an artist's albums and tracks.

    ``audio_features`` maps track id to features; ``None`` means the provider
    refused them (layer 3 skipped, ``audio_features_skipped`` set). Tracks of
    albums not in ``albums`` are judged by the album name they carry.
    """
    albums = list(albums)
    live = live_albums(albums)
    live_ids, known_ids = {a.id for a in live}, {a.id for a in albums}
    tracks = list(tracks)

    studio = [t for t in tracks if not _on_live_album(t, live_ids, known_ids)]
    on_live_albums = len(tracks) - len(studio)
    titled = [t for t in studio if not is_live_title(t.name)]
    if audio_features is None:
        quiet = titled
    else:
        quiet = [t for t in titled if not _too_live(t, audio_features)]
    kept = dedupe(quiet)
    kept_ids = {t.id for t in kept}
    album_names = {a.id: a.name for a in albums}
    dropped = [(t.name, f"on live album {album_names.get(t.album_id, t.album_name)!r}")
               for t in tracks if _on_live_album(t, live_ids, known_ids)]
    dropped += [(t.name, "live title") for t in studio if is_live_title(t.name)]
    dropped += [(t.name, f"audio features say live (liveness > {LIVENESS_THRESHOLD})")
                for t in titled if audio_features is not None and _too_live(t, audio_features)]
    dropped += [(t.name, "another version of a kept song") for t in quiet if t.id not in kept_ids]
    return CatalogResult(
        tracks=tuple(kept),
        live_albums_dropped=len(live),
        live_album_tracks_dropped=on_live_albums,
        live_titles_dropped=len(studio) - len(titled),
        liveness_dropped=len(titled) - len(quiet),
        duplicates_merged=len(quiet) - len(kept),
        audio_features_skipped=audio_features is None,
        dropped=tuple(dropped),
    )

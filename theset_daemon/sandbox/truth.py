"""The sandbox's ground truth, for tests: what a correct sync should end up with.

Computed from the generator's own records (which take is live and how it is
marked, which song each track records), never by running the daemon's
filters, so that tests can check those filters against it.

    truth = Truth(World(seed=7))
    demo = truth.artist(truth.demo_attraction_id)
    demo.expected_studio_track_ids(popularity=True, audio_features=True)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from .data import BIG_CATALOGUE, BIG_EVENTS, DEMO, EMPTY, World
from .records import AlbumRecord, ArtistIdentity, EventRecord, SetlistRecord, TrackRecord

#: The release groups a catalogue sync asks for (appears_on is someone else's release).
CATALOGUE_GROUPS = ("album", "single", "compilation")
_TYPE_RANK = {"album": 0, "single": 1, "compilation": 2}


@dataclass(frozen=True)
class ArtistTruth:
    """What the sandbox knows about one act."""

    world: World
    identity: ArtistIdentity

    # -- catalogue -------------------------------------------------------------

    @cached_property
    def albums(self) -> list[AlbumRecord]:
        """The act's releases in the catalogue groups, as listed with a market."""
        catalogue = self.world.catalogue(self.identity.index)
        return [a for a in catalogue.albums.values() if a.album_group in CATALOGUE_GROUPS]

    @cached_property
    def tracks(self) -> dict[str, TrackRecord]:
        """Every track on those releases, by its requested id."""
        catalogue = self.world.catalogue(self.identity.index)
        return {tid: catalogue.tracks[tid] for album in self.albums for tid in album.track_ids}

    @cached_property
    def live_album_ids(self) -> set[str]:
        return {a.id for a in self.albums if a.is_live}

    @cached_property
    def live_track_ids(self) -> set[str]:
        """Every concert recording, whatever betrays it."""
        return {t.id for t in self.tracks.values() if t.is_live}

    @cached_property
    def liveness_only_track_ids(self) -> set[str]:
        """Live takes with no marker in title or album name: only audio features tell."""
        return {t.id for t in self.tracks.values() if t.live_marker == "liveness"}

    @cached_property
    def live_word_studio_track_ids(self) -> set[str]:
        """Studio tracks whose titles contain "live" ("Live Forever", "Alive", "Olive" ...)."""
        return {t.id for t in self.tracks.values() if not t.is_live and "live" in t.title.lower()}

    @cached_property
    def duplicate_isrc_groups(self) -> dict[str, list[str]]:
        """ISRCs carried by more than one track, with those tracks' ids."""
        groups: dict[str, list[str]] = defaultdict(list)
        for track in self.tracks.values():
            groups[track.isrc].append(track.id)
        return {isrc: ids for isrc, ids in groups.items() if len(ids) > 1}

    @cached_property
    def relinked(self) -> dict[str, str]:
        """Requested track id -> the id the API serves instead in the market."""
        return {t.id: t.relinked_to for t in self.tracks.values() if t.relinked_to}

    @cached_property
    def studio_songs(self) -> dict[int, str]:
        """Song id -> studio title, for songs with at least one studio recording listed."""
        songs = self.world.catalogue(self.identity.index).songs
        return {t.song_id: songs[t.song_id] for t in self.tracks.values() if not t.is_live}

    def expected_studio_tracks(self, *, popularity: bool = True, audio_features: bool = True) -> dict[object, str]:
        """The studio set a correct catalogue filter keeps: one track id per recording group.

        Live takes are dropped by markers, and by liveness when ``audio_features``;
        duplicates (same ISRC, or same title and duration) collapse to the most
        popular version, or without ``popularity`` to the original album over
        singles and compilations, then the earliest release, disc, position, id.
        A live take only audio features betray stays, as its own group, without them.
        """
        albums = {a.id: a for a in self.albums}
        groups: dict[object, list[TrackRecord]] = defaultdict(list)
        for track in self.tracks.values():
            detectable = track.live_marker in ("title", "album") or (track.live_marker == "liveness" and audio_features)
            if track.is_live and detectable:
                continue
            groups[("take", track.id) if track.is_live else track.song_id].append(track)

        def preference(track: TrackRecord) -> tuple[int, int, str, int, int, str]:
            album = albums[track.album_id]
            date = "-".join(p.zfill(2) for p in (album.release_date.split("-") + ["00", "00"])[:3])
            pop = -track.popularity if popularity else 0
            return (pop, _TYPE_RANK[album.album_type], date, track.disc, track.number, track.relinked_to or track.id)

        return {key: min(members, key=preference).id for key, members in groups.items()}

    def expected_studio_track_ids(self, *, popularity: bool = True, audio_features: bool = True) -> set[str]:
        return set(self.expected_studio_tracks(popularity=popularity, audio_features=audio_features).values())

    # -- shows and setlists ------------------------------------------------------

    @cached_property
    def events(self) -> list[EventRecord]:
        """Every event of the act once (the API repeats some across pages)."""
        return list(self.world.events(self.identity.index))

    @cached_property
    def event_ids(self) -> set[str]:
        return {e.id for e in self.events}

    @cached_property
    def setlists(self) -> list[SetlistRecord]:
        """Newest first, as setlist.fm lists them."""
        return list(self.world.setlists(self.identity.index))

    @cached_property
    def show_links(self) -> dict[str, str]:
        """Setlist id -> the Ticketmaster event it documents (same date, same venue)."""
        return {s.id: s.matched_event_id for s in self.setlists if s.matched_event_id}


class Truth:
    """Ground truth of a sandbox world, by any of an act's three ids."""

    def __init__(self, world: World) -> None:
        self.world = world

    def artist(self, any_id: str) -> ArtistTruth:
        """The act with this Ticketmaster id, Spotify id or MBID (KeyError if none)."""
        w = self.world
        identity = w.by_tm.get(any_id) or w.by_spotify.get(any_id) or w.by_mbid.get(any_id)
        if identity is None:
            raise KeyError(any_id)
        return ArtistTruth(w, identity)

    @property
    def artists(self) -> list[ArtistIdentity]:
        return list(self.world.artists)

    @property
    def demo_attraction_id(self) -> str:
        """The demo act: every quirk at a size a demo import finishes quickly."""
        return self.world.artists[DEMO].tm_id

    @property
    def big_catalogue_attraction_id(self) -> str:
        """The act with 2,000+ tracks over 150+ releases."""
        return self.world.artists[BIG_CATALOGUE].tm_id

    @property
    def big_events_attraction_id(self) -> str:
        """The act with more than 1,000 events (past Ticketmaster's paging depth)."""
        return self.world.artists[BIG_EVENTS].tm_id

    @property
    def empty_attraction_id(self) -> str:
        """An act with no events and no setlists."""
        return self.world.artists[EMPTY].tm_id

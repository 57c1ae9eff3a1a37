"""The layered catalogue filter and the version dedupe."""

from __future__ import annotations

import dataclasses
import random

from theset_daemon.catalog import CatalogResult, dedup_key, dedupe, studio_tracks
from theset_daemon.catalog.dedupe import preference
from theset_daemon.catalog.models import Album, AudioFeatures, Track


def album(id: str, name: str, album_type: str = "album", date: str = "2001-05-01") -> Album:
    return Album(id=id, name=name, album_type=album_type, album_group=album_type, release_date=date, total_tracks=10)


def track(id: str, name: str, alb: Album, *, ms: int = 200_000, isrc: str | None = None, pop: int | None = None, no: int = 1) -> Track:
    return Track(
        id=id, name=name, album_id=alb.id, album_name=alb.name, album_type=alb.album_type,
        release_date=alb.release_date, duration_ms=ms, track_number=no, isrc=isrc, popularity=pop,
    )


STUDIO = album("alb1", "Definitely Maybe")
LIVE = album("alb2", "Live at Knebworth")
SINGLE = album("sgl1", "Live Forever", "single", "2001-03-01")
HITS = album("cmp1", "Greatest Hits", "compilation", "2010-01-01")
DELUXE = album("alb3", "Definitely Maybe (Deluxe Edition)", "album", "2014-05-19")


def test_each_layer_counts_what_it_dropped() -> None:
    tracks = [
        track("t1", "Live Forever", STUDIO, isrc="GB1", pop=70, no=1),
        track("t2", "Supersonic", STUDIO, isrc="GB2", pop=60, no=2),
        track("t3", "Shakermaker - Live", STUDIO, isrc="GB3", no=3),
        track("t4", "Columbia", STUDIO, isrc="GB4", no=4),
        track("t5", "Live Forever", LIVE, isrc="GB9", no=1),
        track("t6", "Supersonic", LIVE, isrc="GB8", no=2),
        track("t7", "Live Forever", SINGLE, isrc="GB1", pop=50),
        track("t8", "Supersonic - Remastered", HITS, isrc="GB5", pop=40, ms=201_000),
    ]
    features = {"t4": AudioFeatures("t4", liveness=0.95), "t1": AudioFeatures("t1", liveness=0.81 - 0.2)}
    result = studio_tracks([STUDIO, LIVE, SINGLE, HITS], tracks, features)
    assert [t.id for t in result.tracks] == ["t1", "t2"]
    assert result.counts() == {
        "live_albums_dropped": 1,
        "live_album_tracks_dropped": 2,
        "live_titles_dropped": 1,
        "liveness_dropped": 1,
        "duplicates_merged": 2,
        "audio_features_skipped": False,
        "kept": 2,
    }


def test_refused_audio_features_skip_layer_three() -> None:
    tracks = [track("t4", "Columbia", STUDIO, isrc="GB4")]
    result = studio_tracks([STUDIO], tracks, None)
    assert result.audio_features_skipped and result.liveness_dropped == 0 and result.kept == 1


def test_liveness_threshold_is_strictly_above_point_eight() -> None:
    tracks = [track("a", "A", STUDIO, isrc="1"), track("b", "B", STUDIO, isrc="2"), track("c", "C", STUDIO, isrc="3")]
    features = {"a": AudioFeatures("a", 0.8), "b": AudioFeatures("b", 0.81)}  # c has none: kept
    assert [t.id for t in studio_tracks([STUDIO], tracks, features).tracks] == ["a", "c"]


def test_liveness_found_under_the_relinked_id() -> None:
    relinked = dataclasses.replace(track("new", "A", STUDIO, isrc="1"), linked_from_id="orig")
    assert studio_tracks([STUDIO], [relinked], {"orig": AudioFeatures("orig", 0.9)}).liveness_dropped == 1


def test_tracks_of_unlisted_albums_are_judged_by_their_album_name() -> None:
    result = studio_tracks([], [track("t5", "Live Forever", LIVE), track("t1", "Live Forever", STUDIO, isrc="X")])
    assert [t.id for t in result.tracks] == ["t1"] and result.live_album_tracks_dropped == 1


def test_dedupe_keeps_the_most_popular_isrc_version() -> None:
    versions = [
        track("a", "Song", STUDIO, isrc="US1", pop=30),
        track("b", "Song", SINGLE, isrc="US1", pop=80),
        track("c", "Song - Remastered 2014", DELUXE, isrc="us1", pop=55),
    ]
    assert [t.id for t in dedupe(versions)] == ["b"]


def test_dedupe_without_isrc_by_title_and_duration() -> None:
    versions = [
        track("a", "Song", STUDIO, ms=200_000, pop=10),
        track("b", "Song - 2014 Remaster", DELUXE, ms=202_400, pop=20),
        track("c", "Song", HITS, ms=230_000, pop=90),  # an extended cut: another song
        track("d", "Other Song", STUDIO, ms=200_000, pop=5),
    ]
    assert sorted(t.id for t in dedupe(versions)) == ["b", "c", "d"]


def test_remaster_with_a_new_isrc_merges_by_title_and_duration() -> None:
    versions = [track("a", "Song", STUDIO, isrc="OLD", pop=60), track("b", "Song - Remastered", DELUXE, isrc="NEW", pop=40, ms=201_000)]
    assert [t.id for t in dedupe(versions)] == ["a"]


def test_market_copies_merge_by_spotify_id() -> None:
    a = track("a", "Song", STUDIO)
    relinked = dataclasses.replace(track("z", "Song (feat. X)", STUDIO, ms=260_000), linked_from_id="a")
    assert len(dedupe([a, relinked])) == 1


def test_dev_mode_tie_break_is_deterministic() -> None:
    # No popularity anywhere: album over single over compilation, original over reissue, earliest, lowest id.
    versions = [
        track("s1", "Song", SINGLE, isrc="I"),
        track("c1", "Song", HITS, isrc="I"),
        track("d1", "Song", DELUXE, isrc="I"),
        track("o2", "Song", album("alb9", "Definitely Maybe", "album", "2001-05-01"), isrc="I"),
        track("o1", "Song", STUDIO, isrc="I"),
        track("o0", "Song", album("alb8", "Definitely Maybe", "album", "2002"), isrc="I"),
    ]
    expected_order = ["o1", "o2", "o0", "d1", "s1", "c1"]
    assert [t.id for t in sorted(versions, key=preference)] == expected_order
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(versions)
        assert [t.id for t in dedupe(versions)] == ["o1"]


def test_dedupe_of_a_shuffled_catalogue_is_stable() -> None:
    rng = random.Random(1)
    tracks = [
        track(f"t{i}", f"Song {i % 7}", rng.choice([STUDIO, SINGLE, HITS, DELUXE]), ms=200_000 + rng.randint(0, 2500), isrc=rng.choice([None, f"I{i % 5}"]))
        for i in range(60)
    ]
    first = [t.id for t in dedupe(tracks)]
    for _ in range(10):
        rng.shuffle(tracks)
        assert [t.id for t in dedupe(tracks)] == first


def test_dedup_keys() -> None:
    assert dedup_key(track("a", "Song", STUDIO, isrc=" gbaye0601498 ")) == "isrc:GBAYE0601498"
    assert dedup_key(track("a", "Don't Stop - 2011 Remaster", STUDIO, ms=209_600)) == "title:dont stop|210"
    assert dedup_key(track("a", "Don’t Stop", STUDIO, ms=208_400)) == "title:dont stop|207"


def test_result_counts_include_kept() -> None:
    assert CatalogResult(tracks=()).counts()["kept"] == 0

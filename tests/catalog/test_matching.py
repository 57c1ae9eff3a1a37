"""Cross-provider matching: artists, song titles, setlists to shows."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest

from theset_daemon.catalog.matching import (
    ShowCandidate,
    best_artist_match,
    link_setlist_to_show,
    match_setlist_songs,
    normalise_name,
    normalise_title,
    venues_agree,
)
from theset_daemon.catalog.models import Setlist, SetlistSong


@dataclass(frozen=True)
class Hit:
    id: str
    name: str


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Beatles", "beatles"),
        ("Beyoncé", "BEYONCE"),
        ("Florence + The Machine", "Florence and the Machine"),
        ("Earth, Wind & Fire", "Earth Wind and Fire"),
        ("Guns N' Roses", "Guns N’ Roses"),
        ("Sigur Rós", "Sigur Ros"),
        ("AC/DC", "ACDC"),
        ("Panic! At The Disco", "Panic at the Disco"),
        ("Mötley Crüe", "Motley Crue"),
        ("Røyksopp", "Royksopp"),
    ],
)
def test_names_normalise_alike(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


def test_the_the_keeps_a_name() -> None:
    assert normalise_name("The The") == "the"


def test_best_match_is_not_the_first_hit() -> None:
    hits = [Hit("1", "Taylor Swift Tribute Band"), Hit("2", "Karaoke Hits"), Hit("3", "Taylor Swift")]
    assert best_artist_match("Taylor Swift", hits).id == "3"


def test_exact_spelling_beats_a_normalised_twin() -> None:
    hits = [Hit("1", "National"), Hit("2", "The National")]
    assert best_artist_match("The National", hits).id == "2"
    assert best_artist_match("National", hits).id == "1"


def test_normalised_match_and_fuzzy_match() -> None:
    assert best_artist_match("Beyonce", [Hit("1", "Beyoncé Tribute"), Hit("2", "Beyoncé")]).id == "2"
    assert best_artist_match("Guns and Roses", [Hit("1", "Guns N' Roses")]).id == "1"
    assert best_artist_match("Red Hot Chilli Peppers", [Hit("1", "Red Hot Chili Peppers")]).id == "1"


def test_nothing_close_is_none() -> None:
    assert best_artist_match("Radiohead", [Hit("1", "Radio Head Karaoke"), Hit("2", "Coldplay")]) is None
    assert best_artist_match("Radiohead", []) is None


def test_ties_keep_provider_order_and_key_is_used() -> None:
    hits = [{"id": "a", "n": "Nirvana"}, {"id": "b", "n": "Nirvana"}]
    assert best_artist_match("nirvana", hits, key=lambda h: h["n"])["id"] == "a"


@pytest.mark.parametrize(
    ("spotify", "setlist"),
    [
        ("Twist And Shout - Remastered 2009", "Twist and Shout"),
        ("Don’t Stop Me Now - 2011 Remaster", "Don't Stop Me Now"),
        ("Mr. Brightside", "Mr Brightside"),
        ("Rockstar (feat. 21 Savage)", "Rockstar"),
        ("Señorita (with Camila Cabello)", "Senorita"),
        ("Yesterday - Mono / Remastered", "Yesterday"),
        ("Heroes - 2017 Remaster", "“Heroes”"),
        ("Song [2015 Remaster]", "Song"),
        ("Song - Single Version", "Song"),
        ("Song (Radio Edit)", "Song"),
        ("Song (Deluxe Edition)", "Song"),
        ("Song - Bonus Track", "Song"),
        ("Song - Demo", "Song"),
        ("Circle of Life - From \"The Lion King\"", "Circle of Life"),
        ("Rock & Roll", "Rock and Roll"),
    ],
)
def test_version_noise_is_stripped(spotify: str, setlist: str) -> None:
    assert normalise_title(spotify) == normalise_title(setlist)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Song - Acoustic", "Song"), ("Song (Remix)", "Song"), ("Song - Instrumental", "Song"), ("Song 2", "Song")],
)
def test_other_versions_stay_distinct(a: str, b: str) -> None:
    assert normalise_title(a) != normalise_title(b)


def test_match_setlist_songs() -> None:
    catalogue = {normalise_title(t): i for i, t in enumerate(["Wonderwall", "Don't Look Back in Anger", "Champagne Supernova"])}
    songs = [
        SetlistSong("Intro Tape", 1, tape=True),
        SetlistSong("wonderwall", 2),
        SetlistSong("Dont Look Back In Anger", 3),
        SetlistSong("Champagne Supernova / I Am the Walrus", 4),
        SetlistSong("   ", 5),
        SetlistSong("I Am the Walrus", 6, cover_artist="The Beatles"),
        SetlistSong("Wonderwall", 7, tape=True),
    ]
    assert match_setlist_songs(songs, catalogue) == [None, 0, 1, 2, None, None, None]


D = dt.date(2024, 6, 1)


def setlist(venue: str, city: str | None, date: dt.date = D) -> Setlist:
    return Setlist(id="s1", event_date=date, artist_mbid="m", venue_name=venue, city=city, country="US")


SHOWS = [
    ShowCandidate("show-la", D, "Walt Disney Concert Hall, Los Angeles", "Los Angeles"),
    ShowCandidate("show-ny", D, "Madison Square Garden", "New York"),
    ShowCandidate("show-next-day", D + dt.timedelta(days=1), "The O2", "London"),
]


def test_link_by_date_and_venue() -> None:
    assert link_setlist_to_show(setlist("Walt Disney Concert Hall", "Los Angeles"), SHOWS) == "show-la"
    assert link_setlist_to_show(setlist("Madison Square Garden", None), SHOWS) == "show-ny"
    assert link_setlist_to_show(setlist("O2 Arena", "London", D + dt.timedelta(days=1)), SHOWS) == "show-next-day"


def test_link_by_city_only_when_unambiguous() -> None:
    assert link_setlist_to_show(setlist("Terminal 5", "New York City"), SHOWS) is None
    assert link_setlist_to_show(setlist("MSG", "New York"), SHOWS) == "show-ny"
    two = SHOWS + [ShowCandidate("show-ny2", D, "Radio City Music Hall", "New York")]
    assert link_setlist_to_show(setlist("MSG", "New York"), two) is None


def test_no_link_on_another_date_or_venue() -> None:
    assert link_setlist_to_show(setlist("Madison Square Garden", "New York", D - dt.timedelta(days=1)), SHOWS) is None
    assert link_setlist_to_show(setlist("Red Rocks Amphitheatre", "Morrison"), SHOWS) is None


def test_sibling_events_link_deterministically() -> None:
    siblings = [ShowCandidate(f"id{i}", D, "Madison Square Garden", "New York") for i in (3, 1, 2)]
    for _ in range(5):
        random.shuffle(siblings)
        assert link_setlist_to_show(setlist("Madison Square Garden", "New York"), siblings) == "id1"


def test_venues_agree() -> None:
    assert venues_agree("The O2", "O2 Arena")
    assert venues_agree("Royal Albert Hall", "Royal Albert Hall")
    assert not venues_agree("Royal Albert Hall", "Roundhouse")
    assert not venues_agree(None, "Roundhouse")

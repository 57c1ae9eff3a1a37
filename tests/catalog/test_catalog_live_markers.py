"""Live markers: real titles on both sides of the line."""

from __future__ import annotations

import pytest

from theset_daemon.catalog import is_live_album, is_live_title
from theset_daemon.catalog.models import Album

LIVE_TITLES = [
    "Wonderwall - Live",
    "Wonderwall (Live)",
    "Wonderwall [Live]",
    "Wonderwall – Live",
    "Wonderwall — Live",
    "WONDERWALL (LIVE)",
    "Bohemian Rhapsody - Live at Wembley Stadium, London / 1986",
    "Paranoid Android - Live at the BBC",
    "Little Wing - Live from Austin, TX",
    "Roxanne - Live in Paris",
    "Hey Jude - Live / Remastered 2011",
    "Hey Jude - Remastered 2011 / Live",
    "Purple Rain (Live at Madison Square Garden)",
    "Layla - MTV Unplugged",
    "Come as You Are (Unplugged)",
    "About a Girl (MTV Unplugged in New York)",
    "Creep - Live Version",
    "Creep (Live Version)",
    "Creep - 1995 Live Version",
    "Yellow - Live Session",
    "Despacito (En Vivo)",
    "Garota de Ipanema (Ao Vivo)",
    "Entre dos aguas (En Directo)",
    "Teardrop - BBC Session",
    "Teardrop - Peel Session 1998",
    "Heartbeats - Recorded at Spotify Studios NYC",
    "Heartbeats - Live from Spotify London",
    "Heartbeats - Spotify Sessions",
    "Live Forever - Live at Knebworth",
    "Live and Let Die (Live)",
    "Alive - Live",
    "Thunder Road (Live In Concert)",
    "Thunder Road - In Concert",
    "Shout [Live at the Apollo Theater, 1962]",
    "Born to Run - Live 1975",
    "Born to Run (Live 1975-1985)",
    "Song (Acoustic Live)",
    "Song - Recorded Live at Red Rocks",
    "Song (Live On KEXP)",
    "Song - Live on Letterman",
    "Canción ‒ En Vivo",
]

STUDIO_TITLES = [
    "Live Forever",
    "Live Forever - Remastered",
    "Live Forever (Remastered)",
    "Live and Let Die",
    "Live and Let Die - 2018 Remaster",
    "Live and Let Die - From \"Live and Let Die\" Soundtrack",
    "Alive",
    "Olive",
    "Deliver",
    "Deliverance",
    "Oliver's Army",
    "Livewire",
    "Live Wire",
    "Live Wire - 2021 Remaster",
    "I Live",
    "To Live Is to Die",
    "Live Your Life",
    "Live Your Life (feat. Rihanna)",
    "Live It Up",
    "I Live My Life for You",
    "Live in the Moment",
    "Live Through This",
    "Let Me Live",
    "Live Like You Were Dying",
    "Live to Win",
    "Live Fast, Die Young",
    "The Way We Live",
    "Long Live",
    "Long Live Rock 'n' Roll",
    "Long Live (Taylor's Version)",
    "Lively Up Yourself",
    "Living on a Prayer",
    "Unplugged",
    "In Concert",
    "Song - Acoustic",
    "Song - Acoustic Version",
    "Song (Piano Version)",
    "Song - Stripped",
    "Song - Demo",
    "Song - Radio Edit",
    "Live-Evil",
    "Jay-Z Live",
    "Song (feat. Live)",
]


@pytest.mark.parametrize("title", LIVE_TITLES)
def test_live_titles(title: str) -> None:
    assert is_live_title(title)


@pytest.mark.parametrize("title", STUDIO_TITLES)
def test_studio_titles(title: str) -> None:
    assert not is_live_title(title)


def _album(name: str, album_type: str = "album") -> Album:
    return Album(id="a", name=name, album_type=album_type, album_group=album_type, release_date="2000", total_tracks=10)


LIVE_ALBUMS = [
    "Live at Wembley '86",
    "Live at Leeds",
    "Live in Paris",
    "Live from Austin, TX",
    "Live at the BBC",
    "Live at the Royal Albert Hall",
    "Live at the Apollo",
    "Live at the Greek Theatre 2008",
    "Live from the Royal Albert Hall",
    "Live on Air",
    "Live in Europe 1972",
    "Live at Budokan",
    "Live in 1983",
    "Stop Making Sense (Live)",
    "Hunky Dory - Live",
    "MTV Unplugged in New York",
    "Unplugged",
    "MTV Unplugged",
    "Elvis In Concert",
    "Live",
    "Live!",
    "Live 1975-85",
    "Live: Right Here, Right Now",
    "Live Sessions",
    "The BBC Sessions (Live)",
    "Acústico En Vivo",
    "Ao Vivo em São Paulo",
    "LIVE IN TEXAS",
    "live in london",
]

STUDIO_ALBUMS = [
    "Live Through This",
    "Live from the Underground",
    "Live in the Moment",
    "Live and Let Die",
    "Live Forever",
    "Alive",
    "Olive",
    "Definitely Maybe (Remastered)",
    "Live Your Life",
    "Live in Love",
    "Live at My Place",
    "The Live Wire Sessions? No, Livewire",
    "Lives",
    "Deliverance",
    "Alive in the Superunknown",
    "Live It Up",
]


@pytest.mark.parametrize("name", LIVE_ALBUMS)
def test_live_albums(name: str) -> None:
    assert is_live_album(_album(name))


@pytest.mark.parametrize("name", STUDIO_ALBUMS)
def test_studio_albums(name: str) -> None:
    assert not is_live_album(_album(name))


@pytest.mark.parametrize("name", ["Live in Paris", "Live at Leeds", "Live in the Moment", "Live from the Underground", "Live", "Live!"])
def test_a_single_is_named_after_its_song(name: str) -> None:
    # "Live in X" as a single is a song title; only a live label makes it live.
    assert not is_live_album(_album(name, "single"))
    assert is_live_album(_album(f"{name} (Live)", "single"))

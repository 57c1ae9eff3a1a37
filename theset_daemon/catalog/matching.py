"""Matching names across providers: artists, song titles, setlists to shows.

Spotify search is fuzzy (random text finds hundreds of artists), setlist.fm
names songs plainly ("Twist and Shout") while Spotify decorates them
("Twist And Shout - Remastered 2009"), and the two ticketing/setlist providers
spell venues differently. Everything here compares *normalised* text:

* :func:`normalise_name` (artists, venues, cities): case-folded, accents
  stripped, "&"/"+" read as "and", a leading "the" dropped, punctuation removed.
* :func:`normalise_title` (songs): the same folding, after stripping the
  *version noise* listed in :data:`VERSION_NOISE` — remaster, mono/stereo,
  single/album version, radio edit, deluxe/bonus, demo, "feat."/"with" credits,
  soundtrack origin. Live, remix, acoustic, instrumental and similar stay: they
  are different recordings, not different labels on the same one.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Callable, Iterable, Mapping, Sequence, TypeVar
from uuid import UUID

from .models import Setlist, SetlistSong

T = TypeVar("T")

#: Least similarity (difflib ratio of normalised names, 0..1) for a fuzzy artist match.
ARTIST_SIMILARITY = 0.85

#: Least similarity of two venue names on the same date for a setlist→show link.
VENUE_SIMILARITY = 0.8

_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_APOSTROPHES = re.compile(r"['’‘`´]")
_AND = re.compile(r"\s*[&+]\s*")
_NON_WORD = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")

_YEAR = r"(?:\d{2}|\d{4})(?:\s*/\s*\d{2,4})?"
#: Bracket or dash-suffix contents that label a version of the same recording.
VERSION_NOISE = re.compile(
    rf"""^(?:
        (?:{_YEAR}\s+)?(?:digital(?:ly)?\s+)?remaster(?:ed)?(?:\s+(?:version|edition|{_YEAR}))?(?:\s+{_YEAR})?
      | remastered\s+in\s+{_YEAR}
      | (?:{_YEAR}\s+)?(?:mono|stereo)(?:\s+(?:version|mix|remaster))?
      | {_YEAR}\s+(?:stereo\s+)?mix
      | (?:single|album|lp|original|radio)\s+(?:version|edit|mix)
      | radio\s+edit | edit | explicit | clean(?:\s+version)?
      | (?:\w+\s+)?(?:deluxe|expanded|anniversary|special|bonus)(?:\s+(?:edition|version|track))?(?:\s+{_YEAR})?
      | bonus\s+track | demo(?:\s+version)? | {_YEAR}\s+demo
      | (?:feat|ft|featuring)\b\.?.* | with\s+.+
      | from\s+["“'‘].*
      | re-?recorded(?:\s+version)? | re-?recording
    )$""",
    re.X | re.I,
)
_BRACKETS = re.compile(r"\s*[\(\[]([^\)\]]*)[\)\]]")
_DASH = re.compile(r"\s+[-‐‑‒–—―]\s+")
_LABEL_PARTS = re.compile(r"\s*[/;]\s*")


#: Names and titles kept folded: the same songs and venues recur in every setlist of an artist.
_CACHE = 1 << 16


def fold(text: str) -> str:
    """Case-fold, strip accents and map the few letters NFKD does not decompose."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> str:
    text = _AND.sub(" and ", fold(text))
    text = _APOSTROPHES.sub("", text)
    text = _NON_WORD.sub("", text)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=_CACHE)
def normalise_name(name: str) -> str:
    """An artist, venue or city name folded for comparison ("The Beatles" → "beatles")."""
    words = _words(name)
    return words[4:] if words.startswith("the ") and len(words) > 4 else words


def is_version_noise(label: str) -> bool:
    """Whether a bracket or dash-suffix label only names a version ("Mono / Remastered")."""
    label = label.strip()
    if VERSION_NOISE.match(label):
        return True
    parts = [p.strip() for p in _LABEL_PARTS.split(label)]
    return len(parts) > 1 and all(VERSION_NOISE.match(p) for p in parts)


def strip_version_noise(title: str) -> str:
    """``title`` without its version labels ("Song - Remastered 2011" → "Song")."""
    kept = _BRACKETS.sub(lambda m: "" if is_version_noise(m.group(1)) else m.group(0), title)
    head, *suffixes = _DASH.split(kept)
    tail = [s for s in suffixes if not is_version_noise(s)]
    return " - ".join([head, *tail]).strip() or title.strip()


@lru_cache(maxsize=_CACHE)
def normalise_title(title: str) -> str:
    """A song title folded for matching, version noise removed.

    ``"Don’t Stop Me Now - 2011 Remaster"`` and ``"Don't Stop Me Now"`` both
    give ``"dont stop me now"``; ``"Song - Acoustic"`` keeps its "acoustic".
    """
    return _words(strip_version_noise(title))


def _name_score(target: str, candidate: str) -> tuple[int, float]:
    """(tier, similarity): 3 same folded spelling, 2 same normalised name, 1 fuzzy."""
    if _words(target) == _words(candidate):
        return 3, 1.0
    a, b = normalise_name(target), normalise_name(candidate)
    if a == b or a.replace(" ", "") == b.replace(" ", ""):
        return 2, 1.0
    return 1, SequenceMatcher(None, a, b).ratio()


def best_artist_match(
    target_name: str,
    candidates: Iterable[T],
    *,
    key: Callable[[T], str] = lambda c: c.name,  # type: ignore[attr-defined]
    min_similarity: float = ARTIST_SIMILARITY,
) -> T | None:
    """The candidate whose name best matches ``target_name``, or None.

    Exact folded spelling beats a normalised match ("The National" beats
    "National" for "The National"), which beats the most similar name at or
    above ``min_similarity``. Ties keep provider order (relevance), so the
    first hit wins only among equally good names.
    """
    best: T | None = None
    best_score = (0, 0.0)
    for candidate in candidates:
        score = _name_score(target_name, key(candidate))
        if score[0] == 1 and score[1] < min_similarity:
            continue
        if score > best_score:
            best, best_score = candidate, score
    return best


def match_setlist_songs(
    setlist_songs: Sequence[SetlistSong], catalogue: Mapping[str, T]
) -> list[T | None]:
    """The catalogue song of each setlist song, by normalised title, or None.

    ``catalogue`` maps :func:`normalise_title` of each studio song to its id.
    Tape songs and blank names never match (they are not vote candidates); a
    medley "A / B" matches as a whole, else by its first part.
    """
    matched: list[T | None] = []
    for song in setlist_songs:
        if song.tape or not song.name.strip():
            matched.append(None)
            continue
        title = normalise_title(song.name)
        found = catalogue.get(title)
        if found is None and "/" in song.name:
            found = catalogue.get(normalise_title(song.name.split("/", 1)[0]))
        matched.append(found)
    return matched


@dataclass(frozen=True)
class ShowCandidate:
    """A stored show, as much of it as linking a setlist needs."""

    id: UUID | str
    date: dt.date | None
    venue_name: str | None
    city: str | None


def venues_agree(a: str | None, b: str | None) -> bool:
    """Whether two venue names name the same place.

    Equal after normalisation, one's words contained in the other's ("The O2"
    vs "O2 Arena", "Walt Disney Concert Hall" vs "..., Los Angeles"), or at
    least :data:`VENUE_SIMILARITY` similar.
    """
    if not a or not b:
        return False
    x, y = normalise_name(a), normalise_name(b)
    if not x or not y:
        return False
    wx, wy = set(x.split()), set(y.split())
    return x == y or wx <= wy or wy <= wx or SequenceMatcher(None, x, y).ratio() >= VENUE_SIMILARITY


def link_setlist_to_show(setlist: Setlist, shows: Iterable[ShowCandidate]) -> UUID | str | None:
    """The id of the show this setlist was played at, or None.

    Only shows on the setlist's date are considered. A venue-name agreement
    links; failing that, a city agreement links only when it is the sole show
    in that city that day (an unambiguous choice). Otherwise None.
    """
    same_day = sorted((s for s in shows if s.date == setlist.event_date), key=lambda s: str(s.id))
    venue = normalise_name(setlist.venue_name or "")
    by_venue = [s for s in same_day if venues_agree(s.venue_name, setlist.venue_name)]
    if by_venue:
        # Sibling events (VIP packages) share a venue: prefer the exact name, then the lowest id.
        exact = [s for s in by_venue if normalise_name(s.venue_name or "") == venue]
        return (exact or by_venue)[0].id
    city = normalise_name(setlist.city or "")
    by_city = [s for s in same_day if city and normalise_name(s.city or "") == city]
    return by_city[0].id if len(by_city) == 1 else None

"""Is this a live recording? Decided by *markers*, never by the word "live".

"Live Forever", "Live and Let Die", "Alive", "Live Wire" and "Live in the
Moment" are studio songs, so a bare "live" in a title proves nothing. The rule:

**Track titles** are live only when a *label* says so. A label is the text
after a spaced dash (``-``, ``–``, ``—`` ...) or inside brackets ``(...)``
``[...]``; the title's own head is never inspected. A label is live when it
(case-insensitively, accents ignored):

* starts with "live" ("Live", "Live at Wembley", "Live / Remastered 2011",
  "Live 1977"), unless it continues as a known song name ("Live Forever");
* ends with "live" ("Acoustic Live"), or says "live version/session/recording/
  performance", "recorded live";
* is a live idiom in another language ("En Vivo", "Ao Vivo", "En Directo");
* says "Unplugged", "MTV Unplugged", "In Concert", "BBC/Peel/Spotify Session(s)"
  or "Recorded at Spotify";

and it is not an artist credit ("feat. Live" names the band Live).

**Album names** are live when their name carries a live title label (above),
when it says "Unplugged", "In Concert", "Live Session(s)/Recording(s)" anywhere,
or — for albums and compilations, not singles/EPs (a single is named after its
song: "Live", "Live in the Moment") — when the whole name is "Live" (or
"Live" + a year, "Live!", "Live: ...") or it starts "Live at/from/in/on" + a
*place*: a year, a word not in :data:`NOT_A_PLACE` ("Live at Leeds", "Live in
Paris"), or "the" + something with a venue word or an acronym ("Live at the
Royal Albert Hall", "Live at the BBC"; but not "Live from the Underground",
"Live in the Moment"). A live album this misses still loses its tracks to
their "- Live" labels (layer 2) or their liveness (layer 3).
"""

from __future__ import annotations

import re

from .matching import fold
from .models import Album

_SPACED_DASH = re.compile(r"\s+[-‐‑‒–—―]\s+")
_BRACKETED = re.compile(r"[\(\[]([^\)\]]*)[\)\]]")

#: Song names that begin with "live"; a label starting with one is not a live marker.
_SONG_NAMES = r"forever|and\s+let\s+die|wire|your\s+life|it\s+up|to\s+tell|and\s+learn|like\b|my\s+life|for\b"

LIVE_LABEL = re.compile(
    rf"""
      ^live\b(?!\s+(?:{_SONG_NAMES}))
    | (?<!long )\blive\W*$
    | \blive\s+(?:versions?|sessions?|recordings?|performances?|takes?|tracks?|edit|mix)\b
    | \b(?:recorded|performed)\s+live\b
    | \b(?:en\s+vivo|ao\s+vivo|en\s+directo|dal\s+vivo|en\s+concierto|en\s+public|live-?aufnahme)\b
    | \bunplugged\b
    | \bin\s+concert\b
    | \b(?:bbc|peel|spotify|kexp)\s+sessions?\b
    | \brecorded\s+at\s+spotify\b
    """,
    re.X | re.I,
)

#: A whole release name "Live", "Live!", "Live: ...", "Live 1975-85" (albums only).
_NAMED_LIVE = re.compile(r"^live\s*(?:[!:]|$|['’]?\d)", re.I)

_LIVE_RELEASE_WORDS = re.compile(
    r"""
      \bunplugged\b
    | \bin\s+concert\b
    | \blive\s+(?:sessions?|recordings?|performances?)\b
    | \b(?:en\s+vivo|ao\s+vivo|en\s+directo)\b
    """,
    re.X | re.I,
)

_LIVE_AT_PLACE = re.compile(r"^live\s+(?:at|from|in|on)\s+(?P<place>.+)$", re.I)

#: First words after "Live at/from/in/on" that make a phrase, not a place.
NOT_A_PLACE = frozenset(
    "a an my your our his her their this that these those me you us it love peace fear hope "
    "color colour harmony time vain sin faith denial silence dreams heaven hell slow "
    "fast".split()
)

#: Words that make "Live at the ..." a venue ("Live at the Royal Albert Hall").
VENUE_WORDS = frozenset(
    "hall arena stadium theatre theater garden gardens club bowl palladium apollo fillmore "
    "ballroom center centre park festival opera forum academy auditorium room cafe tavern "
    "pavilion amphitheatre amphitheater coliseum colosseum dome church cathedral chapel "
    "palace house studio studios greek roxy troubadour budokan paradiso olympia "
    "marquee cavern".split()
)


def _labels(title: str) -> list[str]:
    """The bracketed and dash-suffix labels of a title (not its head)."""
    labels = [m.group(1).strip() for m in _BRACKETED.finditer(title)]
    labels += [s.strip() for s in _SPACED_DASH.split(title)[1:]]
    return labels


#: A label that credits other artists ("feat. Live" names the band Live).
_CREDIT = re.compile(r"^(?:feat|ft|featuring|with|prod)\b", re.I)


def is_live_title(title: str) -> bool:
    """Whether a track (or release) title carries a live label ("Song - Live at X")."""
    return any(
        LIVE_LABEL.search(fold(label)) and not _CREDIT.match(label) for label in _labels(title)
    )


def _is_place(place: str) -> bool:
    words = re.findall(r"[\w'’]+", place)
    if not words:
        return False
    first = fold(words[0])
    if first[:1].isdigit() or first[:1] in "'’":
        return True
    if first == "the":
        rest = words[1:]
        acronym = any(len(w) >= 2 and w.isupper() or any(c.isdigit() for c in w) for w in rest)
        return acronym or any(fold(w) in VENUE_WORDS for w in rest)
    return first not in NOT_A_PLACE


def is_live_album(album: Album) -> bool:
    """Whether a release is a live album by its name (see the module rule)."""
    name = album.name.strip()
    if is_live_title(name) or _LIVE_RELEASE_WORDS.search(fold(name)):
        return True
    if album.album_type == "single":
        return False
    if _NAMED_LIVE.match(name):
        return True
    match = _LIVE_AT_PLACE.match(name)
    return bool(match) and _is_place(match.group("place"))

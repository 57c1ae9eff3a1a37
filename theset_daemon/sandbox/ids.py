"""Made-up ids of the sandbox: base62 strings, some carrying an act's index in their first
two characters (so an album, track or event id finds its act without a listing)."""

from __future__ import annotations

import random
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def base62(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(BASE62, k=length))


def prefixed_id(index: int, rng: random.Random, length: int = 22) -> str:
    """A base62 id whose first two characters encode an act's index."""
    return BASE62[index // 62] + BASE62[index % 62] + base62(rng, length - 2)


def index_of(any_id: str) -> int | None:
    """The act index encoded by :func:`prefixed_id` (None if it cannot be one)."""
    if len(any_id) < 2 or any(c not in BASE62 for c in any_id[:2]):
        return None
    return BASE62.index(any_id[0]) * 62 + BASE62.index(any_id[1])


def uuid_from(rng: random.Random) -> str:
    h = "".join(rng.choices("0123456789abcdef", k=32))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

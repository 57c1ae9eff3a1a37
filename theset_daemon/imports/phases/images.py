"""Artist images: the best size chosen, fetched through the guard, measured.

The chosen image is the smallest at least :data:`TARGET_WIDTH` wide (else the
largest). It is fetched with a size cap through a session that refuses
private and loopback addresses unless configured; an image that cannot be
fetched is reported, never a failed import.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from ...catalog.image_size import image_size
from ...providers.safe_fetch import read_capped
from ...store import get_artist, set_artist_image

logger = logging.getLogger(__name__)

#: Pixels wide the artist page shows.
TARGET_WIDTH = 640
#: Largest image body accepted, in bytes.
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def choose_image(images: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The smallest image at least TARGET_WIDTH wide, else the widest, else the first."""
    sized = [i for i in images if isinstance(i.get("width"), int)]
    wide = sorted((i for i in sized if i["width"] >= TARGET_WIDTH), key=lambda i: i["width"])
    if wide:
        return wide[0]
    if sized:
        return max(sized, key=lambda i: i["width"])
    return images[0] if images else None


async def process_images(session: aiohttp.ClientSession, pool: asyncpg.Pool, artist_id: UUID) -> dict[str, Any]:
    """Choose, fetch and measure the artist's image; counts what happened (numbers only, the reason logged)."""
    artist = await get_artist(pool, artist_id)
    images = (artist["images"] if artist else None) or []
    chosen = choose_image(list(images))
    if chosen is None:
        return {"images_none": 1}
    try:
        async with session.get(chosen["url"]) as resp:
            resp.raise_for_status()
            size = image_size(await read_capped(resp, MAX_IMAGE_BYTES))
    except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
        logger.warning("artist image unreachable: %s: %s", type(exc).__name__, exc, extra={"artist_id": str(artist_id)})
        return {"images_unreachable": 1}
    width, height = size or (None, None)
    await set_artist_image(pool, artist_id, chosen["url"], width, height)
    counts = {"images_stored": 1} if size else {"images_unrecognised": 1}
    return {**counts, "image_width": width, "image_height": height} if size else counts

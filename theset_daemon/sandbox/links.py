"""Links the sandbox puts in its payloads, all on the sandbox's own origin.

The real APIs link to their websites and image CDNs (open.spotify.com,
i.scdn.co, ticketmaster.com, setlist.fm). The sandbox serves stand-ins for
those under its own address instead, so nothing that follows a link it hands
out — the image phase above all — resolves or contacts any host but the one
the sandbox listens on. The origin is the one the request came in on, set by
the sandbox middleware for the duration of each request.

Stand-in paths: ``/web/<provider>/<path>`` (a page) and
``/images/<width>x<height>/<key>`` (a real PNG of that size).
"""

from __future__ import annotations

import functools
import struct
import zlib
from contextvars import ContextVar

from aiohttp import web

#: Origin (``http://127.0.0.1:8099``) of the request being answered.
ORIGIN: ContextVar[str] = ContextVar("sandbox_origin", default="http://127.0.0.1:8099")

#: Largest side of a generated image, in pixels.
MAX_SIDE = 4096


def page(provider: str, path: str) -> str:
    """The stand-in for a provider's website page ``path`` (no leading slash)."""
    return f"{ORIGIN.get()}/web/{provider}/{path}"


def image(key: str, width: int, height: int) -> str:
    """The URL of a ``width`` x ``height`` image the sandbox serves under ``key``."""
    return f"{ORIGIN.get()}/images/{width}x{height}/{key}"


@functools.lru_cache(maxsize=16)
def png(width: int, height: int) -> bytes:
    """A valid, solid-grey RGB PNG of ``width`` x ``height`` pixels."""
    row = b"\x00" + b"\x80" * (3 * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b"")


async def serve_image(request: web.Request) -> web.Response:
    """``GET /images/{width}x{height}/{key}``: the PNG of that size (404 for an absurd size)."""
    width, height = (int(n) for n in request.match_info["size"].split("x"))
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise web.HTTPNotFound()
    return web.Response(body=png(width, height), content_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})


async def serve_page(request: web.Request) -> web.Response:
    """``GET /web/{provider}/{path}``: a plain page standing in for the provider's website."""
    return web.Response(text=f"sandbox stand-in for {request.match_info['provider']}: /{request.match_info['path']}\n")


def routes() -> list[web.RouteDef]:
    return [web.get(r"/images/{size:\d+x\d+}/{key}", serve_image),
            web.get("/web/{provider}/{path:.*}", serve_page)]

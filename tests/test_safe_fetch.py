"""Outbound fetches (images, webhooks) never reach private or loopback addresses unless allowed."""

from __future__ import annotations

import pytest
from aiohttp import web

from theset_daemon.image_size import image_size
from theset_daemon.safe_fetch import AddressRefused, guarded_session, is_public

PNG_1x2 = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000208060000001f15c489")


@pytest.fixture
async def local_server():
    app = web.Application()

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=PNG_1x2, content_type="image/png")

    app.router.add_get("/image.png", image)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port
    await runner.cleanup()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
async def test_loopback_is_refused_by_name_or_literal(local_server, host):
    async with guarded_session(allow_private=False) as session:
        with pytest.raises(AddressRefused):
            async with session.get(f"http://{host}:{local_server}/image.png"):
                pass


async def test_allowed_when_configured_and_sizes_are_read(local_server):
    async with guarded_session(allow_private=True) as session:
        async with session.get(f"http://127.0.0.1:{local_server}/image.png") as resp:
            assert image_size(await resp.read()) == (1, 2)


def test_public_and_private_addresses():
    assert is_public("93.184.216.34") and is_public("2606:4700::1111")
    for address in ("10.0.0.1", "172.16.3.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "::1", "fc00::1", "0.0.0.0"):
        assert not is_public(address), address

"""Outbound fetches (images, webhooks) never reach private or loopback addresses unless allowed."""

from __future__ import annotations

import ipaddress

import pytest
from aiohttp import web

from tests.helpers.environment import REPO

from theset_daemon.catalog.image_size import image_size
from yarl import URL

from theset_daemon.providers.safe_fetch import AddressRefused, check_literal_host, guarded_session, is_public
from theset_daemon.services.webhooks import refuse_private_literal

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


# Issue 16, finding 3: decided on address values only; no packet leaves the machine.
REFUSED = [
    "100.64.0.1", "100.100.100.200", "100.127.255.254",  # carrier-grade NAT (Alibaba's metadata address)
    "fec0::1", "feff::1",  # IPv6 site-local
    "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:101::",  # 6to4 around 127.0.0.1, 169.254.169.254, 192.168.1.1
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::a00:1",  # NAT64 around loopback, metadata, 10/8
    "64:ff9b:1::5db8:d822",  # local-use NAT64
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1",  # IPv4-mapped
    "::127.0.0.1", "::ffff:0:7f00:1",  # IPv4-compatible, IPv4-translated
    "2001:0:4136:e378:8000:63bf:80ff:fefe",  # Teredo (client 127.0.0.1)
    "2001:0:5db8:d822:8000:63bf:3fff:fdd2",  # Teredo (public server and client: still not global)
    "fd00:ec2::254", "169.254.170.2", "192.0.0.192", "198.18.0.1", "240.0.0.1", "255.255.255.255",
    "224.0.0.1", "ff02::1", "::", "2001:db8::1", "fe80::1%eth0",
]
ALLOWED = ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "2002:5db8:d822::1", "64:ff9b::5db8:d822"]


@pytest.mark.parametrize("address", REFUSED)
def test_every_address_that_is_not_globally_routable_is_refused(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_and_forms_embedding_a_public_ipv4_pass(address):
    assert is_public(address)


@pytest.mark.parametrize("host", ["[2002:7f00:1::]", "[::ffff:7f00:1]", "[64:ff9b::a9fe:a9fe]", "100.100.100.200", "[fec0::1]"])
def test_literal_hosts_embedding_private_addresses_are_refused_before_connecting(host):
    with pytest.raises(AddressRefused):
        check_literal_host(URL(f"http://{host}/latest/meta-data/"))
    with pytest.raises(AddressRefused):
        refuse_private_literal(f"http://{host}/hook", allow_private=False)


def test_the_unit_file_denies_the_cloud_metadata_addresses():
    unit = (REPO / "systemd" / "theset-daemon.service").read_text()
    denied = [ipaddress.ip_network(n) for line in unit.splitlines() if line.startswith("IPAddressDeny=")
              for n in line.split("=", 1)[1].split()]
    for metadata in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192"):
        address = ipaddress.ip_address(metadata)
        assert any(address in net for net in denied if net.version == address.version), metadata
        assert not is_public(metadata)

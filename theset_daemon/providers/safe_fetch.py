"""Outbound fetches that never reach private or loopback addresses unless allowed.

Images and webhooks go to URLs that came from outside. The guard sits in the
resolver of the HTTP connector, so the address checked is the address
connected to (no second lookup to rebind), and redirects are checked too.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL


class AddressRefused(aiohttp.ClientConnectionError):
    """The URL resolves to an address that is not globally routable (see :func:`is_public`)."""


#: Refused although Python's ``is_global`` may pass them (it differs between versions):
#: carrier-grade NAT and IETF protocol assignments (cloud metadata addresses live in both), IPv6 site-local, IPv4-compatible
#: and IPv4-translated IPv6, local-use NAT64, Teredo.
_NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "100.64.0.0/10", "192.0.0.0/24", "fec0::/10", "::/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "2001::/32",
))
#: The well-known NAT64 prefix: the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, 6to4, Teredo (server, client), NAT64."""
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [v4 for v4 in found if v4 is not None]


def is_public(address: str) -> bool:
    """Whether ``address`` is globally routable (``is_global``, not multicast), and so is every
    IPv4 address it embeds (an IPv4-mapped address is judged by its IPv4 address alone).

    Raises:
      ValueError: ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_public(str(ip.ipv4_mapped))
    if not ip.is_global or ip.is_multicast or any(ip in net for net in _NOT_PUBLIC if net.version == ip.version):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return all(is_public(str(v4)) for v4 in embedded_ipv4(ip))
    return True


class PublicOnlyResolver(AbstractResolver):
    """Resolve with the default resolver, then refuse any non-public address."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r["host"] for r in results if not is_public(r["host"])]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address ({refused[0]}); refused")
        return results

    async def close(self) -> None:
        await self._inner.close()


def check_literal_host(url: URL) -> None:
    """Refuse a URL whose host is a non-public IP literal (aiohttp skips the resolver for those).

    Raises:
      AddressRefused: the host is a private, loopback, link-local or reserved address.
    """
    host = (url.host or "").strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    if not is_public(host):
        raise AddressRefused(f"{host} is a non-public address; refused")


async def _on_request_start(session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
    check_literal_host(params.url)


async def _on_request_redirect(session: Any, context: Any, params: aiohttp.TraceRequestRedirectParams) -> None:
    location = params.response.headers.get("Location")
    if location:
        check_literal_host(params.url.join(URL(location)))


def guarded_session(*, allow_private: bool, timeout_s: float = 10.0, **kwargs: Any) -> aiohttp.ClientSession:
    """A client session whose connections only reach public addresses (unless ``allow_private``).

    Names are checked by the resolver (the address checked is the one connected
    to); IP literals, which aiohttp never resolves, by a request trace, on the
    first request and on every redirect.
    """
    if allow_private:
        connector = aiohttp.TCPConnector(limit=16)
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s), **kwargs)
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_on_request_start)
    trace.on_request_redirect.append(_on_request_redirect)
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(), limit=16)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s), trace_configs=[trace], **kwargs
    )


async def read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, refusing anything over ``max_bytes`` (declared or actual).

    Raises:
      ValueError: the body is larger than allowed.
    """
    declared = resp.content_length
    if declared is not None and declared > max_bytes:
        raise ValueError(f"body of {declared} bytes is over the {max_bytes} byte cap")
    data = await resp.content.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"body is over the {max_bytes} byte cap")
    return data

"""Signed webhooks to partner systems: ``import.completed`` and ``import.failed``.

Each configured endpoint (``THESET_WEBHOOK_URLS``) gets one ``webhook`` job per
event (job id ``webhook:<event>:<import_id>:<endpoint hash>``, so a repeated
event is not sent twice while the first is pending). The delivery POSTs the
JSON body with:

* ``X-TheSet-Event``: the event name;
* ``X-TheSet-Delivery``: the delivery id (stable across retries);
* ``X-TheSet-Timestamp``: Unix seconds at this attempt;
* ``X-TheSet-Signature``: ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with THESET_WEBHOOK_SECRET>``.

A receiver recomputes the HMAC over the timestamp header, a dot and the raw
body, compares in constant time and rejects old timestamps (replays).

A 2xx ends the job; a 5xx, 429, timeout or connection error raises
:class:`DeliveryFailed` so the broker retries with backoff and dead-letters
after the last attempt; any other 4xx, or an address refused by the guard,
raises :class:`~theset_daemon.broker.Permanent` (dead-lettered at once).
Requests go through :func:`~theset_daemon.providers.safe_fetch.guarded_session`: private
and loopback addresses are refused unless ``THESET_ALLOW_PRIVATE_FETCH``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from typing import Any
from urllib.parse import urlparse

import aiohttp
import asyncpg
import dramatiq
import orjson

from .. import jobs
from ..broker import Permanent
from ..imports.view import load_import_view
from ..providers.safe_fetch import AddressRefused, guarded_session, is_public
from ..runtime.resources import Resources

logger = logging.getLogger(__name__)

IMPORT_COMPLETED = "import.completed"
IMPORT_FAILED = "import.failed"
SIGNATURE_HEADER = "X-TheSet-Signature"
TIMESTAMP_HEADER = "X-TheSet-Timestamp"
EVENT_HEADER = "X-TheSet-Event"
DELIVERY_HEADER = "X-TheSet-Delivery"
#: Seconds one delivery attempt may take.
DELIVERY_TIMEOUT_S = 10.0


class DeliveryFailed(Exception):
    """The endpoint did not take the webhook this time (5xx, 429, timeout, connection); retried."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300,
           now: float | None = None) -> bool:
    """A receiver's check: the signature matches and the timestamp is recent."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def refuse_private_literal(url: str, *, allow_private: bool) -> None:
    """Refuse a URL whose host is a private/loopback IP literal.

    The guarded session checks addresses in its resolver, but aiohttp does
    not call the resolver for IP literals, so those are checked here.

    Raises:
      AddressRefused: the host is a non-public IP and private fetches are not allowed.
    """
    host = urlparse(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return
    if not allow_private and not is_public(host):
        raise AddressRefused(f"{host} is a non-public address; refused")


def endpoint_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def delivery_messages(urls: tuple[str, ...], event: str, subject_id: str, payload: dict[str, Any]) -> list[dramatiq.Message]:
    """One ``webhook`` message per endpoint for ``event`` about ``subject_id``."""
    messages = []
    for url in urls:
        delivery_id = f"{event}:{subject_id}:{endpoint_id(url)}"
        messages.append(jobs.DELIVER_WEBHOOK.message(job_id=jobs.webhook_id(delivery_id), url=url, event=event,
                                                     delivery_id=delivery_id, payload=payload))
    return messages


async def deliver(session: aiohttp.ClientSession, url: str, secret: str, event: str, delivery_id: str,
                  payload: dict[str, Any], *, allow_private: bool) -> int:
    """POST one signed webhook; return the status.

    Raises:
      DeliveryFailed: retryable (5xx, 429, timeout, connection error).
      Permanent: not retryable (other 4xx, refused address).
    """
    body = orjson.dumps({"event": event, "deliveryId": delivery_id, "data": payload})
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json", EVENT_HEADER: event, DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    try:
        refuse_private_literal(url, allow_private=allow_private)
        async with session.post(url, data=body, headers=headers, allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_S)) as resp:
            status = resp.status
    except AddressRefused as exc:
        raise Permanent(f"webhook to {url} refused: {exc}") from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryFailed(f"webhook to {url}: {type(exc).__name__}: {exc}") from exc
    if 200 <= status < 300:
        return status
    if status == 429 or status >= 500:
        raise DeliveryFailed(f"webhook to {url}: HTTP {status}")
    raise Permanent(f"webhook to {url}: HTTP {status}")


async def import_payload(pool: asyncpg.Pool, import_id: str) -> dict[str, Any] | None:
    """The webhook body's ``data`` for an import: its view, as the API and SSE show it; None if unknown."""
    return await load_import_view(pool, import_id)


async def notify_import(res: Resources, import_id: str, event: str) -> int:
    """Enqueue ``event`` for ``import_id`` to every endpoint (one round trip); return how many."""
    urls = res.settings.webhook_urls
    if not urls:
        return 0
    payload = await import_payload(res.pool, import_id)
    if payload is None:
        return 0
    await res.broker.enqueue_many_async(delivery_messages(urls, event, import_id, payload))
    return len(urls)


def session(res: Resources) -> aiohttp.ClientSession:
    """The daemon's webhook session (``res.webhook_session``, guarded); opened there on first use (tests)."""
    if res.webhook_session is None or res.webhook_session.closed:
        res.webhook_session = new_session(res.settings.allow_private_fetch)
    return res.webhook_session


def new_session(allow_private: bool) -> aiohttp.ClientSession:
    """A guarded session with the delivery timeout; the daemon opens one at boot."""
    return guarded_session(allow_private=allow_private, timeout_s=DELIVERY_TIMEOUT_S)

"""Outbound signed webhooks (queue ``webhook``, NORMAL); see theset_daemon/services/webhooks.py."""

from __future__ import annotations

from typing import Any

from theset_daemon import jobs
from theset_daemon.broker import Permanent
from theset_daemon.runtime.resources import resources
from theset_daemon.services import webhooks


@jobs.actor(jobs.DELIVER_WEBHOOK)
async def deliver_webhook(url: str, event: str, delivery_id: str, payload: dict[str, Any]) -> int:
    res = resources()
    settings = res.settings
    if not settings.webhook_secret:
        raise Permanent("THESET_WEBHOOK_SECRET is not set: webhooks are never sent unsigned")
    session = webhooks.session(res)
    return await webhooks.deliver(session, url, settings.webhook_secret, event, delivery_id, payload,
                                  allow_private=settings.allow_private_fetch)

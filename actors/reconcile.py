"""Reconciliation of in-flight imports with Redis (fired by ``reconcile-imports``, and at boot)."""

from __future__ import annotations

from typing import Any

import dramatiq

from theset_daemon.context import resources
from theset_daemon.reconcile import reconcile_imports as reconcile


@dramatiq.actor(queue_name="scheduled_sync")
async def reconcile_imports() -> dict[str, Any]:
    return (await reconcile(resources())).as_dict()

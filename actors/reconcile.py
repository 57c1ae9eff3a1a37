"""Reconciliation of in-flight imports with Redis (fired by ``reconcile-imports``, and at boot)."""

from __future__ import annotations

from typing import Any

from theset_daemon import jobs
from theset_daemon.imports.reconcile import reconcile_imports as reconcile
from theset_daemon.runtime.resources import resources


@jobs.actor(jobs.RECONCILE_IMPORTS)
async def reconcile_imports() -> dict[str, Any]:
    return (await reconcile(resources())).as_dict()

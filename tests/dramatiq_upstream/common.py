"""Ours, not upstream's: the helpers upstream's ``tests/common.py`` exports, mapped onto our worker.

Upstream's ``worker(...)`` starts ``dramatiq.Worker`` (threads consuming the
broker); here it starts :class:`theset_daemon.broker.Worker` on the adapter's
event loop (see ``conftest.py``). The skip markers keep upstream's meaning;
RabbitMQ is never reachable here (no RabbitMQ and no pika in this project).
"""

from __future__ import annotations

import os
import platform
from contextlib import contextmanager

import pytest

from dramatiq.threading import is_gevent_active


@contextmanager
def worker(broker, **kwargs):
    from .conftest import LoopWorker

    running = LoopWorker(broker, **kwargs)
    running.start()
    try:
        yield running
    finally:
        running.stop()


skip_in_ci = pytest.mark.skipif(
    os.getenv("APPVEYOR") is not None or os.getenv("GITHUB_ACTION") is not None,
    reason="test skipped in CI",
)
skip_on_windows = pytest.mark.skipif(platform.system() == "Windows", reason="test skipped on Windows")
skip_on_pypy = pytest.mark.skipif(
    platform.python_implementation() == "PyPy", reason="Time limits are not supported under PyPy."
)
skip_with_gevent = pytest.mark.skipif(is_gevent_active(), reason="Behaviour with gevent is different.")
skip_without_gevent = pytest.mark.skipif(not is_gevent_active(), reason="Behaviour without gevent is different.")

RABBITMQ_USERNAME = os.getenv("RABBITMQ_USERNAME", "guest")
RABBITMQ_PASSWORD = os.getenv("RABBITMQ_PASSWORD", "guest")
RABBITMQ_CREDENTIALS = None
skip_unless_rabbit_mq = pytest.mark.skip(reason="RabbitMQ-only (not part of this project)")

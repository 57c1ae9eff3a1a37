"""systemd's notify protocol (``Type=notify``): READY, STOPPING, STATUS, WATCHDOG.

The protocol is one datagram per message on the unix socket named by
``$NOTIFY_SOCKET`` (``@`` for the abstract namespace). It is small enough
to speak directly; the PyPI ``sdnotify`` package has been unmaintained since
2017 and adds nothing. Watchdog pings are sent *from the event loop*, so a
wedged loop stops them and systemd restarts the process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket

logger = logging.getLogger(__name__)


class Notifier:
    """Send notify messages to systemd; a no-op when not run under ``Type=notify``."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        environ = dict(os.environ) if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        wanted = usec.isdigit() and (not pid or pid == str(os.getpid()))
        #: Seconds between watchdog pings (half systemd's WatchdogSec), or None.
        self.watchdog_interval = int(usec) / 2_000_000 if wanted else None
        self._socket: socket.socket | None = None

    def notify(self, *lines: str) -> None:
        """Send ``KEY=value`` lines in one datagram; errors are logged, never raised."""
        if not self.address:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(lines).encode(), self.address)
        except OSError as exc:
            logger.warning("sd_notify failed: %s", exc)

    def ready(self, status: str) -> None:
        self.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def stopping(self, status: str) -> None:
        self.notify("STOPPING=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.notify(f"STATUS={status}")

    async def watchdog(self) -> None:
        """Ping the watchdog forever from the running loop (run it as a task)."""
        if self.watchdog_interval is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_interval)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

"""systemd's readiness protocol (``sd_notify``), without depending on libsystemd.

The protocol is one datagram of ``KEY=value`` lines to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace). ``iochost serve``
sends ``READY=1`` once every mount is searchable, ``STATUS=`` lines a human reads in
``systemctl status``, ``RELOADING=1``/``READY=1`` around a reload, ``STOPPING=1`` at
shutdown, and ``WATCHDOG=1`` every half ``$WATCHDOG_USEC`` when the unit sets
``WatchdogSec=`` (from the event loop: a wedged loop stops them and systemd restarts it).
Without ``$NOTIFY_SOCKET`` every call does nothing.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger("iochost.host")


class Notifier:
    """Sends sd_notify messages to ``$NOTIFY_SOCKET`` (a no-op when it is unset)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = environ.get("WATCHDOG_USEC", "")
        watchdog_pid = environ.get("WATCHDOG_PID", "")
        mine = not watchdog_pid or watchdog_pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and mine else None
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, **fields: str) -> None:
        """``send(READY="1", STATUS="...")``: one datagram; failures are logged, not raised
        (systemd being away must not stop the host)."""
        if not self.address:
            return
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, self.address)
        except OSError as exc:
            log.warning("sd_notify to %r failed: %s", self.address, exc)

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def reloading(self) -> None:
        # systemd >= 253 wants the monotonic time with RELOADING=1 (Type=notify-reload)
        self.send(RELOADING="1", MONOTONIC_USEC=str(time.clock_gettime_ns(
            time.CLOCK_MONOTONIC) // 1000), STATUS="reloading the host config")

    def stopping(self) -> None:
        self.send(STOPPING="1", STATUS="shutting down")

    def start_watchdog(self) -> None:
        if self.watchdog_interval and self.enabled and self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._pet())

    async def _pet(self) -> None:
        assert self.watchdog_interval is not None
        while True:
            self.send(WATCHDOG="1")
            await asyncio.sleep(self.watchdog_interval)

    async def stop_watchdog(self) -> None:
        task, self._watchdog = self._watchdog, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

"""Server beacons (CA_PROTO_RSRV_IS_UP).

A beacon tells clients (through their repeater) that a server is alive at a TCP port.  After
start-up the interval starts at 0.02 s and doubles after each beacon up to the configured
period; every beacon carries the next sequence number.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable

from iochost.ca.packers import beacon

__all__ = ["BeaconSender", "INITIAL_BEACON_INTERVAL"]

logger = logging.getLogger("iochost.server")

INITIAL_BEACON_INTERVAL = 0.02


class BeaconSender:
    """Sends beacons for one TCP port to a fixed list of ``(ip, port)`` destinations."""

    def __init__(self, tcp_port: int, destinations: Iterable[tuple[str, int]],
                 max_period: float):
        self.tcp_port = tcp_port
        self.destinations = tuple(destinations)
        self.max_period = max_period
        self.beacon_id = 0
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._restart: asyncio.Event | None = None

    def start(self) -> None:
        """Open the socket and begin sending (no-op without destinations)."""
        if not self.destinations or self._task is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setblocking(False)
        self._socket = sock
        self._restart = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ca-beacons")

    async def stop(self) -> None:
        """Stop sending and close the socket."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def send_once(self) -> None:
        """Send one beacon to every destination and advance the sequence number."""
        message = beacon(self.tcp_port, self.beacon_id)
        self.beacon_id = (self.beacon_id + 1) & 0xFFFFFFFF
        sock = self._socket
        if sock is None:
            return
        for destination in self.destinations:
            try:
                sock.sendto(message, destination)
            except OSError as exc:  # an unreachable destination must not stop the others
                logger.debug("beacon to %s:%d failed: %s", *destination, exc)

    def restart(self) -> None:
        """Send a beacon now and ramp the interval up from the start again.

        libca takes a sudden shortening of a server's beacon period as an "anomaly" and
        searches at once for its disconnected channels, instead of waiting for its
        reconnect governor: the server calls this when PVs are added.
        """
        if self._restart is not None:
            self._restart.set()

    async def _run(self) -> None:
        restart = self._restart
        assert restart is not None
        interval = INITIAL_BEACON_INTERVAL
        while True:
            self.send_once()
            try:   # not wait_for: on 3.11 it can swallow a stop()'s cancel (gh-86296)
                async with asyncio.timeout(interval):
                    await restart.wait()
            except TimeoutError:
                interval = min(interval * 2, self.max_period)
            else:
                restart.clear()
                interval = INITIAL_BEACON_INTERVAL

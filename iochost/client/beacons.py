"""Which beacons mean "a server came up": libca's beacon bookkeeping as plain logic (no
sockets, no clock).

A CA server sends beacons, numbered, at a period that starts at 20 ms when it starts and
grows to ``EPICS_CAS_BEACON_PERIOD`` (15 s).  libca (``bhe::updatePeriod``) keeps, per
server, the last number and a running average of the period, and calls a *network
change* -- every pending search starts its back-off again -- only when

* the second beacon of a server follows the first within the time the client had been
  running when the first came (a server that started after the client did);
* the period falls to 80 % of the average (a server restarting: its beacons come fast);
* the period grows to 3.25 times the average (three beacons missed: a network segment
  came back).

The first beacon of a server decides nothing (it may be a long-running server the client
just started to hear), and numbers that repeat the last one or advance it by 2 or 3 are
thrown out: duplicate routes and overrun input queues produce them.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BeaconWatch"]

_WRAP = 1 << 32
#: libca throws out numbers up to this far behind the last one (a duplicate route).
_BEHIND = 256


@dataclass(slots=True)
class _Server:
    last_id: int
    seen_at: float
    period: float = -1.0    # running average; negative until the second beacon


class BeaconWatch:
    """Beacons of every server one client context hears, by server address."""

    def __init__(self, started: float) -> None:
        self.started = started
        self._servers: dict[object, _Server] = {}

    def beacon(self, server_address: object, beacon_id: int, now: float) -> bool:
        """Note a beacon; True when it means a network change (search again at once)."""
        server = self._servers.get(server_address)
        if server is None:
            self._servers[server_address] = _Server(beacon_id, now)
            return False
        advance = (beacon_id - server.last_id) % _WRAP
        server.last_id = beacon_id
        if advance == 0 or advance > _WRAP - _BEHIND or 1 < advance < 4:
            return False
        period = now - server.seen_at
        if server.period < 0:
            server.period = period
            changed = period <= server.seen_at - self.started
        else:
            changed = period >= server.period * 3.25 or period <= server.period * 0.8
            server.period = period * 0.125 + server.period * 0.875
        server.seen_at = now
        return changed

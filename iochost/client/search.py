"""When to search for which name: libca's back-off, as plain logic (no sockets, no clock).

libca (``searchTimer.cpp``, ``udpiiu.cpp``) sends a channel's first search at once, then
again after a period that doubles on every unanswered try, starting from its estimate of
the round-trip time (never below 32 ms) and capped at ``EPICS_CA_MAX_SEARCH_PERIOD``
(5 minutes by default).  Names due at the same moment share datagrams: each datagram starts
with a VERSION carrying a sequence number, then as many SEARCH requests as fit in 1024
bytes (libca's ``MAX_UDP_SEND``).  A reply echoes the sequence number, which gives the
round-trip estimate; a beacon anomaly (a server appearing or restarting) and a lost
circuit start the back-off again from the beginning.

:class:`SearchSchedule` keeps the pending names of one context: ``due(now)`` returns those
to search now (and reschedules them), ``found(cid)`` forgets one, ``reset()`` restarts every
back-off.  The caller owns the clock and the socket.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from iochost.ca import packers

__all__ = ["MAX_DATAGRAM", "MIN_ROUND_TRIP", "SearchSchedule", "pack_search_datagrams"]

#: libca's floor for the round-trip estimate that starts every back-off (seconds).
MIN_ROUND_TRIP = 0.032
#: libca's MAX_UDP_SEND: the largest search datagram it sends (bytes).
MAX_DATAGRAM = 1024


@dataclass(order=True, slots=True)
class _Entry:
    due: float
    cid: int = field(compare=False)
    tries: int = field(default=0, compare=False)
    cancelled: bool = field(default=False, compare=False)


class SearchSchedule:
    """The back-off state of every name not found yet, keyed by channel id (CID)."""

    def __init__(self, max_period: float) -> None:
        self.max_period = max_period
        self.round_trip = MIN_ROUND_TRIP
        self._heap: list[_Entry] = []
        self._entries: dict[int, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, cid: int) -> bool:
        return cid in self._entries

    def add(self, cid: int, now: float, tries: int = 0) -> None:
        """Search for ``cid`` on the back-off schedule: at ``now`` for a fresh search, or
        one period later when ``tries`` searches were already answered in vain (a server
        that replied but then refused the circuit must not be asked in a tight loop)."""
        self.found(cid)
        due = now + self.period(tries) if tries else now
        entry = self._entries[cid] = _Entry(due, cid, tries)
        heapq.heappush(self._heap, entry)

    def found(self, cid: int) -> None:
        """Stop searching for ``cid`` (answered, or the channel was closed)."""
        entry = self._entries.pop(cid, None)
        if entry is not None:
            entry.cancelled = True

    def reset(self, now: float) -> None:
        """Start every back-off again (a beacon anomaly: a server came up)."""
        for cid in list(self._entries):
            self.add(cid, now)

    def period(self, tries: int) -> float:
        """The wait after the ``tries``-th unanswered search."""
        return min(max(self.round_trip, MIN_ROUND_TRIP) * 2 ** min(tries, 30), self.max_period)

    def next_due(self) -> float | None:
        """When the earliest pending search is due (None: nothing pending)."""
        heap = self._heap
        while heap and heap[0].cancelled:
            heapq.heappop(heap)
        return heap[0].due if heap else None

    def due(self, now: float) -> list[int]:
        """The CIDs to search now; each is rescheduled one back-off step later."""
        heap = self._heap
        ready: list[int] = []
        while heap and heap[0].due <= now:
            entry = heapq.heappop(heap)
            if entry.cancelled:
                continue
            ready.append(entry.cid)
            entry.tries += 1
            entry.due = now + self.period(entry.tries)
            heapq.heappush(heap, entry)
        return ready

    def observe_round_trip(self, seconds: float) -> None:
        """Fold one measured round trip into the estimate (libca smooths it likewise)."""
        self.round_trip = max(MIN_ROUND_TRIP, 0.875 * self.round_trip + 0.125 * seconds)


def pack_search_datagrams(requests: list[tuple[bytes, int]], sequence: Iterator[int],
                          limit: int = MAX_DATAGRAM) -> Iterator[tuple[int, bytes]]:
    """Pack ``(name, cid)`` SEARCH requests into ``(sequence, datagram)`` pairs, as many
    names per datagram as fit in ``limit`` bytes, each datagram led by a VERSION with the
    next number of ``sequence``."""
    parts: list[bytes] = []
    size = 0
    number = next(sequence)
    head = packers.search_version_request(number)
    for name, cid in requests:
        request = packers.search_request(name, cid)
        if parts and len(head) + size + len(request) > limit:
            yield number, head + b"".join(parts)
            parts, size = [], 0
            number = next(sequence)
            head = packers.search_version_request(number)
        parts.append(request)
        size += len(request)
    if parts:
        yield number, head + b"".join(parts)


def sequence_numbers() -> Iterator[int]:
    """Search sequence numbers: 32-bit, wrapping."""
    return (n & 0xFFFFFFFF for n in itertools.count(1))

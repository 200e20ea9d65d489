"""Monitor updates of widely watched channels, delivered in batches.

Handing one post of a channel to each of its subscribers costs a Python step per
subscriber; a display of 100 clients watching the same 1000 PVs at 10 Hz makes that a
million steps a second.  So a post whose ``(mask, type, count)`` group has at least
:data:`BATCH_MIN_SUBSCRIBERS` subscribers -- and every post while others wait -- is queued
here once, with an immutable :class:`GroupVector` of its subscribers.  The queue is
delivered at the end of the event-loop iteration, or earlier, the moment any circuit is
about to write anything else: so each circuit's output stays in the order of the posts and
replies that made it.  Delivery builds every queued update for every subscriber with numpy,
in one array sorted by circuit, and each circuit that is not congested receives its share as
one chunk; a congested one (``VirtualCircuit.send_event``) takes its rows one by one into
its coalescing backlog, as an unbatched post would.
"""
from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from iochost.ca.codes import CA_PROTO_EVENT_ADD
from iochost.ca.eca import ECA_NORMAL

if TYPE_CHECKING:
    from .circuit import VirtualCircuit
    from .subscription import Subscription

__all__ = ["GroupVector", "EventBatcher", "BATCH_MIN_SUBSCRIBERS"]

#: A post is batched when its subscription group is at least this large (or others wait).
BATCH_MIN_SUBSCRIBERS = 32
#: A run of queued posts with fewer subscriber rows than this is delivered row by row:
#: numpy's fixed cost per run would exceed the per-row Python.
_VECTOR_MIN_ROWS = 64
#: Updates whose header would need the extended form are never built here.
_SMALL = 0xFFFF
#: Queued message bytes (payload and header, times subscribers) that make a post deliver the
#: queue at once: a poster that never yields cannot grow it (or one numpy build) past this.
MAX_QUEUED_BYTES = 1 << 22


class GroupVector:
    """The subscribers of one fan-out group when it was last changed: their subscription
    objects, their circuits' ordinals and their subscription ids, in the same order, and
    the group's DBR type."""

    __slots__ = ("subs", "ordinals", "subids", "dbr_type")

    def __init__(self, subs: Iterable[Subscription]):
        self.subs = tuple(subs)
        self.dbr_type = self.subs[0].dbr_type
        ordinals = [sub.circuit.ordinal for sub in self.subs]
        # 16 bits while they fit: numpy's stable sort of those is a radix sort
        self.ordinals = np.array(ordinals, np.uint16 if max(ordinals) < 1 << 16 else np.int64)
        self.subids = np.fromiter((sub.subscriptionid for sub in self.subs), np.uint32,
                                  len(self.subs))


@functools.lru_cache(maxsize=64)
def _message_dtype(size: int) -> np.dtype:
    """One EVENT_ADD reply of a ``size``-byte payload, as a structured numpy record (the
    latest sizes are kept: an array whose length keeps changing has ever new sizes)."""
    return np.dtype([("head", ">u4"), ("type_count", ">u4"), ("status", ">u4"),
                     ("subid", ">u4"), ("body", f"V{size}")])


class EventBatcher:
    """The server's queue of batched posts, and the ordinals that name its circuits."""

    def __init__(self, counters: Counter[str]) -> None:
        self._counters = counters  # the server's: "updates_batched" counts rows built here
        #: ``(vector, payload, count)`` per queued post, oldest first; a circuit about to
        #: write anything calls :meth:`deliver` first when this is not empty
        self.pending: list[tuple[GroupVector, bytes, int]] = []
        self._queued_bytes = 0
        self._scheduled = False
        self._circuits: list[VirtualCircuit | None] = []
        self._free: list[int] = []
        #: ordinals of closed circuits: reusable once no queued post can still name them
        self._released: list[int] = []

    # -- circuits ------------------------------------------------------------------------------
    def register(self, circuit: VirtualCircuit) -> None:
        if self._released and not self.pending:
            self._free.extend(self._released)
            self._released.clear()
        if self._free:
            circuit.ordinal = self._free.pop()
            self._circuits[circuit.ordinal] = circuit
        else:
            circuit.ordinal = len(self._circuits)
            self._circuits.append(circuit)

    def unregister(self, circuit: VirtualCircuit) -> None:
        if 0 <= circuit.ordinal < len(self._circuits) and \
                self._circuits[circuit.ordinal] is circuit:
            self._circuits[circuit.ordinal] = None
            self._released.append(circuit.ordinal)

    # -- posts ---------------------------------------------------------------------------------
    def queue(self, vector: GroupVector, update: tuple[bytes, int]) -> None:
        """Deliver ``update`` to every subscriber of ``vector`` soon, in post order."""
        self.pending.append((vector, update[0], update[1]))
        self._queued_bytes += (16 + len(update[0])) * len(vector.subs)
        if self._queued_bytes > MAX_QUEUED_BYTES:
            self.deliver()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._deliver_soon)

    def _deliver_soon(self) -> None:
        self._scheduled = False
        if self.pending:
            self.deliver()

    def deliver(self) -> None:
        """Hand every queued post to its subscribers' circuits now."""
        posts, self.pending = self.pending, []
        self._queued_bytes = 0
        start = 0
        while start < len(posts):  # runs of one payload size, in post order
            size = len(posts[start][1])
            end = start + 1
            while end < len(posts) and len(posts[end][1]) == size:
                end += 1
            run = posts[start:end]
            if 0 < size < _SMALL and sum(len(post[0].subs) for post in run) >= _VECTOR_MIN_ROWS \
                    and all(post[2] < _SMALL for post in run):
                self._deliver_run(run, size)
            else:
                for vector, payload, count in run:
                    for sub in vector.subs:
                        _send_one(sub, (payload, count))
            start = end

    def _deliver_run(self, run: list[tuple[GroupVector, bytes, int]], size: int) -> None:
        lengths = np.fromiter((len(post[0].subs) for post in run), np.int64, len(run))
        ordinals = np.concatenate([post[0].ordinals for post in run])
        order = np.argsort(ordinals, kind="stable")  # by circuit, each in post order
        self._counters["updates_batched"] += len(order)
        post_of_row = np.repeat(np.arange(len(run)), lengths)[order]
        # Filled with take(out=) rather than through temporaries: at a display's 100,000
        # rows the first touch of fresh memory costs as much as the copying.  The array
        # itself is what the circuits send (no copy into bytes, so never reused).
        messages = np.empty(len(order), _message_dtype(size))
        messages["head"] = CA_PROTO_EVENT_ADD << 16 | size
        messages["status"] = ECA_NORMAL
        type_count = np.fromiter((post[0].dbr_type << 16 | post[2] for post in run), np.uint32,
                                 len(run))
        np.take(type_count, post_of_row, out=messages["type_count"], mode="clip")
        np.take(np.concatenate([post[0].subids for post in run]), order,
                out=messages["subid"], mode="clip")
        payloads = np.frombuffer(b"".join(post[1] for post in run), f"V{size}")
        np.take(payloads, post_of_row, out=messages["body"], mode="clip")
        blob = messages.view(np.uint8).data
        per_circuit = np.bincount(ordinals)
        present = np.flatnonzero(per_circuit)
        rows = per_circuit[present]
        firsts = np.cumsum(rows) - rows
        width = 16 + size
        circuits = self._circuits
        starts: list[int] = []  # each post's first row, when a congested circuit needs them
        for ordinal, count, first in zip(present.tolist(), rows.tolist(), firsts.tolist()):
            circuit = circuits[ordinal]
            if circuit is None or circuit.closed:
                continue
            if circuit.take_events(blob[first * width:(first + count) * width], count):
                continue
            # Congested: row by row into its backlog, as an unbatched post would go.
            starts = starts or (np.cumsum(lengths) - lengths).tolist()
            for row, post in zip(order[first:first + count].tolist(),
                                 post_of_row[first:first + count].tolist()):
                vector, payload, post_count = run[post]
                _send_one(vector.subs[row - starts[post]], (payload, post_count))


def _send_one(sub: Subscription, update: tuple[bytes, int]) -> None:
    """One queued update to one subscriber, unless it was cancelled since it was posted."""
    if sub.current:
        sub.circuit.send_event(sub, update)

"""Subscriptions and their fan-out.

One :class:`Fanout` per served channel that has subscribers registers a single listener on
the channel data.  When the data publishes ``(channel, dbe_flags)``, the fan-out wakes every
subscription whose mask intersects the flags; the update is encoded once per
``(dbr_type, count)`` group (``read_dbr`` caches per group too) and the very same bytes are
handed to each subscriber's circuit, which batches, coalesces or drops as its flow-control
state demands -- or, for a widely watched channel, queued once in the server's
:class:`~.batch.EventBatcher`, which builds it for every subscriber at once.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from iochost.ca.eca import ECA_NORMAL
from iochost.ca.errors import CaStatusError
from iochost.ca.packers import event_add_header

from .batch import BATCH_MIN_SUBSCRIBERS, EventBatcher, GroupVector

if TYPE_CHECKING:
    from .circuit import CircuitChannel, VirtualCircuit

__all__ = ["Subscription", "Fanout"]

logger = logging.getLogger("iochost.server")


class Subscription:
    """One EVENT_ADD on one circuit channel."""

    __slots__ = ("circuit", "channel", "subscriptionid", "dbr_type", "count", "mask",
                 "header_size", "header_count", "header")

    def __init__(self, circuit: VirtualCircuit, channel: CircuitChannel, subscriptionid: int,
                 dbr_type: int, count: int, mask: int):
        self.circuit = circuit
        self.channel = channel
        self.subscriptionid = subscriptionid
        self.dbr_type = dbr_type
        self.count = count
        self.mask = mask
        #: the EVENT_ADD reply header of the last update, for a payload of ``header_size``
        #: bytes and ``header_count`` elements: consecutive updates almost always share both,
        #: so the hot path (``VirtualCircuit.send_event``) compares and reuses it
        self.header_size = self.header_count = -1
        self.header = b""

    @property
    def current(self) -> bool:
        """Still its channel's subscription of that id (not cancelled or replaced since)."""
        return self.channel.subscriptions.get(self.subscriptionid) is self

    def message_header(self, size: int, count: int) -> bytes:
        """The EVENT_ADD reply header for a payload of ``size`` bytes and ``count`` elements."""
        if self.header_size != size or self.header_count != count:
            self.header = event_add_header(size, self.dbr_type, count, ECA_NORMAL,
                                           self.subscriptionid)
            self.header_size, self.header_count = size, count
        return self.header


class Fanout:
    """All subscriptions (on any circuit) to one channel-data object.

    They are kept in groups of one ``(mask, dbr_type, count)``: a post is encoded once per
    group whose mask it matches, and each group's subscribers get the very same bytes
    without a test per subscriber (a display's 100 clients of one PV are one group).  A
    large group's post -- and any post while others are queued -- goes to the server's
    :class:`EventBatcher` instead, which builds it for all its subscribers at once."""

    __slots__ = ("data", "subscriptions", "_groups", "_vectors", "_batcher")

    def __init__(self, data: Any, batcher: EventBatcher):
        self.data = data
        self.subscriptions: dict[Subscription, None] = {}  # an ordered set
        self._groups: dict[tuple[int, int, int], dict[Subscription, None]] = {}
        #: each group's subscribers as the batcher takes them, built when first needed
        self._vectors: dict[tuple[int, int, int], GroupVector] = {}
        self._batcher = batcher
        data.add_listener(self.publish)

    def add(self, subscription: Subscription) -> None:
        self.subscriptions[subscription] = None
        key = (subscription.mask, subscription.dbr_type, subscription.count)
        self._groups.setdefault(key, {})[subscription] = None
        self._vectors.pop(key, None)

    def discard(self, subscription: Subscription) -> bool:
        """Forget a subscription; True when none is left (the fan-out should be closed)."""
        if self.subscriptions.pop(subscription, 0) is None:
            key = (subscription.mask, subscription.dbr_type, subscription.count)
            group = self._groups[key]
            del group[subscription]
            self._vectors.pop(key, None)
            if not group:
                del self._groups[key]
        return not self.subscriptions

    def close(self) -> None:
        """Unregister from the channel data."""
        try:
            self.data.remove_listener(self.publish)
        except (KeyError, ValueError):
            pass

    def publish(self, data: Any, flags: int) -> None:
        """The channel-data listener: deliver the new state to interested subscribers.
        The state is the one just published, read as stored: a getter is not run here (a
        value it returns is written and published, which would run it again, endlessly)."""
        encoded: dict[tuple[int, int], tuple[bytes, int] | None] = {}
        batcher = self._batcher
        for group_key, group in self._groups.items():
            mask, dbr_type, count = group_key
            if not mask & flags:
                continue
            key = (dbr_type, count)
            update = encoded[key] if key in encoded else encoded.setdefault(
                key, _encode(data, key))
            if update is None:
                continue
            if len(group) >= BATCH_MIN_SUBSCRIBERS or batcher.pending:
                vector = self._vectors.get(group_key)
                if vector is None:
                    vector = self._vectors[group_key] = GroupVector(group)
                batcher.queue(vector, update)
            else:
                for sub in group:  # (delivering never changes the subscriptions)
                    sub.circuit.send_event(sub, update)


def _encode(data: Any, key: tuple[int, int]) -> tuple[bytes, int] | None:
    """``data.read_dbr(*key)`` for a monitor update; None (logged) when it cannot be read."""
    try:
        return data.read_dbr(*key)  # type: ignore[no-any-return]
    except CaStatusError as exc:
        logger.debug("monitor update of type %d failed: %s", key[0], exc)
    except Exception:
        logger.exception("reading %r for a monitor update failed", data)
    return None

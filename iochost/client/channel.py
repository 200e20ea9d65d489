"""Channels and subscriptions: what a client program holds.

A :class:`Channel` is one PV name at one priority.  It is made by
:meth:`Context.channel <iochost.client.Context.channel>` and connects by itself: searching,
then a CREATE_CHAN on the circuit to the server that answered (or, for a PV served by this
same process, straight on its channel data: see :mod:`iochost.client.local`).  When its
server goes away it searches again and, once reconnected, re-subscribes every open
:class:`Subscription` -- the caller does nothing.

Everything here runs in the context's event loop.  The wire work is done by a *link*:
:class:`RemoteLink` (a circuit and the server's channel id) or
:class:`~iochost.client.local.LocalLink`; both turn requests into :class:`Reading` s.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from iochost.ca import packers
from iochost.ca.codes import DBE_ALARM, DBE_ANY, DBE_VALUE, ELEMENT_SIZES
from iochost.ca.dbr import AccessRights, ChannelType, Metadata, encode_dbr, native_type, promote
from iochost.ca.eca import (
    ECA_BADCOUNT,
    ECA_BADMASK,
    ECA_BADSTR,
    ECA_BADTYPE,
    ECA_NORDACCESS,
    ECA_NORMAL,
    ECA_NOWTACCESS,
    ECA_TOLARGE,
)
from iochost.ca.errors import CaStatusError, LocalProtocolError

from .circuit import Circuit
from .errors import ChannelNotFound, ClientTimeout, Disconnected, RequestFailed
from .reading import TEXT_ENCODING, Reading, decode_reading

if TYPE_CHECKING:
    from .context import Context

__all__ = [
    "DEFAULT_TIMEOUT",
    "Channel",
    "ChannelState",
    "DbrSpec",
    "Subscription",
    "encode_put",
]

log = logging.getLogger("iochost.client")

#: Seconds a connect, get or put waits by default.
DEFAULT_TIMEOUT = 2.0
#: A DBR type number, or the family ("native", "sts", "time", "gr", "ctrl") of the channel's
#: native type, resolved each time the channel (re)connects.
DbrSpec = int | str

ConnectionCallback = Callable[["Channel", bool], None]
AccessCallback = Callable[["Channel", AccessRights], None]
ReadingCallback = Callable[[Reading], None]


class ChannelState(enum.Enum):
    SEARCHING = "searching"
    CREATING = "creating"   # a server answered; CREATE_CHAN sent
    CONNECTED = "connected"
    CLOSED = "closed"


class Link(Protocol):
    """How a connected channel reaches its PV (over a circuit, or in this process)."""

    async def read(self, channel: Channel, dbr_type: int, count: int,
                   timeout: float) -> Reading: ...

    async def write(self, channel: Channel, dbr_type: int, count: int, payload: bytes,
                    wait: bool, timeout: float | None) -> None: ...

    def subscribe(self, subscription: Subscription, dbr_type: int, count: int) -> None: ...

    def unsubscribe(self, subscription: Subscription) -> None: ...

    def release(self, channel: Channel) -> None: ...

    def abandon(self) -> None: ...


class Channel:
    """One PV name at one priority; see the module docstring."""

    def __init__(self, context: Context, name: str, priority: int, cid: int) -> None:
        self.context = context
        self.name = name
        self.priority = priority
        self.cid = cid
        self.state = ChannelState.SEARCHING
        self.native_type: ChannelType | None = None
        #: Element count the server reported (its maximum for arrays).
        self.count = 0
        #: The access rights the server grants us; NONE while not connected.
        self.access = AccessRights.NONE
        #: "host:port" of the server, "local" for an in-process PV, None when unconnected.
        self.server: str | None = None
        self.link: Link | None = None
        self.subscriptions: list[Subscription] = []
        #: The last refusal of a put without completion (the server's ERROR message).
        self.put_error: RequestFailed | None = None
        #: Servers that answered the search but then failed to create the channel in a row.
        self.failed_connects = 0
        #: Why the last of those failed ("server 127.0.0.1:5064: the server refused
        #: CREATE_CHAN"...), and the server that answered the last search.
        self.last_failure: str | None = None
        self.server_found = ""
        self._callbacks: list[ConnectionCallback] = []
        self._access_callbacks: list[AccessCallback] = []
        self._connected = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Channel {self.name!r} {self.state.value}>"

    @property
    def connected(self) -> bool:
        return self.state is ChannelState.CONNECTED

    # -- connection -----------------------------------------------------------------------------
    def add_connection_callback(self, fn: ConnectionCallback) -> None:
        """``fn(channel, connected)`` on every connect and disconnect from now on."""
        self._callbacks.append(fn)

    def remove_connection_callback(self, fn: ConnectionCallback) -> None:
        self._callbacks.remove(fn)

    def add_access_callback(self, fn: AccessCallback) -> None:
        """``fn(channel, rights)`` (an :class:`~iochost.ca.dbr.AccessRights`) whenever the
        channel's access rights may have changed, as libca's
        ``ca_replace_access_rights_event`` calls its handler: once now if connected; on
        every connect, just before the connection callbacks; whenever the server sends
        rights that differ from those held; and with ``AccessRights.NONE`` just after the
        disconnect callbacks.  A channel of this process (``LocalPVs``) asks its PV again
        when the server re-evaluates rights.  A callback that raises is logged; the others
        still run.
        """
        self._access_callbacks.append(fn)
        if self.connected:
            self._call_access(fn)

    def remove_access_callback(self, fn: AccessCallback) -> None:
        self._access_callbacks.remove(fn)

    async def wait_connected(self, timeout: float | None = DEFAULT_TIMEOUT) -> Channel:
        """Return once connected; ``ChannelNotFound`` after ``timeout`` seconds."""
        if not self.connected:
            if self.state is ChannelState.CLOSED:
                raise Disconnected(self.name, "connect")
            try:
                await asyncio.wait_for(self._connected.wait(), timeout)
            except TimeoutError:
                raise ChannelNotFound(self.name, timeout or 0.0, self._why_not_connected()) \
                    from None
            if self.state is ChannelState.CLOSED:   # closed while waiting
                raise Disconnected(self.name, "connect")
        return self

    def _why_not_connected(self) -> str | None:
        """What stopped a channel a server answered for (None: no server answered)."""
        if self.state is ChannelState.CREATING:
            return f"server {self.server_found} has not created the channel yet"
        if self.failed_connects and self.last_failure:
            tries = "once" if self.failed_connects == 1 else f"{self.failed_connects} times"
            return f"{self.last_failure} ({tries})"
        return None

    def close(self) -> None:
        """Release the channel and its subscriptions (on the server too)."""
        if self.state is ChannelState.CLOSED:
            return
        for subscription in list(self.subscriptions):
            subscription.close()
        if self.link is not None:
            self.link.release(self)
        self._set_state(ChannelState.CLOSED)
        self.context.forget(self)

    # -- requests -------------------------------------------------------------------------------
    def dbr_type(self, spec: DbrSpec) -> ChannelType:
        """The DBR type ``spec`` stands for on this (connected) channel."""
        if isinstance(spec, str):
            if self.native_type is None:
                raise Disconnected(self.name)
            return promote(self.native_type, spec)
        return ChannelType(spec)

    async def get(self, dbr: DbrSpec = "time", count: int | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Reading:
        """Read the PV as ``dbr`` (a DBR type or family, TIME by default) -- ``count``
        elements, None/0 for the current length -- within ``timeout`` seconds."""
        link = self._link("get")
        dbr_type = self.dbr_type(dbr)
        count = self._checked_count(dbr_type, count, "get")
        if not self.access & AccessRights.READ:
            raise RequestFailed(self.name, "get", ECA_NORDACCESS)
        return await link.read(self, dbr_type, count, timeout)

    async def put(self, value: object, *, wait: bool = False,
                  timeout: float | None = DEFAULT_TIMEOUT, dbr: int | None = None) -> None:
        """Write ``value`` (converted as :func:`encode_put` says).  With ``wait`` the call
        returns when the server reports the put complete (WRITE_NOTIFY; ``timeout`` None:
        however long that takes) and raises ``RequestFailed`` with its ECA status; without,
        once the request is queued (a refusal then arrives later as the server's ERROR:
        logged, and kept in ``put_error``)."""
        link = self._link("put")
        if not self.access & AccessRights.WRITE:
            raise RequestFailed(self.name, "put", ECA_NOWTACCESS)
        assert self.native_type is not None
        try:
            dbr_type, payload, count = encode_put(self.native_type, value, dbr)
        except CaStatusError as exc:
            raise RequestFailed(self.name, "put", exc.status, exc.message) from None
        self._checked_count(dbr_type, count, "put")  # as libca: not beyond the channel
        self.put_error = None
        await link.write(self, dbr_type, count, payload, wait, timeout)

    def subscribe(self, dbr: DbrSpec = "time", count: int | None = None,
                  mask: int = DBE_VALUE | DBE_ALARM) -> Subscription:
        """Subscribe (now, or as soon as connected, and again after every reconnect).

        Use the result as an async iterator of :class:`Reading` s, or give it callbacks.
        """
        if not mask & DBE_ANY or mask & ~DBE_ANY:
            raise RequestFailed(self.name, "subscribe", ECA_BADMASK)
        subscription = Subscription(self, dbr, count, mask, self.context.next_id())
        self.subscriptions.append(subscription)
        if self.connected:
            self._start(subscription)
        return subscription

    def _link(self, what: str) -> Link:
        if self.link is None or not self.connected:
            raise Disconnected(self.name, what)
        return self.link

    def _checked_count(self, dbr_type: int, count: int | None, what: str) -> int:
        """``count`` (0 = current length), refused when the channel has fewer elements
        (libca's ECA_BADCOUNT) or it cannot fit EPICS_CA_MAX_ARRAY_BYTES (ECA_TOLARGE)."""
        count = count or 0
        if count > self.count:
            raise RequestFailed(self.name, what, ECA_BADCOUNT,
                                f"{count} elements asked of a channel of {self.count}")
        elements = count or self.count
        size = ELEMENT_SIZES[native_type(dbr_type)] * elements
        if size > self.context.config.max_array_bytes:
            raise RequestFailed(self.name, what, ECA_TOLARGE,
                                f"{elements} elements need {size} bytes, more than "
                                f"EPICS_CA_MAX_ARRAY_BYTES="
                                f"{self.context.config.max_array_bytes}")
        return count

    def _start(self, subscription: Subscription) -> None:
        assert self.link is not None
        try:
            dbr_type = self.dbr_type(subscription.dbr)
            count = self._checked_count(dbr_type, subscription.count, "subscribe")
        except RequestFailed as exc:
            subscription.failed(exc)
            return
        self.link.subscribe(subscription, dbr_type, count)

    # -- driven by the context ------------------------------------------------------------------
    def connected_on(self, link: Link, server: str, native: int, count: int) -> None:
        """The server created the channel: start the subscriptions, wake the waiters."""
        self.link, self.server = link, server
        self.native_type, self.count = ChannelType(native), count
        self._set_state(ChannelState.CONNECTED)
        for subscription in self.subscriptions:
            self._start(subscription)

    def set_access(self, rights: int) -> None:
        """The server's ACCESS_RIGHTS (before CREATE_CHAN's reply, then on each change)."""
        rights = AccessRights(rights & AccessRights.READ_WRITE)
        changed, self.access = rights != self.access, rights
        if changed and self.connected:  # on a connect the callbacks run in _set_state
            self._notify_access()

    def lost(self) -> None:
        """The server, the circuit or the local PV went away: back to searching."""
        was_connected = self.connected
        if self.link is not None:
            self.link.abandon()
        self.link, self.server = None, None
        if self.state is not ChannelState.CLOSED:
            self.state = ChannelState.SEARCHING
            self._connected.clear()
        self.access = AccessRights.NONE  # the rights were the server's: none without one
        if was_connected:
            self._notify(False)
            self._notify_access()

    def put_refused(self, status: int, text: str) -> None:
        """A put without completion was refused (logged; kept in ``put_error``)."""
        # RSRV's ERROR text names the record: the ECA text says more then. iochost's adds
        # why ("NAME: put refused: ..."): keep that.
        record = self.name.split(".", 1)[0]
        why = text.removeprefix(f"{self.name}: ").removeprefix(f"{record}: ")
        if why.split(".", 1)[0] == record:
            why = ""
        self.put_error = RequestFailed(self.name, "put", status, why)
        log.warning("%s", self.put_error)

    def found(self, server: str) -> None:
        """A server ("host:port") answered the search: the channel is being created."""
        self.state = ChannelState.CREATING
        self.server_found = server

    def _set_state(self, state: ChannelState) -> None:
        self.state = state
        if state is ChannelState.CONNECTED:
            self._connected.set()
            self._notify_access()   # as libca: the rights just before the connection
            self._notify(True)
        elif state is ChannelState.CLOSED:
            self._connected.set()   # wakes the waiters, who find the channel closed
        else:
            self._connected.clear()

    def _notify(self, connected: bool) -> None:
        for fn in list(self._callbacks):
            try:
                fn(self, connected)
            except Exception:
                log.exception("connection callback %r of %s failed", fn, self.name)

    def _notify_access(self) -> None:
        for fn in list(self._access_callbacks):
            self._call_access(fn)

    def _call_access(self, fn: AccessCallback) -> None:
        try:
            fn(self, self.access)
        except Exception:  # a user's bug must not reach the circuit's protocol
            log.exception("access callback %r of %s failed", fn, self.name)


class Subscription:
    """Updates of one channel: an async iterator of :class:`Reading` s and/or callbacks.

    The iterator keeps every update in order, from the subscription's first (its queue grows
    if the consumer is slower than the PV); callbacks run in the event loop as each update
    arrives.  A subscription given a callback before anyone iterated it stops queueing (a
    callback-only subscription buffers nothing).  ``latest`` always holds
    the newest reading.  ``close()`` cancels it (on the server too) and ends the iteration.
    """

    def __init__(self, channel: Channel, dbr: DbrSpec, count: int | None, mask: int,
                 subscription_id: int) -> None:
        self.channel = channel
        self.dbr = dbr
        self.count = count
        self.mask = mask
        self.id = subscription_id
        self.latest: Reading | None = None
        self.error: Exception | None = None
        self._callbacks: list[ReadingCallback] = []
        self._error_callbacks: list[Callable[[Exception], None]] = []
        self._queue: deque[Reading | None] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._iterating = True   # queue updates until a callback-only use shows up
        self._iterated = False
        self.closed = False

    def __repr__(self) -> str:
        return f"<Subscription {self.channel.name!r} mask {self.mask}>"

    def add_callback(self, fn: ReadingCallback) -> None:
        """``fn(reading)`` for every update from now on."""
        self._callbacks.append(fn)
        if not self._iterated:
            self._iterating = False
            self._queue.clear()

    def remove_callback(self, fn: ReadingCallback) -> None:
        self._callbacks.remove(fn)

    def add_error_callback(self, fn: Callable[[Exception], None]) -> None:
        """``fn(error)`` when the subscription is refused (by the server, or here: too
        large a count, say); it may be accepted again after a reconnect."""
        self._error_callbacks.append(fn)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        channel = self.channel
        if self in channel.subscriptions:
            channel.subscriptions.remove(self)
        if channel.link is not None:
            channel.link.unsubscribe(self)
        self._push(None)

    def __aiter__(self) -> Subscription:
        self._iterating = self._iterated = True
        return self

    async def __anext__(self) -> Reading:
        self._iterating = self._iterated = True
        while not self._queue:
            if self.closed:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        reading = self._queue.popleft()
        if reading is None:
            raise StopAsyncIteration
        return reading

    # -- driven by the links ----------------------------------------------------------------------
    def deliver(self, reading: Reading) -> None:
        self.latest = reading
        for fn in list(self._callbacks):
            try:
                fn(reading)
            except Exception:
                log.exception("subscription callback %r of %s failed", fn, self.channel.name)
        if self._iterating:
            self._push(reading)

    def failed(self, error: Exception) -> None:
        """The server refused the subscription (logged; the iterator keeps waiting for a
        reconnect that may accept it)."""
        self.error = error
        log.warning("%s", error)
        for fn in list(self._error_callbacks):
            try:
                fn(error)
            except Exception:   # a raising callback must not take the circuit down
                log.exception("subscription error callback %r of %s failed", fn,
                              self.channel.name)

    def _push(self, item: Reading | None) -> None:
        if item is not None or self._iterating:
            self._queue.append(item)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class RemoteLink:
    """A channel created on a server over ``circuit``, known there by ``sid``."""

    __slots__ = ("circuit", "ioids", "sid")

    def __init__(self, circuit: Circuit, sid: int) -> None:
        self.circuit = circuit
        self.sid = sid
        #: Outstanding gets/puts of this channel: failed at once if the channel goes.
        self.ioids: set[int] = set()

    def _request(self, ioid: int, message: bytes) -> asyncio.Future:
        ioids = self.ioids
        ioids.add(ioid)
        future = self.circuit.request(ioid, message)
        future.add_done_callback(lambda _: ioids.discard(ioid))
        return future

    def abandon(self) -> None:
        pending = self.circuit.pending
        for ioid in list(self.ioids):
            future = pending.pop(ioid, None)
            if future is not None and not future.done():
                future.set_exception(ConnectionError("channel dropped"))
        self.ioids.clear()

    async def read(self, channel: Channel, dbr_type: int, count: int,
                   timeout: float) -> Reading:
        ioid = channel.context.next_id()
        future = self._request(
            ioid, packers.read_notify_request(dbr_type, count, self.sid, ioid))
        status, data_type, data_count, payload = await _answer(
            self.circuit, ioid, future, channel.name, "get", timeout)
        if status != ECA_NORMAL:
            raise RequestFailed(channel.name, "get", status)
        return decode_reading(channel.name, data_type, data_count, payload)

    async def write(self, channel: Channel, dbr_type: int, count: int, payload: bytes,
                    wait: bool, timeout: float | None) -> None:
        ioid = channel.context.next_id()
        if not wait:
            self.circuit.send(packers.write_request(dbr_type, count, self.sid, ioid, payload))
            return
        future = self._request(
            ioid, packers.write_notify_request(dbr_type, count, self.sid, ioid, payload))
        status = (await _answer(self.circuit, ioid, future, channel.name, "put", timeout))[0]
        if status != ECA_NORMAL:
            raise RequestFailed(channel.name, "put", status)

    def subscribe(self, subscription: Subscription, dbr_type: int, count: int) -> None:
        name = subscription.channel.name

        def update(status: int, data_type: int, data_count: int,
                   payload: bytes | memoryview) -> None:
            if status != ECA_NORMAL:
                subscription.failed(RequestFailed(name, "subscription", status))
                return
            subscription.deliver(decode_reading(name, data_type, data_count, payload))

        self.circuit.subscriptions[subscription.id] = update
        self.circuit.send(packers.event_add_request(dbr_type, count, self.sid,
                                                    subscription.id, subscription.mask))

    def unsubscribe(self, subscription: Subscription) -> None:
        if self.circuit.subscriptions.pop(subscription.id, None) is not None:
            self.circuit.send(packers.event_cancel_request(0, 0, self.sid, subscription.id))

    def release(self, channel: Channel) -> None:
        self.circuit.channels.pop(channel.cid, None)
        self.circuit.send(packers.clear_channel_request(self.sid, channel.cid))


async def _answer(circuit: Circuit, ioid: int, future: asyncio.Future, name: str, what: str,
                  timeout: float | None) -> tuple:
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        circuit.pending.pop(ioid, None)
        raise ClientTimeout(name, what, timeout) from None
    except ConnectionError:
        raise Disconnected(name, what) from None


# -- put values ---------------------------------------------------------------------------------
_NUMERIC_NATIVE = frozenset((ChannelType.INT, ChannelType.FLOAT, ChannelType.ENUM,
                             ChannelType.CHAR, ChannelType.LONG, ChannelType.DOUBLE))


def encode_put(native: ChannelType, value: object, dbr: int | None = None
               ) -> tuple[int, bytes, int]:
    """``(dbr_type, payload, count)`` of a put of ``value`` to a channel of type ``native``.

    Text (``str``/``bytes`` or a sequence of them) goes as DBR_STRING and the server
    converts it (an enum state name, a number in text), as ``caput`` does; one ``str`` to a
    CHAR array goes as its bytes plus a NUL (a long string, ``caput -S``), one ``bytes`` as
    its bytes alone.  Numbers go in
    the channel's native type (converted here as a C cast: a float to an integer type
    drops its fraction, an integer out of the type's range wraps -- send text to have the
    server check the range), or as DOUBLE/LONG to a STRING channel.  ``dbr`` forces the DBR type.
    """
    if isinstance(value, (str, bytes)) or _is_text_sequence(value):
        texts = _texts(value)
        if native is ChannelType.CHAR and isinstance(value, (str, bytes)) and dbr is None:
            data = np.frombuffer(texts[0] + (b"\0" if isinstance(value, str) else b""),
                                 np.uint8)
            payload, count = encode_dbr(ChannelType.CHAR, ChannelType.CHAR, data, Metadata())
            return ChannelType.CHAR, payload, count
        target = ChannelType.STRING if dbr is None else ChannelType(dbr)
        try:
            payload, count = encode_dbr(target, ChannelType.STRING, texts, Metadata())
        except LocalProtocolError as exc:
            raise CaStatusError(ECA_BADTYPE, str(exc)) from None
        return target, payload, count
    array = np.atleast_1d(np.asarray(value))
    if array.ndim != 1 or array.dtype.kind not in "biuf":
        raise CaStatusError(ECA_BADTYPE, f"cannot put {type(value).__name__} "
                                          f"{value!r:.40}: give numbers or text")
    source = ChannelType.DOUBLE
    if array.dtype.kind in "biu" and (array.size == 0 or (
            int(array.min()) >= -2**31 and int(array.max()) < 2**31)):
        source = ChannelType.LONG
        array = array.astype(np.int32)
    else:
        array = array.astype(np.float64)
    if dbr is not None:
        target = ChannelType(dbr)
    elif native in _NUMERIC_NATIVE:
        target = native
    else:
        target = source
    payload, count = encode_dbr(target, source, array, Metadata())
    return target, payload, count


def _is_text_sequence(value: object) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(
        isinstance(item, (str, bytes)) for item in value)


def _texts(value: object) -> list[bytes]:
    items: Sequence[str | bytes] = [value] if isinstance(value, (str, bytes)) else value  # type: ignore[assignment, list-item]
    try:
        return [item.encode(TEXT_ENCODING) if isinstance(item, str) else item
                for item in items]
    except UnicodeEncodeError as exc:
        raise CaStatusError(ECA_BADSTR, f"{exc.object!r} has characters {TEXT_ENCODING} "
                                        f"cannot hold: put bytes in the encoding the server "
                                        f"expects (e.g. text.encode('utf-8'))") from None


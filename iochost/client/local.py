"""PVs served by this same process, read and written in place: no loopback circuit.

A host whose IOCs are clients of its own PVs (the mirror helper, the web page's live
values) hands its PV database to the client context::

    context = Context(local=LocalPVs(host.database))
    channel = context.channel("DEMO:TEMP")   # resolved in the database: connected at once

:class:`LocalPVs` resolves names (fields and ``$`` long strings included) with
``PVDatabase.resolve`` and tells the context when served names come and go.  A channel on
a local PV talks to its channel data through :class:`LocalLink`, the same requests a
circuit would carry:

* get -> ``read_dbr(dbr_type, count)`` (``aread_dbr`` when the PV needs it), decoded like a
  reply;
* put -> ``await write_dbr(dbr_type, count, payload, host, user)``; its ``CaStatusError``
  becomes ``RequestFailed`` with the same ECA status a remote client would see;
* subscribe -> ``add_listener``: each publish whose DBE flags meet the mask is read with
  ``read_dbr`` (cached per publish, so this costs what one more CA subscriber costs) and
  delivered; the current value is delivered first, as a server sends it.

Access rights come from ``check_access(host, user)`` with the context's identity, asked
again whenever the server (``LocalPVs(database, server)``) says rights may have changed.
The PV's removal (an unmount) disconnects the channel, which then searches again.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from iochost.ca.eca import get_refusal, put_refusal
from iochost.ca.errors import CaStatusError

from .errors import ClientTimeout, RequestFailed
from .reading import Reading, decode_reading

if TYPE_CHECKING:
    from .channel import Channel, Subscription

__all__ = ["LocalLink", "LocalPVs"]

log = logging.getLogger("iochost.client")

NamesListener = Callable[[list[str]], None]


class ServedChannel(Protocol):
    """What a local channel uses of the server's ``ServedChannel`` contract
    (``iochost.server.database``; the client layer may not import it)."""

    native_type: int
    max_length: int
    needs_async_read: bool

    def check_access(self, host: str, user: str) -> int: ...

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]: ...

    async def aread_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]: ...

    async def write_dbr(self, dbr_type: int, count: int, payload: Any, host: str,
                        user: str) -> None: ...

    def add_listener(self, fn: Callable[[Any, int], None]) -> None: ...

    def remove_listener(self, fn: Callable[[Any, int], None]) -> None: ...


class PVDatabase(Protocol):
    """What :class:`LocalPVs` uses of ``iochost.server.PVDatabase``."""

    def resolve(self, name: str) -> Any: ...

    def add_addition_listener(self, fn: NamesListener) -> None: ...

    def remove_addition_listener(self, fn: NamesListener) -> None: ...

    def add_removal_listener(self, fn: NamesListener) -> None: ...

    def remove_removal_listener(self, fn: NamesListener) -> None: ...


class AccessEvents(Protocol):
    """What :class:`LocalPVs` uses of ``iochost.server.Server``: the news that access
    rights may have changed (the access rules reloaded, a CALC input moved)."""

    def add_access_listener(self, fn: Callable[[], None]) -> None: ...

    def remove_access_listener(self, fn: Callable[[], None]) -> None: ...


class LocalPVs:
    """The PVs of ``database`` as seen by an in-process client; with ``server`` (the
    server serving that database), channels take changes of their access rights too."""

    def __init__(self, database: PVDatabase, server: AccessEvents | None = None) -> None:
        self.database = database
        self.server = server

    def resolve(self, name: str) -> ServedChannel | None:
        return self.database.resolve(name)

    def watch(self, added: NamesListener, removed: NamesListener,
              rights: Callable[[], None] | None = None) -> None:
        """Call ``added(names)`` / ``removed(names)`` as the database changes, and
        ``rights()`` when access rights may have changed (only with a ``server``)."""
        self.database.add_addition_listener(added)
        self.database.add_removal_listener(removed)
        if rights is not None and self.server is not None:
            self.server.add_access_listener(rights)

    def unwatch(self, added: NamesListener, removed: NamesListener,
                rights: Callable[[], None] | None = None) -> None:
        self.database.remove_addition_listener(added)
        self.database.remove_removal_listener(removed)
        if rights is not None and self.server is not None:
            self.server.remove_access_listener(rights)


class LocalLink:
    """A channel connected straight to the channel data ``served``."""

    def __init__(self, served: ServedChannel) -> None:
        self.served = served
        self._listeners: dict[int, Callable[[object, int], None]] = {}

    async def read(self, channel: Channel, dbr_type: int, count: int,
                   timeout: float) -> Reading:
        served = self.served
        try:
            if served.needs_async_read:
                payload, sent = await asyncio.wait_for(served.aread_dbr(dbr_type, count),
                                                       timeout)
            else:
                payload, sent = served.read_dbr(dbr_type, count)
        except CaStatusError as exc:
            raise RequestFailed(channel.name, "get", get_refusal(exc.status),
                                exc.message) from None
        except TimeoutError:
            raise ClientTimeout(channel.name, "get", timeout) from None
        return decode_reading(channel.name, dbr_type, sent, payload)

    async def write(self, channel: Channel, dbr_type: int, count: int, payload: bytes,
                    wait: bool, timeout: float | None) -> None:
        identity = channel.context.identity
        write = self.served.write_dbr(dbr_type, count, payload, identity.host, identity.user)
        if not wait:  # a put without completion: done in the background
            task = asyncio.ensure_future(write)
            task.add_done_callback(lambda done: _put_done(channel, done))
            return
        try:
            await asyncio.wait_for(write, timeout)
        except CaStatusError as exc:
            raise RequestFailed(channel.name, "put", put_refusal(exc.status),
                                exc.message) from None
        except TimeoutError:
            raise ClientTimeout(channel.name, "put", timeout) from None

    def subscribe(self, subscription: Subscription, dbr_type: int, count: int) -> None:
        served = self.served
        name = subscription.channel.name
        mask = subscription.mask

        def publish(_channel: object, flags: int) -> None:
            if flags & mask:
                deliver()

        def deliver() -> None:
            if subscription.closed:
                return
            try:
                payload, sent = served.read_dbr(dbr_type, count)
            except CaStatusError as exc:
                subscription.failed(RequestFailed(name, "subscription",
                                                  get_refusal(exc.status)))
                return
            subscription.deliver(decode_reading(name, dbr_type, sent, payload))

        self.unsubscribe(subscription)
        self._listeners[subscription.id] = publish
        served.add_listener(publish)
        asyncio.get_running_loop().call_soon(deliver)  # the current value, as a server does

    def unsubscribe(self, subscription: Subscription) -> None:
        publish = self._listeners.pop(subscription.id, None)
        if publish is not None:
            self.served.remove_listener(publish)

    def release(self, channel: Channel) -> None:
        self.abandon()

    def abandon(self) -> None:
        for publish in self._listeners.values():
            self.served.remove_listener(publish)
        self._listeners.clear()


def _put_done(channel: Channel, done: asyncio.Future) -> None:
    """A put without completion finished: a refusal is reported as a server's ERROR is."""
    if done.cancelled():
        return
    error = done.exception()
    if isinstance(error, CaStatusError):
        channel.put_refused(put_refusal(error.status), error.message)
    elif error is not None:
        log.error("%s: put failed: %r", channel.name, error)

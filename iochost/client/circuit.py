"""One TCP circuit to one CA server (per priority): the client side of the virtual circuit.

States, as libca's ``tcpiiu`` moves through them (the rules, all in this module):

* ``CONNECTING`` -- the TCP connect is under way; channels wanting this server queue their
  CREATE_CHAN here;
* ``CONNECTED`` -- on connect we send VERSION (our priority), HOST_NAME and CLIENT_NAME, then
  the queued CREATE_CHANs; replies are dispatched by command number;
* ``CLOSED`` -- the server closed, the connection failed, the peer broke the protocol, or
  it stayed silent: after ``EPICS_CA_CONN_TMO`` seconds without a byte we send an ECHO
  (libca's echo probe) and close the circuit if nothing arrives within :data:`ECHO_TIMEOUT`.
  (libca keeps an unresponsive circuit open and reconnects its channels when it answers
  again; we close it, so its channels search again at once -- the same outcome, sooner,
  when a server really went away.)  Every pending get/put fails with ``Disconnected`` and
  the context sends each channel back to searching, subscriptions kept.

Requests are queued and written once per event-loop turn (libca flushes its send queue
likewise), so a burst of a thousand gets costs one system call.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from iochost.ca import codes, packers
from iochost.ca.commands import ErrorResponse, Role
from iochost.ca.errors import CaProtocolError
from iochost.ca.header import Header, unpack_header
from iochost.ca.parser import StreamParser

if TYPE_CHECKING:
    from .channel import Channel
    from .context import Context

__all__ = ["ECHO_TIMEOUT", "Circuit", "CircuitState", "Reply"]

log = logging.getLogger("iochost.client")

#: Seconds an ECHO may take before the circuit counts as dead (libca waits 5 s too).
ECHO_TIMEOUT = 5.0
#: Bytes allowed beyond EPICS_CA_MAX_ARRAY_BYTES for the DBR metadata block and padding.
PAYLOAD_SLACK = 4096

#: A finished request: (ECA status, data type, count, payload).
Reply = tuple[int, int, int, bytes | memoryview]


class CircuitState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


class Circuit(asyncio.Protocol):
    """The circuit to ``address`` at ``priority``; made and owned by a :class:`Context`."""

    def __init__(self, context: Context, address: tuple[str, int], priority: int) -> None:
        self.context = context
        self.address = address
        self.priority = priority
        self.state = CircuitState.CONNECTING
        self.transport: asyncio.Transport | None = None
        self.server_version = 0
        #: Channels created (or being created) on this circuit, by CID.
        self.channels: dict[int, Channel] = {}
        #: Outstanding gets and puts: ioid -> future of their Reply.
        self.pending: dict[int, asyncio.Future[Reply]] = {}
        #: Subscription update handlers by subscription id.
        self.subscriptions: dict[int, Callable[[int, int, int, bytes | memoryview], None]] = {}
        self._queue: list[bytes] = []
        self._parser = StreamParser(Role.CLIENT,
                                    context.config.max_array_bytes + PAYLOAD_SLACK)
        self._loop = asyncio.get_running_loop()
        self._last_received = self._loop.time()
        self._watchdog: asyncio.TimerHandle | None = None
        self._echo_sent = False
        self._gone: asyncio.Future[None] | None = None  # set by _closed (finish() waits)
        #: why the connection could not be opened (its channels' ``last_failure``)
        self.failure: str | None = None
        self._handlers: dict[int, Callable[[Header, bytes | memoryview], None]] = {
            codes.CA_PROTO_VERSION: self._on_version,
            codes.CA_PROTO_ACCESS_RIGHTS: self._on_access_rights,
            codes.CA_PROTO_CREATE_CHAN: self._on_create_chan,
            codes.CA_PROTO_CREATE_CH_FAIL: self._on_create_ch_fail,
            codes.CA_PROTO_SERVER_DISCONN: self._on_server_disconn,
            codes.CA_PROTO_READ_NOTIFY: self._on_reply,
            codes.CA_PROTO_WRITE_NOTIFY: self._on_reply,
            codes.CA_PROTO_EVENT_ADD: self._on_event,
            codes.CA_PROTO_ERROR: self._on_error,
            codes.CA_PROTO_ECHO: self._on_echo,
            codes.CA_PROTO_SEARCH: self._on_search,  # a name server's answer
            codes.CA_PROTO_NOT_FOUND: self._ignore,
            codes.CA_PROTO_CLEAR_CHANNEL: self._ignore,
            codes.CA_PROTO_READ_SYNC: self._ignore,
        }

    def __repr__(self) -> str:
        host, port = self.address
        return f"<Circuit {host}:{port} priority {self.priority} {self.state.value}>"

    @property
    def peer(self) -> str:
        return f"{self.address[0]}:{self.address[1]}"

    # -- asyncio.Protocol -----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        self.state = CircuitState.CONNECTED
        queued, self._queue = self._queue, []
        ident = self.context.identity
        self.transport.write(b"".join((packers.version_request(self.priority),
                                  packers.host_name_request(ident.host.encode()),
                                  packers.client_name_request(ident.user.encode()),
                                  *queued)))
        self._last_received = self._loop.time()
        self._arm_watchdog(self.context.config.connection_timeout)
        self.context.circuit_ready(self)

    def data_received(self, data: bytes) -> None:
        self._last_received = self._loop.time()
        self._echo_sent = False
        try:
            messages = self._parser.feed_raw(data)
        except CaProtocolError as exc:
            log.warning("server %s broke the protocol (%s); closing the circuit", self.peer, exc)
            self.close()
            return
        handlers = self._handlers
        for header, payload in messages:
            handler = handlers.get(header[0])
            if handler is None:
                log.debug("server %s sent unexpected command %d", self.peer, header[0])
                continue
            handler(header, payload)
        if self._queue:
            self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state is CircuitState.CLOSED and self.transport is None:
            return
        self._closed()

    # -- sending --------------------------------------------------------------------------------
    def send(self, message: bytes) -> None:
        """Queue ``message``; the queue is written once this event-loop turn ends."""
        if self.state is CircuitState.CLOSED:
            return
        queue = self._queue
        queue.append(message)
        if len(queue) == 1 and self.state is CircuitState.CONNECTED:
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._queue and self.transport is not None and self.state is CircuitState.CONNECTED:
            queued, self._queue = self._queue, []
            self.transport.write(b"".join(queued) if len(queued) > 1 else queued[0])

    def request(self, ioid: int, message: bytes) -> asyncio.Future[Reply]:
        """Send a READ_NOTIFY/WRITE_NOTIFY; the future gets its :data:`Reply`."""
        future: asyncio.Future[Reply] = self._loop.create_future()
        self.pending[ioid] = future
        self.send(message)
        return future

    def close(self) -> None:
        """Close the circuit (its channels go back to searching)."""
        transport = self.transport
        if transport is not None:
            transport.abort()
        self._closed()

    async def finish(self, timeout: float) -> None:
        """Close once what is queued has reached the socket (libca flushes before a context
        goes): a put sent without waiting is not lost. Aborts after ``timeout`` s."""
        transport = self.transport
        if transport is None or self.state is not CircuitState.CONNECTED:
            self.close()
            return
        self._flush()
        self._gone = self._loop.create_future()
        transport.close()   # asyncio writes out its buffer, then closes
        try:
            await asyncio.wait_for(asyncio.shield(self._gone), timeout)
        except TimeoutError:
            log.warning("closing the circuit to %s: %d bytes still unsent after %g s; "
                        "dropped", self.peer, transport.get_write_buffer_size(), timeout)
            self.close()

    def _closed(self) -> None:
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        first_time = self.state is not CircuitState.CLOSED
        self.state = CircuitState.CLOSED
        self.transport = None
        self._queue = []
        pending, self.pending = self.pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"circuit to {self.peer} closed"))
        if first_time:
            self.context.circuit_lost(self)

    # -- echo watchdog --------------------------------------------------------------------------
    def _arm_watchdog(self, delay: float) -> None:
        self._watchdog = self._loop.call_later(delay, self._check_alive)

    def _check_alive(self) -> None:
        self._watchdog = None
        if self.state is not CircuitState.CONNECTED:
            return
        silent = self._loop.time() - self._last_received
        timeout = self.context.config.connection_timeout
        if self._echo_sent and silent >= ECHO_TIMEOUT:
            log.warning("server %s did not answer an echo within %g s; closing the circuit",
                        self.peer, ECHO_TIMEOUT)
            self.close()
        elif silent >= timeout:
            self._echo_sent = True
            self.send(packers.echo())
            self._arm_watchdog(ECHO_TIMEOUT)
        else:
            self._arm_watchdog(timeout - silent)

    # -- replies --------------------------------------------------------------------------------
    def _ignore(self, header: Header, payload: bytes | memoryview) -> None:
        pass

    def _on_version(self, header: Header, payload: bytes | memoryview) -> None:
        self.server_version = header[3]

    def _on_echo(self, header: Header, payload: bytes | memoryview) -> None:
        self._echo_sent = False

    def _on_access_rights(self, header: Header, payload: bytes | memoryview) -> None:
        self.context.access_rights(self, header[4], header[5])

    def _on_create_chan(self, header: Header, payload: bytes | memoryview) -> None:
        self.context.channel_created(self, header[4], header[5], header[2], header[3])

    def _on_create_ch_fail(self, header: Header, payload: bytes | memoryview) -> None:
        self.context.channel_lost(self, header[4], "the server refused CREATE_CHAN")

    def _on_server_disconn(self, header: Header, payload: bytes | memoryview) -> None:
        self.context.channel_lost(self, header[4], "the server dropped the channel")

    def _on_search(self, header: Header, payload: bytes | memoryview) -> None:
        # Name-server reply over TCP: data_type = server port, p1 = its IPv4 address
        # (ADDRESS_OF_SENDER: this name server itself), p2 = our CID.
        self.context.search_reply(header[5], header[4], header[2], self.address[0])

    def _on_reply(self, header: Header, payload: bytes | memoryview) -> None:
        future = self.pending.pop(header[5], None)
        if future is not None and not future.done():
            future.set_result((header[4], header[2], header[3], payload))

    def _on_event(self, header: Header, payload: bytes | memoryview) -> None:
        handler = self.subscriptions.get(header[5])
        if handler is not None and header[1]:  # size 0: the EVENT_CANCEL confirmation
            handler(header[4], header[2], header[3], payload)

    def _on_error(self, header: Header, payload: bytes | memoryview) -> None:
        error = ErrorResponse.from_wire(header, bytes(payload))
        parsed = unpack_header(error.original_request)
        status = error.status
        if parsed is None:
            log.warning("server %s: error %d (%s)", self.peer, status, error.error_message)
            return
        original = parsed[0]
        command = original.command
        if command in (codes.CA_PROTO_READ_NOTIFY, codes.CA_PROTO_WRITE_NOTIFY):
            future = self.pending.pop(original.parameter2, None)
            if future is not None and not future.done():
                future.set_result((status, original.data_type, 0, b""))
        elif command == codes.CA_PROTO_EVENT_ADD:
            handler = self.subscriptions.get(original.parameter2)
            if handler is not None:
                handler(status, original.data_type, 0, b"")
        elif command == codes.CA_PROTO_WRITE:  # a put without completion was refused
            self.context.put_refused(self, error.cid, status, error.error_message)
        elif command == codes.CA_PROTO_CREATE_CHAN:
            self.context.channel_lost(self, error.cid, error.error_message)
        else:
            log.warning("server %s: error %d on command %d (%s)", self.peer, status, command,
                        error.error_message)

"""The Channel Access server: UDP search responders, beacons and TCP circuits together.

:class:`Server` owns the sockets and the bookkeeping shared by circuits: the fan-out of
subscriptions per channel-data object, and SERVER_DISCONN for the open channels that
resolved through a database entry when that entry is removed.
"""
from __future__ import annotations

import asyncio
import contextvars
import errno
import logging
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from .batch import EventBatcher
from .beacon import BeaconSender
from .circuit import VirtualCircuit
from .settings import ServerConfig
from .database import PVDatabase, ServedChannel
from .openfiles import OpenFilesWatch
from .introspection import (ChannelInfo, ClientInfo, ClosedCircuitTotals, ServerTotals,
                            channel_infos, client_info, server_totals)
from .subscription import Fanout, Subscription
from .udp import SearchResponder

__all__ = ["Server", "run", "new_event_loop", "HEADER_SLACK"]

logger = logging.getLogger("iochost.server")

#: Payload bytes allowed beyond EPICS_CA_MAX_ARRAY_BYTES: the largest DBR metadata block and
#: padding, so an array of exactly the limit still fits.
HEADER_SLACK = 4096
#: Without a fixed cap (EPICS_CA_AUTO_ARRAY_BYTES=YES): the largest message a circuit
#: accepts or sends (an announcement beyond it is garbage, not an array a Python IOC holds;
#: it closes the circuit before anything is buffered), and the zero bytes a read for more
#: elements than a channel has may add.
MAX_PAYLOAD_AUTO = 1 << 30
MAX_PADDING = 1 << 24
_UDP_RECEIVE_BUFFER = 1 << 20


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's when installed (faster I/O), else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _interchangeable(old: ServedChannel, new: ServedChannel) -> bool:
    """Could a client connected to ``old`` go on with ``new`` and notice nothing but new
    values?  The same native type and element count, and the same metadata (units,
    precision, limits, enum strings: what clients read once, when they connect)."""
    from iochost.ca.dbr_layouts import LAYOUTS
    from iochost.ca.dbr_types import promote

    try:
        if old.native_type != new.native_type or old.max_length != new.max_length:
            return False
        ctrl = promote(new.native_type, "ctrl")
        metadata = slice(4, LAYOUTS[ctrl].prefix_size)  # after status and severity
        return old.read_dbr(ctrl, 1)[0][metadata] == new.read_dbr(ctrl, 1)[0][metadata]
    except Exception:   # data that cannot say: the client connects again
        return False


class Server:
    """A CA server for one :class:`PVDatabase` (or any ``name -> ServedChannel`` mapping)."""

    def __init__(self, database: PVDatabase | Mapping[str, ServedChannel],
                 config: ServerConfig | None = None):
        self.database = database if isinstance(database, PVDatabase) else PVDatabase(database)
        self.config = config if config is not None else ServerConfig.from_env()
        cap = self.config.max_array_bytes
        #: The largest payload a circuit accepts or sends (the parser refuses larger
        #: announcements before buffering anything).
        self.max_payload = MAX_PAYLOAD_AUTO if cap is None else cap + HEADER_SLACK
        #: The zeros a read may add beyond a channel's own elements (RSRV pads such reads;
        #: without a fixed cap it would allocate whatever a client names, we stop here).
        self.max_padding = MAX_PADDING if cap is None else self.max_payload
        self.tcp_port = 0
        self.udp_port = 0
        self.counters: Counter[str] = Counter()
        self.circuits: set[VirtualCircuit] = set()
        self._closed_totals = ClosedCircuitTotals()
        self._access_listeners: list[Callable[[], None]] = []
        self._next_client_id = 1
        self._fanouts: dict[int, Fanout] = {}
        #: the queue of batched monitor posts (see .batch), shared by every fan-out
        self.batcher = EventBatcher(self.counters)
        self._tcp_servers: list[asyncio.AbstractServer] = []
        self._udp_transports: list[asyncio.DatagramTransport] = []
        self._beacons: BeaconSender | None = None
        self._started = False
        self._stopped: asyncio.Event | None = None
        self._background: set[asyncio.Task[Any]] = set()
        #: what to do when a client's put makes its putter end the process (SystemExit,
        #: KeyboardInterrupt); None: the put is refused and logged, the process serves on
        #: (a host serves other IOCs too); a standalone IOC ends, as caproto's does
        self.exit_requested: Callable[[BaseException], object] | None = None
        self._open_files: OpenFilesWatch | None = None   # once serving

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind TCP and UDP on every interface and start beacons; returns when searchable."""
        if self._started:
            return
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        interfaces = self.config.interfaces
        try:
            self.tcp_port = await self._bind_tcp(loop, interfaces, self.config.port)
            self.udp_port = await self._bind_udp(loop, interfaces, self.config.port
                                                 or self.tcp_port)
        except BaseException:
            await self._close_sockets()
            raise
        self._open_files = OpenFilesWatch()
        self.database.add_removal_listener(self._on_removed)
        self.database.add_addition_listener(self._on_added)
        self._beacons = BeaconSender(self.tcp_port, self.config.beacon_destinations(),
                                     self.config.beacon_period)
        self._beacons.start()
        self._started = True
        # A host starts its server empty and mounts afterwards (and says how many PVs it
        # serves then): a PV count here only means something when there is one.
        served = f", {len(self.database)} PVs" if len(self.database) else ""
        logger.info("CA server on %s: TCP port %d, UDP port %d%s",
                    ", ".join(interfaces), self.tcp_port, self.udp_port, served)

    async def _bind_tcp(self, loop: asyncio.AbstractEventLoop, interfaces: tuple[str, ...],
                        port: int) -> int:
        """Listen on ``port`` (falling back to an ephemeral one, as RSRV does)."""
        for first_choice in ((port, 0) if port else (0,)):
            chosen = first_choice
            try:
                for interface in interfaces:
                    server = await loop.create_server(
                        lambda: VirtualCircuit(self), interface, chosen,
                        reuse_address=True, backlog=1024)
                    self._tcp_servers.append(server)
                    chosen = chosen or server.sockets[0].getsockname()[1]
                return chosen
            except OSError as exc:
                await self._close_sockets()
                if exc.errno != errno.EADDRINUSE or first_choice == 0:
                    raise
                logger.info("TCP port %d busy; using an ephemeral TCP port", port)
        raise AssertionError("unreachable")

    async def _bind_udp(self, loop: asyncio.AbstractEventLoop, interfaces: tuple[str, ...],
                        port: int) -> int:
        ignore = frozenset(self.config.ignore_addresses)
        lookup = self.database.search_predicate()
        exact = self.database.exact_entries()
        unicast: dict[str, SearchResponder] = {}
        for interface in interfaces:
            unicast[interface] = await self._bind_search_socket(
                loop, interface, port, SearchResponder(lookup, self.tcp_port, ignore,
                                                       self.counters, exact=exact))
            port = port or self._udp_transports[-1].get_extra_info("sockname")[1]
        # As RSRV: broadcasts reach a socket bound to the broadcast address only; the
        # replies leave from the interface's own address.
        for broadcast, interface in self.config.search_broadcast_addresses().items():
            try:
                await self._bind_search_socket(loop, broadcast, port, SearchResponder(
                    lookup, self.tcp_port, ignore, self.counters,
                    reply_from=unicast[interface], exact=exact))
            except OSError as exc:
                logger.warning("broadcast searches to %s:%d are not received: cannot bind "
                               "there: %s", broadcast, port, exc)
        return port

    async def _bind_search_socket(self, loop: asyncio.AbstractEventLoop, address: str,
                                  port: int, responder: SearchResponder) -> SearchResponder:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # Several servers on one host share the search port, as with RSRV.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
            sock.bind((address, port))
        except OSError:
            sock.close()
            raise
        transport, _ = await loop.create_datagram_endpoint(lambda: responder, sock=sock)
        self._udp_transports.append(transport)
        return responder

    async def _close_sockets(self) -> None:
        for server in self._tcp_servers:
            server.close()
        for transport in self._udp_transports:
            transport.close()
        for server in self._tcp_servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 1.0)
            except (TimeoutError, Exception):
                pass
        self._tcp_servers.clear()
        self._udp_transports.clear()

    async def stop(self) -> None:
        """Close every socket and circuit and cancel our tasks."""
        if not self._started:
            return
        self._started = False
        self.database.remove_removal_listener(self._on_removed)
        self.database.remove_addition_listener(self._on_added)
        if self._beacons is not None:
            await self._beacons.stop()
            self._beacons = None
        for server in self._tcp_servers:
            server.close()
        for circuit in list(self.circuits):
            if circuit.transport is not None:
                circuit.transport.abort()
            circuit.connection_lost(None)
        await self._close_sockets()
        for task in list(self._background):
            task.cancel()
        for fanout in self._fanouts.values():
            fanout.close()
        self._fanouts.clear()
        if self._stopped is not None:
            self._stopped.set()
        logger.info("CA server on TCP port %d stopped", self.tcp_port)

    async def serve_forever(self) -> None:
        """Start if needed and serve until cancelled or :meth:`stop` is called."""
        await self.start()
        assert self._stopped is not None
        try:
            await self._stopped.wait()
        finally:
            await self.stop()

    # -- bookkeeping used by circuits --------------------------------------------------------
    def spawn(self, coro: Any, context: contextvars.Context | None = None
              ) -> asyncio.Task[Any]:
        """Run work that must outlive its circuit (a received write) in ``context`` (None: a
        copy of the current one); cancelled at stop()."""
        task = asyncio.get_running_loop().create_task(coro, context=context)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def circuit_opened(self, circuit: VirtualCircuit) -> None:
        circuit.client_id = self._next_client_id
        self._next_client_id += 1
        self.circuits.add(circuit)
        self.batcher.register(circuit)
        self.counters["circuits_opened"] += 1
        if self._open_files is not None:
            self._open_files.circuits_changed(len(self.circuits))

    def circuit_closed(self, circuit: VirtualCircuit) -> None:
        if circuit in self.circuits:
            self.circuits.discard(circuit)
            self.batcher.unregister(circuit)
            self._closed_totals.fold(circuit)
            if self._open_files is not None:
                self._open_files.circuits_changed(len(self.circuits))

    def subscribe(self, sub: Subscription) -> None:
        data = sub.channel.data
        fanout = self._fanouts.get(id(data))
        if fanout is None:
            fanout = self._fanouts[id(data)] = Fanout(data, self.batcher)
        fanout.add(sub)

    def unsubscribe(self, sub: Subscription) -> None:
        data = sub.channel.data
        fanout = self._fanouts.get(id(data))
        if fanout is not None and fanout.discard(sub):
            fanout.close()
            del self._fanouts[id(data)]

    def _on_removed(self, names: list[str]) -> None:
        """Database entries went away or were replaced: disconnect every channel that
        resolved through them -- but a channel whose name now resolves to data the client
        cannot tell from the old (a remount's) stays connected, served by the new data.
        (libca searches for a disconnected channel again only every 10 s or so.)

        A scan of the open channels: removals are rare, while an index from names to channels
        would cost every CREATE_CHAN and every close (a connection storm is the hot case)."""
        removed = set(names)
        database = self.database
        for circuit in list(self.circuits):
            for channel in [ch for ch in circuit.channels.values() if ch.key in removed]:
                found = database.resolve_entry(channel.name) if channel.key in database \
                    else None
                busy = channel.writer is not None and channel.writer.busy
                # a put still running on the old data: its client must not hear "done"
                # from a PV that is gone, so it hears of the disconnect (as before)
                if found is not None and found[0] == channel.key and not busy and \
                        _interchangeable(channel.data, found[1]):
                    circuit.rebind(channel, found[1])
                else:
                    circuit.server_disconnect(channel)

    def _on_added(self, names: list[str]) -> None:
        """New PVs: restart the beacon ramp so waiting clients search again soon."""
        if self._beacons is not None:
            self._beacons.restart()

    # -- access rights -------------------------------------------------------------------
    def refresh_access(self, select: Callable[[ServedChannel], bool] | None = None) -> int:
        """Re-evaluate the access rights of every open channel (those whose data
        ``select`` accepts) and send ACCESS_RIGHTS where they changed; returns how many
        changed.  The access rules call this after a reload or a CALC input change."""
        changed = 0
        for circuit in list(self.circuits):
            for channel in list(circuit.channels.values()):
                if select is None or select(channel.data):
                    changed += circuit.update_access(channel)
        for listener in list(self._access_listeners):
            listener()
        return changed

    def add_access_listener(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` whenever access rights may have changed (after each
        :meth:`refresh_access`): peers that are not CA circuits (the web page's sockets)
        re-check their own rights then."""
        self._access_listeners.append(fn)

    def remove_access_listener(self, fn: Callable[[], None]) -> None:
        """Stop calling ``fn`` (a missing listener is ignored)."""
        if fn in self._access_listeners:
            self._access_listeners.remove(fn)

    # -- introspection (read-only snapshots, see .introspection) ---------------------------
    def clients(self) -> list[ClientInfo]:
        """The connected CA clients, oldest connection first."""
        return sorted((client_info(c) for c in self.circuits), key=lambda c: c.client_id)

    def client(self, client_id: int) -> ClientInfo | None:
        """Client ``client_id`` now; None when it is not connected."""
        circuit = self._circuit(client_id)
        return None if circuit is None else client_info(circuit)

    def client_channels(self, client_id: int) -> list[ChannelInfo] | None:
        """The channels client ``client_id`` has open; None when it is not connected."""
        circuit = self._circuit(client_id)
        return None if circuit is None else channel_infos(circuit)

    def _circuit(self, client_id: int) -> VirtualCircuit | None:
        return next((c for c in self.circuits if c.client_id == client_id), None)

    def totals(self) -> ServerTotals:
        """Server-wide sizes now and counters since start."""
        return server_totals(self.circuits, self._closed_totals, len(self.database),
                             self.counters["circuits_opened"], self.counters["searches"])

    def stats(self) -> dict[str, Any]:
        """Counters and current sizes as one flat dict: clients, channels, subscriptions,
        bytes in/out, ... (:meth:`totals` is the typed form)."""
        totals = self.totals()
        result: dict[str, Any] = {
            "clients": totals.clients,
            "channels": totals.channels,
            "subscriptions": totals.subscriptions,
            "backlog": sum(len(c.backlog) for c in self.circuits),
            "pvs": totals.pvs,
            "tcp_port": self.tcp_port,
            "udp_port": self.udp_port,
            "bytes_in": totals.bytes_received,
            "bytes_out": totals.bytes_sent,
            "updates_sent": totals.updates_sent,
        }
        for key in ("searches", "search_hits", "circuits_opened", "circuits_aborted",
                    "events_coalesced", "updates_batched"):
            result[key] = self.counters[key]
        return result


async def run(pvdb: PVDatabase | Mapping[str, ServedChannel],
              config: ServerConfig | None = None) -> None:
    """Serve ``pvdb`` until cancelled."""
    server = Server(pvdb, config)
    await server.serve_forever()

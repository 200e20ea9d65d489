"""The client context: one per event loop, owner of the search socket and the circuits.

``Context`` is the root of the client (see ``docs/client.md``)::

    async with Context() as context:
        channel = context.channel("DEMO:TEMP")
        await channel.wait_connected()
        reading = await channel.get()

What it does, as libca does it:

* **search** -- one UDP socket sends SEARCH requests (many names per datagram, each led by
  a VERSION with a sequence number) to ``EPICS_CA_ADDR_LIST`` (plus the automatic list
  unless ``EPICS_CA_AUTO_ADDR_LIST=NO``) on the back-off of :mod:`iochost.client.search`,
  and over TCP to every ``EPICS_CA_NAME_SERVERS`` entry.  The first reply wins (libca
  ignores later ones).
* **circuits** -- one per (server address, priority), shared by every channel on it; see
  :mod:`iochost.client.circuit`.  A lost circuit sends its channels back to searching at
  once; their subscriptions are renewed on the new circuit.
* **repeater** -- the socket registers with the CA repeater on ``EPICS_CA_REPEATER_PORT``
  (127.0.0.1) so that beacons reach it; beacons that say a server came up or came back
  (:mod:`iochost.client.beacons`, libca's rules) are a *beacon anomaly*: every pending
  search starts its back-off again, so names served by that server connect at once.
* **local PVs** -- with ``local=LocalPVs(database)``, names that database serves are
  connected in process (:mod:`iochost.client.local`); they are never searched for.
"""
from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Self

from iochost.ca import packers
from iochost.ca.codes import ADDRESS_OF_SENDER, DEFAULT_PRIORITY
from iochost.ca.commands import (
    Message,
    RepeaterConfirmResponse,
    RepeaterRegisterRequest,
    Role,
    RsrvIsUpResponse,
    SearchResponse,
    VersionResponse,
)
from iochost.ca.errors import CaProtocolError
from iochost.ca.parser import parse_datagram

from .beacons import BeaconWatch
from .channel import Channel, ChannelState, RemoteLink
from .circuit import Circuit, CircuitState
from .config import Address, ClientConfig
from .local import LocalLink, LocalPVs
from .search import SearchSchedule, pack_search_datagrams, sequence_numbers

__all__ = ["Context", "Identity"]

log = logging.getLogger("iochost.client")
#: What libca reports through its exception handler about searches (ECA_DBLCHNL).
search_log = logging.getLogger("iochost.client.search")

#: Seconds between repeater registration attempts, and how many (libca retries too).
REPEATER_RETRY = 1.0
REPEATER_TRIES = 10
#: Seconds a closing context gives each circuit to write out what is queued (a big put)
CLOSE_TIMEOUT = 10.0
_UDP_RECEIVE_BUFFER = 1 << 20

DatagramHandler = Callable[["Context", Message, tuple[str, int]], None]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who we are to servers (HOST_NAME / CLIENT_NAME: their access rules use them)."""

    host: str = field(default_factory=socket.gethostname)
    user: str = field(default_factory=getpass.getuser)


class _SearchProtocol(asyncio.DatagramProtocol):
    def __init__(self, context: Context) -> None:
        self.context = context

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.context.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP "port unreachable" from a destination with no server (or no repeater).
        log.debug("search socket: %s", exc)


class Context:
    """See the module docstring.  Make it inside a running event loop."""

    def __init__(self, config: ClientConfig | None = None, *, local: LocalPVs | None = None,
                 identity: Identity | None = None) -> None:
        self.config = ClientConfig.from_env() if config is None else config
        self.identity = identity or Identity()
        self.local = local
        self.loop = asyncio.get_running_loop()
        self.destinations: tuple[Address, ...] = self.config.search_destinations()
        self._ids: Iterator[int] = itertools.count(1)
        self._channels: dict[tuple[str, int], Channel] = {}
        self._by_cid: dict[int, Channel] = {}
        self._circuits: dict[tuple[Address, int], Circuit] = {}
        self._name_servers: dict[Address, Circuit] = {}
        self._schedule = SearchSchedule(self.config.max_search_period)
        self._sequence = sequence_numbers()
        self._sent_at: dict[int, float] = {}
        self._beacons = BeaconWatch(self.loop.time())
        self._udp: asyncio.DatagramTransport | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: TCP connects under way (a context closed meanwhile cancels them)
        self._opening: set[asyncio.Task[None]] = set()
        self._repeater_confirmed = False
        self._closed = False
        if local is not None:
            local.watch(self._local_added, self._local_removed, self._local_rights)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def next_id(self) -> int:
        """A fresh id (CIDs, IOIDs and subscription ids share one counter)."""
        return next(self._ids) & 0xFFFFFFFF

    # -- public API -----------------------------------------------------------------------------
    def channel(self, name: str, priority: int = DEFAULT_PRIORITY) -> Channel:
        """The channel for ``name`` (one per name and priority); it connects by itself."""
        if self._closed:
            raise RuntimeError("this client context is closed")
        key = (name, priority)
        channel = self._channels.get(key)
        if channel is not None:
            return channel
        channel = self._channels[key] = Channel(self, name, priority, self.next_id())
        self._by_cid[channel.cid] = channel
        self._connect(channel)
        return channel

    async def connect(self, name: str, timeout: float | None = 2.0,
                      priority: int = DEFAULT_PRIORITY) -> Channel:
        """``channel(name)``, once connected (``ChannelNotFound`` after ``timeout``)."""
        return await self.channel(name, priority).wait_connected(timeout)

    @property
    def channels(self) -> list[Channel]:
        return list(self._channels.values())

    async def close(self) -> None:
        """Close every channel, circuit and socket."""
        if self._closed:
            return
        for channel in list(self._channels.values()):
            channel.close()
        self._closed = True
        for task in (*self._tasks, *self._opening):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._opening, return_exceptions=True)
        circuits = [*self._circuits.values(), *self._name_servers.values()]
        await asyncio.gather(*(circuit.finish(CLOSE_TIMEOUT) for circuit in circuits))
        if self._udp is not None:
            self._udp.close()
        if self.local is not None:
            self.local.unwatch(self._local_added, self._local_removed, self._local_rights)

    def forget(self, channel: Channel) -> None:
        """A closed channel leaves the context."""
        self._channels.pop((channel.name, channel.priority), None)
        self._by_cid.pop(channel.cid, None)
        self._schedule.found(channel.cid)

    # -- connecting -----------------------------------------------------------------------------
    def _connect(self, channel: Channel, tries: int = 0) -> None:
        """Connect ``channel`` locally when this process serves it, else search."""
        if self._closed or channel.state is ChannelState.CLOSED:
            return
        if self._connect_locally(channel):
            return
        channel.state = ChannelState.SEARCHING
        self._schedule.add(channel.cid, self.loop.time(), tries)
        self._start()
        self._wake.set()

    def _connect_locally(self, channel: Channel) -> bool:
        served = self.local.resolve(channel.name) if self.local is not None else None
        if served is None:
            return False
        self._schedule.found(channel.cid)
        channel.set_access(served.check_access(self.identity.host, self.identity.user))
        channel.connected_on(LocalLink(served), "local", served.native_type, served.max_length)
        return True

    def _local_added(self, names: list[str]) -> None:
        wanted = set(names)
        for channel in list(self._channels.values()):
            base = channel.name.split(".", 1)[0].rstrip("$")
            if channel.state is ChannelState.SEARCHING and (
                    channel.name in wanted or base in wanted):
                self._connect_locally(channel)

    def _local_rights(self) -> None:
        """Access rights may have changed: each local channel asks its PV again."""
        host, user = self.identity.host, self.identity.user
        for channel in list(self._channels.values()):
            link = channel.link
            if isinstance(link, LocalLink) and channel.connected:
                channel.set_access(link.served.check_access(host, user))

    def _local_removed(self, names: list[str]) -> None:
        gone = set(names)
        for channel in list(self._channels.values()):
            base = channel.name.split(".", 1)[0].rstrip("$")
            if isinstance(channel.link, LocalLink) and (channel.name in gone or base in gone):
                channel.lost()
                # After the listeners ran: the name may be back (a replaced entry).
                self.loop.call_soon(self._connect, channel)

    # -- search ---------------------------------------------------------------------------------
    def _start(self) -> None:
        if not self._tasks and not self._closed:
            self._tasks.append(self.loop.create_task(self._search_loop(),
                                                     name="iochost-client-search"))

    async def _open_socket(self) -> None:
        transport, _ = await self.loop.create_datagram_endpoint(
            lambda: _SearchProtocol(self), local_addr=("0.0.0.0", 0))
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
        except OSError:
            pass
        self._udp = transport
        self._tasks.append(self.loop.create_task(self._register_with_repeater(),
                                                 name="iochost-client-repeater"))

    async def _register_with_repeater(self) -> None:
        """Ask the repeater on 127.0.0.1 to forward beacons to our search socket."""
        request = RepeaterRegisterRequest(  # type: ignore[call-arg]  # (the decorator)
            client_address="127.0.0.1").to_bytes()
        tries = 0
        while not self._repeater_confirmed and self._udp is not None:
            # as libca, until one answers: a repeater started after us (a host started
            # at boot before it) is used too
            self._udp.sendto(request, ("127.0.0.1", self.config.repeater_port))
            tries += 1
            if tries == REPEATER_TRIES:
                log.debug("no CA repeater answered on port %d yet: beacon anomalies will "
                          "not speed up reconnects until one does",
                          self.config.repeater_port)
            await asyncio.sleep(REPEATER_RETRY)

    async def _search_loop(self) -> None:
        await self._open_socket()
        for address in self.config.name_servers:
            self._name_server(address)
        schedule = self._schedule
        while True:
            now = self.loop.time()
            due = schedule.due(now)
            if due:
                self._send_searches(due, now)
            next_due = schedule.next_due()
            self._wake.clear()
            timeout = None if next_due is None else max(next_due - self.loop.time(), 0.001)
            with contextlib.suppress(TimeoutError):   # not wait_for: see server/beacon.py
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def _send_searches(self, cids: list[int], now: float) -> None:
        requests = []
        for cid in cids:
            channel = self._by_cid.get(cid)
            if channel is None or channel.state is not ChannelState.SEARCHING:
                self._schedule.found(cid)
                continue
            if self._connect_locally(channel):
                continue
            requests.append((channel.name.encode(), cid))
        if not requests:
            return
        udp = self._udp
        if udp is not None and self.destinations:
            for number, datagram in pack_search_datagrams(requests, self._sequence):
                self._sent_at[number] = now
                for destination in self.destinations:
                    udp.sendto(datagram, destination)
            if len(self._sent_at) > 1000:  # answers that never came
                for number in list(self._sent_at)[:500]:
                    del self._sent_at[number]
        for circuit in self._name_servers.values():
            if circuit.state is CircuitState.CONNECTED:
                for name, cid in requests:
                    circuit.send(packers.search_request(name, cid))

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            messages = parse_datagram(data, Role.CLIENT)
        except CaProtocolError as exc:
            log.debug("bad datagram from %s:%d: %s", addr[0], addr[1], exc)
            return
        for message in messages:
            handler = self._datagram_handlers.get(type(message))
            if handler is not None:
                handler(self, message, addr)

    def _on_search_version(self, message: Message, addr: tuple[str, int]) -> None:
        assert isinstance(message, VersionResponse)
        sent = self._sent_at.pop(message.sequence_id, None) \
            if message.sequence_id is not None else None
        if sent is not None:
            self._schedule.observe_round_trip(self.loop.time() - sent)

    def _on_udp_search(self, message: Message, addr: tuple[str, int]) -> None:
        assert isinstance(message, SearchResponse)
        ip = addr[0] if message.ip in ("255.255.255.255", "0.0.0.0") else message.ip
        self._found(message.cid, ip, message.port)

    def search_reply(self, cid: int, ip: int, port: int, sender: str) -> None:
        """A SEARCH reply over TCP (from a name server)."""
        host = sender if ip in (ADDRESS_OF_SENDER, 0) else socket.inet_ntoa(ip.to_bytes(4, "big"))
        self._found(cid, host, port)

    def _found(self, cid: int, host: str, port: int) -> None:
        channel = self._by_cid.get(cid)
        if channel is None or channel.state is not ChannelState.SEARCHING:
            # a late or duplicate answer: ignored, as libca does -- with its warning when
            # it came from another server
            if channel is not None and channel.state is not ChannelState.CLOSED:
                self._warn_if_second_server(channel, (host, port))
            return
        self._schedule.found(cid)
        channel.found(f"{host}:{port}")
        key = ((host, port), channel.priority)
        circuit = self._circuits.get(key)
        if circuit is None or circuit.state is CircuitState.CLOSED:
            circuit = self._circuits[key] = Circuit(self, (host, port), channel.priority)
            self._open(circuit)
        circuit.channels[cid] = channel
        circuit.send(packers.create_chan_request(channel.name.encode(), cid))

    def _warn_if_second_server(self, channel: Channel, address: tuple[str, int]) -> None:
        """libca's ECA_DBLCHNL: a second server serves the name of a channel that is
        connected or connecting to another one (which one wins is a race: say so)."""
        for (peer, _), circuit in self._circuits.items():
            if circuit.channels.get(channel.cid) is channel:
                if peer != address:
                    search_log.warning(
                        "Identical process variable names on multiple servers: channel "
                        "%r, connecting to %s:%d, ignored %s:%d", channel.name, *peer,
                        *address)
                return

    def _open(self, circuit: Circuit) -> None:
        task = self.loop.create_task(self._open_circuit(circuit))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open_circuit(self, circuit: Circuit) -> None:
        try:
            await self.loop.create_connection(lambda: circuit, *circuit.address)
        except OSError as exc:
            log.info("cannot connect to CA server %s: %s", circuit.peer, exc)
            circuit.failure = f"cannot connect to server {circuit.peer}: {exc}"
            circuit.close()

    def _on_beacon(self, message: Message, addr: tuple[str, int]) -> None:
        assert isinstance(message, RsrvIsUpResponse)
        ip = addr[0] if message.address == "0.0.0.0" else message.address
        key = (ip, message.server_port)
        anomaly = self._beacons.beacon(key, message.beacon_id, self.loop.time())
        if anomaly and len(self._schedule):
            log.debug("beacon anomaly from %s:%d: searching again", *key)
            self._schedule.reset(self.loop.time())
            self._wake.set()

    def _on_repeater_confirm(self, message: Message, addr: tuple[str, int]) -> None:
        self._repeater_confirmed = True

    _datagram_handlers: ClassVar[dict[type[Message], DatagramHandler]] = {
        VersionResponse: _on_search_version,
        SearchResponse: _on_udp_search,
        RsrvIsUpResponse: _on_beacon,
        RepeaterConfirmResponse: _on_repeater_confirm,
    }

    # -- name servers ---------------------------------------------------------------------------
    def _name_server(self, address: Address) -> None:
        circuit = self._name_servers[address] = Circuit(self, address, DEFAULT_PRIORITY)
        self._open(circuit)

    # -- driven by circuits ---------------------------------------------------------------------
    def circuit_ready(self, circuit: Circuit) -> None:
        if self._name_servers.get(circuit.address) is circuit:
            # A (re)connected name server: ask it for everything pending at once.
            self._schedule.reset(self.loop.time())
            self._wake.set()

    def circuit_lost(self, circuit: Circuit) -> None:
        if self._name_servers.get(circuit.address) is circuit:
            if not self._closed:  # reconnect later, as libca does
                self.loop.call_later(self.config.connection_timeout / 10 or 1.0,
                                     self._name_server, circuit.address)
            return
        key = (circuit.address, circuit.priority)
        if self._circuits.get(key) is circuit:
            del self._circuits[key]
        reason = circuit.failure or f"the circuit to server {circuit.peer} closed"
        for channel in list(circuit.channels.values()):
            self._lose(channel, reason)
        circuit.channels.clear()
        circuit.subscriptions.clear()

    def channel_created(self, circuit: Circuit, cid: int, sid: int, native: int,
                        count: int) -> None:
        channel = circuit.channels.get(cid)
        if channel is None:
            return
        channel.connected_on(RemoteLink(circuit, sid), circuit.peer, native, count)

    def access_rights(self, circuit: Circuit, cid: int, rights: int) -> None:
        channel = circuit.channels.get(cid)
        if channel is not None:
            channel.set_access(rights)

    def put_refused(self, circuit: Circuit, cid: int, status: int, text: str) -> None:
        channel = circuit.channels.get(cid)
        if channel is not None:
            channel.put_refused(status, text)

    def channel_lost(self, circuit: Circuit, cid: int, reason: str) -> None:
        channel = circuit.channels.pop(cid, None)
        if channel is not None:
            log.debug("%s: %s", channel.name, reason)
            for subscription in channel.subscriptions:
                circuit.subscriptions.pop(subscription.id, None)
            self._lose(channel, f"server {circuit.peer}: {reason}")

    def _lose(self, channel: Channel, reason: str) -> None:
        was_connected = channel.connected
        # A channel that never connected keeps its back-off (its server answers searches
        # but refuses circuits); one that was connected searches afresh, as libca does.
        channel.failed_connects = 0 if was_connected else channel.failed_connects + 1
        channel.last_failure = None if was_connected else reason
        tries = channel.failed_connects
        channel.lost()
        self._connect(channel, tries)

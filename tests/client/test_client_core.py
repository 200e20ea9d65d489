"""The client's parts that do not need three servers: libca's search back-off and
datagram packing, the EPICS_CA_* environment, PVs of this process read in place, name
servers over TCP, beacon anomalies, and EPICS_CA_MAX_ARRAY_BYTES."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import socket

import numpy as np
import pytest
from client_servers import config_for
from softioc_process import free_port

from iochost.ca import packers
from iochost.ca.codes import DBE_VALUE
from iochost.ca.commands import Role, SearchRequest, VersionRequest
from iochost.ca.eca import ECA_BADSTR, ECA_NOWTACCESS, ECA_PUTFAIL, ECA_TOLARGE
from iochost.ca.errors import CaStatusError
from iochost.ca.parser import parse_datagram
from iochost.client import ClientConfig, Context, LocalPVs, RequestFailed
from iochost.client.beacons import BeaconWatch
from iochost.client.config import ConfigError
from iochost.client.search import (
    MAX_DATAGRAM,
    MIN_ROUND_TRIP,
    SearchSchedule,
    pack_search_datagrams,
)
from iochost.pv.data import ChannelByte, ChannelDouble, ChannelString
from iochost.server import PVDatabase
from iochost.testing import ServerThread

# -- search back-off (pure) -------------------------------------------------------------------


def test_search_backoff_doubles_from_the_round_trip_up_to_the_cap():
    schedule = SearchSchedule(max_period=1.0)
    schedule.add(7, now=0.0)
    times = []
    now = 0.0
    for _ in range(8):
        assert schedule.due(now) == [7]
        times.append(now)
        now = schedule.next_due()
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert gaps == [0.064, 0.128, 0.256, 0.512, 1.0, 1.0, 1.0]
    assert gaps[0] == 2 * MIN_ROUND_TRIP
    assert schedule.due(now - 0.001) == []          # not yet due
    schedule.reset(now=100.0)
    assert schedule.due(100.0) == [7]                 # a beacon anomaly: at once
    schedule.found(7)
    assert schedule.next_due() is None and len(schedule) == 0


def steady(watch, server, first_id, start, count, period=15.0):
    """``count`` beacons of a long-running server; the network changes they announced."""
    return [watch.beacon(server, first_id + i, start + i * period) for i in range(count)]


def test_beacons_of_running_servers_duplicated_or_skipping_mean_nothing():
    """libca's bhe::updatePeriod: a server's first beacon decides nothing, the same number
    twice (two routes) or a jump by 2-3 (an overrun queue) are thrown out."""
    watch = BeaconWatch(started=0.0)
    assert steady(watch, "A", 100, 3.0, 10) == [False] * 10   # heard 3 s after start
    # every beacon arriving twice: 100x the search traffic if each copy were an anomaly
    duplicated = [watch.beacon("B", 50 + i // 2, 1.0 + (i // 2) * 15.0 + (i % 2) * 0.001)
                  for i in range(20)]
    assert duplicated == [False] * 20
    assert watch.beacon("A", 112, 3.0 + 11 * 15.0) is False     # one lost: a jump of 2
    assert watch.beacon("A", 100, 3.0 + 12 * 15.0) is False     # just behind: discarded


def test_beacons_announce_a_server_that_starts_restarts_or_comes_back():
    watch = BeaconWatch(started=0.0)
    # a server starting 60 s after the client: beacons at 20 ms, 40 ms, ...
    assert watch.beacon("NEW", 0, 60.0) is False
    assert watch.beacon("NEW", 1, 60.02) is True
    steady(watch, "A", 0, 1.0, 10)
    # A restarts: its numbers start again at 0 (just behind 9: thrown out, as libca
    # does) and come fast, well under 80 % of the period
    assert watch.beacon("A", 0, 1.0 + 9 * 15.0 + 2.0) is False
    assert watch.beacon("A", 1, 1.0 + 9 * 15.0 + 2.02) is True
    steady(watch, "C", 0, 1.0, 10)
    # C's beacons stop for a minute (a network segment down) and come back
    assert watch.beacon("C", 10, 1.0 + 9 * 15.0 + 60.0) is True


def test_a_retry_after_a_failed_connect_keeps_its_backoff():
    schedule = SearchSchedule(max_period=300.0)
    schedule.add(1, now=10.0, tries=3)
    assert schedule.due(10.0) == [] and schedule.next_due() == pytest.approx(10.0 + 0.256)


def test_search_datagrams_hold_many_names_each_within_1024_bytes():
    names = [(f"A:LONGISH:PV:NAME:{i:04d}".encode(), i) for i in range(200)]
    datagrams = list(pack_search_datagrams(names, itertools.count(5)))
    assert 1 < len(datagrams) < 20
    found = []
    for number, datagram in datagrams:
        assert len(datagram) <= MAX_DATAGRAM
        messages = parse_datagram(datagram, Role.SERVER)
        assert isinstance(messages[0], VersionRequest) and messages[0].sequence_id == number
        found += [(m.name, m.cid) for m in messages[1:] if isinstance(m, SearchRequest)]
    assert found == names
    assert [number for number, _ in datagrams] == list(range(5, 5 + len(datagrams)))


# -- environment ----------------------------------------------------------------------------


def test_environment_is_read_as_libca_reads_it():
    config = ClientConfig.from_env({
        "EPICS_CA_ADDR_LIST": "127.0.0.1 127.0.0.2:6000", "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_NAME_SERVERS": "127.0.0.3", "EPICS_CA_SERVER_PORT": "5070",
        "EPICS_CA_REPEATER_PORT": "5071", "EPICS_CA_MAX_ARRAY_BYTES": "100",
        "EPICS_CA_AUTO_ARRAY_BYTES": "NO",
        "EPICS_CA_CONN_TMO": "4.5", "EPICS_CA_MAX_SEARCH_PERIOD": "10"})
    assert config.addresses == (("127.0.0.1", 5070), ("127.0.0.2", 6000))
    assert config.name_servers == (("127.0.0.3", 5070),)
    assert (config.server_port, config.repeater_port) == (5070, 5071)
    assert config.max_array_bytes == 16384          # libca's floor
    assert config.connection_timeout == 4.5
    assert config.max_search_period == 60.0          # libca's floor
    # NO: the interface table is never consulted.
    assert config.search_destinations({"10.0.0.5": "10.0.0.255"}) == config.addresses
    # EPICS_CA_AUTO_ARRAY_BYTES=YES (libca's default since 3.16.1): MAX_ARRAY_BYTES ignored
    assert ClientConfig.from_env({"EPICS_CA_MAX_ARRAY_BYTES": "100"}).max_array_bytes \
        >= 1 << 31


#: a host name that cannot be resolved and fails before any DNS query is sent (a label of
#: more than 63 characters: no query may leave 127.0.0.0/8)
BAD_NAME = "x" * 64 + ".invalid"


def test_address_lists_take_host_names_and_skip_what_they_cannot_use(caplog):
    config = ClientConfig.from_env({
        "EPICS_CA_ADDR_LIST": f"localhost:6001 {BAD_NAME} 127.0.0.2:99999 127.0.0.3",
        "EPICS_CA_NAME_SERVERS": "localhost", "EPICS_CA_AUTO_ADDR_LIST": "NO"})
    assert config.addresses == (("127.0.0.1", 6001), ("127.0.0.3", 5064))
    assert config.name_servers == (("127.0.0.1", 5064),)
    skipped = [r.getMessage() for r in caplog.records if "bad internet address" in
               r.getMessage()]
    assert len(skipped) == 2 and BAD_NAME in skipped[0]


def test_automatic_address_list_is_the_interfaces_broadcast_addresses():
    # Computed from a given table only: this test sends nothing anywhere.
    config = ClientConfig.from_env({"EPICS_CA_ADDR_LIST": "127.0.0.1",
                                    "EPICS_CA_AUTO_ADDR_LIST": "YES"})
    table = {"127.0.0.1": None, "10.0.0.5": "10.0.0.255", "192.168.1.2": "192.168.1.255"}
    assert config.search_destinations(table) == (
        ("127.0.0.1", 5064), ("10.0.0.255", 5064), ("192.168.1.255", 5064))
    assert ClientConfig.from_env({}).auto_addresses is True


@pytest.mark.parametrize("variable, value", [
    ("EPICS_CA_AUTO_ARRAY_BYTES", "maybe"), ("EPICS_CA_AUTO_ADDR_LIST", "maybe"),
    ("EPICS_CA_SERVER_PORT", "70000"), ("EPICS_CA_CONN_TMO", "-1"),
    ("EPICS_CA_MAX_ARRAY_BYTES", "lots")])
def test_a_bad_variable_is_named(variable, value):
    with pytest.raises(ConfigError, match=variable):
        ClientConfig.from_env({variable: value})


# -- PVs of this process ----------------------------------------------------------------------


class Refusing(ChannelDouble):
    async def verify_value(self, value):
        raise CaStatusError(ECA_PUTFAIL, "refused")


async def test_local_pvs_are_read_in_place_without_any_socket():
    database = PVDatabase({"LOC:A": ChannelDouble(value=1.0, units="V"),
                           "LOC:RO": ChannelDouble(value=0.0, read_only=True),
                           "LOC:NO": Refusing(value=0.0)})
    async with Context(config_for(free_port()), local=LocalPVs(database)) as context:
        channel = context.channel("LOC:A")
        assert channel.connected and channel.server == "local"   # at once, no search
        assert (await channel.get("ctrl")).units == "V"
        updates = []
        channel.subscribe(mask=DBE_VALUE).add_callback(lambda r: updates.append(r.value))
        await asyncio.sleep(0)
        await channel.put(2.5, wait=True)
        await channel.put(3.5)                        # without completion: in the background
        await asyncio.sleep(0.05)
        assert updates == [1.0, 2.5, 3.5]
        with pytest.raises(RequestFailed) as refused:
            await context.channel("LOC:RO").put(1.0, wait=True)
        assert refused.value.status == ECA_NOWTACCESS
        with pytest.raises(RequestFailed) as refused:
            await context.channel("LOC:NO").put(1.0, wait=True)
        assert refused.value.status == ECA_PUTFAIL
        assert context._udp is None, "a local-only context opened a search socket"
        # Removed (an unmount): disconnected (searched for on the network meanwhile);
        # served again: reconnected, subscription too.
        states = []
        channel.add_connection_callback(lambda ch, up: states.append(up))
        database.remove_many(["LOC:A"])
        await asyncio.sleep(0.05)
        assert states == [False] and not channel.connected
        database["LOC:A"] = ChannelDouble(value=9.0)
        await asyncio.sleep(0.05)
        assert states == [False, True] and updates[-1] == 9.0


# -- name servers, beacons, array limits --------------------------------------------------------


async def test_name_server_search_over_tcp(ca_server, unique_prefix):
    name = unique_prefix + "NS"
    ca_server.add({name: ChannelDouble(value=4.0)})
    config = ClientConfig(addresses=(), auto_addresses=False,
                          name_servers=(("127.0.0.1", ca_server.server.tcp_port),))
    try:
        async with Context(config) as context:
            channel = await context.connect(name, timeout=5)
            assert (await channel.get()).value == 4.0
    finally:
        ca_server.remove([name])


async def test_beacon_anomaly_restarts_the_search_backoff(context_for):
    port = free_port()
    with ServerThread({}, port=port) as server:
        context = context_for(port)
        async with context:
            channel = context.channel("LATE:PV")
            await asyncio.sleep(2.5)   # unanswered: the next search is ~2 s away now
            server.add({"LATE:PV": ChannelDouble(value=1.0)})
            # What the repeater forwards when a server starts: its first two beacons, 20 ms
            # apart (the first alone decides nothing, as in libca)
            client_port = context._udp.get_extra_info("sockname")[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(packers.beacon(port, 0), ("127.0.0.1", client_port))
                await asyncio.sleep(0.02)
                sock.sendto(packers.beacon(port, 1), ("127.0.0.1", client_port))
            await channel.wait_connected(0.7)


async def test_arrays_beyond_max_array_bytes_are_refused_before_asking(serve_pvs):
    names = serve_pvs({"BIG": ChannelDouble(value=np.zeros(10_000))})
    config = ClientConfig.from_env({**os.environ, "EPICS_CA_MAX_ARRAY_BYTES": "16384",
                                    "EPICS_CA_AUTO_ARRAY_BYTES": "NO"})
    async with Context(config) as context:
        channel = await context.connect(names["BIG"], timeout=5)
        with pytest.raises(RequestFailed) as too_large:
            await channel.get()
        assert too_large.value.status == ECA_TOLARGE
        assert "EPICS_CA_MAX_ARRAY_BYTES=16384" in str(too_large.value)
        assert (await channel.get(count=100)).count == 100


async def test_a_put_without_wait_reaches_the_server_when_the_context_closes(serve_pvs):
    """libca flushes before a context goes: a 16 MB put sent without waiting, then the
    context closed at once, still arrives whole."""
    names = serve_pvs({"BIG": ChannelDouble(value=np.zeros(2_000_000))})
    values = np.arange(2_000_000, dtype=np.float64) + 0.5
    async with Context() as context:
        channel = await context.connect(names["BIG"], timeout=5)
        await channel.put(values)
    async with Context() as context:
        channel = await context.connect(names["BIG"], timeout=5)
        reading = await channel.get(timeout=10)
    assert reading.count == 2_000_000 and reading.data[-1] == values[-1]


async def test_text_the_encoding_cannot_hold_is_refused_and_bytes_go_as_they_are(serve_pvs):
    """A str put is latin-1 (the library's TEXT_ENCODING): other characters are a
    RequestFailed (ECA_BADSTR) saying what to do, not an encoder's traceback; bytes to a
    CHAR array are sent as they are (no NUL added: a str gets one, as caput -S)."""
    names = serve_pvs({"TEXT": ChannelString(value="a"),
                       "RAW": ChannelByte(value=b"\0" * 8, max_length=8)})
    async with Context() as context:
        text = await context.connect(names["TEXT"], timeout=5)
        with pytest.raises(RequestFailed) as refused:
            await text.put("\u03a9", wait=True, timeout=5)
        assert refused.value.status == ECA_BADSTR and "encode" in str(refused.value)
        await text.put("\u03a9".encode(), wait=True, timeout=5)
        assert (await text.get()).data == [b"\xce\xa9"]
        raw = await context.connect(names["RAW"], timeout=5)
        await raw.put(b"\x01\x02\x03", wait=True, timeout=5)
        assert (await raw.get()).data.tolist() == [1, 2, 3]


async def test_a_put_that_waits_without_a_timeout_waits_for_completion(serve_pvs):
    """``put(wait=True, timeout=None)`` asks for completion and waits as long as it takes
    (it sent a plain WRITE and returned at once, losing the server's refusal)."""
    class Refusing(ChannelDouble):
        async def verify_value(self, value):
            raise ValueError("refused")

    names = serve_pvs({"NO": Refusing(value=0.0)})
    async with Context() as context:
        channel = await context.connect(names["NO"], timeout=5)
        with pytest.raises(RequestFailed) as refused:
            await channel.put(1.0, wait=True, timeout=None)
        assert refused.value.status == ECA_PUTFAIL


async def test_an_error_callback_that_raises_leaves_the_circuit_alone(serve_pvs):
    """A subscription refused (here: more elements than the PV has) calls its error
    callbacks; one that raises is logged, and the circuit and its channels stay up (the
    exception escaped into the protocol and every channel reconnected, over and over)."""
    names = serve_pvs({"ONE": ChannelDouble(value=1.0), "OTHER": ChannelDouble(value=2.0)})
    calls: list[Exception] = []

    def broken(error: Exception) -> None:
        calls.append(error)
        raise RuntimeError("a user's bug")

    async with Context() as context:
        other = await context.connect(names["OTHER"], timeout=5)
        drops: list[object] = []
        other.add_connection_callback(lambda channel, up: drops.append(up))
        one = context.channel(names["ONE"])
        one.subscribe(count=5).add_error_callback(broken)
        await one.wait_connected(5)
        await asyncio.sleep(0.5)
        assert len(calls) == 1 and drops == []
        assert (await other.get()).value == 2.0 and one.connected


async def until(predicate, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_access_callbacks_follow_the_rights_the_server_sends(ca_server, serve_pvs,
                                                                    caplog):
    """As libca's ca_replace_access_rights_event: the rights before the connection
    callback, each change the server sends (here: its rights re-evaluated, as after an
    access rules reload), NONE after the disconnect callback; a raising callback is logged
    and the others, and the circuit, carry on."""
    from iochost.ca.dbr import AccessRights

    granted = [AccessRights.READ_WRITE]
    pv = ChannelDouble(value=1.0, access_check=lambda host, user: granted[0])
    names = serve_pvs({"RIGHTS": pv, "OTHER": ChannelDouble(value=2.0)})

    def grant(rights):
        granted[0] = rights
        return ca_server.call(lambda: ca_server.server.refresh_access(
            lambda data: data is pv))

    events: list[tuple] = []
    broken: list[AccessRights] = []

    def raising(channel, rights):
        broken.append(rights)
        raise RuntimeError("a user's bug")

    async with Context() as context:
        other = await context.connect(names["OTHER"], timeout=5)
        channel = context.channel(names["RIGHTS"])
        channel.add_access_callback(lambda ch, rights: events.append(("access", rights)))
        channel.add_connection_callback(lambda ch, up: events.append(("connected", up)))
        await channel.wait_connected(5)
        assert events == [("access", AccessRights.READ_WRITE), ("connected", True)]
        channel.add_access_callback(raising)          # connected: called at once
        assert broken == [AccessRights.READ_WRITE]
        # a live change: ACCESS_RIGHTS from the server
        assert grant(AccessRights.READ) == 1
        await until(lambda: len(events) == 3)
        assert events[2] == ("access", AccessRights.READ)
        assert channel.access == AccessRights.READ and broken[-1] == AccessRights.READ
        assert "access callback" in caplog.text and "a user's bug" in caplog.text
        with pytest.raises(RequestFailed) as refused:
            await channel.put(5.0, wait=True)
        assert refused.value.status == ECA_NOWTACCESS
        channel.set_access(AccessRights.READ)         # the same rights again: no call
        assert len(events) == 3
        grant(AccessRights.READ_WRITE)
        await until(lambda: len(events) == 4)
        assert events[3] == ("access", AccessRights.READ_WRITE)
        await channel.put(5.0, wait=True)
        assert pv.value == 5.0
        assert other.connected and (await other.get()).value == 2.0   # the circuit is fine
        # the PV goes: the disconnect, then no rights; it comes back with its rights
        ca_server.remove([names["RIGHTS"]])
        await until(lambda: len(events) == 6)
        assert events[4:] == [("connected", False), ("access", AccessRights.NONE)]
        assert channel.access == AccessRights.NONE
        granted[0] = AccessRights.READ
        ca_server.add({names["RIGHTS"]: pv})
        await until(lambda: len(events) == 8)
        assert events[6:] == [("access", AccessRights.READ), ("connected", True)]
        channel.remove_access_callback(raising)
        grant(AccessRights.NONE)
        await until(lambda: len(events) == 9)
        assert events[8] == ("access", AccessRights.NONE)
        assert broken[-1] == AccessRights.READ        # removed: not called any more


async def answer_searches(port, serves=lambda name: True):
    """A fake server's search socket on 127.0.0.1:``port``: it answers the searches for
    the names ``serves`` accepts, pointing at that port (what listens there is the test's).
    Returns the transport (close it)."""

    class Answer(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            for message in parse_datagram(data, Role.SERVER):
                if isinstance(message, SearchRequest) and serves(message.name):
                    self.transport.sendto(packers.search_version_reply(None) +
                                          packers.search_reply(port, message.cid), addr)

    udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        Answer, local_addr=("127.0.0.1", port))
    return udp


async def test_closing_a_context_wakes_its_waiters_and_ends_connects_under_way(context_for):
    """A server answers the search, but its TCP port never accepts (a full backlog): the
    channel waits in its TCP connect. Closing the context ends that connect (it came
    alive later and greeted the server) and wakes ``wait_connected`` with Disconnected
    (it waited out its timeout, or for ever)."""
    from iochost.client import Disconnected

    port = free_port()
    listener = socket.socket()
    listener.bind(("127.0.0.1", port))
    listener.listen(0)
    fillers = []
    for _ in range(3):       # fill the accept queue: the client's SYNs go unanswered
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    udp = await answer_searches(port)
    try:
        context = context_for(port)
        channel = context.channel("SLOW:PV")
        waiting = asyncio.ensure_future(channel.wait_connected(None))
        await asyncio.sleep(1.0)
        assert channel.state.value == "creating"
        await context.close()
        with pytest.raises(Disconnected):
            await asyncio.wait_for(waiting, 2)
        listener.settimeout(0.5)
        accepted = []
        with contextlib.suppress(TimeoutError):
            while True:
                accepted.append(listener.accept()[0])
        for sock in accepted:      # nothing greets the server from the closed context
            sock.settimeout(0.3)
            with contextlib.suppress(TimeoutError):
                assert sock.recv(64) == b""
            sock.close()
    finally:
        udp.close()
        listener.close()
        for filler in fillers:
            filler.close()


async def test_a_repeater_started_after_the_context_is_registered_with(monkeypatch):
    """As libca: the context keeps asking for a repeater until one confirms (a host started
    at boot before its repeater gets beacons once it runs), not only for its first tries."""
    from iochost.ca.commands import RepeaterConfirmResponse
    from iochost.client import context as client_context

    monkeypatch.setattr(client_context, "REPEATER_RETRY", 0.01)
    port, repeater_port = free_port(), free_port()
    config = dataclasses.replace(config_for(port), repeater_port=repeater_port)
    async with Context(config) as context:
        context.channel("NOT:SERVED:ANYWHERE")       # (the context's UDP socket opens)
        await asyncio.sleep(client_context.REPEATER_TRIES * 0.01 + 0.2)   # past its tries
        repeater = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            repeater.bind(("127.0.0.1", repeater_port))
            repeater.setblocking(False)
            request, client = await asyncio.wait_for(        # still asking
                asyncio.get_running_loop().sock_recvfrom(repeater, 1024), 5)
            assert int.from_bytes(request[:2], "big") == 24    # REPEATER_REGISTER
            repeater.sendto(RepeaterConfirmResponse(  # type: ignore[call-arg]
                repeater_address="127.0.0.1").to_bytes(), client)
            await asyncio.sleep(0.2)
            while True:                                  # ...and stops once confirmed
                try:
                    repeater.recvfrom(1024, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
            await asyncio.sleep(0.2)
            with pytest.raises(BlockingIOError):
                repeater.recvfrom(1024, socket.MSG_DONTWAIT)
        finally:
            repeater.close()


async def test_a_channel_found_but_not_created_says_so_not_not_found(context_for):
    """A server answers the search, then refuses the channel (CREATE_CH_FAIL), or its
    TCP port refuses the connection: the timeout says which, not "no server answered"."""
    from iochost.client import ChannelNotFound

    port = free_port()

    async def refuse(reader, writer):   # a circuit that refuses every channel
        writer.write(packers.version_reply())
        with contextlib.suppress(asyncio.IncompleteReadError):
            while True:
                header = await reader.readexactly(16)
                command, size = int.from_bytes(header[:2], "big"), \
                    int.from_bytes(header[2:4], "big")
                await reader.readexactly(size)
                if command == 18:   # CREATE_CHAN: its CID is parameter 1
                    writer.write(packers.create_ch_fail_reply(
                        int.from_bytes(header[8:12], "big")))
        writer.close()

    udp = await answer_searches(port, lambda name: name != b"NOT:SERVED")
    tcp = await asyncio.start_server(refuse, "127.0.0.1", port)
    try:
        async with context_for(port) as context:
            with pytest.raises(ChannelNotFound) as refused:
                await context.connect("REFUSED:PV", timeout=1.0)
            assert str(refused.value).startswith(
                f"REFUSED:PV: not connected within 1 s: found, but server 127.0.0.1:{port}: "
                f"the server refused CREATE_CHAN (")
            with pytest.raises(ChannelNotFound) as missing:
                await context.connect("NOT:SERVED", timeout=0.5)
            assert str(missing.value) == \
                "NOT:SERVED: not found (no server answered within 0.5 s)"
        tcp.close()
        await tcp.wait_closed()
        async with context_for(port) as context:
            with pytest.raises(ChannelNotFound) as unreachable:
                await context.connect("NOBODY:HOME", timeout=1.0)
        assert f"found, but cannot connect to server 127.0.0.1:{port}" in str(
            unreachable.value)
    finally:
        udp.close()

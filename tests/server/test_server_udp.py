"""UDP: search replies (byte-exact), silence for unknown names, ignore list, live additions,
beacons."""
import itertools
import asyncio
import select
import socket
import struct
import time

import pytest
from ca_raw_client import LOOPBACK, MINOR_VERSION, collect_datagrams, udp_search

from iochost.ca import commands as ca
from iochost.ca.parser import parse_datagram
from iochost.pv.data import ChannelDouble
from iochost.server import PVDatabase, Server, ServerConfig


def test_search_reply_echoes_sequence_then_answers_each_served_name(ca_server, serve_pvs):
    names = serve_pvs({"A": ChannelDouble(value=1.0), "B": ChannelDouble(value=2.0)})
    datagrams = udp_search(ca_server.udp_port, [names["A"], "NOT:SERVED:AT:ALL", names["B"]],
                           sequence=4242)
    assert len(datagrams) == 1  # one request datagram, one reply datagram
    version, *replies = datagrams[0]
    assert version == ca.VersionResponse(version=MINOR_VERSION, sequence_id=4242)
    assert replies == [
        ca.SearchResponse(port=ca_server.tcp_port, cid=1, version=MINOR_VERSION),
        ca.SearchResponse(port=ca_server.tcp_port, cid=3, version=MINOR_VERSION),
    ]


def test_replies_that_do_not_fit_one_datagram_go_in_several_each_led_by_version(
        ca_server, serve_pvs):
    # 60 replies of 24 bytes and the VERSION fill 1,456 of the 1,472 bytes an Ethernet
    # frame's UDP payload holds; the 61st starts the next datagram, with its own VERSION
    names = serve_pvs({f"N{i}": ChannelDouble(value=0.0) for i in range(130)})
    wanted = [names[f"N{i}"] if i % 13 else "NOT:SERVED" for i in range(130)]
    datagrams = udp_search(ca_server.udp_port, wanted, sequence=99, expect=2)
    assert [len(d) for d in datagrams] == [61, 61]  # 120 served: 60 and 60
    for version, *_ in datagrams:
        assert version == ca.VersionResponse(version=MINOR_VERSION, sequence_id=99)
    cids = [reply.cid for _, *replies in datagrams for reply in replies]
    assert cids == [i + 1 for i in range(130) if i % 13]
    assert all(reply.port == ca_server.tcp_port for _, *replies in datagrams
               for reply in replies)


def test_unknown_names_get_no_reply_even_with_do_reply(ca_server, serve_pvs):
    # As RSRV: NOT_FOUND only over TCP; over UDP it would flood a network with one answer
    # from every server to every broadcast search (test_server_rsrv_oracle checks RSRV).
    assert udp_search(ca_server.udp_port, ["NOBODY:HAS:THIS"], timeout=0.3, expect=None) == []
    assert udp_search(ca_server.udp_port, ["NOBODY:HAS:THIS"], reply=True, timeout=0.3,
                      expect=None) == []
    names = serve_pvs({"A": ChannelDouble(value=1.0)})
    [datagram] = udp_search(ca_server.udp_port, ["NOBODY:HAS:THIS", names["A"]], reply=True,
                            first_cid=9)
    assert datagram[1:] == [ca.SearchResponse(port=ca_server.tcp_port, cid=10,
                                              version=MINOR_VERSION)]


def test_added_pv_is_searchable_at_once_and_removed_is_not(ca_server, unique_prefix):
    name = unique_prefix + "LIVE"
    assert udp_search(ca_server.udp_port, [name], timeout=0.2, expect=None) == []
    ca_server.add({name: ChannelDouble(value=0.0)})
    assert len(udp_search(ca_server.udp_port, [name])[0]) == 2
    ca_server.remove([name])
    assert udp_search(ca_server.udp_port, [name], timeout=0.2, expect=None) == []


def test_garbage_datagrams_are_ignored_and_searches_still_answered(ca_server, serve_pvs):
    names = serve_pvs({"A": ChannelDouble(value=1.0)})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for junk in (b"", b"\x00", b"\xff" * 15, b"\x00\x06\xff\xff" + b"\x00" * 20,
                     bytes(range(256)) * 4):
            sock.sendto(junk, (LOOPBACK, ca_server.udp_port))
    assert len(udp_search(ca_server.udp_port, [names["A"]])[0]) == 2


def test_large_batch_is_answered_in_few_datagrams(ca_server, serve_pvs):
    names = serve_pvs({f"P{i}": ChannelDouble(value=float(i)) for i in range(40)})
    datagrams = udp_search(ca_server.udp_port, list(names.values()), timeout=0.5)
    replies = [m for datagram in datagrams for m in datagram
               if isinstance(m, ca.SearchResponse)]
    assert sorted(r.cid for r in replies) == list(range(1, 41))
    assert len(datagrams) <= 2


async def _serve_briefly(config, body, database=None):
    server = Server(database or PVDatabase({"IGN:PV": ChannelDouble(value=1.0)}), config)
    await server.start()
    try:
        return await body(server)
    finally:
        await server.stop()


def test_ignored_clients_get_nothing():
    config = ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False,
                          ignore_addresses=("127.0.0.1",))

    async def body(server):
        return await asyncio.to_thread(udp_search, server.udp_port, ["IGN:PV"], timeout=0.3,
                                       expect=None)

    assert asyncio.run(_serve_briefly(config, body)) == []


LOOPBACK_BROADCAST = "127.255.255.255"  # lo's broadcast route: stays on this machine


def _broadcast_search(port: int) -> list[tuple[tuple[str, int], list]]:
    """(sender, messages) of each reply to a search for IGN:PV broadcast to ``port``."""
    request = (ca.VersionRequest.for_search(3).to_bytes()
               + ca.SearchRequest(name=b"IGN:PV", cid=5, version=MINOR_VERSION).to_bytes())
    replies = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((LOOPBACK, 0))
        sock.sendto(request, (LOOPBACK_BROADCAST, port))
        while select.select([sock], [], [], 0.5)[0]:
            data, sender = sock.recvfrom(65536)
            replies.append((sender, parse_datagram(data, ca.Role.CLIENT)))
    return replies


@pytest.mark.parametrize("broadcast", [None, LOOPBACK_BROADCAST])
def test_a_server_bound_to_one_address_hears_its_broadcast_address_too(monkeypatch,
                                                                       broadcast):
    # As RSRV: a socket bound to a unicast address receives no broadcasts, so the server
    # binds the interface's broadcast address too and answers from the interface's own.
    # lo has none (psutil says None): the interface table is given one on 127.0.0.0/8.
    from iochost.server import settings

    monkeypatch.setattr(settings, "local_broadcast_addresses",
                        lambda: {LOOPBACK: broadcast})
    config = ServerConfig(interfaces=(LOOPBACK,), port=0, auto_beacon=False)
    assert config.search_broadcast_addresses() == ({broadcast: LOOPBACK} if broadcast else {})

    async def body(server):
        replies = await asyncio.to_thread(_broadcast_search, server.udp_port)
        return server.udp_port, server.tcp_port, replies

    udp_port, tcp_port, replies = asyncio.run(_serve_briefly(config, body))
    if broadcast is None:
        assert replies == []  # the unicast socket alone does not hear it
    else:
        [(sender, messages)] = replies
        assert sender == (LOOPBACK, udp_port)
        assert messages[1] == ca.SearchResponse(port=tcp_port, cid=5, version=MINOR_VERSION)


def test_broadcast_addresses_of_named_interfaces_only():
    table = {"10.1.2.3": "10.1.2.255", "10.9.0.1": None, "127.0.0.1": None}
    config = ServerConfig(interfaces=("10.1.2.3", "10.9.0.1", "127.0.0.1"), port=0,
                          auto_beacon=False)
    assert config.search_broadcast_addresses(table) == {"10.1.2.255": "10.1.2.3"}
    assert ServerConfig(interfaces=("0.0.0.0",)).search_broadcast_addresses(table) == {}


SO_TIMESTAMPNS = 35  # Linux: the kernel stamps each datagram's arrival (struct timespec)


def _beacon_arrivals(listener, seconds, action=None, port=None):
    """(arrival time, beacon) for each beacon arriving within ``seconds`` (of the server on
    TCP ``port``, when given: a server of an earlier test may beacon to the port this
    listener was given again); ``action`` is called (in the test thread) once, after the
    first beacon.  Arrival times are the kernel's, so a busy test thread cannot make two
    beacons look closer than they were."""
    listener.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    arrivals = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        if select.select([listener], [], [], remaining)[0]:
            data, ancillary, _, _ = listener.recvmsg(1024, 64)
            stamps = [struct.unpack("qq", payload[:16]) for level, kind, payload in ancillary
                      if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS)]
            secs, nsecs = stamps[0]
            beacon, = parse_datagram(data, ca.Role.CLIENT)
            if port is not None and beacon.server_port != port:
                continue
            arrivals.append((secs + nsecs * 1e-9, beacon))
            if action is not None and len(arrivals) == 1:
                action()
    return arrivals


def _beacon_config(listener, period):
    return ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False,
                        beacon_addresses=((LOOPBACK, listener.getsockname()[1]),),
                        beacon_period=period)


def test_beacons_double_their_interval_and_count_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind((LOOPBACK, 0))

        async def body(server):
            return server.tcp_port, await asyncio.to_thread(_beacon_arrivals, listener, 0.6,
                                                            None, server.tcp_port)

        tcp_port, arrivals = asyncio.run(_serve_briefly(_beacon_config(listener, 0.1), body))
    beacons = [beacon for _, beacon in arrivals]
    assert all(isinstance(b, ca.RsrvIsUpResponse) for b in beacons)
    assert [b.beacon_id for b in beacons] == list(range(len(beacons)))
    assert {(b.server_port, b.version) for b in beacons} == {(tcp_port, MINOR_VERSION)}
    # The waits are 0.02, 0.04, 0.08, then 0.1 (the period): a loaded machine can only
    # stretch them, so they are lower bounds, and at most 8 fit in 0.6 s.
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
    assert 3 <= len(beacons) <= 8
    for gap, minimum in zip(gaps, [0.02, 0.04, 0.08] + [0.1] * 10):
        assert gap >= minimum - 0.005


def test_adding_pvs_restarts_the_beacon_ramp():
    """A sudden short beacon interval makes libca search again for channels it gave up on."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind((LOOPBACK, 0))

        async def body(server):
            loop = asyncio.get_running_loop()
            await asyncio.sleep(0.5)  # the ramp reaches the 1 s period
            listener.setblocking(False)
            while True:  # drop the ramp-up beacons
                try:
                    listener.recv(1024)
                except BlockingIOError:
                    break
            listener.setblocking(True)

            def add():
                loop.call_soon_threadsafe(server.database.update,
                                          {"NEW:PV": ChannelDouble(value=0.0)})

            return await asyncio.to_thread(_beacon_arrivals, listener, 1.5, add,
                                           server.tcp_port)

        arrivals = asyncio.run(_serve_briefly(_beacon_config(listener, 1.0), body))
    # first: the regular beacon after the 1 s wait; then, at once, the restarted ramp
    assert len(arrivals) >= 4
    assert arrivals[1][0] - arrivals[0][0] < 0.5
    assert [b.beacon_id for _, b in arrivals] == list(range(arrivals[0][1].beacon_id,
                                                            arrivals[0][1].beacon_id +
                                                            len(arrivals)))


@pytest.mark.parametrize("count", [10_000])
def test_ten_thousand_pvs_are_all_found(count):
    """Every one of 10,000 names answered (libca-sized datagrams of ~40 searches)."""
    db = PVDatabase({f"MANY:{i}": ChannelDouble(value=0.0) for i in range(count)})
    config = ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False)

    async def body(server):
        def search_all():
            found = set()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
                sock.bind((LOOPBACK, 0))
                head = ca.VersionRequest.for_search(1).to_bytes()
                for start in range(0, count, 40):
                    body = b"".join(
                        ca.SearchRequest(name=f"MANY:{i}".encode(), cid=i).to_bytes()
                        for i in range(start, min(start + 40, count)))
                    sock.sendto(head + body, (LOOPBACK, server.udp_port))
                    if start % 2000 == 0:  # let replies drain
                        for datagram in collect_datagrams(sock, 0.001):
                            found.update(m.cid for m in datagram
                                         if isinstance(m, ca.SearchResponse))
                for datagram in collect_datagrams(sock, 0.5):
                    found.update(m.cid for m in datagram if isinstance(m, ca.SearchResponse))
            return found

        return await asyncio.to_thread(search_all)

    found = asyncio.run(_serve_briefly(config, body, db))
    assert found == set(range(count))


def test_stop_right_after_pvs_were_added_returns_at_once():
    # adding PVs restarts the beacon ramp; a stop in the same loop pass used to hang for
    # ever (3.11's wait_for swallowed the cancel when the restart woke it at that moment)
    config = ServerConfig(interfaces=(LOOPBACK,), port=0, auto_beacon=False,
                          beacon_addresses=((LOOPBACK, 9),))

    async def body(server):
        server.database["IGN:NEW"] = ChannelDouble(value=2.0)
        started = time.monotonic()
        await asyncio.wait_for(server.stop(), 5.0)
        return time.monotonic() - started

    assert asyncio.run(_serve_briefly(config, body)) < 1.0

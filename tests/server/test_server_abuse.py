"""Misbehaving clients lose their own circuit, never anyone else's service or our memory.

Each test keeps a healthy client next to the abusive one and checks it still reads correct
values; memory is measured as the process RSS (server and clients share the process, so the
bounds are generous, but far below what an unbounded buffer would reach).
"""
import gc
import logging
import socket
import struct
import threading
import time

import numpy as np
import psutil
import pytest
from ca_raw_client import LOOPBACK, MINOR_VERSION, RawCircuit

from iochost.ca import commands as ca
from iochost.ca import eca
from iochost.ca.dbr import ChannelType, decode_dbr
from iochost.ca.header import HEADER_STRUCT
from iochost.ca.parser import StreamParser
from iochost.pv.data import ChannelDouble
from iochost.testing import wait_until

DOUBLE = ChannelType.DOUBLE
MB = 1 << 20


def rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss




@pytest.fixture
def healthy(ca_server, serve_pvs):
    """A well-behaved client with a channel on ``GOOD`` (value 42.0)."""
    names = serve_pvs({"GOOD": ChannelDouble(value=42.0)})
    with RawCircuit(ca_server.tcp_port) as raw:
        raw.sid = raw.create_channel(names["GOOD"])[1].sid
        raw.name = names["GOOD"]
        yield raw


def assert_served(raw, expected=42.0):
    reply = raw.read(raw.sid, DOUBLE, 1)
    assert reply.status == eca.ECA_NORMAL
    assert decode_dbr(DOUBLE, reply.payload, 1)[0][0] == expected


def server_closes(sock, timeout=5.0) -> bool:
    """True when the server closes ``sock`` (EOF or reset) within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def connect_raw(port):
    sock = socket.create_connection((LOOPBACK, port), timeout=5)
    sock.sendall(ca.VersionRequest(priority=0, version=MINOR_VERSION).to_bytes())
    return sock


@pytest.mark.parametrize("garbage", [
    pytest.param(bytes(range(256)) * 8, id="random-bytes"),
    pytest.param(HEADER_STRUCT.pack(1, 0xFFFF, 6, 0, 1, 1) + struct.pack(">II", 2**31, 1),
                 id="absurd-size"),
    pytest.param(HEADER_STRUCT.pack(200, 0, 0, 0, 0, 0), id="unknown-command"),
    pytest.param(HEADER_STRUCT.pack(22, 0, 0, 0, 1, 3), id="server-only-command"),
    pytest.param(HEADER_STRUCT.pack(1, 8, 6, 1, 1, 1) + bytes(8), id="short-event-add"),
])
def test_protocol_violation_costs_only_that_circuit(ca_server, healthy, caplog, garbage):
    before = ca_server.stats()
    caplog.set_level(logging.WARNING, logger="iochost.server")
    with connect_raw(ca_server.tcp_port) as sock:
        if garbage.startswith(HEADER_STRUCT.pack(1, 8, 6, 1, 1, 1)):  # needs a channel
            sock.sendall(ca.CreateChanRequest(name=healthy.name.encode(), cid=1,
                                              version=13).to_bytes())
        sock.sendall(garbage)
        assert server_closes(sock)
    records = [r for r in caplog.records if r.name == "iochost.server"]
    assert len(records) == 1 and "closing circuit" in records[0].getMessage()
    assert ca_server.stats()["circuits_aborted"] == before["circuits_aborted"] + 1
    assert_served(healthy)


@pytest.mark.parametrize("bad", [
    pytest.param(lambda sid: HEADER_STRUCT.pack(1, 8, 6, 1, sid, 7) + bytes(8),
                 id="short-event-add"),
    pytest.param(lambda sid: HEADER_STRUCT.pack(19, 0, 6, 1, sid, 7),
                 id="write-without-its-value"),
])
def test_requests_before_a_malformed_one_get_their_replies(ca_server, healthy, bad):
    """A malformed request closes the circuit, but only after the replies to the requests
    the client sent before it, in the same chunk (were dropped with the circuit)."""
    with RawCircuit(ca_server.tcp_port) as raw:
        sid = raw.create_channel(healthy.name)[1].sid
        raw.send_bytes(ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=sid,
                                            ioid=5).to_bytes() + bad(sid))
        reply = raw.recv_until(lambda m: isinstance(m, ca.ReadNotifyResponse))
        assert (reply.ioid, decode_dbr(DOUBLE, reply.payload, 1)[0][0]) == (5, 42.0)
        assert server_closes(raw.sock)
    assert_served(healthy)


def test_client_vanishing_mid_message_is_cleaned_up(ca_server, healthy):
    baseline = ca_server.stats()["clients"]
    for partial in (HEADER_STRUCT.pack(18, 16, 0, 0, 1, 13)[:7],
                    HEADER_STRUCT.pack(18, 16, 0, 0, 1, 13) + b"HALF"):
        sock = connect_raw(ca_server.tcp_port)
        sock.sendall(partial)
        sock.close()
    assert wait_until(lambda: ca_server.stats()["clients"] == baseline)
    assert_served(healthy)


def flood(ca_server, channel, count):
    """Publish ``count`` updates as fast as the server's loop can (no yielding between)."""
    async def publish():
        for _ in range(count):
            await channel.write(channel.value + 1.0)
    ca_server.call(publish(), timeout=60)


def stalled_subscriber(port, name, rcvbuf=4096):
    """A client that subscribes to ``name`` and then never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((LOOPBACK, port))
    sock.sendall(b"".join(m.to_bytes() for m in (
        ca.VersionRequest(priority=0, version=MINOR_VERSION),
        ca.CreateChanRequest(name=name.encode(), cid=1, version=MINOR_VERSION))))
    # The SID is the first one of a new circuit: 1.
    sock.sendall(ca.EventAddRequest(data_type=DOUBLE, data_count=0, sid=1, subscriptionid=7,
                                    low=0, high=0, to=0, mask=1).to_bytes())
    return sock


def test_stalled_subscriber_does_not_delay_others_or_grow_memory(ca_server, serve_pvs,
                                                                 healthy):
    array = np.zeros(10_000)  # 80 kB per update: 200 updates would be 16 MB if buffered
    names = serve_pvs({"FLOOD": ChannelDouble(value=array)})
    flooded = ca_server.database[names["FLOOD"]]
    sock = stalled_subscriber(ca_server.tcp_port, names["FLOOD"])
    try:
        assert wait_until(lambda: ca_server.stats()["subscriptions"] >= 1)
        start = rss()
        for _ in range(4):
            flood(ca_server, flooded, 200)
            started = time.monotonic()
            assert_served(healthy)
            assert time.monotonic() - started < 1.0
        growth = rss() - start
        assert growth < 40 * MB, f"RSS grew {growth / MB:.0f} MB"
        assert ca_server.stats()["events_coalesced"] > 0
        # When it reads again, the last update it gets is the newest value.
        sock.settimeout(0.5)
        parser, last = StreamParser(ca.Role.CLIENT), None
        try:
            while True:
                data = sock.recv(1 << 20)
                if not data:
                    break
                for header, payload in parser.feed_raw(data):
                    if header.command == 1 and header.payload_size:
                        last = payload
        except TimeoutError:
            pass
        assert decode_dbr(DOUBLE, last, 10_000)[0][0] == 800.0
    finally:
        sock.close()


def test_client_vanishing_with_a_backlog_is_cleaned_up(ca_server, serve_pvs, healthy):
    names = serve_pvs({"FLOOD2": ChannelDouble(value=np.zeros(10_000))})
    flooded = ca_server.database[names["FLOOD2"]]
    baseline = ca_server.stats()
    sock = stalled_subscriber(ca_server.tcp_port, names["FLOOD2"])
    assert wait_until(lambda: ca_server.stats()["subscriptions"] > baseline["subscriptions"])
    flood(ca_server, flooded, 200)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, with the server's buffers full
    flood(ca_server, flooded, 50)
    assert wait_until(lambda: ca_server.stats()["clients"] == baseline["clients"])
    assert ca_server.stats()["subscriptions"] == baseline["subscriptions"]
    assert_served(healthy)


def test_hundred_thousand_channels_on_one_circuit(ca_server, serve_pvs, healthy):
    """SIDs are 32-bit counters: no wrap (or hang) at 65,536."""
    count, batch = 100_000, 20_000
    names = serve_pvs({"MANY": ChannelDouble(value=7.0)})
    request = ca.CreateChanRequest(name=names["MANY"].encode(), cid=0, version=13).to_bytes()
    start_rss = rss()
    sock = connect_raw(ca_server.tcp_port)
    replies: dict[int, int] = {}
    parser = StreamParser(ca.Role.CLIENT)

    def receive():
        sock.settimeout(20)
        while len(replies) < count:
            data = sock.recv(1 << 20)
            assert data, "server closed the circuit"
            for header, _ in parser.feed_raw(data):
                if header.command == ca.Command.CREATE_CHAN:
                    replies[header.parameter1] = header.parameter2  # cid -> sid

    reader = threading.Thread(target=receive)
    reader.start()
    for first in range(0, count, batch):
        chunk = bytearray(request * batch)
        for i in range(batch):  # patch each request's CID (header bytes 8..12)
            struct.pack_into(">I", chunk, i * len(request) + 8, first + i)
        sock.sendall(chunk)
    reader.join(30)
    assert len(replies) == count
    sids = set(replies.values())
    assert len(sids) == count and max(sids) > 65_536
    assert ca_server.stats()["channels"] >= count
    # the channel behind the highest SID works
    sock.sendall(ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=max(sids),
                                      ioid=1).to_bytes())
    sock.settimeout(5)
    read = None
    while read is None:
        for header, payload in parser.feed_raw(sock.recv(65536)):
            if header.command == ca.Command.READ_NOTIFY:
                read = (header.parameter1, decode_dbr(DOUBLE, payload, 1)[0][0])
    assert read == (eca.ECA_NORMAL, 7.0)
    assert_served(healthy)
    growth = rss() - start_rss
    assert growth < 300 * MB, f"RSS grew {growth / MB:.0f} MB for {count} channels"
    sock.close()
    assert wait_until(lambda: ca_server.stats()["channels"] < count)


def test_thousand_connect_disconnect_cycles(ca_server, serve_pvs, healthy):
    names = serve_pvs({"CYCLE": ChannelDouble(value=1.25)})
    baseline = ca_server.stats()["clients"]
    handshake = b"".join(m.to_bytes() for m in (
        ca.VersionRequest(priority=0, version=MINOR_VERSION),
        ca.CreateChanRequest(name=names["CYCLE"].encode(), cid=1, version=MINOR_VERSION),
        ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=1, ioid=1)))
    start_rss = None
    for cycle in range(1000):
        if cycle == 100:  # after warm-up: allocator pools and caches are filled
            start_rss = rss()
        with socket.create_connection((LOOPBACK, ca_server.tcp_port), timeout=5) as sock:
            sock.sendall(handshake)
            parser, value = StreamParser(ca.Role.CLIENT), None
            while value is None:
                for header, payload in parser.feed_raw(sock.recv(4096)):
                    if header.command == ca.Command.READ_NOTIFY:
                        value = decode_dbr(DOUBLE, payload, 1)[0][0]
            assert value == 1.25
    assert wait_until(lambda: ca_server.stats()["clients"] == baseline)
    growth = rss() - start_rss
    assert growth < 10 * MB, f"RSS grew {growth / MB:.1f} MB over 900 cycles"
    assert_served(healthy)


def test_a_client_keeping_its_pipe_full_of_gets_still_hears_its_subscriptions(ca_server,
                                                                              serve_pvs):
    """A client that reads slower than its gets come back (so the server stops reading it
    while its replies wait) still gets its subscription updates in the stream, not only
    once it stops asking: behind what was queued before the update (here 56 replies; 70-84
    when the held-back gets were served before the waiting updates), never starved."""
    names = serve_pvs({"BIG": ChannelDouble(value=np.zeros(10_000)),
                       "TICK": ChannelDouble(value=0.0)})
    tick = ca_server.database[names["TICK"]]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((LOOPBACK, ca_server.tcp_port))
    sock.settimeout(10)
    parser = StreamParser(ca.Role.CLIENT)
    sock.sendall(b"".join(m.to_bytes() for m in (
        ca.VersionRequest(priority=0, version=MINOR_VERSION),
        ca.CreateChanRequest(name=names["BIG"].encode(), cid=1, version=MINOR_VERSION),
        ca.CreateChanRequest(name=names["TICK"].encode(), cid=2, version=MINOR_VERSION),
        ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=2, subscriptionid=7, low=0,
                           high=0, to=0, mask=1))))
    gets = b"".join(ca.ReadNotifyRequest(data_type=DOUBLE, data_count=10_000, sid=1,
                                         ioid=i).to_bytes() for i in range(50))

    async def tick_to(value):
        await tick.write(value)

    try:
        sock.sendall(gets * 4)   # 200 replies of 80 kB: far more than the pipe holds
        time.sleep(0.3)
        ca_server.call(tick_to(1.0))
        replies = heard_at = 0
        while heard_at == 0 and replies < 2_000:
            for header, payload in parser.feed_raw(sock.recv(1 << 16)):
                if header.command == ca.Command.READ_NOTIFY:
                    replies += 1
                    if replies % 50 == 0:
                        sock.sendall(gets)   # the pipe stays full of gets
                elif header.command == ca.Command.EVENT_ADD and \
                        decode_dbr(DOUBLE, payload, 1)[0][0] == 1.0:
                    heard_at = replies
        assert 0 < heard_at < 400, f"the update came after {heard_at} get replies"
    finally:
        sock.close()

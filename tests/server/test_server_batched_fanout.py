"""Monitor updates of widely watched PVs go through the server's batcher (iochost.server.batch):
each subscriber still gets every update, in post order, interleaved in order with the
circuit's other replies, and a congested circuit still coalesces."""
from __future__ import annotations

import socket
import struct
import time

import numpy as np
from iochost.ca import commands as ca
from iochost.ca import eca
from iochost.ca.dbr import ChannelType, decode_dbr
from iochost.ca.parser import StreamParser
from iochost.pv.data import ChannelDouble, ChannelString
from iochost.server.batch import BATCH_MIN_SUBSCRIBERS

from ca_raw_client import LOOPBACK, MINOR_VERSION, RawCircuit

DOUBLE = ChannelType.DOUBLE
STRING = ChannelType.STRING
SUBS = 20  # per circuit; three circuits make a group past BATCH_MIN_SUBSCRIBERS


def subscribe(circuit: RawCircuit, sid: int, ids, data_type=DOUBLE, count=1) -> None:
    circuit.send(*(ca.EventAddRequest(data_type=data_type, data_count=count, sid=sid,
                                      subscriptionid=i, low=0, high=0, to=0, mask=1)
                   for i in ids))
    firsts: set[int] = set()
    circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse)
                       and firsts.add(m.subscriptionid) is None and firsts >= set(ids))
    circuit.received.clear()


def post(ca_server, *writes) -> None:
    """Run ``(channel, value), ...`` writes in one event-loop iteration (no yield between)."""
    async def run():
        for channel, value in writes:
            await channel.write(value)
    ca_server.call(run(), timeout=30)


def arrived(circuit: RawCircuit, done, timeout: float = 10.0) -> list:
    """Read until ``done(messages)``; return (and consume) everything received."""
    deadline = time.monotonic() + timeout
    while not done(circuit.received):
        assert circuit._read_some(deadline), f"timed out with {len(circuit.received)} messages"
    messages, circuit.received = circuit.received, []
    return messages


def updates(circuit: RawCircuit, expected: int) -> list:
    """The next ``expected`` subscription updates (and nothing else arrives with them)."""
    got = arrived(circuit, lambda ms: len(ms) >= expected)
    assert all(isinstance(m, ca.EventAddResponse) for m in got) and len(got) == expected
    return got


def value(update, data_type=DOUBLE):
    return decode_dbr(data_type, update.payload, 1)[0][0]


def test_every_subscriber_of_a_widely_watched_pv_gets_every_post_in_order(ca_server,
                                                                          serve_pvs):
    assert 3 * SUBS >= BATCH_MIN_SUBSCRIBERS
    names = serve_pvs({"WIDE": ChannelDouble(value=0.0)})
    channel = ca_server.database[names["WIDE"]]
    circuits = [RawCircuit(ca_server.tcp_port) for _ in range(3)]
    try:
        for circuit in circuits:
            sid = circuit.create_channel(names["WIDE"])[1].sid
            subscribe(circuit, sid, range(1, SUBS + 1))
        before = ca_server.stats()
        post(ca_server, *((channel, float(v)) for v in range(1, 51)))
        for circuit in circuits:
            got = updates(circuit, 50 * SUBS)
            assert {(m.data_type, m.data_count, m.status, len(m.payload)) for m in got} \
                == {(DOUBLE, 1, eca.ECA_NORMAL, 8)}
            for i in range(1, SUBS + 1):
                assert [value(m) for m in got if m.subscriptionid == i] \
                    == [float(v) for v in range(1, 51)]
            assert not [m for m in circuit.recv_for(0.1) if isinstance(m, ca.EventAddResponse)]
        after = ca_server.stats()
        assert after["updates_sent"] - before["updates_sent"] == 3 * SUBS * 50
        assert after["updates_batched"] - before["updates_batched"] == 3 * SUBS * 50
    finally:
        for circuit in circuits:
            circuit.close()


def test_batched_updates_come_before_the_reply_that_follows_the_post(ca_server, serve_pvs):
    names = serve_pvs({"ORDER": ChannelDouble(value=0.0)})
    with RawCircuit(ca_server.tcp_port) as circuit:
        sid = circuit.create_channel(names["ORDER"])[1].sid
        subscribe(circuit, sid, range(1, BATCH_MIN_SUBSCRIBERS + 9))
        circuit.send(ca.WriteNotifyRequest(payload=struct.pack(">d", 5.0), data_type=DOUBLE,
                                           data_count=1, sid=sid, ioid=77),
                     ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=sid, ioid=78))
        got = arrived(circuit, lambda ms: any(isinstance(m, ca.ReadNotifyResponse) for m in ms))
        kinds = [(type(m).__name__, getattr(m, "ioid", None)) for m in got]
        n = BATCH_MIN_SUBSCRIBERS + 8
        assert kinds == [("EventAddResponse", None)] * n + [("WriteNotifyResponse", 77),
                                                            ("ReadNotifyResponse", 78)]
        assert {value(m) for m in got if isinstance(m, ca.EventAddResponse)} == {5.0}


def test_posts_of_other_pvs_and_sizes_keep_their_order_on_a_circuit(ca_server, serve_pvs):
    """While a wide post waits in the batcher, a narrow one (another PV, another payload
    size) waits with it: the circuit receives both in post order."""
    names = serve_pvs({"A": ChannelDouble(value=0.0), "B": ChannelString(value="")})
    a, b = ca_server.database[names["A"]], ca_server.database[names["B"]]
    with RawCircuit(ca_server.tcp_port) as circuit:
        sid_a = circuit.create_channel(names["A"])[1].sid
        sid_b = circuit.create_channel(names["B"])[1].sid
        subscribe(circuit, sid_a, range(1, BATCH_MIN_SUBSCRIBERS + 1))
        subscribe(circuit, sid_b, [1000], data_type=STRING)
        post(ca_server, *[w for v in range(1, 6) for w in ((a, float(v)), (b, f"s{v}"))])
        got = updates(circuit, 5 * (BATCH_MIN_SUBSCRIBERS + 1))
        seen = [("B", value(m, STRING)) if m.subscriptionid == 1000 else ("A", value(m))
                for m in got]
        expected = [u for v in range(1, 6)
                    for u in [("A", float(v))] * BATCH_MIN_SUBSCRIBERS + [("B", f"s{v}".encode())]]
        assert seen == expected


def wait_for(condition, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def stalled_circuit(ca_server, name: str, subscriptions: int) -> socket.socket:
    """A circuit with ``subscriptions`` to ``name`` that never reads (a tiny receive
    buffer), returned once the server holds them all."""
    before = ca_server.stats()["subscriptions"]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((LOOPBACK, ca_server.tcp_port))
    sock.sendall(b"".join(m.to_bytes() for m in [
        ca.VersionRequest(priority=0, version=MINOR_VERSION),
        ca.CreateChanRequest(name=name.encode(), cid=1, version=MINOR_VERSION)] + [
        ca.EventAddRequest(data_type=DOUBLE, data_count=0, sid=1, subscriptionid=i, low=0,
                           high=0, to=0, mask=1) for i in range(subscriptions)]))
    try:
        wait_for(lambda: ca_server.stats()["subscriptions"] >= before + subscriptions,
                 "the subscriptions did not arrive")
    except BaseException:
        sock.close()
        raise
    return sock


def test_a_congested_circuit_coalesces_batched_updates_and_ends_on_the_newest(ca_server,
                                                                              serve_pvs):
    names = serve_pvs({"JAM": ChannelDouble(value=np.zeros(100))})
    channel = ca_server.database[names["JAM"]]
    subs = BATCH_MIN_SUBSCRIBERS + 8
    baseline = ca_server.stats()
    sock = stalled_circuit(ca_server, names["JAM"], subs)
    with RawCircuit(ca_server.tcp_port) as healthy:
        try:
            # ~830 bytes x 40 subscribers per post: 200 posts x 5 would be 160 MB unread
            for round_ in range(5):
                post(ca_server, *((channel, np.full(100, float(200 * round_ + v)))
                                  for v in range(1, 201)))
                healthy.send(ca.EchoRequest())  # the server still answers others at once
                healthy.recv_until(lambda m: isinstance(m, ca.EchoResponse), timeout=2)
            assert ca_server.stats()["events_coalesced"] > baseline["events_coalesced"]
            assert ca_server.stats()["backlog"] <= baseline["backlog"] + subs
            newest = {i: 1000.0 for i in range(subs)}
            last = last_updates(sock, lambda last: values(last) == newest)
            assert values(last) == newest
        finally:
            sock.close()


def last_updates(sock: socket.socket, done=lambda last: False) -> dict[int, tuple[int, bytes]]:
    """Read a stalled circuit dry (until it is quiet for a second, closes, or ``done(last)``):
    each subscription's last update, as ``(status, payload)``."""
    sock.settimeout(1.0)
    parser, last = StreamParser(ca.Role.CLIENT), {}
    try:
        while not done(last):
            data = sock.recv(1 << 20)
            if not data:
                break
            for header, payload in parser.feed_raw(data):
                if header.command == ca.Command.EVENT_ADD:
                    last[header.parameter2] = (header.parameter1, bytes(payload))
    except TimeoutError:
        pass
    return last


def values(last: dict[int, tuple[int, bytes]]) -> dict[int, float]:
    """The first element of each 100-double update of ``last_updates``."""
    return {i: decode_dbr(DOUBLE, payload, 100)[0][0] for i, (_, payload) in last.items()}


def test_caproto_circuits_of_every_priority_each_see_every_post(ca_server, serve_pvs):
    """One caproto context, one circuit per CA priority: each is its own subscriber."""
    from caproto.threading.client import Context

    circuits = BATCH_MIN_SUBSCRIBERS + 2
    names = serve_pvs({"MANY": ChannelDouble(value=0.0)})
    channel = ca_server.database[names["MANY"]]
    received: list[list[float]] = [[] for _ in range(circuits)]
    context = Context()
    subscriptions = []
    try:
        pvs = [context.get_pvs(names["MANY"], priority=p, timeout=5)[0] for p in range(circuits)]
        for i, pv in enumerate(pvs):
            pv.wait_for_connection(timeout=5)

            def collect(sub, response, i=i):
                received[i].append(float(response.data[0]))
            sub = pv.subscribe(data_type="time")
            sub.add_callback(collect)  # (caproto holds callbacks weakly: so do we, strongly)
            subscriptions.append((sub, collect))
        assert len({pv.circuit_manager for pv in pvs}) == circuits
        wait_for(lambda: all(received), "a subscription's first update did not arrive")
        post(ca_server, *((channel, float(v)) for v in range(1, 21)))
        wait_for(lambda: all(len(r) >= 21 for r in received), "updates missing")
        expected = [float(v) for v in range(21)]
        assert [r for r in received if r != expected] == []
    finally:
        for sub, _ in subscriptions:
            sub.clear()
        context.disconnect()


def test_a_poster_that_never_yields_cannot_grow_the_queue_without_bound(ca_server, serve_pvs):
    """2,000 posts of an 8 kB array to 40 subscribers that do not read, in one loop
    iteration: 660 MB if queued and built whole; the queue delivers at MAX_QUEUED_BYTES and
    the stalled circuit coalesces, so the process's peak memory stays put."""
    import resource

    names = serve_pvs({"HEAVY": ChannelDouble(value=np.zeros(1000))})
    channel = ca_server.database[names["HEAVY"]]
    subs = BATCH_MIN_SUBSCRIBERS + 8
    baseline = ca_server.stats()
    sock = stalled_circuit(ca_server, names["HEAVY"], subs)
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB, the process's
        post(ca_server, *((channel, np.full(1000, float(v))) for v in range(1, 2001)))
        post(ca_server)  # (the queue's own delivery has run by now)
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
        assert growth < 150 * 1024, f"peak RSS grew {growth / 1024:.0f} MB"
        assert ca_server.stats()["events_coalesced"] > baseline["events_coalesced"]
    finally:
        sock.close()


def test_events_off_holds_batched_updates_and_events_on_sends_the_newest(ca_server,
                                                                         serve_pvs):
    names = serve_pvs({"PAUSE": ChannelDouble(value=0.0)})
    channel = ca_server.database[names["PAUSE"]]
    subs = BATCH_MIN_SUBSCRIBERS + 4
    with RawCircuit(ca_server.tcp_port) as circuit:
        sid = circuit.create_channel(names["PAUSE"])[1].sid
        subscribe(circuit, sid, range(1, subs + 1))
        circuit.send(ca.EventsOffRequest(), ca.EchoRequest())
        arrived(circuit, lambda ms: any(isinstance(m, ca.EchoResponse) for m in ms))
        post(ca_server, *((channel, float(v)) for v in range(1, 11)))
        assert not [m for m in circuit.recv_for(0.1) if isinstance(m, ca.EventAddResponse)]
        circuit.send(ca.EventsOnRequest())
        got = updates(circuit, subs)
        assert sorted(m.subscriptionid for m in got) == list(range(1, subs + 1))
        assert {value(m) for m in got} == {10.0}
        assert not circuit.recv_for(0.1)


def test_a_circuit_that_closes_with_updates_queued_costs_the_others_nothing(ca_server,
                                                                            serve_pvs):
    names = serve_pvs({"GONE": ChannelDouble(value=0.0)})
    channel = ca_server.database[names["GONE"]]
    leaving, staying = RawCircuit(ca_server.tcp_port), RawCircuit(ca_server.tcp_port)
    try:
        for circuit in (leaving, staying):
            sid = circuit.create_channel(names["GONE"])[1].sid
            subscribe(circuit, sid, range(1, SUBS + 1))
        clients = ca_server.stats()["clients"]

        async def post_then_lose_a_client():
            await channel.write(1.0)   # queued for both circuits
            circuit = next(c for c in ca_server.server.circuits if c.peer[1] ==
                           leaving.sock.getsockname()[1])
            circuit.transport.abort()  # the client is gone before the queue is delivered
            circuit.connection_lost(None)
            await channel.write(2.0)
        ca_server.call(post_then_lose_a_client(), timeout=10)
        got = updates(staying, 2 * SUBS)
        assert [value(m) for m in got] == [1.0] * SUBS + [2.0] * SUBS
        wait_for(lambda: ca_server.stats()["clients"] == clients - 1, "the circuit stayed")
        # a new circuit may take the closed one's place in the batcher's table
        with RawCircuit(ca_server.tcp_port) as newcomer:
            sid = newcomer.create_channel(names["GONE"])[1].sid
            subscribe(newcomer, sid, [99])
            post(ca_server, (channel, 3.0))
            assert [(m.subscriptionid, value(m)) for m in updates(newcomer, 1)] == [(99, 3.0)]
            assert [value(m) for m in updates(staying, SUBS)] == [3.0] * SUBS
    finally:
        leaving.close()
        staying.close()


def test_read_access_lost_with_updates_queued_sends_no_value_after_the_refusal(ca_server,
                                                                               serve_pvs):
    """A post queued in the batcher, then read access withdrawn in the same loop iteration,
    on a congested circuit: the client's last word on each subscription is NORDACCESS, never
    a value it may no longer read."""
    allowed = {"read": True}
    names = serve_pvs({"GATED": ChannelDouble(
        value=np.zeros(100), access_check=lambda host, user: 3 if allowed["read"] else 0)})
    channel = ca_server.database[names["GATED"]]
    subs = BATCH_MIN_SUBSCRIBERS + 8
    sock = stalled_circuit(ca_server, names["GATED"], subs)
    try:
        post(ca_server, *((channel, np.full(100, float(v))) for v in range(1, 301)))

        async def post_then_withdraw():
            await channel.write(np.full(100, 999.0))  # queued in the batcher
            allowed["read"] = False
            ca_server.server.refresh_access(lambda data: data is channel)
        ca_server.call(post_then_withdraw(), timeout=10)
        statuses = {i: status for i, (status, _) in last_updates(sock).items()}
        assert statuses == {i: eca.ECA_NORDACCESS for i in range(subs)}
    finally:
        sock.close()

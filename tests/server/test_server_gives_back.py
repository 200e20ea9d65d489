"""A server that runs for months gives back what its clients took: channels, subscriptions,
fan-outs, listeners on the channel data, tasks and memory, however the clients leave
(disconnecting, or cut off mid-stream), and even when a reload froze the heap meanwhile."""
from __future__ import annotations

import asyncio
import gc
import socket
import struct
import time
import tracemalloc
import weakref

import numpy as np
from iochost.ca import commands as ca
from iochost.ca.dbr import ChannelType
from iochost.pv.data import ChannelByte, ChannelDouble, ChannelInteger
from iochost.server.process import freeze_heap, thaw_heap
from iochost.testing import wait_until

from ca_raw_client import RawCircuit

#: connect/disconnect cycles measured, after WARM_UP cycles (first-use caches, imports)
CYCLES, WARM_UP = 40, 8
#: one cycle in CAPROTO_EVERY is caproto's threading client too (its disconnect takes 0.4 s),
#: one in CUT_OFF_EVERY a raw client cut off mid-stream too
CAPROTO_EVERY, CUT_OFF_EVERY = 16, 4
#: allocations by the server and the framework that may stay after CYCLES cycles: caches
#: that fill up (a leaked circuit costs ~5 kB, a leaked channel with its subscriptions
#: ~1 kB: 40 cycles of 5 channels would leave 200 kB or more)
KEPT_BYTES = 16_000
#: what the batcher may keep after posts of 100 new payload sizes (a message layout kept
#: per size was ~1.2 kB each)
BATCHER_KEPT_BYTES = 16_000
#: the server's own code (its search replies are left out: uvloop keeps the last 2048
#: addresses it sent to, a bounded cache of its own)
OURS = ("*/iochost/server/*", "*/iochost/pv/*")


def _server_traces(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    return snapshot.filter_traces([tracemalloc.Filter(True, pattern, all_frames=True)
                                   for pattern in OURS])


def _kept(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    stats = _server_traces(after).compare_to(_server_traces(before), "traceback")
    return sum(stat.size_diff for stat in stats
               if not any(frame.filename.endswith("udp.py") for frame in stat.traceback))


def _cut_off(circuit: RawCircuit) -> None:
    """Drop the connection as a killed client's kernel does: a reset, nothing more."""
    circuit.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    circuit.close()


def _caproto_cycle(names: list[str], value: int) -> None:
    """One client's life: connect, subscribe (value and property masks), read, write with
    and without completion, cancel half the subscriptions, disconnect the rest."""
    from caproto import SubscriptionType
    from caproto.threading.client import Context

    context = Context(timeout=5.0)
    try:
        pvs = context.get_pvs(*names, timeout=5.0)
        received: list = []

        def on_update(sub, response) -> None:   # (caproto holds callbacks weakly)
            received.append(response)

        subs = []
        for pv in pvs:
            pv.wait_for_connection()
            for mask in (SubscriptionType.DBE_VALUE, SubscriptionType.DBE_PROPERTY):
                sub = pv.subscribe(data_type="time", mask=mask)
                sub.add_callback(on_update)
                subs.append(sub)
            pv.read()
        pvs[0].write([value], wait=True)
        pvs[1].write([value], wait=False)
        wait_until(lambda: len(received) >= len(subs), what="the first monitor updates")
        for sub in subs[::2]:
            sub.clear()
    finally:
        context.disconnect()


async def _iochost_cycle(names: list[str], value: int) -> None:
    """The same life with iochost's own client (a context of its own, so a circuit)."""
    from iochost.ca.codes import DBE_PROPERTY, DBE_VALUE
    from iochost.client import Context

    async with Context() as context:
        channels = [context.channel(name) for name in names]
        received: list = []
        subs = []
        for channel in channels:
            await channel.wait_connected(timeout=5.0)
            for mask in (DBE_VALUE, DBE_PROPERTY):
                subs.append(channel.subscribe("time", mask=mask))
                subs[-1].add_callback(received.append)
            await channel.get()
        await channels[0].put(value, wait=True)
        await channels[1].put(value)
        while len(received) < len(subs):
            await asyncio.sleep(0.001)
        for sub in subs[::2]:
            sub.close()


def _raw_cycle(port: int, names: list[str], data: ChannelDouble, ca_server) -> None:
    """A client cut off mid-stream: subscribed, not reading while updates pile up."""
    circuit = RawCircuit(port)
    for i, name in enumerate(names):
        sid = circuit.create_channel(name)[1].sid
        circuit.send(ca.EventAddRequest(data_type=ChannelType.TIME_DOUBLE, data_count=1,
                                        sid=sid, subscriptionid=i, low=0, high=0, to=0,
                                        mask=1))
    circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))

    async def post() -> None:
        for value in range(50):
            await data.write(float(value))
    ca_server.call(post())
    _cut_off(circuit)


def _updates(client: RawCircuit, expected: int) -> list:
    """The next ``expected`` subscription updates the client receives."""
    got: list = []
    while len(got) < expected:
        got += [m for m in client.recv_for(0.0) if isinstance(m, ca.EventAddResponse)]
        if len(got) < expected:
            assert client._read_some(time.monotonic() + 10.0), "no update within 10 s"
    return got


def _loop_tasks(ca_server) -> int:
    return ca_server.call(lambda: len(asyncio.all_tasks()))


def test_clients_that_come_and_go_leave_nothing_behind(ca_server, serve_pvs):
    data = {"A": ChannelDouble(value=0.0), "I": ChannelInteger(value=0),
            "W": ChannelDouble(value=[0.0] * 8, max_length=8)}
    names = serve_pvs(data)
    watched = [names["A"], names["I"], names["W"], names["A"] + '.{"dbnd":{"abs":0.5}}',
               names["A"] + ".[0]"]
    server = ca_server.server
    others = set(server.circuits)
    totals, tasks = ca_server.call(server.totals), _loop_tasks(ca_server)

    def cycle(i: int) -> None:
        asyncio.run(asyncio.wait_for(_iochost_cycle(watched, i), 10.0))
        if i % CAPROTO_EVERY == 0:
            _caproto_cycle(watched, i)
        if i % CUT_OFF_EVERY == 0:
            _raw_cycle(ca_server.tcp_port, watched[:3], data["A"], ca_server)

    tracemalloc.start(8)
    try:
        for i in range(WARM_UP):
            cycle(i)
        wait_until(lambda: server.circuits <= others, what="the warm-up clients gone")
        ca_server.call(gc.collect)
        before = tracemalloc.take_snapshot()
        for i in range(CYCLES):
            cycle(i)
        wait_until(lambda: server.circuits <= others, what="every client's circuit closed")
        ca_server.call(gc.collect)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    now = ca_server.call(server.totals)
    assert (now.channels, now.subscriptions) == (totals.channels, totals.subscriptions)
    assert now.circuits_opened - totals.circuits_opened >= WARM_UP + CYCLES
    for channel in data.values():   # no fan-out, no filter gate left listening
        assert channel._listeners == ()
        assert id(channel) not in server._fanouts
    assert wait_until(lambda: _loop_tasks(ca_server) <= tasks, what="the clients' tasks ended")
    assert _kept(before, after) < KEPT_BYTES


def test_a_circuit_open_when_the_heap_was_frozen_is_freed_when_its_client_leaves(
        ca_server, serve_pvs):
    # Every reload freezes the heap (freeze_heap: gc.freeze) with the circuits of the
    # clients connected then: once closed, such a circuit is freed only by reference
    # counting (the collector never looks at frozen objects), so nothing of it may be a
    # cycle -- or it stays until the next reload, its written channels with it.
    names = serve_pvs({f"F{i}": ChannelDouble(value=0.0) for i in range(4)})
    server = ca_server.server
    others = set(server.circuits)
    with RawCircuit(ca_server.tcp_port) as client:
        for i, name in enumerate(names.values()):
            sid = client.create_channel(name)[1].sid
            client.send(ca.EventAddRequest(data_type=ChannelType.DOUBLE, data_count=1,
                                           sid=sid, subscriptionid=i, low=0, high=0, to=0,
                                           mask=1))
            assert isinstance(client.write(sid, ChannelType.DOUBLE, 1, struct.pack(">d", i),
                                           ioid=i), ca.WriteNotifyResponse)
        [circuit] = server.circuits - others
        gone = weakref.ref(circuit)
        del circuit
        ca_server.call(freeze_heap)
    try:
        wait_until(lambda: server.circuits <= others, what="the circuit closed")
        ca_server.call(gc.collect)
        assert wait_until(lambda: gone() is None, timeout=2.0,
                          what="the closed circuit freed")
    finally:
        ca_server.call(thaw_heap)


def test_posts_of_many_array_sizes_to_a_wide_audience_keep_no_memory(ca_server, serve_pvs):
    # A waveform watched by many clients is built by the batcher, one message layout per
    # payload size: a length that keeps changing must not leave one behind per size.
    names = serve_pvs({"SPECTRUM": ChannelByte(value=np.ones(2000, np.uint8),
                                               max_length=2000)})
    channel = ca_server.database[names["SPECTRUM"]]
    subscribers = 64   # one post's rows take the vectorised path (batch._VECTOR_MIN_ROWS)
    with RawCircuit(ca_server.tcp_port) as client:
        sid = client.create_channel(names["SPECTRUM"])[1].sid
        client.send(*(ca.EventAddRequest(data_type=ChannelType.CHAR, data_count=0, sid=sid,
                                         subscriptionid=i, low=0, high=0, to=0, mask=1)
                      for i in range(subscribers)))
        _updates(client, subscribers)     # each subscription's first update

        def post_lengths(lengths: range) -> None:
            for length in lengths:
                byte = 1 + length % 200       # (a NUL would end a CHAR array's text)
                ca_server.call(channel.write(np.full(length, byte, np.uint8)))
                got = _updates(client, subscribers)
                assert {(m.data_count, m.payload[0]) for m in got} == {(length, byte)}

        tracemalloc.start(4)
        try:
            post_lengths(range(8, 808, 8))     # 100 payload sizes: caches fill up
            ca_server.call(gc.collect)
            before = tracemalloc.take_snapshot()
            post_lengths(range(808, 1608, 8))  # 100 more sizes, each new
            ca_server.call(gc.collect)
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
    batcher = [tracemalloc.Filter(True, "*/iochost/server/batch.py")]
    stats = after.filter_traces(batcher).compare_to(before.filter_traces(batcher), "filename")
    assert sum(stat.size_diff for stat in stats) < BATCHER_KEPT_BYTES

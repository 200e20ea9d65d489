"""Exact protocol behaviour over a raw TCP circuit, message by message."""
import asyncio
import logging
import socket
import struct
import time

import numpy as np
import pytest
from ca_raw_client import RawCircuit

from iochost.ca import commands as ca
from iochost.ca import eca
from iochost.ca.dbr import AccessRights, ChannelType, decode_dbr
from iochost.pv.data import ChannelDouble, ChannelEnum, ChannelString
from iochost.pv.data_errors import ChannelValueError
from iochost.server import Server, ServerConfig
from iochost.testing import ServerThread

DOUBLE, TIME_DOUBLE, STRING = ChannelType.DOUBLE, ChannelType.TIME_DOUBLE, ChannelType.STRING


def double(value: float) -> bytes:
    return struct.pack(">d", value)


@pytest.fixture
def circuit(ca_server):
    with RawCircuit(ca_server.tcp_port) as raw:
        yield raw


@pytest.fixture
def pvs(serve_pvs):
    return serve_pvs({
        "DBL": ChannelDouble(value=1.5, upper_ctrl_limit=10.0, lower_ctrl_limit=-10.0,
                             units="mm"),
        "RO": ChannelDouble(value=2.5, read_only=True),
        "HIDDEN": ChannelDouble(value=3.5, access_check=lambda host, user: 0),
        "ARR": ChannelDouble(value=np.arange(5.0), max_length=100),
        "STR": ChannelString(value="hello"),
    })


def test_create_chan_sends_access_rights_then_the_reply(circuit, pvs):
    rights, reply = circuit.create_channel(pvs["DBL"])
    assert rights.access_rights == 3
    assert (reply.data_type, reply.data_count) == (DOUBLE, 1)
    assert reply.sid >= 1
    assert circuit.create_channel(pvs["RO"])[0].access_rights == 1
    assert circuit.create_channel(pvs["HIDDEN"])[0].access_rights == 0
    assert circuit.create_channel(pvs["ARR"])[1].data_count == 100


def test_unknown_name_gets_create_ch_fail(circuit):
    circuit.send(ca.CreateChanRequest(name=b"NO:SUCH:PV", cid=77, version=13))
    assert circuit.recv_until(lambda m: True) == ca.CreateChFailResponse(cid=77)


def test_read_notify_time_double_and_array_current_length(circuit, pvs):
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    reply = circuit.read(sid, TIME_DOUBLE, 1, ioid=5)
    assert (reply.status, reply.ioid, reply.data_count) == (eca.ECA_NORMAL, 5, 1)
    values, meta = decode_dbr(TIME_DOUBLE, reply.payload, 1)
    assert values[0] == 1.5 and meta.secs > 0
    sid = circuit.create_channel(pvs["ARR"])[1].sid
    reply = circuit.read(sid, DOUBLE, 0)
    assert reply.data_count == 5  # count 0: the current length, not max_length
    assert list(decode_dbr(DOUBLE, reply.payload, 5)[0]) == [0, 1, 2, 3, 4]


def test_deprecated_read_replies_with_the_cid_as_rsrv_does(circuit, pvs):
    created = circuit.create_channel(pvs["DBL"])[1]
    circuit.send(ca.ReadRequest(data_type=DOUBLE, data_count=1, sid=created.sid, ioid=9))
    reply = circuit.recv_until(lambda m: isinstance(m, ca.ReadResponse))
    assert (reply.sid, reply.ioid) == (created.cid, 9)  # the "sid" field holds the CID
    assert decode_dbr(DOUBLE, reply.payload, 1)[0][0] == 1.5


@pytest.mark.parametrize("pv, data_type, count, status", [
    ("HIDDEN", DOUBLE, 1, eca.ECA_NORDACCESS),
    ("STR", DOUBLE, 1, eca.ECA_GETFAIL),   # 'hello' as a number: GETFAIL, as RSRV answers
])
def test_read_failures_carry_the_fitting_status(circuit, pvs, pv, data_type, count, status):
    sid = circuit.create_channel(pvs[pv])[1].sid
    reply = circuit.read(sid, data_type, count, ioid=3)
    assert isinstance(reply, ca.ReadNotifyResponse)
    assert (reply.status, reply.ioid) == (status, 3)


INVALID_TYPE_REQUESTS = {  # DBR type 39 (one past CLASS_NAME): what RSRV answers, then CLOSED
    "READ_NOTIFY": (lambda sid: ca.ReadNotifyRequest(data_type=39, data_count=1, sid=sid,
                                                     ioid=3), None),
    "EVENT_ADD": (lambda sid: ca.EventAddRequest(data_type=39, data_count=1, sid=sid,
                                                 subscriptionid=3, mask=1), None),
    "READ": (lambda sid: ca.ReadRequest(data_type=39, data_count=1, sid=sid, ioid=3),
             ca.ErrorResponse),
    "WRITE": (lambda sid: ca.WriteRequest(data_type=39, data_count=1, sid=sid, ioid=3,
                                          payload=double(1.0)), ca.ErrorResponse),
    "WRITE_NOTIFY": (lambda sid: ca.WriteNotifyRequest(data_type=39, data_count=1, sid=sid,
                                                       ioid=3, payload=double(1.0)),
                     ca.WriteNotifyResponse),
}


@pytest.mark.parametrize("kind", list(INVALID_TYPE_REQUESTS))
def test_invalid_dbr_type_closes_the_circuit_as_rsrv_does(ca_server, pvs, kind):
    make, reply_type = INVALID_TYPE_REQUESTS[kind]
    with RawCircuit(ca_server.tcp_port) as circuit:
        sid = circuit.create_channel(pvs["DBL"])[1].sid
        circuit.send(make(sid), ca.EchoRequest())
        with pytest.raises(ConnectionError):
            circuit.recv_for(5.0)
        replies = circuit.received
        if reply_type is None:
            assert replies == []
        else:
            [reply] = replies
            assert isinstance(reply, reply_type) and reply.status == eca.ECA_BADTYPE


def _get(sid: int, ioid: int, data_type: int = DOUBLE, count: int = 1) -> bytes:
    return ca.ReadNotifyRequest(data_type=data_type, data_count=count, sid=sid,
                                ioid=ioid).to_bytes()


def test_a_pipelined_run_of_gets_is_answered_request_by_request(circuit, pvs):
    # libca's gets arrive as runs of 16-byte READ_NOTIFYs, which the server serves on a
    # fast path; whatever in a run is not a plain successful get must be answered exactly
    # as on its own, in order, and a get cut by the chunk's end must still be answered.
    sid = {name: circuit.create_channel(pvs[name])[1].sid for name in pvs}
    run = [_get(sid["DBL"], ioid) for ioid in range(300)]       # past one reply batch
    run += [_get(sid["HIDDEN"], 300), _get(sid["STR"], 301),    # NORDACCESS, GETFAIL
            _get(123456, 302), _get(sid["ARR"], 303, count=0),  # BADCHID, current length
            _get(sid["ARR"], 304, count=101)]                   # beyond max_length: zeros
    run += [_get(sid["RO"], ioid, TIME_DOUBLE) for ioid in range(305, 310)]
    data = b"".join(run) + ca.EchoRequest().to_bytes() + _get(sid["DBL"], 310)
    circuit.send_bytes(data[:-5])  # the last get is split across two chunks
    time.sleep(0.05)
    circuit.send_bytes(data[-5:])
    replies = [circuit.recv_until(lambda m: isinstance(m, (
        ca.ReadNotifyResponse, ca.ErrorResponse, ca.EchoResponse))) for _ in range(312)]
    reads = [m for m in replies if isinstance(m, ca.ReadNotifyResponse)]
    assert [m.ioid for m in reads] == [*range(302), *range(303, 311)]
    assert {decode_dbr(DOUBLE, m.payload, 1)[0][0] for m in reads[:300]} == {1.5}
    assert [m.status for m in reads[300:302]] == [eca.ECA_NORDACCESS, eca.ECA_GETFAIL]
    [error] = [m for m in replies if isinstance(m, ca.ErrorResponse)]
    assert (error.status, error.original_header.parameter2) == (eca.ECA_BADCHID, 302)
    assert replies.index(error) == 302  # in its place in the run
    assert reads[302].data_count == 5 and reads[303].data_count == 101
    assert list(decode_dbr(DOUBLE, reads[303].payload, 101)[0][4:]) == [4.0] + [0.0] * 96
    assert all(decode_dbr(TIME_DOUBLE, m.payload, 1)[0][0] == 2.5 for m in reads[304:309])
    assert isinstance(replies[310], ca.EchoResponse) and reads[-1].ioid == 310


def test_a_run_of_gets_of_mixed_types_and_sizes_is_answered_in_order(circuit, serve_pvs):
    # The fast path assembles replies of one type, count and size at a time: a run that
    # switches type, or whose bodies change size (arrays read at their current length),
    # must still be answered get by get, in order, each with its own data.
    pvs = serve_pvs({**{f"S{i}": ChannelDouble(value=float(i)) for i in range(6)},
                     "A2": ChannelDouble(value=np.arange(2.0), max_length=10),
                     "A7": ChannelDouble(value=np.arange(7.0), max_length=10)})
    sid = {name: circuit.create_channel(pvs[name])[1].sid for name in pvs}
    plan = [(f"S{i % 6}", (DOUBLE, TIME_DOUBLE, STRING)[i // 100 % 3], 1) for i in range(600)]
    plan += [("A2", DOUBLE, 0), ("A7", DOUBLE, 0), ("A2", DOUBLE, 0), ("S5", DOUBLE, 1)]
    circuit.send_bytes(b"".join(_get(sid[name], ioid, data_type, count)
                                for ioid, (name, data_type, count) in enumerate(plan)))
    replies = [circuit.recv_until(lambda m: isinstance(m, ca.ReadNotifyResponse))
               for _ in plan]
    assert [m.ioid for m in replies] == list(range(len(plan)))
    for (name, data_type, _), reply in zip(plan, replies):
        assert (reply.data_type, reply.status) == (data_type, eca.ECA_NORMAL)
        values, _ = decode_dbr(data_type, reply.payload, reply.data_count)
        number = float(name[1:])   # S3 holds 3.0; A7 holds 0..6
        expected = list(np.arange(number)) if name[0] == "A" else [number]
        if data_type == STRING:
            expected = [f"{v:g}".encode() for v in expected]
        assert list(values) == expected, (name, data_type)


def test_a_run_of_gets_of_empty_arrays_gets_empty_replies(circuit, serve_pvs):
    # pyepics' caget_many of empty waveforms: count-0 gets whose replies have no body at
    # all (the fast path's numpy assembly could not size them: the circuit was reset)
    pvs = serve_pvs({f"E{i}": ChannelDouble(value=np.zeros(0), max_length=10)
                     for i in range(6)})
    sid = {name: circuit.create_channel(pvs[name])[1].sid for name in pvs}
    plan = [*sorted(sid), "E0", "E1"]
    circuit.send_bytes(b"".join(_get(sid[name], ioid, DOUBLE, 0)
                                for ioid, name in enumerate(plan)))
    replies = [circuit.recv_until(lambda m: isinstance(m, ca.ReadNotifyResponse))
               for _ in plan]
    assert [(m.ioid, m.status, m.data_count, bytes(m.payload)) for m in replies] == \
        [(ioid, eca.ECA_NORMAL, 0, b"") for ioid in range(len(plan))]


def test_a_client_that_does_not_read_its_gets_replies_pauses_the_run(unique_prefix):
    # 4,000 pipelined gets of 8 kB each (32 MB), unread: the replies fill the socket and
    # the transport (64 kB high-water mark here) part-way through the run, the rest of
    # the requests wait unanswered, and once the client reads, every get is answered
    # once, in order.
    config = ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False,
                          write_high_water=1 << 16)
    name = unique_prefix + "PAUSED"
    values = np.arange(1000.0)
    with ServerThread({name: ChannelDouble(value=values)}, config=config) as server, \
            RawCircuit(server.tcp_port) as raw:
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
        sid = raw.create_channel(name)[1].sid
        requests = 4000
        raw.sock.sendall(b"".join(_get(sid, ioid, DOUBLE, 1000) for ioid in range(requests)))
        time.sleep(0.5)  # not reading
        [circuit] = server.server.circuits
        assert server.call(lambda: bool(circuit._deferred)), "the run did not pause"
        replies = [raw.recv_until(lambda m: isinstance(m, ca.ReadNotifyResponse))
                   for _ in range(requests)]
        assert [m.ioid for m in replies] == list(range(requests))
        assert replies[-1].payload == values.astype(">f8").tobytes()


def test_an_invalid_type_inside_a_run_of_gets_closes_after_the_earlier_replies(ca_server,
                                                                                pvs):
    with RawCircuit(ca_server.tcp_port) as circuit:
        sid = circuit.create_channel(pvs["DBL"])[1].sid
        circuit.send_bytes(b"".join([_get(sid, ioid) for ioid in range(10)]
                                    + [_get(sid, 10, data_type=39)]
                                    + [_get(sid, ioid) for ioid in range(11, 20)]))
        with pytest.raises(ConnectionError):
            circuit.recv_for(5.0)
        assert [m.ioid for m in circuit.received] == list(range(10))


def test_padding_a_read_beyond_the_element_count_is_bounded(circuit, pvs):
    # 20,000,000 DOUBLEs of a scalar (160 MB of zeros): refused before anything is
    # encoded, with RSRV's ERROR for a reply too large to send.
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    circuit.send(ca.ReadNotifyRequest(data_type=DOUBLE, data_count=20_000_000, sid=sid,
                                      ioid=3))
    error = circuit.recv_until(lambda m: isinstance(m, ca.ErrorResponse))
    assert error.status == eca.ECA_TOLARGE and error.original_header.data_count == 20_000_000
    assert "PV=" in error.error_message
    assert list(decode_dbr(DOUBLE, circuit.read(sid, DOUBLE, 3).payload, 3)[0])[1:] == [0, 0]


def test_a_failed_read_carries_zeroed_data_of_the_size_asked(circuit, pvs):
    # As RSRV (no_read_access_event): clients may decode the data of a failed reply.
    sid = circuit.create_channel(pvs["HIDDEN"])[1].sid
    reply = circuit.read(sid, ChannelType.TIME_DOUBLE, 3, ioid=4)
    assert (reply.status, reply.data_count) == (eca.ECA_NORDACCESS, 3)
    assert reply.payload == bytes(16 + 3 * 8)


def test_requests_on_unknown_sids_get_error_badchid(circuit):
    circuit.send(ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=123456, ioid=4))
    error = circuit.recv_until(lambda m: isinstance(m, ca.ErrorResponse))
    assert (error.status, error.cid) == (eca.ECA_BADCHID, 0xFFFFFFFF)  # no channel: ~0
    assert error.original_header.command == ca.Command.READ_NOTIFY
    assert error.original_header.parameter2 == 4
    circuit.send(ca.ClearChannelRequest(sid=123456, cid=1))
    assert circuit.recv_until(lambda m: True).status == eca.ECA_BADCHID


def test_write_notify_applies_and_confirms(circuit, pvs, ca_server):
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    reply = circuit.write(sid, DOUBLE, 1, double(7.25), ioid=11)
    assert reply == ca.WriteNotifyResponse(data_type=DOUBLE, data_count=1,
                                           status=eca.ECA_NORMAL, ioid=11)
    assert decode_dbr(DOUBLE, circuit.read(sid, DOUBLE, 1).payload, 1)[0][0] == 7.25


@pytest.mark.parametrize("pv, data_type, payload, status, kept", [
    ("DBL", DOUBLE, double(11.0), eca.ECA_PUTFAIL, 1.5),            # above the ctrl limit
    ("DBL", STRING, b"not a number".ljust(40, b"\0"), eca.ECA_PUTFAIL, 1.5),  # as RSRV
    ("RO", DOUBLE, double(1.0), eca.ECA_NOWTACCESS, 2.5),
])
def test_refused_writes_keep_the_old_value(circuit, pvs, pv, data_type, payload, status, kept):
    sid = circuit.create_channel(pvs[pv])[1].sid
    reply = circuit.write(sid, data_type, 1, payload, ioid=12)
    assert (reply.status, reply.ioid) == (status, 12)
    assert decode_dbr(DOUBLE, circuit.read(sid, DOUBLE, 1).payload, 1)[0][0] == kept


def test_write_of_too_many_elements_keeps_the_first(circuit, pvs):
    """As RSRV's dbPut (tests/server/test_server_rsrv_oracle.py compares)."""
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    reply = circuit.write(sid, DOUBLE, 2, double(5.0) + double(6.0), ioid=13)
    assert (reply.status, reply.ioid) == (eca.ECA_NORMAL, 13)
    assert decode_dbr(DOUBLE, circuit.read(sid, DOUBLE, 1).payload, 1)[0][0] == 5.0


def test_a_write_of_no_elements_to_a_scalar_changes_nothing(circuit, pvs, caplog):
    """As RSRV's dbPut, which copies none (was ECA_PUTFAIL, with a traceback logged)."""
    for name, data_type, kept in (("DBL", DOUBLE, 1.5), ("STR", STRING, b"hello")):
        sid = circuit.create_channel(pvs[name])[1].sid
        reply = circuit.write(sid, data_type, 0, b"", ioid=14)
        assert (reply.status, reply.ioid) == (eca.ECA_NORMAL, 14)
        read = circuit.read(sid, data_type, 1)
        assert decode_dbr(data_type, read.payload, 1)[0][0] == kept
    assert "Traceback" not in caplog.text and "failed" not in caplog.text


def test_subscription_without_read_access_fails(circuit, pvs):
    sid = circuit.create_channel(pvs["HIDDEN"])[1].sid
    circuit.send(ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=sid,
                                    subscriptionid=4, low=0, high=0, to=0, mask=1))
    reply = circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    assert (reply.subscriptionid, reply.status) == (4, eca.ECA_NORDACCESS)
    assert set(reply.payload) == {0}  # no data leaks


def test_plain_write_failure_comes_back_as_error_message(circuit, pvs):
    cid_sid = circuit.create_channel(pvs["RO"])[1]
    circuit.send(ca.WriteRequest(data_type=DOUBLE, data_count=1, sid=cid_sid.sid, ioid=2,
                                 payload=double(9.0)))
    error = circuit.recv_until(lambda m: isinstance(m, ca.ErrorResponse))
    assert (error.status, error.cid) == (eca.ECA_NOWTACCESS, cid_sid.cid)
    assert error.original_header.command == ca.Command.WRITE


class Refusing(ChannelDouble):
    """Refuses values above 10 the documented way (a ChannelValueError)."""

    async def verify_value(self, value):
        if value > 10:
            raise ChannelValueError(f"{value} is above the limit of 10")
        return value


def test_a_refused_plain_write_tells_the_client_why(circuit, serve_pvs):
    """RSRV's ERROR text for a failed WRITE is the PV name; when channel code refused the
    value, ours is the PV name and the reason (libca prints it as the exception context)."""
    name = serve_pvs({"REFUSING": Refusing(value=1.0)})["REFUSING"]
    cid_sid = circuit.create_channel(name)[1]
    circuit.send(ca.WriteRequest(data_type=DOUBLE, data_count=1, sid=cid_sid.sid, ioid=2,
                                 payload=double(99.0)))
    error = circuit.recv_until(lambda m: isinstance(m, ca.ErrorResponse))
    assert (error.status, error.cid) == (eca.ECA_PUTFAIL, cid_sid.cid)
    assert error.error_message == \
        f"{name}: put refused: ChannelValueError: 99.0 is above the limit of 10"


def test_plain_write_success_is_silent(circuit, pvs):
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    circuit.send(ca.WriteRequest(data_type=DOUBLE, data_count=1, sid=sid, ioid=2,
                                 payload=double(4.0)))
    circuit.send(ca.EchoRequest())
    assert circuit.recv_until(lambda m: True) == ca.EchoResponse()
    assert decode_dbr(DOUBLE, circuit.read(sid, DOUBLE, 1).payload, 1)[0][0] == 4.0


class SlowFirstWrite(ChannelDouble):
    """Suspends on the value 1.0, so later writes must queue behind it."""

    applied: list

    async def verify_value(self, value):
        if value == 1.0:
            await asyncio.sleep(0.05)
        self.applied.append(value)
        return value


def test_writes_on_one_channel_apply_in_order_even_when_one_suspends(circuit, serve_pvs):
    channel = SlowFirstWrite(value=0.0)
    channel.applied = []
    sid = circuit.create_channel(serve_pvs({"SLOW": channel})["SLOW"])[1].sid
    circuit.send(*(ca.WriteNotifyRequest(data_type=DOUBLE, data_count=1, sid=sid, ioid=i,
                                         payload=double(float(i))) for i in (1, 2, 3)))
    replies = [circuit.recv_until(lambda m: isinstance(m, ca.WriteNotifyResponse))
               for _ in range(3)]
    assert [r.ioid for r in replies] == [1, 2, 3]
    assert channel.applied == [1.0, 2.0, 3.0]
    assert channel.value == 3.0


def test_a_received_write_completes_after_its_client_left(ca_server, serve_pvs):
    channel = SlowFirstWrite(value=0.0)
    channel.applied = []
    name = serve_pvs({"SLOW": channel})["SLOW"]
    with RawCircuit(ca_server.tcp_port) as raw:
        sid = raw.create_channel(name)[1].sid
        raw.send(*(ca.WriteRequest(data_type=DOUBLE, data_count=1, sid=sid, ioid=i,
                                   payload=double(float(i))) for i in (1, 2)))
    deadline = time.monotonic() + 5
    while channel.applied != [1.0, 2.0] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert channel.applied == [1.0, 2.0] and channel.value == 2.0


def test_subscription_lifecycle(circuit, pvs, ca_server):
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    circuit.send(ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=sid,
                                    subscriptionid=42, low=0, high=0, to=0, mask=1))
    first = circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    assert (first.subscriptionid, first.status) == (42, eca.ECA_NORMAL)
    assert decode_dbr(DOUBLE, first.payload, 1)[0][0] == 1.5
    circuit.write(sid, DOUBLE, 1, double(2.0))
    update = circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    assert decode_dbr(DOUBLE, update.payload, 1)[0][0] == 2.0
    circuit.send(ca.EventCancelRequest(data_type=DOUBLE, sid=sid, subscriptionid=42))
    cancel = circuit.recv_until(lambda m: isinstance(m, ca.EventCancelResponse))
    assert (cancel.sid, cancel.subscriptionid) == (sid, 42)
    circuit.write(sid, DOUBLE, 1, double(3.0))
    assert not [m for m in circuit.recv_for(0.1) if isinstance(m, ca.EventAddResponse)]
    circuit.send(ca.EventCancelRequest(data_type=DOUBLE, sid=sid, subscriptionid=42))
    error = circuit.recv_until(lambda m: isinstance(m, ca.ErrorResponse))
    assert error.status == eca.ECA_BADMONID


def test_events_off_then_on_delivers_the_latest_value(circuit, pvs, ca_server):
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    circuit.send(ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=sid,
                                    subscriptionid=1, low=0, high=0, to=0, mask=1))
    circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    circuit.send(ca.EventsOffRequest())
    for value in (2.0, 3.0, 4.0):
        circuit.write(sid, DOUBLE, 1, double(value))
    assert not [m for m in circuit.recv_for(0.1) if isinstance(m, ca.EventAddResponse)]
    circuit.send(ca.EventsOnRequest())
    update = circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    assert decode_dbr(DOUBLE, update.payload, 1)[0][0] == 4.0
    assert not [m for m in circuit.recv_for(0.1) if isinstance(m, ca.EventAddResponse)]


def test_subscription_cancelled_while_events_are_off_stays_silent(circuit, pvs):
    sid = circuit.create_channel(pvs["DBL"])[1].sid
    for subscriptionid in (1, 2):
        circuit.send(ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=sid,
                                        subscriptionid=subscriptionid, low=0, high=0, to=0,
                                        mask=1))
        circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    circuit.send(ca.EventsOffRequest())
    circuit.write(sid, DOUBLE, 1, double(9.0))
    circuit.send(ca.EventCancelRequest(data_type=DOUBLE, sid=sid, subscriptionid=1),
                 ca.EventsOnRequest())
    updates = [m for m in circuit.recv_for(0.2) if isinstance(m, ca.EventAddResponse)]
    assert [(u.subscriptionid, decode_dbr(DOUBLE, u.payload, 1)[0][0]) for u in updates] \
        == [(2, 9.0)]


def test_echo_read_sync_and_search_over_tcp(circuit, pvs, ca_server):
    circuit.send(ca.EchoRequest(), ca.ReadSyncRequest())
    assert circuit.recv_until(lambda m: True) == ca.EchoResponse()
    assert circuit.recv_until(lambda m: True) == ca.ReadSyncResponse()
    circuit.send(ca.SearchRequest(name=pvs["DBL"].encode(), cid=5, reply=True),
                 ca.SearchRequest(name=b"NOT:HERE", cid=6, reply=True))
    found = circuit.recv_until(lambda m: isinstance(m, ca.SearchResponse))
    assert (found.cid, found.port) == (5, ca_server.tcp_port)
    assert circuit.recv_until(lambda m: True) == ca.NotFoundResponse(version=13, cid=6)


def test_clear_channel_confirms_and_invalidates_the_sid(circuit, pvs):
    reply = circuit.create_channel(pvs["DBL"])[1]
    circuit.send(ca.ClearChannelRequest(sid=reply.sid, cid=reply.cid))
    assert circuit.recv_until(lambda m: True) == ca.ClearChannelResponse(sid=reply.sid,
                                                                         cid=reply.cid)
    assert circuit.read(reply.sid, DOUBLE, 1).status == eca.ECA_BADCHID


def test_removed_pv_disconnects_its_channels_including_views(circuit, ca_server,
                                                             unique_prefix):
    name = unique_prefix + "GONE"
    other = unique_prefix + "STAYS"
    ca_server.add({name: ChannelString(value="bye"), other: ChannelDouble(value=1.0)})
    plain = circuit.create_channel(name)[1]
    long_string = circuit.create_channel(name + ".$")[1]
    assert long_string.data_type == ChannelType.CHAR
    stays = circuit.create_channel(other)[1]
    ca_server.remove([name])
    disconnects = {circuit.recv_until(lambda m: isinstance(m, ca.ServerDisconnResponse)).cid
                   for _ in range(2)}
    assert disconnects == {plain.cid, long_string.cid}
    assert circuit.read(stays.sid, DOUBLE, 1).status == eca.ECA_NORMAL
    # Requests the client sent before it saw SERVER_DISCONN are dropped silently (libca
    # treats an ERROR BADCHID as fatal); a CLEAR_CHANNEL is still confirmed.
    circuit.send(ca.EventCancelRequest(data_type=DOUBLE, sid=plain.sid, subscriptionid=1),
                 ca.ReadNotifyRequest(data_type=DOUBLE, data_count=1, sid=plain.sid, ioid=1),
                 ca.ClearChannelRequest(sid=plain.sid, cid=plain.cid), ca.EchoRequest())
    assert circuit.recv_until(lambda m: True) == ca.ClearChannelResponse(sid=plain.sid,
                                                                         cid=plain.cid)
    assert circuit.recv_until(lambda m: True) == ca.EchoResponse()
    ca_server.remove([other])


def test_a_pv_replaced_by_one_that_looks_the_same_keeps_its_channels(circuit, ca_server,
                                                                     unique_prefix):
    """A remount replaces a PV by its new IOC's: a channel on it stays open when the new
    one has the same type, count and metadata -- its subscription gets the new value,
    ACCESS_RIGHTS follows the new PV's rights -- and is disconnected when not."""
    name, view = unique_prefix + "SWAP", unique_prefix + "SWAP.[0:1]"

    def served(value, **kwargs):
        return ChannelDouble(value=value, units="mm", precision=2, **kwargs)

    ca_server.add({name: served(1.0)})
    plain, ranged = circuit.create_channel(name)[1], circuit.create_channel(view)[1]
    circuit.send(ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=plain.sid,
                                    subscriptionid=7, low=0, high=0, to=0, mask=1))
    assert decode_dbr(DOUBLE, circuit.recv_until(
        lambda m: isinstance(m, ca.EventAddResponse)).payload, 1)[0][0] == 1.0
    ca_server.add({name: served(2.0)})
    update = circuit.recv_until(lambda m: isinstance(m, (ca.EventAddResponse,
                                                         ca.ServerDisconnResponse)))
    assert isinstance(update, ca.EventAddResponse) and update.subscriptionid == 7
    assert decode_dbr(DOUBLE, update.payload, 1)[0][0] == 2.0
    assert decode_dbr(DOUBLE, circuit.read(ranged.sid, DOUBLE, 1).payload, 1)[0][0] == 2.0

    ca_server.add({name: served(3.0, read_only=True)})
    rights = circuit.recv_until(lambda m: isinstance(m, (ca.AccessRightsResponse,
                                                         ca.ServerDisconnResponse)))
    assert isinstance(rights, ca.AccessRightsResponse)
    assert rights.access_rights == AccessRights.READ
    assert circuit.write(plain.sid, DOUBLE, 1, double(9.0)).status == eca.ECA_NOWTACCESS

    ca_server.add({name: ChannelDouble(value=4.0, units="cm", precision=2)})  # metadata
    assert {circuit.recv_until(lambda m: isinstance(m, ca.ServerDisconnResponse)).cid
            for _ in range(2)} == {plain.cid, ranged.cid}
    again = circuit.create_channel(name)[1]
    ca_server.add({name: ChannelString(value="4")})                          # type
    assert circuit.recv_until(lambda m: isinstance(m, ca.ServerDisconnResponse)).cid == \
        again.cid
    ca_server.remove([name])


class SlowPut(ChannelDouble):
    async def verify_value(self, value):
        await asyncio.sleep(0.5)
        return value


def test_a_replacement_disconnects_a_channel_whose_put_still_runs(circuit, ca_server,
                                                                   unique_prefix):
    """A put still running on the old PV when it is replaced must not be confirmed to a
    client that then reads the new PV without it: that channel is disconnected (as any
    replacement did before), so the client knows; the put's reply is dropped."""
    name = unique_prefix + "SLOWSWAP"
    ca_server.add({name: SlowPut(value=1.0)})
    reply = circuit.create_channel(name)[1]
    circuit.send(ca.WriteNotifyRequest(data_type=DOUBLE, data_count=1, sid=reply.sid,
                                       ioid=9, payload=double(5.0)))
    time.sleep(0.1)
    ca_server.add({name: SlowPut(value=1.0)})
    gone = circuit.recv_until(lambda m: isinstance(m, (ca.ServerDisconnResponse,
                                                       ca.WriteNotifyResponse)))
    assert isinstance(gone, ca.ServerDisconnResponse) and gone.cid == reply.cid
    ca_server.remove([name])


def test_a_replacement_posts_only_what_a_subscriber_would_hear(circuit, ca_server,
                                                               unique_prefix):
    """After a replacement that keeps the channel: a DBE_PROPERTY-only subscriber hears
    nothing (the metadata is the same by construction), a value subscriber hears the new
    value, and nothing when the value is the same."""
    name = unique_prefix + "MASKSWAP"
    ca_server.add({name: ChannelDouble(value=1.0, units="mm")})
    sid = circuit.create_channel(name)[1].sid
    for subscriptionid, mask in ((1, 1), (2, 8)):      # DBE_VALUE, DBE_PROPERTY
        circuit.send(ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=sid,
                                        subscriptionid=subscriptionid, low=0, high=0, to=0,
                                        mask=mask))
    first = [m for m in circuit.recv_for(0.3) if isinstance(m, ca.EventAddResponse)]
    assert sorted(m.subscriptionid for m in first) == [1, 2]
    ca_server.add({name: ChannelDouble(value=1.0, units="mm")})     # the same value
    assert not [m for m in circuit.recv_for(0.3) if isinstance(m, ca.EventAddResponse)]
    ca_server.add({name: ChannelDouble(value=3.0, units="mm")})
    events = [m for m in circuit.recv_for(0.3) if isinstance(m, ca.EventAddResponse)]
    assert [(m.subscriptionid, decode_dbr(DOUBLE, m.payload, 1)[0][0]) for m in events] == \
        [(1, 3.0)]
    ca_server.remove([name])


def test_million_element_array_uses_the_extended_header(circuit, serve_pvs):
    values = np.arange(1_000_000, dtype=float)
    names = serve_pvs({"BIG": ChannelDouble(value=values)})
    reply = circuit.create_channel(names["BIG"])[1]
    assert reply.data_count == 1_000_000
    read = circuit.read(reply.sid, DOUBLE, 0)
    assert read.data_count == 1_000_000
    assert np.array_equal(decode_dbr(DOUBLE, read.payload, 1_000_000)[0], values)
    new = values[::-1].copy()
    written = circuit.write(reply.sid, DOUBLE, 1_000_000, new.astype(">f8").tobytes())
    assert written.status == eca.ECA_NORMAL
    read = circuit.read(reply.sid, DOUBLE, 0)
    assert np.array_equal(decode_dbr(DOUBLE, read.payload, 1_000_000)[0], new)


def test_max_array_bytes_is_honoured():
    """With a fixed cap, replies over it are refused with RSRV's ERROR (TOLARGE; compared
    with softioc in test_server_array_bytes); a request announcing more than it is a
    protocol violation that costs the sender its circuit."""
    config = ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False,
                          max_array_bytes=16384)
    big = {"SMALLMAX:ARR": ChannelDouble(value=np.zeros(10_000))}
    with ServerThread(big, config=config) as server, RawCircuit(server.tcp_port) as raw:
        sid = raw.create_channel("SMALLMAX:ARR")[1].sid
        raw.send(ca.ReadNotifyRequest(data_type=DOUBLE, data_count=0, sid=sid, ioid=5))
        error = raw.recv_until(lambda m: isinstance(m, ca.ErrorResponse))
        assert error.status == eca.ECA_TOLARGE and error.original_header.parameter2 == 5
        assert raw.read(sid, DOUBLE, 100).status == eca.ECA_NORMAL
        raw.send_bytes(ca.WriteRequest(data_type=DOUBLE, data_count=10_000, sid=sid, ioid=1,
                                       payload=bytes(80_000)).to_bytes())
        with pytest.raises(ConnectionError):
            raw.recv_for(2.0)
        assert server.stats()["circuits_aborted"] == 1


def test_server_class_runs_in_the_callers_loop():
    async def main():
        server = Server({"LOOP:PV": ChannelDouble(value=1.0)},
                        ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False))
        await server.start()
        try:
            def client():
                with RawCircuit(server.tcp_port) as raw:
                    sid = raw.create_channel("LOOP:PV")[1].sid
                    return decode_dbr(DOUBLE, raw.read(sid, DOUBLE, 1).payload, 1)[0][0]

            value = await asyncio.to_thread(client)
            return value
        finally:
            await server.stop()

    assert asyncio.run(main()) == 1.0


class GetterDouble(ChannelDouble):
    """Reads go through an (awaiting) getter: the server must use ``aread_dbr``."""

    needs_async_read = True

    async def aread_dbr(self, dbr_type, count):
        await asyncio.sleep(0.01)
        return self.read_dbr(dbr_type, count)


def test_channels_with_an_async_getter_are_read_and_monitored(circuit, serve_pvs, ca_server):
    channel = GetterDouble(value=6.5)
    sid = circuit.create_channel(serve_pvs({"GETTER": channel})["GETTER"])[1].sid
    reply = circuit.read(sid, DOUBLE, 1, ioid=8)
    assert (reply.status, reply.ioid) == (eca.ECA_NORMAL, 8)
    assert decode_dbr(DOUBLE, reply.payload, 1)[0][0] == 6.5
    circuit.send(ca.EventAddRequest(data_type=DOUBLE, data_count=1, sid=sid,
                                    subscriptionid=3, low=0, high=0, to=0, mask=1))
    first = circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    assert decode_dbr(DOUBLE, first.payload, 1)[0][0] == 6.5
    ca_server.call(channel.write(7.5))
    update = circuit.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
    assert decode_dbr(DOUBLE, update.payload, 1)[0][0] == 7.5


def test_names_given_before_the_first_channel_decide_access(ca_server, serve_pvs):
    def rights(host, user):
        return AccessRights.READ_WRITE if user == "admin" else AccessRights.READ

    name = serve_pvs({"GUARDED": ChannelDouble(value=1.0, access_check=rights)})["GUARDED"]
    with RawCircuit(ca_server.tcp_port, user=b"admin") as admin:
        assert admin.create_channel(name)[0].access_rights == AccessRights.READ_WRITE
    with RawCircuit(ca_server.tcp_port, user=b"guest") as guest:
        granted, reply = guest.create_channel(name)
        assert granted.access_rights == AccessRights.READ
        assert guest.write(reply.sid, DOUBLE, 1, double(2.0)).status == eca.ECA_NOWTACCESS
        # As RSRV: once a channel exists, the names cannot change any more.
        guest.send(ca.ClientNameRequest(name=b"admin"))
        error = guest.recv_until(lambda m: isinstance(m, ca.ErrorResponse))
        assert error.status == eca.ECA_INTERNAL and "ignored" in error.error_message
        assert guest.write(reply.sid, DOUBLE, 1, double(2.0)).status == eca.ECA_NOWTACCESS


def test_sixteen_megabyte_payloads(circuit, serve_pvs):
    values = np.linspace(0.0, 1.0, 2_100_000)  # 16.8 MB of doubles
    reply = circuit.create_channel(serve_pvs({"HUGE": ChannelDouble(value=values)})["HUGE"])[1]
    read = circuit.read(reply.sid, DOUBLE, 0)
    assert read.data_count == len(values) and len(read.payload) == 8 * len(values)
    assert np.array_equal(decode_dbr(DOUBLE, read.payload, len(values))[0], values)


def test_long_string_through_the_dollar_field(circuit, serve_pvs):
    text = "a description much longer than the forty bytes of a DBR_STRING"
    name = serve_pvs({"DESC": ChannelString(value=text, long_string_max_length=100)})["DESC"]
    reply = circuit.create_channel(name + ".$")[1]
    assert (reply.data_type, reply.data_count) == (ChannelType.CHAR, 100)
    read = circuit.read(reply.sid, ChannelType.CHAR, 0)
    chars = decode_dbr(ChannelType.CHAR, read.payload, read.data_count)[0]
    assert bytes(chars).rstrip(b"\0").decode() == text


class RaisingAccess(ChannelDouble):
    def check_access(self, host, user):
        raise RuntimeError("access rules unreadable")


@pytest.mark.parametrize("split", [None, 7 * 32 + 5], ids=["whole", "split-mid-message"])
def test_a_pipelined_run_of_create_chans_is_answered_request_by_request(ca_server, serve_pvs,
                                                                         split):
    """Hundreds of CREATE_CHANs in one write (how libca connects many channels), with the
    unusual ones inside the run: each gets exactly the answer it gets alone, in order."""
    names = serve_pvs({"RW": ChannelDouble(value=1.5), "RO": ChannelDouble(value=2.5,
                                                                           read_only=True),
                       "NONE": ChannelDouble(value=3.5, access_check=lambda host, user: 0),
                       "RAISES": RaisingAccess(value=4.5),
                       "BIG": ChannelDouble(value=np.zeros(70_000)),
                       "STR": ChannelString(value="text")})
    plan = ([("RW", 3, DOUBLE, 1)] * 300 + [("RO", 1, DOUBLE, 1), ("NONE", 0, DOUBLE, 1)] * 50
            + [(None, None, None, None), ("RW.VAL", 3, DOUBLE, 1), ("RAISES", 0, DOUBLE, 1),
               ("BIG", 3, DOUBLE, 70_000), ("STR", 3, STRING, 1)] + [("RW", 3, DOUBLE, 1)] * 300)
    requests = b"".join(
        ca.CreateChanRequest(name=(names[n.split(".")[0]] + n[len(n.split(".")[0]):]).encode()
                             if n else b"NO:SUCH:NAME", cid=cid, version=13).to_bytes()
        for cid, (n, *_) in enumerate(plan))
    baseline = ca_server.stats()["channels"]
    with RawCircuit(ca_server.tcp_port) as circuit:
        if split is None:
            circuit.send_bytes(requests)
        else:  # the second part starts inside a message
            circuit.send_bytes(requests[:split])
            time.sleep(0.05)
            circuit.send_bytes(requests[split:])
        kinds = (ca.AccessRightsResponse, ca.CreateChanResponse, ca.CreateChFailResponse)
        expected_messages = sum(1 if n is None else 2 for n, *_ in plan)
        got: list = []
        deadline = time.monotonic() + 10
        while len(got) < expected_messages:
            assert circuit._read_some(deadline), f"{len(got)} of {expected_messages} replies"
            got += [m for m in circuit.received if isinstance(m, kinds)]
            circuit.received.clear()
        replies = iter(got)
        sids = {}
        for cid, (name, rights, data_type, count) in enumerate(plan):
            first = next(replies)
            if name is None:
                assert first == ca.CreateChFailResponse(cid=cid)
                continue
            reply = next(replies)
            assert first == ca.AccessRightsResponse(cid=cid, access_rights=rights), name
            assert (reply.cid, reply.data_type, reply.data_count) == (cid, data_type, count)
            sids[reply.sid] = name
        assert len(sids) == len(plan) - 1
        assert ca_server.stats()["channels"] == baseline + len(sids)
        rw_sid = next(sid for sid, name in sids.items() if name == "RW")
        assert decode_dbr(DOUBLE, circuit.read(rw_sid, DOUBLE, 1).payload, 1)[0][0] == 1.5
        refused = next(sid for sid, name in sids.items() if name == "RAISES")
        assert circuit.read(refused, DOUBLE, 1).status == eca.ECA_NORDACCESS


def test_a_misaligned_create_chan_inside_a_run_closes_the_circuit(ca_server, serve_pvs):
    names = serve_pvs({"OK": ChannelDouble(value=1.0)})
    good = ca.CreateChanRequest(name=names["OK"].encode(), cid=1, version=13).to_bytes()
    bad = bytearray(good)
    struct.pack_into(">H", bad, 2, len(good) - 16 - 3)  # a payload size not a multiple of 8
    with RawCircuit(ca_server.tcp_port) as circuit:
        circuit.send_bytes(good * 10 + bytes(bad[:-3]))
        with pytest.raises(ConnectionError):
            circuit.recv_for(2.0)
        created = [m for m in circuit.received if isinstance(m, ca.CreateChanResponse)]
        assert len(created) <= 10


def test_circuit_sockets_keepalive_and_nodelay_as_rsrv(ca_server, circuit):
    """RSRV sets SO_KEEPALIVE (a client whose host vanished is found and its circuit closed)
    and TCP_NODELAY on every client's socket."""
    peer = circuit.sock.getsockname()  # (the handshake is done: the server has it)

    def options():
        for each in ca_server.server.circuits:
            if each.peer == peer:
                sock = each.transport.get_extra_info("socket")
                return (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return None

    assert ca_server.call(options) == (1, 1)


def test_a_refused_put_to_bare_channel_data_is_logged_with_the_pv_name(circuit, serve_pvs,
                                                                        caplog):
    """Bare channel data has no name of its own: the refusal's WARNING names the PV the
    client put to (it said "?"), and each PV has its own rate limit."""
    caplog.set_level(logging.WARNING, logger="iochost.pv")
    names = serve_pvs({"MODE": ChannelEnum(value=0, enum_strings=["a", "b"]),
                       "OTHER": ChannelEnum(value=0, enum_strings=["a", "b"])})
    for name in ("MODE", "OTHER"):
        sid = circuit.create_channel(names[name])[1].sid
        reply = circuit.write(sid, ChannelType.LONG, 1, struct.pack(">i", 7) + bytes(4))
        assert reply.status == eca.ECA_PUTFAIL
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert [line.split(" refused")[0] for line in refusals] == [
        f"put to {names['MODE']}", f"put to {names['OTHER']}"]

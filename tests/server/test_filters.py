"""EPICS channel filters (``PV.[s:i:e]``, ``PV.{"dbnd":...}``): parsing, then over CA with
pyepics and caproto's client, then the same subarray reads against softioc (RSRV)."""
from __future__ import annotations

import importlib.util
import socket
import time

import numpy as np
import pytest
from softioc_process import running_softioc

from iochost.ca import commands as ca
from iochost.ca.dbr import decode_dbr
from iochost.ca.parser import StreamParser
from iochost.pv.data import ChannelDouble, ChannelString
from iochost.server.filters import (STATES, ArrayFilter, DecimationFilter, DeadbandFilter,
                                    FilterError, TimestampFilter, parse_filters,
                                    split_modifiers)
from iochost.testing import wait_until

WAVE = np.arange(10.0)

# (modifiers, elements read from WAVE) -- the examples of EPICS' filters.dbd.pod and more.
SUBARRAYS = [
    ("[3:5]", [3, 4, 5]),
    ("[3:2:-3]", [3, 5, 7]),
    ('{"arr":{s:2,i:2,e:8}}', [2, 4, 6, 8]),
    ("{arr:{s:-3}}", [7, 8, 9]),
    ("[4]", [4]),
    ("[-1]", [9]),
    ("[:2]", [0, 1, 2]),
    ("[7:]", [7, 8, 9]),
    ("[::3]", [0, 1, 2, 3]),  # [start:increment:end]: here only the end is given
    ("[:3:]", [0, 3, 6, 9]),
    ("[1:3]{'arr':{'i':2}}", [1, 3]),  # filters compose in the order written
    ("[0:0:0]", [0]),  # a step below 1 is 1
    ("[1:-2:3]", [1, 2, 3]),
    ("[3:1:1]", []),  # start after end: no element
]


# -- parsing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("PV.[2:5]", ("PV", "[2:5]")),
    ("PV.VAL[2:5]", ("PV.VAL", "[2:5]")),
    ('PV.{"ts":{}}', ("PV", '{"ts":{}}')),
    ('PV.EGU{"ts":{}}', ("PV.EGU", '{"ts":{}}')),
    ("PV.NAME$[0:4]", ("PV.NAME$", "[0:4]")),
    ("PV$[0:4]", ("PV$", "[0:4]")),
    ("PV", None),
    ("PV[0]", None),  # modifiers follow a field name, a bare '.', or '$'
])
def test_split_modifiers(name, expected):
    assert split_modifiers(name) == expected


@pytest.mark.parametrize("text, expected", [
    ("{ts:{}}", [TimestampFilter()]),
    ('{"dbnd":{"abs":1.5}}', [DeadbandFilter(1.5, False)]),
    ("{dbnd:{rel:10}}", [DeadbandFilter(10.0, True)]),
    ("{dbnd:{d:2, m:'rel'}}", [DeadbandFilter(2.0, True)]),
    ("{ 'dec' : { 'n' : 4 , } }", [DecimationFilter(4)]),
    ('{"arr":{"s":1,"i":0,"e":3}}', [ArrayFilter(1, 1, 3)]),  # i <= 0 -> 1, as arr.c
    ("[1:0:3]", [ArrayFilter(1, 1, 3)]),  # the same in brackets: RSRV serves [2, 3, 4]
    ("[0:-1:4]", [ArrayFilter(0, 1, 4)]),
    ("[2:5]{ts:{},dec:{n:2}}", [ArrayFilter(2, 1, 5), TimestampFilter(), DecimationFilter(2)]),
    # options as chfPlugin reads them (softIoc's answers: test_filters_rsrv.py)
    ('{"dbnd":{"d":"1"}}', [DeadbandFilter(1.0, False)]),  # strtod: a string converts
    ("{dbnd:{r:50}}", [DeadbandFilter(50.0, True)]),  # a prefix names an option
    ("{dbnd:{rel:5,m:''}}", [DeadbandFilter(5.0, False)]),  # ... and an enum value; last wins
    ("{dbnd:{d:1,abs:{rel:3}}}", [DeadbandFilter(3.0, True)]),  # nested keys are the outer's
    ("{arr:{s:1.9,i:true,e:' 0x5 V'}}", [ArrayFilter(1, 1, 5)]),
    ("{dec:{n:2},dec:{n:3}}", [DecimationFilter(2), DecimationFilter(3)]),
    ("{ts:{epoch:'u'}}", [TimestampFilter()]),
])
def test_parse_filters(text, expected):
    assert parse_filters(text) == expected


@pytest.mark.parametrize("text, message", [
    ("{nope:{}}", "unknown channel filter 'nope'"),
    ("{dec:{}}", "needs 'n'"),
    ("{dec:{n:0}}", "positive integer"),
    ("{dec:{n:1.5}}", "'n' cannot take 1.5"),
    ("{arr:{x:1}}", "has no option 'x'"),
    ("{dbnd:{m:'sideways'}}", "cannot take 'sideways' (it takes one of ['abs', 'rel'])"),
    ("{sync:{while:'no-such-state'}}", "no state named"),
    ("{ts:{}", "expected ',' or '}'"),
    ("{ts:{}}x", "end of the filter specification"),
    ("[1:2]junk", "expected a value"),
    ("{ts:[}}", "expected a value"),
    ("{'ts:{}}", "closing '"),
    ("{arr:" + "[" * 600 + "]" * 600 + "}", "at most 32 nested"),
    ("{arr:{s:" + "9" * 5000 + "}}", "at most 4300 digits"),
    ("{dec:{n:1e308}}", "'n' cannot take 1e+308"),  # dec's n converts nothing
    ("{dec:{n:'3'}}", "'n' cannot take '3'"),
    ("{dbnd:{d:3000000000}}", "cannot take 3000000000"),  # JSON integers: 32 bits
    ("{dbnd:{d:'1e-310'}}", "cannot take '1e-310'"),  # strtod's ERANGE
    ("{dbnd:{d:1e999}}", "a number a double can hold"),
    ("{dec:{n:01}}", "expected ',' or '}'"),
    ("{dbnd:{d:-NaN}}", "expected a value"),
    ("{arr:{s:null}}", "cannot take None"),
    ("{ts:{num:'dbl'}}", "not offered"),
])
def test_malformed_filters_are_refused(text, message):
    with pytest.raises(FilterError) as info:
        parse_filters(text)
    assert message in str(info.value)


def test_array_indices_follow_wrap_array_indices():
    # start after end -> empty; indices clipped to the array
    assert ArrayFilter(5, 1, 2).indices(10)[2] == 0
    assert ArrayFilter(-20, 1, 20).indices(10) == (0, 9, 10)
    assert ArrayFilter(3, 2, -3).indices(10) == (3, 7, 3)
    assert ArrayFilter(1, 0, 3).indices(10) == (1, 3, 3)  # a step below 1 is 1


# -- over Channel Access --------------------------------------------------------------------------
@pytest.fixture
def wave(serve_pvs):
    channel = ChannelDouble(value=WAVE.copy(), max_length=len(WAVE))
    scalar = ChannelDouble(value=0.0, precision=3)
    text = ChannelString(value="hello")
    names = serve_pvs({"WF": channel, "AI": scalar, "SI": text})
    return names, channel, scalar


@pytest.mark.parametrize("modifiers, expected", SUBARRAYS)
def test_subarray_reads_with_pyepics(pyepics, wave, modifiers, expected):
    names, _, _ = wave
    pv = pyepics.PV(names["WF"] + "." + modifiers, auto_monitor=False)
    try:
        assert pv.wait_for_connection(timeout=10)
        assert pv.count == len(expected)  # the channel's element count is the subarray's
        assert list(np.atleast_1d(pv.get(timeout=5))) == expected
    finally:
        pv.disconnect()


def test_subarray_and_timestamp_with_caproto(caproto_context, wave, ca_server):
    from caproto import ChannelType as CT

    names, channel, _ = wave
    old = channel.timestamp
    sub, stamped = caproto_context.get_pvs(names["WF"] + ".[3:5]",
                                           names["WF"] + '.{"ts":{}}', timeout=10)
    sub.wait_for_connection(timeout=10)
    stamped.wait_for_connection(timeout=10)
    assert list(sub.read(timeout=5).data) == [3, 4, 5]
    time.sleep(0.05)
    before = time.time()
    reading = stamped.read(data_type=CT.TIME_DOUBLE, timeout=5)
    assert list(reading.data) == list(WAVE)
    # ts: the time of the read, not the PV's own (older) timestamp
    assert reading.metadata.timestamp >= before - 0.01 > old
    # a monitor of the subarray follows the underlying array
    updates = []

    def collect(_subscription, response):  # caproto holds callbacks weakly: keep a name
        updates.append(list(response.data))

    subscription = sub.subscribe(data_type=CT.DOUBLE)
    subscription.add_callback(collect)
    assert wait_until(lambda: updates == [[3, 4, 5]], timeout=10, what=f"{updates}")
    ca_server.call(channel.write(WAVE * 10))
    assert wait_until(lambda: updates[-1] == [30, 40, 50], timeout=10)
    subscription.clear()


def test_decimation_and_deadband_monitors(pyepics, wave, ca_server):
    names, _, scalar = wave
    received: dict[str, list[float]] = {"dec": [], "dbnd": [], "plain": []}
    pvs = []
    for key, suffix in (("dec", ".{dec:{n:3}}"), ("dbnd", '.{"dbnd":{"abs":1.5}}'),
                        ("plain", "")):
        pv = pyepics.PV(names["AI"] + suffix,
                        callback=lambda value=None, key=key, **kw: received[key].append(value))
        assert pv.wait_for_connection(timeout=10)
        pvs.append(pv)
    assert wait_until(lambda: all(len(v) == 1 for v in received.values()), timeout=10)
    for value in range(1, 10):
        ca_server.call(scalar.write(float(value)))
        time.sleep(0.02)  # one update each (the server coalesces to the latest)
    assert wait_until(lambda: received["plain"][-1:] == [9.0], timeout=10)
    time.sleep(0.3)
    # plain: every value; dec n=3: the initial update is the first the filter passes, then
    # every third (RSRV runs the first update through the filters too)
    assert received["plain"] == [0.0, *map(float, range(1, 10))]
    assert received["dec"] == [0.0, 3.0, 6.0, 9.0]
    # dbnd abs 1.5: the initial 0, then a change of more than 1.5 from the last sent
    assert received["dbnd"] == [0.0, 2.0, 4.0, 6.0, 8.0]
    for pv in pvs:
        pv.disconnect()


def test_sync_while_gates_updates_by_state(pyepics, wave, ca_server):
    names, _, scalar = wave
    STATES["test-gate"] = False
    got: list[float] = []
    pv = pyepics.PV(names["AI"] + ".{sync:{while:'test-gate'}}",
                    callback=lambda value=None, **kw: got.append(value))
    try:
        assert pv.wait_for_connection(timeout=10)
        assert wait_until(lambda: len(got) == 1, timeout=10)  # the initial update
        ca_server.call(scalar.write(5.0))
        time.sleep(0.3)
        assert got == [0.0]
        STATES["test-gate"] = True
        ca_server.call(scalar.write(6.0))
        assert wait_until(lambda: got[-1:] == [6.0], timeout=10)
    finally:
        pv.disconnect()
        del STATES["test-gate"]


def test_malformed_filter_fails_the_channel(caproto_context, wave):
    names, _, _ = wave
    name = names["WF"] + ".{dec:{n:0}}"
    bad, = caproto_context.get_pvs(name, timeout=2)
    try:
        with pytest.raises(TimeoutError):
            bad.wait_for_connection(timeout=2)
    finally:
        # caproto searches on for it, and its search thread dies on the JSON it cannot
        # parse once a server answers (as a later test's serve-any-name server does)
        caproto_context.broadcaster.cancel(name)


def test_string_pv_ignores_deadband(pyepics, wave):
    names, _, _ = wave
    pv = pyepics.PV(names["SI"] + ".{dbnd:{abs:5}}", auto_monitor=False)
    try:
        assert pv.wait_for_connection(timeout=10)
        assert pv.get(timeout=5) == "hello"
    finally:
        pv.disconnect()


# -- the same subarrays from RSRV ------------------------------------------------------------------
class RawChannel:
    """One channel over a raw circuit, built from the protocol core (both servers alike)."""

    def __init__(self, port: int, name: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.parser = StreamParser(ca.Role.CLIENT)
        self.pending: list = []
        self.sock.sendall(ca.VersionRequest(priority=0, version=13).to_bytes()
                          + ca.CreateChanRequest(name=name.encode(), cid=1,
                                                 version=13).to_bytes())
        reply = self.until(lambda m: isinstance(m, (ca.CreateChanResponse,
                                                    ca.CreateChFailResponse)))
        self.created = isinstance(reply, ca.CreateChanResponse)
        self.count = reply.data_count if self.created else 0
        self.sid = reply.sid if self.created else 0

    def until(self, wanted):
        deadline = time.monotonic() + 10
        while True:
            for message in self.pending:
                if wanted(message):
                    self.pending.remove(message)
                    return message
            self.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            data = self.sock.recv(1 << 20)
            assert data, "the server closed the circuit"
            self.pending.extend(self.parser.feed(data))

    def write(self, values) -> None:
        payload = np.asarray(values, ">f8").tobytes()
        self.sock.sendall(ca.WriteNotifyRequest(data_type=6, data_count=len(values),
                                                sid=self.sid, ioid=2,
                                                payload=payload).to_bytes())
        self.until(lambda m: isinstance(m, ca.WriteNotifyResponse))

    def read(self) -> list[float]:
        self.sock.sendall(ca.ReadNotifyRequest(data_type=6, data_count=0, sid=self.sid,
                                               ioid=3).to_bytes())
        reply = self.until(lambda m: isinstance(m, ca.ReadNotifyResponse))
        values, _ = decode_dbr(6, reply.payload, reply.data_count)
        return [float(v) for v in values]

    def close(self) -> None:
        self.sock.close()


#: bracket numbers dbChannel reads with strtol (base 0) into an epicsInt32: saturated, then
#: cut to 32 bits (5,000 ones is -1, the last element); a sign without digits is no number
ODD_SUBARRAYS = ["[" + "1" * 5000 + "]", "[-]", "[99999999999]", "[-:2]", "[\u0663]",
                 "[010]", "[0x2:0x4]", "[ 3 ]", "[+1:2]", "[]", "[:]", "[1:2:3:4]", "[2:]"]


def _subarray_answers(port: int, name: str) -> tuple[list, list]:
    """What SUBARRAYS and a bad filter get, and what ODD_SUBARRAYS get."""
    setter = RawChannel(port, name)
    setter.write(WAVE)
    setter.close()
    answers = []
    for modifiers, _ in SUBARRAYS:
        channel = RawChannel(port, f"{name}.{modifiers}")
        answers.append((modifiers, channel.count, channel.read()))
        channel.close()
    bad = RawChannel(port, f"{name}.{{dec:{{n:0}}}}")
    answers.append(("bad filter created", bad.created))
    bad.close()
    odd = []
    for modifiers in ODD_SUBARRAYS:
        channel = RawChannel(port, f"{name}.{modifiers}")
        odd.append((modifiers[:14], channel.created, channel.count,
                    channel.read() if channel.created else None))
        channel.close()
    return answers, odd


@pytest.mark.skipif(importlib.util.find_spec("softioc") is None, reason="softioc missing")
def test_subarrays_answer_as_rsrv(ca_server, wave):
    names, _, _ = wave
    ours = _subarray_answers(ca_server.tcp_port, names["WF"])
    db = 'record(waveform, "FILTER:WF") { field(FTVL, "DOUBLE") field(NELM, "10") }\n'
    with running_softioc(db) as port:
        theirs = _subarray_answers(port, "FILTER:WF")
    assert ours == theirs
    answers, odd = ours
    assert [answer[2] for answer in answers[:-1]] == [[float(v) for v in expected]
                                                      for _, expected in SUBARRAYS]
    assert odd[0][1:3] == (True, 1)   # one element, not a closed circuit

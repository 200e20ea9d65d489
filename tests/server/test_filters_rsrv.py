"""Channel filter options read as RSRV reads them (chfPlugin, yajl): odd option values --
strings holding numbers, doubles for integer options, huge, negative, booleans, null,
unknown or abbreviated keys, nested maps -- connect or fail on iochost exactly as on
softIoc, and where they connect the filter does the same: the subarray read, the monitor
updates of a few writes (see ``_read_options`` in iochost/server/filters.py)."""
from __future__ import annotations

import importlib.util
import select
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from softioc_process import running_softioc

from iochost.ca import commands as ca
from iochost.ca.dbr import decode_dbr
from iochost.ca.parser import StreamParser
from iochost.pv.data import ChannelDouble
from iochost.server.filters import STATES

if importlib.util.find_spec("softioc") is None:
    pytest.skip("softioc is not installed", allow_module_level=True)

#: channel-name modifiers; those naming "arr" (or starting "[") act on the waveform WF
#: (0..9), the others on the ao AO; sync's states: "on" (set), "off", a 19-character one
CASES = [
    # the fuzzer's two: a double for dec's integer n (dec converts nothing); a string
    # holding a number for dbnd's double d (dbnd converts)
    '{"dec":{"n":1e308}}', '{"dbnd":{"d":"1"}}',
    # dec's n takes JSON integers only, which must fit an epicsInt32
    '{"dec":{"n":3}}', '{"dec":{"n":3.0}}', '{"dec":{"n":3.}}', '{"dec":{"n":"3"}}',
    '{"dec":{"n":true}}', '{"dec":{"n":null}}', '{"dec":{"n":[3]}}', '{"dec":{"n":0x3}}',
    '{"dec":{"n":+3}}', '{"dec":{"n":-0}}', '{"dec":{"n":-0x1}}', '{"dec":{"n":01}}',
    '{"dec":{"n":2147483647}}', '{"dec":{"n":2147483648}}', '{"dec":{"n":1' + '0' * 30 + '}}',
    '{"dec":{}}', '{"dec":{"n":{}}}', '{"dec":{"n":{"n":3}}}', '{"dec":{"n":3,"n":{}}}',
    '{"dec":{"":3}}', '{"dec":{"n":3,"x":1}}', '{"dec":{"n":2},"dec":{"n":3}}',
    # arr's integers convert: doubles truncate within an epicsInt32 (a NaN is INT_MIN),
    # strings as strtol base 0 with trailing text, booleans as 0/1
    '{"arr":{"s":1.9}}', '{"arr":{"s":-1.9}}', '{"arr":{"s":1e10}}', '{"arr":{"s":NaN}}',
    '{"arr":{"s":Infinity}}', '{"arr":{"s":2147483647.5}}', '{"arr":{"e":-2147483648.9}}',
    '{"arr":{"s":"2"}}', '{"arr":{"s":"0x2"}}', '{"arr":{"s":"010"}}', '{"arr":{"s":" 2x"}}',
    '{"arr":{"s":"-0x2"}}', '{"arr":{"s":"1.9"}}', '{"arr":{"s":"x"}}', '{"arr":{"s":""}}',
    '{"arr":{"s":"- 2"}}', '{"arr":{"s":"0x"}}', '{"arr":{"s":"99999999999"}}',
    '{"arr":{"s":"-2147483648"}}', '{"arr":{"s":"2\\u0000"}}', '{"arr":{"s":"\\u00002"}}',
    '{"arr":{"s":"\\u0662"}}', '{"arr":{"s":true}}', '{"arr":{"i":false,"s":1}}',
    '{"arr":{"s":null}}', '{"arr":{"s":-0x1}}', '{"arr":{"s":0xffffffff}}',
    '{"arr":{"":2}}', '{"arr":{"s":2,"s":3}}', '{"arr":{"s":{}}}', '[1:8]{"arr":{"s":"1"}}',
    # dbnd's doubles: JSON integers only within an epicsInt32; strings as strtod with
    # trailing text, ERANGE refused; booleans 0/1
    '{"dbnd":{"d":" 1abc"}}', '{"dbnd":{"d":"\\v1"}}', '{"dbnd":{"d":""}}',
    '{"dbnd":{"d":"abc"}}', '{"dbnd":{"d":"0x10"}}', '{"dbnd":{"d":"1e"}}',
    '{"dbnd":{"d":"infinity"}}', '{"dbnd":{"d":"nan(12)"}}', '{"dbnd":{"d":"1e999"}}',
    '{"dbnd":{"d":"1e-310"}}', '{"dbnd":{"d":"1e-400"}}', '{"dbnd":{"d":"0e-400"}}',
    '{"dbnd":{"d":"2.2250738585072011e-308"}}', '{"dbnd":{"d":"0x1p-1074"}}',
    '{"dbnd":{"d":"0x1.8p-1074"}}', '{"dbnd":{"d":"0x1p99999"}}', '{"dbnd":{"d":"\\u00a01"}}',
    '{"dbnd":{"d":1e999}}', '{"dbnd":{"d":1e-400}}', '{"dbnd":{"d":Infinity}}',
    '{"dbnd":{"d":-Infinity}}', '{"dbnd":{"d":NaN}}', '{"dbnd":{"d":-NaN}}',
    '{"dbnd":{"d":true}}', '{"dbnd":{"d":3000000000}}', '{"dbnd":{"d":3e9}}',
    '{"dbnd":{"d":-1}}', '{"dbnd":{"d":.5}}', '{"dbnd":{"d":-0x10}}', '{"dbnd":{"d":[]}}',
    # dbnd's mode: an enum named by any prefix (even "") or by its value; tags set it too
    '{"dbnd":{"m":"rel"}}', '{"dbnd":{"m":"r"}}', '{"dbnd":{"m":""}}', '{"dbnd":{"m":"relx"}}',
    '{"dbnd":{"m":"rel\\u0000x"}}', '{"dbnd":{"m":1}}', '{"dbnd":{"m":2}}',
    '{"dbnd":{"m":1.0}}', '{"dbnd":{"m":true}}', '{"dbnd":{"rel":50,"m":"abs"}}',
    '{"dbnd":{"m":"abs","d":1}}', '{"dbnd":{"a":2}}', '{"dbnd":{"r":50}}', '{"dbnd":{"":2}}',
    '{"dbnd":{"abs\\u0000zz":2}}', '{"dbnd":{"a\\u0000":2}}', '{"dbnd":{"abs":{}}}',
    '{"dbnd":{"d":1,"abs":{"rel":50}}}', '{"dbnd":{"x":{}}}',
    # ts: no options needed; epoch (strings only) has no effect without a numeric mode
    '{"ts":{}}', '{"ts":1}', '{"ts":null}', '{"ts":{"epoch":"unix"}}', '{"ts":{"e":"u"}}',
    '{"ts":{"epoch":""}}', '{"ts":{"epoch":1}}', '{"ts":{"epoch":"x"}}', '{"ts":{"num":{}}}',
    '{"ts":{"x":1}}',
    # sync: mode (an enum, by prefix or value) and state (strings only, cut to 19
    # characters), both required; a tag names both
    '{"sync":{"while":"on"}}', '{"sync":{"w":"on"}}', '{"sync":{"unless":"off"}}',
    '{"sync":{"m":4,"s":"on"}}', '{"sync":{"m":5,"s":"off"}}', '{"sync":{"m":6,"s":"on"}}',
    '{"sync":{"m":-1,"s":"on"}}', '{"sync":{"m":4.0,"s":"on"}}', '{"sync":{"m":true,"s":"on"}}',
    '{"sync":{"m":"w","s":"on"}}', '{"sync":{"m":"","s":"on"}}', '{"sync":{"":"while","s":"on"}}',
    '{"sync":{"m":"while","s":1}}', '{"sync":{"while":true}}', '{"sync":{"s":"on"}}',
    '{"sync":{"m":"while"}}', '{"sync":{"while":"abcdefghijklmnopqrsXYZ"}}',
    '{"sync":{"while":"abcdefghijklmnopqr"}}', '{"sync":{"while":"on\\u0000x"}}',
    '{"sync":{"while":"nope","s":"on"}}', '{"sync":{"while":"on","s":"nope"}}',
    '{"sync":{"m":"u","while":"off"}}', '{"sync":{"m":"while","s":{"s":"on"}}}',
    # the JSON5 yajl reads: comments, escapes, no control characters in strings
    '{"dec":{"n":3/*c*/}}', '{"dec":{"n":3}}//c', '{"dec":{"n":3}}/*', '{"dec":{"n":3}}/',
    '{"dec":{"n":3//c\n}}', '{dec:{n:3,}}', "{'dbnd':{'d':'1'}}", '{"dbnd":{"m":"\\a"}}',
    '{"dbnd":{"d":"\\1"}}', '{"dbnd":{"m":"a\tb"}}', '{"dec":{,"n":3}}', '{}',
]

#: RSRV connects these, iochost refuses them (compliance.md): ts's numeric and string
#: modes change the channel's type and are not offered, nor is utag; maps nest at most
#: 32 deep here (bounded recursion), in yajl without limit
DIFFERENT = ['{"ts":{"num":"dbl"}}', '{"ts":{"str":"iso"}}', '{"ts":{"":"sec"}}',
             '{"utag":{"M":1}}', '{"dec":' + '{"n":' * 33 + '3' + '}' * 34]

WRITES = [1.0, 2.0, 2.5, 4.0, 8.0, 8.5, 20.0, 21.0, 0.5, -3.0]
DB = ('record(ao, "FILTEROPTS:AO") { field(VAL, "0") }\n'
      'record(waveform, "FILTEROPTS:WF") { field(FTVL, "DOUBLE") field(NELM, "10") }\n')
LONG_STATE = "abcdefghijklmnopqrs"  # 19 characters: what fits sync's char[20]
#: run in softIoc before READY: the states sync names (only C code makes them)
_MAKE_STATES = f"""
import ctypes
create = imports.dbCore.dbStateCreate
create.restype = ctypes.c_void_p
imports.dbCore.dbStateSet.argtypes = [ctypes.c_void_p]
imports.dbCore.dbStateSet(create(b"on"))
create(b"off")
create(b"{LONG_STATE}")
"""


def on_wf(modifiers: str) -> bool:
    return "arr" in modifiers or modifiers.startswith("[")


class Circuit:
    """One raw CA circuit: many channels, reads, writes and subscriptions at once."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.parser = StreamParser(ca.Role.CLIENT)
        self.pending: list = []
        self.updates: dict[int, list[float]] = {}
        self.sock.sendall(ca.VersionRequest(priority=0, version=13).to_bytes())

    def receive(self, timeout: float) -> bool:
        if not select.select([self.sock], [], [], timeout)[0]:
            return False
        data = self.sock.recv(1 << 20)
        assert data, "the server closed the circuit"
        for message in self.parser.feed(data):
            if isinstance(message, ca.EventAddResponse):
                values, _ = decode_dbr(6, message.payload, message.data_count)
                self.updates.setdefault(message.subscriptionid, []).append(float(values[0]))
            else:
                self.pending.append(message)
        return True

    def until(self, wanted):
        deadline = time.monotonic() + 10
        while True:
            for message in self.pending:
                if wanted(message):
                    self.pending.remove(message)
                    return message
            assert self.receive(max(deadline - time.monotonic(), 0)), "no reply in 10 s"

    def create(self, names: list[str]) -> list[tuple[int, int] | None]:
        """(sid, element count) of each name, None where CREATE_CHAN failed."""
        self.sock.sendall(b"".join(ca.CreateChanRequest(name=name.encode(), cid=cid,
                                                        version=13).to_bytes()
                                   for cid, name in enumerate(names)))
        answers: list[tuple[int, int] | None] = []
        for cid in range(len(names)):
            reply = self.until(lambda m, cid=cid: isinstance(
                m, (ca.CreateChanResponse, ca.CreateChFailResponse)) and m.cid == cid)
            created = isinstance(reply, ca.CreateChanResponse)
            answers.append((reply.sid, reply.data_count) if created else None)
        return answers

    def read(self, sid: int) -> list[float]:
        self.sock.sendall(ca.ReadNotifyRequest(data_type=6, data_count=0, sid=sid,
                                               ioid=sid).to_bytes())
        reply = self.until(lambda m: isinstance(m, ca.ReadNotifyResponse) and m.ioid == sid)
        values, _ = decode_dbr(6, reply.payload, reply.data_count)
        return [float(v) for v in values]

    def write(self, sid: int, values: list[float]) -> None:
        self.sock.sendall(ca.WriteNotifyRequest(
            data_type=6, data_count=len(values), sid=sid, ioid=sid,
            payload=np.asarray(values, ">f8").tobytes()).to_bytes())
        self.until(lambda m: isinstance(m, ca.WriteNotifyResponse) and m.ioid == sid)

    def subscribe(self, sid: int) -> None:
        self.sock.sendall(ca.EventAddRequest(data_type=6, data_count=1, sid=sid,
                                             subscriptionid=sid, low=0, high=0, to=0,
                                             mask=1).to_bytes())  # DBE_VALUE

    def settle(self, quiet: float = 0.3) -> None:
        while self.receive(quiet):
            pass


def answers(port: int, prefix: str, cases: list[str]) -> dict[str, tuple]:
    """Per case: whether it connects, its element count, what the filter does -- the
    waveform's values read through it, or the AO's updates through it as WRITES are made
    -- and the subscription's first update (ours cannot hold it back: compliance.md)."""
    main = Circuit(port)
    ao, wf = (sid for sid, _ in main.create([prefix + "AO", prefix + "WF"]))
    main.write(wf, list(range(10)))
    main.write(ao, [0.0])
    # RSRV's yajl refuses a JSON Infinity as an overflow while its thread's errno still
    # holds an earlier ERANGE (compliance.md): such a case gets a fresh circuit
    circuits = [Circuit(port) if "Infinity" in case else main for case in cases]
    channels = [circuit.create([prefix + ("WF." if on_wf(case) else "AO.") + case])[0]
                for case, circuit in zip(cases, circuits)]
    for case, circuit, channel in zip(cases, circuits, channels):
        if channel and not on_wf(case):
            circuit.subscribe(channel[0])
    for circuit in {id(c): c for c in circuits}.values():
        circuit.settle()
    first = {id(c): {k: list(v) for k, v in c.updates.items()} for c in circuits}
    for value in WRITES:
        main.write(ao, [value])
        main.settle(0.05)  # one update per write, on both servers
    for circuit in {id(c): c for c in circuits}.values():
        circuit.settle()
    result = {}
    for case, circuit, channel in zip(cases, circuits, channels):
        if channel is None:
            result[case] = (False, 0, [], [])
        elif on_wf(case):
            result[case] = (True, channel[1], circuit.read(channel[0]), [])
        else:
            sid, before = channel[0], first[id(circuit)].get(channel[0], [])
            result[case] = (True, channel[1], circuit.updates.get(sid, [])[len(before):],
                            before)
    for circuit in {id(c): c for c in circuits}.values():
        circuit.sock.close()
    return result


@contextmanager
def softioc_with_states(db: str) -> Iterator[int]:
    """running_softioc, its IOC also making the states "on" (set), "off" and LONG_STATE."""
    with running_softioc(db, setup=_MAKE_STATES) as port:
        yield port


@pytest.fixture(scope="module")
def theirs() -> dict[str, tuple]:
    with softioc_with_states(DB) as port:
        return answers(port, "FILTEROPTS:", CASES + DIFFERENT)


@pytest.fixture(scope="module")
def ours(ca_server) -> Iterator[dict[str, tuple]]:
    names = {"FILTEROPTS:AO": ChannelDouble(value=0.0),
             "FILTEROPTS:WF": ChannelDouble(value=np.zeros(10), max_length=10)}
    states = {"on": True, "off": False, LONG_STATE: False}
    ca_server.add(names)
    STATES.update(states)
    try:
        yield answers(ca_server.tcp_port, "FILTEROPTS:", CASES + DIFFERENT)
    finally:
        for state in states:
            STATES.pop(state, None)
        ca_server.remove(list(names))


@pytest.mark.parametrize("case", CASES)
def test_filter_options_read_as_rsrv(theirs, ours, case):
    assert ours[case][:3] == theirs[case][:3]
    # a subscription's first update: the same, unless RSRV's filter held it back
    assert theirs[case][3] in (ours[case][3], [])


@pytest.mark.parametrize("case", DIFFERENT)
def test_documented_differences_from_rsrv(theirs, ours, case):
    assert theirs[case][0] and not ours[case][0]


def test_the_cases_exercise_the_filters(theirs):
    # a test that passed because nothing connected, or nothing moved, would prove little
    assert theirs['{"dec":{"n":3}}'] == (True, 1, [2.5, 8.5, 0.5], [0.0])
    assert theirs['{"dbnd":{"d":"1"}}'] == (True, 1, [2.0, 4.0, 8.0, 20.0, 0.5, -3.0], [0.0])
    assert theirs['{"arr":{"s":"0x2"}}'] == (True, 8, [float(v) for v in range(2, 10)], [])
    assert theirs['{"sync":{"while":"on"}}'] == (True, 1, WRITES, [0.0])
    assert theirs['{"sync":{"unless":"off"}}'] == (True, 1, WRITES, [0.0])
    assert theirs['{"dbnd":{"d":Infinity}}'] == (True, 1, [], [])  # the first held back
    assert theirs['{"dec":{"n":1e308}}'][0] is False

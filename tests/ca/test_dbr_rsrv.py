"""Oracle test against EPICS' own server: RSRV in softioc, over loopback.

A raw CA client (our header packing, nothing else of ours on the wire) reads every
record below as each readable DBR type and element count.  From RSRV's own answers for
the native type (values, CTRL_DOUBLE limits, TIME stamp, STSACK, CLASS_NAME) we build
the channel's ``Metadata`` and ask ``encode_dbr`` for the same request: the bytes must be
RSRV's.  RSRV leaves pad bytes and the tails of strings uninitialised, so its payload is
compared after a decode/encode round trip through our codec (which zeroes them).

String puts are checked the same way: RSRV's read-back, or its refusal (ECA_PUTFAIL),
against ``convert_values``'s result or ``ECA_NOCONVERT``.
"""
import importlib.util
import socket

import numpy as np
import pytest
from softioc_process import running_softioc

from iochost.ca.dbr import (CTRL_LIMITS, ChannelType, Metadata, convert_values, decode_dbr,
                            encode_dbr, native_type)
from iochost.ca.eca import ECA_NORMAL, ECA_NOCONVERT, ECA_PUTFAIL
from iochost.ca.errors import CaStatusError
from iochost.ca.header import pack_header, unpack_header

if importlib.util.find_spec("softioc") is None:  # not imported: its EPICS libraries would
    pytest.skip("softioc is not installed", allow_module_level=True)  # clash with pyepics' libca

T = ChannelType
READ_NOTIFY, WRITE_NOTIFY, CREATE_CHAN, ERROR = 15, 19, 18, 11

DB = """
record(ao, "D:AO") { field(VAL, "3.14159") field(PREC, "2") field(EGU, "mm")
  field(HOPR, "70000.7") field(LOPR, "-3.9") field(DRVH, "100") field(DRVL, "-100")
  field(HIHI, "9") field(HIGH, "8") field(LOW, "-8") field(LOLO, "-9") }
record(ao, "D:BIG") { field(VAL, "-0.125") field(PREC, "2") field(HOPR, "1e39") }
record(ai, "D:AI") { field(VAL, "70000.7") field(PREC, "12") }
record(ai, "D:NAN") { field(VAL, "nan") field(PREC, "3") }
record(ao, "D:PUT") { field(PREC, "3") }
record(longout, "D:LO") { field(VAL, "-5") field(EGU, "cnt") field(HOPR, "70000")
  field(LOPR, "-70000") }
record(mbbo, "D:MB") { field(ZRST, "Off") field(ONST, "On") field(TWST, "Fault")
  field(VAL, "1") }
record(mbbo, "D:MBX") { field(ZRST, "Off") field(ONST, "On") field(VAL, "7") }
record(mbbo, "D:MB0") { field(VAL, "3") }
record(stringout, "D:SO") { field(VAL, "hello") }
record(waveform, "D:WC") { field(FTVL, "UCHAR") field(NELM, "6") }
record(waveform, "D:WD") { field(FTVL, "DOUBLE") field(NELM, "5") }
record(waveform, "D:WF") { field(FTVL, "FLOAT") field(NELM, "3") }
record(waveform, "D:WS") { field(FTVL, "SHORT") field(NELM, "3") }
"""
ARRAYS = {"D:WC": (T.CHAR, np.frombuffer(b"Hi\0", np.uint8)),
          "D:WD": (T.DOUBLE, np.array([1.5, -2.7, 70000.7, 1e10])),
          "D:WF": (T.FLOAT, np.array([0.1, 1e30, -5.5], np.float32)),
          "D:WS": (T.INT, np.array([-1, 300, 7], np.int16))}
RECORDS = ["D:AO", "D:BIG", "D:AI", "D:NAN", "D:LO", "D:MB", "D:MBX", "D:MB0", "D:SO",
           *ARRAYS]

class RawClient:
    """Just enough of a CA client: requests by hand, replies matched by ioid."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.ioid = 0
        self.send(0, 0, 13)                                   # VERSION, minor 13
        self.send(20, payload=b"iochost-test")                # CLIENT_NAME
        self.send(21, payload=b"localhost")                   # HOST_NAME

    def send(self, cmd, dtype=0, count=0, p1=0, p2=0, payload=b""):
        payload += bytes(-len(payload) % 8)
        self.sock.sendall(pack_header(cmd, len(payload), dtype, count, p1, p2) + payload)

    def receive(self, match):
        """The next message whose header satisfies ``match``; others are skipped."""
        while True:
            parsed = unpack_header(self.buffer)
            if parsed is not None:
                header, size = parsed
                end = size + header.payload_size
                if len(self.buffer) >= end:
                    payload, self.buffer = self.buffer[size:end], self.buffer[end:]
                    if header.command == ERROR:
                        raise AssertionError(f"RSRV error reply: {payload[16:]!r}")
                    if match(header):
                        return header, payload
                    continue
            data = self.sock.recv(1 << 20)
            assert data, "softioc closed the circuit"
            self.buffer += data

    def create(self, name: str, cid: int):
        self.send(CREATE_CHAN, 0, 0, cid, 13, name.encode() + b"\0")
        header, _ = self.receive(lambda h: h.command == CREATE_CHAN and h.parameter1 == cid)
        return header

    def read(self, sid: int, dbr_type: int, count: int):
        self.ioid += 1
        self.send(READ_NOTIFY, dbr_type, count, sid, self.ioid)
        ioid = self.ioid
        header, payload = self.receive(
            lambda h: h.command == READ_NOTIFY and h.parameter2 == ioid)
        return header.parameter1, header.data_count, payload      # status, count, payload

    def write(self, sid: int, dbr_type: int, count: int, payload: bytes) -> int:
        self.ioid += 1
        self.send(WRITE_NOTIFY, dbr_type, count, sid, self.ioid, payload)
        ioid = self.ioid
        header, _ = self.receive(lambda h: h.command == WRITE_NOTIFY and h.parameter2 == ioid)
        return header.parameter1


@pytest.fixture(scope="module")
def rsrv():
    """softioc serving DB on a private loopback port; a connected RawClient and the sids."""
    with running_softioc(DB) as port:
        client = RawClient(port)
        sids = {}
        for cid, name in enumerate(RECORDS + ["D:PUT"]):
            header = client.create(name, cid)
            sids[name] = (header.parameter2, T(header.data_type), header.data_count)
        for name, (native, values) in ARRAYS.items():
            payload, count = encode_dbr(native, native, values, Metadata())
            assert client.write(sids[name][0], native, count, payload) == ECA_NORMAL
        yield client, sids
        client.sock.close()


def channel_state(client, sid, native):
    """(values, Metadata) of a record as a channel would hold them, from RSRV's replies."""
    _, count, payload = client.read(sid, native, 0)
    values, _ = decode_dbr(native, payload, count)
    meta = Metadata()
    if native is not T.STRING:
        _, _, payload = client.read(sid, T.CTRL_DOUBLE, 1)    # limits as doubles, NaN kept
        _, ctrl = decode_dbr(T.CTRL_DOUBLE, payload, 1)
        for name in ("units", "precision", *CTRL_LIMITS):
            setattr(meta, name, getattr(ctrl, name))
    if native is T.ENUM:
        _, _, payload = client.read(sid, T.CTRL_ENUM, 1)
        meta.enum_strings = decode_dbr(T.CTRL_ENUM, payload, 1)[1].enum_strings
    _, _, payload = client.read(sid, T.TIME_STRING if native is T.STRING else
                                T.TIME_DOUBLE, 1)
    stamp = decode_dbr(T.TIME_DOUBLE if native is not T.STRING else T.TIME_STRING,
                       payload, 1)[1]
    meta.status, meta.severity, meta.secs, meta.nsecs = \
        stamp.status, stamp.severity, stamp.secs, stamp.nsecs
    _, _, payload = client.read(sid, T.STSACK_STRING, 1)
    ack = decode_dbr(T.STSACK_STRING, payload, 1)[1]
    meta.ackt, meta.acks = ack.ackt, ack.acks
    _, _, payload = client.read(sid, T.CLASS_NAME, 1)
    meta.class_name = decode_dbr(T.CLASS_NAME, payload, 1)[1].class_name
    return values, meta


def canonical(dbr_type, payload, count) -> bytes:
    """RSRV's payload with its uninitialised pad bytes and string tails zeroed."""
    values, meta = decode_dbr(dbr_type, payload, count)
    return encode_dbr(dbr_type, native_type(dbr_type), values, meta, count)[0]


READABLE = [t for t in ChannelType if t not in (T.PUT_ACKT, T.PUT_ACKS)]


@pytest.mark.parametrize("name", RECORDS)
def test_reads_are_byte_identical_to_rsrv(rsrv, name):
    client, sids = rsrv
    sid, native, length = sids[name]
    values, meta = channel_state(client, sid, native)
    counts = (0, 1) if length == 1 else (0, 2, length + 2)
    mismatches, checked = [], 0
    for dbr_type in READABLE:
        for count in counts if dbr_type != T.CLASS_NAME else (1,):  # RSRV: junk after [0]
            status, rsrv_count, payload = client.read(sid, dbr_type, count)
            try:
                ours, our_count = encode_dbr(dbr_type, native, values, meta, count)
            except CaStatusError as exc:
                if status == ECA_NORMAL:
                    mismatches.append(f"{dbr_type.name}[{count}]: we raised {exc}")
                continue
            if status != ECA_NORMAL:
                mismatches.append(f"{dbr_type.name}[{count}]: RSRV status {status}, we encoded")
            elif (ours, our_count) != (canonical(dbr_type, payload, rsrv_count), rsrv_count):
                mismatches.append(f"{dbr_type.name}[{count}]:\n  RSRV {payload.hex()}"
                                  f"\n  ours {ours.hex()}")
            checked += 1
    assert not mismatches, f"{name}: " + "\n".join(mismatches)
    assert checked >= len(READABLE) or native is T.STRING


PUT_TEXTS = [b"0x10", b"010", b"1e3", b" 7 ", b"", b"12abc", b"abc", b"2.9", b"-2.9",
             b"99999999999", b"0x1p3", b"inf", b"nan", b"   ", b"1_000", b"+5", b"1e400",
             b"-1e-40", b"1e-400"]
ENUM_TEXTS = [b"On", b"2", b"5", b"Maybe", b" 1", b"0x1", b"Fault"]


@pytest.mark.parametrize("name, texts", [("D:LO", PUT_TEXTS), ("D:PUT", PUT_TEXTS),
                                         ("D:MB", ENUM_TEXTS)])
def test_string_puts_parse_like_rsrv(rsrv, name, texts):
    client, sids = rsrv
    sid, native, _ = sids[name]
    enum_strings = (b"Off", b"On", b"Fault") if native is T.ENUM else ()
    mismatches = []
    for text in texts:
        assert client.write(sid, T.STRING, 1, b"0".ljust(40, b"\0")) == ECA_NORMAL
        status = client.write(sid, T.STRING, 1, text.ljust(40, b"\0"))
        _, count, payload = client.read(sid, native, 1)
        rsrv_value = decode_dbr(native, payload, count)[0].tolist()
        try:
            ours = convert_values([text], T.STRING, native, enum_strings).tolist()
        except CaStatusError as exc:
            assert exc.status == ECA_NOCONVERT
            ours = "refused"
        expected = "refused" if status == ECA_PUTFAIL else rsrv_value
        if repr(ours) != repr(expected):          # repr: NaN equals NaN
            mismatches.append(f"{text!r}: RSRV {expected} (status {status}), ours {ours}")
    assert not mismatches, "\n".join(mismatches)

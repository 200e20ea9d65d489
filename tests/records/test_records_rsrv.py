"""Records against softIoc (issue 12): the same records on both servers, the same requests,
the same answers.  GR/CTRL alarm limits (NaN for one whose severity field is NO_ALARM, one
no range arms, every field's), the native type of mbbo/mbbi, the text of states without
strings, menu and state puts, the UDF alarm of a NaN value, failed reads' zeroed data,
fields served as DOUBLE, the deadbands' references, mbbiDirect bits, link fields, and
states and texts posted only when they change.

The same ao record on both servers: HIHI/HIGH/LOW/LOLO set, HHSV=MAJOR and LSV=MINOR, the
other two severities NO_ALARM.  softIoc's severity fields start at the dbd's NO_ALARM; ours
start at the framework's MAJOR/MINOR (records/behaviour.py), so ours are put over CA.
"""
import importlib.util
import math
import socket
import struct
import sys
import time
from pathlib import Path

import pytest

from iochost import PVGroup, pvproperty
from iochost.ca import packers
from iochost.ca.alarm_codes import AlarmSeverity, AlarmStatus
from iochost.ca.commands import CreateChanResponse, ReadNotifyResponse, Role, WriteNotifyResponse
from iochost.ca.dbr import ChannelType, decode_dbr
from iochost.ca.parser import StreamParser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from softioc_process import running_softioc

if importlib.util.find_spec("softioc") is None:
    pytest.skip("softioc is not installed", allow_module_level=True)

LIMITS = {"HIHI": 9.0, "HIGH": 8.0, "LOW": -8.0, "LOLO": -9.0}
SEVERITIES = {"HHSV": "MAJOR", "HSV": "NO_ALARM", "LSV": "MINOR", "LLSV": "NO_ALARM"}


class Raw:
    """Just enough CA: create a channel, read and write by hand."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.parser = StreamParser(Role.CLIENT)
        self.messages: list = []
        self.ioid = 0
        self.sock.sendall(packers.version_request() + packers.host_name_request(b"h")
                          + packers.client_name_request(b"u"))

    def until(self, kind, key):
        while True:
            for index, message in enumerate(self.messages):
                if isinstance(message, kind) and key(message):
                    return self.messages.pop(index)
            self.messages += self.parser.feed(self.sock.recv(1 << 16))

    def create(self, name: str) -> int:
        self.sock.sendall(packers.create_chan_request(name.encode(), 1))
        return self.until(CreateChanResponse, lambda m: m.cid == 1).sid

    def read_reply(self, sid: int, dbr_type: ChannelType, count: int = 1) -> ReadNotifyResponse:
        self.ioid += 1
        self.sock.sendall(packers.read_notify_request(dbr_type, count, sid, self.ioid))
        return self.until(ReadNotifyResponse, lambda m, ioid=self.ioid: m.ioid == ioid)

    def read(self, name: str, dbr_type: ChannelType):
        return decode_dbr(dbr_type, self.read_reply(self.create(name), dbr_type).payload, 1)

    def put(self, sid: int, dbr_type: ChannelType, payload: bytes) -> int:
        """A put with completion of one element; its status."""
        self.ioid += 1
        self.sock.sendall(packers.write_notify_request(dbr_type, 1, sid, self.ioid,
                                                       payload.ljust(8, b"\0")))
        return self.until(WriteNotifyResponse, lambda m, ioid=self.ioid: m.ioid == ioid).status

    def drain(self, quiet: float = 0.3) -> None:
        """Read every message until ``quiet`` seconds pass without one, then close."""
        self.sock.settimeout(quiet)
        try:
            while True:
                self.messages += self.parser.feed(self.sock.recv(1 << 16))
        except TimeoutError:
            pass
        self.sock.close()

    def put_string(self, name: str, text: str) -> None:
        assert self.put(self.create(name), ChannelType.STRING,
                        text.encode().ljust(40, b"\0")) == 1


def comparable(*values: float) -> tuple:
    """``values`` with each NaN as "nan", so that two servers' answers compare with ==."""
    return tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in values)


def alarm_limits(port: int, name: str) -> list:
    raw = Raw(port)
    out = []
    for dbr_type in (ChannelType.CTRL_DOUBLE, ChannelType.GR_DOUBLE, ChannelType.CTRL_LONG):
        _, meta = raw.read(name, dbr_type)
        out.append(comparable(meta.upper_alarm_limit, meta.upper_warning_limit,
                              meta.lower_warning_limit, meta.lower_alarm_limit))
    raw.sock.close()
    return out


class Limits(PVGroup):
    ao = pvproperty(value=0.0, record="ao", upper_alarm_limit=LIMITS["HIHI"],
                    upper_warning_limit=LIMITS["HIGH"], lower_warning_limit=LIMITS["LOW"],
                    lower_alarm_limit=LIMITS["LOLO"])


def test_no_alarm_severity_limits_are_nan_as_rsrv(mount, ca_server, unique_prefix):
    name = unique_prefix + "ao"
    fields = " ".join(f'field({k}, "{v}")' for k, v in {**LIMITS, **SEVERITIES}.items())
    with running_softioc(f'record(ao, "{name}") {{ {fields} }}\n') as rsrv_port:
        theirs = alarm_limits(rsrv_port, name)
    mount(Limits(prefix=unique_prefix))
    before = alarm_limits(ca_server.tcp_port, name)
    assert before[0] == (9.0, 8.0, -8.0, -9.0)  # every severity armed (the framework's)
    raw = Raw(ca_server.tcp_port)
    for field, severity in SEVERITIES.items():
        raw.put_string(f"{name}.{field}", severity)
    raw.sock.close()
    deadline = time.monotonic() + 5
    while (mine := alarm_limits(ca_server.tcp_port, name)) != theirs \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mine == theirs
    assert theirs[0] == (9.0, "nan", -8.0, "nan") and theirs[2] == (9, 0, -8, 0)


def limits_by_type(port: int, names: list[str]) -> dict:
    """The alarm and control limits of each name in each GR/CTRL type (NaN as "nan")."""
    raw = Raw(port)
    out = {}
    for name in names:
        for dbr_type in (ChannelType.GR_FLOAT, ChannelType.GR_DOUBLE, ChannelType.CTRL_DOUBLE,
                         ChannelType.CTRL_LONG, ChannelType.CTRL_SHORT):
            _, meta = raw.read(name, dbr_type)
            out[name.rsplit(":", 1)[1], dbr_type.name] = comparable(
                meta.upper_alarm_limit, meta.upper_warning_limit, meta.lower_warning_limit,
                meta.lower_alarm_limit, meta.upper_ctrl_limit, meta.lower_ctrl_limit)
    raw.sock.close()
    return out


class Untouched(PVGroup):
    ai = pvproperty(value=1.5, record="ai", precision=3)
    longout = pvproperty(value=7, record="longout")
    bo = pvproperty(value="On", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bo")
    mbbi = pvproperty(value=1, dtype=ChannelType.ENUM, record="mbbi")
    # only the HIHI/LOLO pair is a range: HIGH/LOW arm nothing
    ranged = pvproperty(value=0.0, record="ao", upper_alarm_limit=9.0, lower_alarm_limit=-9.0)


def test_limits_nothing_arms_are_nan_as_rsrv(mount, ca_server, unique_prefix):
    """Records nobody gave alarm limits, records whose value has none (bo, mbbi), fields
    (recGblGetAlarmDouble) and a pair that is no range: NaN in FLOAT/DOUBLE, 0 as integers;
    a bo's VAL has its ENUM type's control range (65535, -1 as a SHORT)."""
    P = unique_prefix
    db = (f'record(ai, "{P}ai") {{ field(VAL, "1.5") field(PREC, "3") }}\n'
          f'record(longout, "{P}longout") {{ field(VAL, "7") }}\n'
          f'record(bo, "{P}bo") {{ field(ZNAM, "Off") field(ONAM, "On") field(VAL, "1") }}\n'
          f'record(mbbi, "{P}mbbi") {{ field(VAL, "1") }}\n'
          f'record(ao, "{P}ranged") {{ field(HIHI, "9") field(LOLO, "-9") '
          f'field(HHSV, "MAJOR") field(LLSV, "MAJOR") }}\n')
    names = [P + n for n in ("ai", "longout", "bo", "mbbi", "ranged", "ai.HOPR", "ai.SCAN",
                             "longout.HOPR", "ranged.HIHI")]
    with running_softioc(db) as rsrv_port:
        theirs = limits_by_type(rsrv_port, names)
    mount(Untouched(prefix=P))
    assert limits_by_type(ca_server.tcp_port, names) == theirs
    nan4 = ("nan",) * 4
    assert theirs["ai", "GR_DOUBLE"][:4] == theirs["ai.SCAN", "CTRL_DOUBLE"][:4] == nan4
    assert theirs["ranged", "CTRL_DOUBLE"][:4] == (9.0, "nan", "nan", -9.0)
    assert theirs["ranged", "CTRL_LONG"][:4] == (9, 0, 0, -9)
    assert theirs["bo", "CTRL_DOUBLE"] == (*nan4, 65535.0, 0.0)
    assert theirs["bo", ChannelType.CTRL_SHORT.name] == (0, 0, 0, 0, -1, 0)


def native_types(port: int, names: list[str]) -> dict[str, tuple]:
    """(native DBR type, count, DBR_STRING text) of each name, as the server announces."""
    raw = Raw(port)
    out = {}
    for cid, name in enumerate(names, 1):
        raw.sock.sendall(packers.create_chan_request(name.encode(), cid))
        created = raw.until(CreateChanResponse, lambda m, cid=cid: m.cid == cid)
        reply = raw.read_reply(created.sid, ChannelType.STRING)
        text = decode_dbr(ChannelType.STRING, reply.payload, 1)[0][0]
        out[name.rsplit(":", 1)[1]] = (ChannelType(created.data_type), created.data_count,
                                       text)
    raw.sock.close()
    return out


class States(PVGroup):
    nostates = pvproperty(value=3, dtype=ChannelType.ENUM, record="mbbo")
    named = pvproperty(value="one", dtype=ChannelType.ENUM, enum_strings=["zero", "one"],
                       record="mbbo")
    mbbi = pvproperty(value=5, dtype=ChannelType.ENUM, record="mbbi")


def test_mbbo_val_is_long_without_state_strings_as_rsrv(mount, ca_server, unique_prefix):
    """mbbo VAL (DBF_ENUM, SPC_DBADDR) is served as DBR_LONG while no ZRST..FFST is set;
    mbbi VAL stays ENUM. SDEF says whether any state is defined (it read 0 always)."""
    P = unique_prefix
    names = [P + n for n in ("nostates", "nostates.VAL", "named", "mbbi", "nostates.SDEF",
                             "named.SDEF", "mbbi.SDEF")]
    with running_softioc(f'record(mbbo, "{P}nostates") {{ field(VAL, "3") }}\n'
                         f'record(mbbo, "{P}named") {{ field(ZRST, "zero") '
                         f'field(ONST, "one") field(VAL, "1") }}\n'
                         f'record(mbbi, "{P}mbbi") {{ field(VAL, "5") }}\n') as rsrv_port:
        theirs = native_types(rsrv_port, names)
    mount(States(prefix=P))
    mine = native_types(ca_server.tcp_port, names)
    assert mine == theirs
    assert theirs["nostates"] == (ChannelType.LONG, 1, b"3")
    assert theirs["mbbi"] == (ChannelType.ENUM, 1, b"")
    assert [theirs[n + ".SDEF"][2] for n in ("nostates", "named")] == [b"0", b"1"]


def put_enum(port: int, name: str, index: int) -> None:
    raw = Raw(port)
    assert raw.put(raw.create(name), ChannelType.ENUM, index.to_bytes(2, "big")) == 1
    raw.sock.close()


class Unnamed(PVGroup):
    mbbi = pvproperty(value=2, dtype=ChannelType.ENUM, record="mbbi")
    bi = pvproperty(value=1, dtype=ChannelType.ENUM, record="bi")
    plain = pvproperty(value=2, dtype=ChannelType.ENUM)  # not a record: its number


def test_enum_states_without_strings_read_as_text_as_rsrv(mount, ca_server, unique_prefix):
    """get_enum_str of EPICS' records: an mbbi state without a string reads "" up to 15
    and "Illegal Value" past it; a bi reads "" for 0/1 and "Illegal_Value" past them."""
    P = unique_prefix
    records = ["mbbi", "bi"]
    db = (f'record(mbbi, "{P}mbbi") {{ field(VAL, "2") }}\n'
          f'record(bi, "{P}bi") {{ field(VAL, "1") }}\n')

    def texts(port: int) -> list:
        before = native_types(port, [P + name for name in records])
        put_enum(port, P + "mbbi", 20)
        put_enum(port, P + "bi", 3)
        return [before, native_types(port, [P + "mbbi", P + "bi"])]

    with running_softioc(db) as rsrv_port:
        theirs = texts(rsrv_port)
    mount(Unnamed(prefix=P))
    assert texts(ca_server.tcp_port) == theirs
    enum = (ChannelType.ENUM, 1)
    assert theirs == [{"mbbi": (*enum, b""), "bi": (*enum, b"")},
                      {"mbbi": (*enum, b"Illegal Value"), "bi": (*enum, b"Illegal_Value")}]
    assert native_types(ca_server.tcp_port, [P + "plain"]) == {"plain": (*enum, b"2")}


def refusals(port: int, text_pv: str, number_pv: str) -> tuple[int, int]:
    """(status of reading text as DBR_DOUBLE, status of putting text to a number)."""
    raw = Raw(port)
    read = raw.read_reply(raw.create(text_pv), ChannelType.DOUBLE).status
    put = raw.put(raw.create(number_pv), ChannelType.STRING, b"high".ljust(40, b"\0"))
    raw.sock.close()
    return read, put


class Texts(PVGroup):
    text = pvproperty(value="hello", dtype=ChannelType.STRING, record="stringin")
    number = pvproperty(value=1.0, record="ao")


def test_values_that_do_not_convert_are_refused_with_rsrvs_status(mount, ca_server,
                                                                   unique_prefix):
    """A read whose value does not convert to the type asked is ECA_GETFAIL, a put of text
    that is no number ECA_PUTFAIL, on RSRV and on us."""
    P = unique_prefix
    names = (P + "text", P + "number")
    with running_softioc(f'record(stringin, "{names[0]}") {{ field(VAL, "hello") }}\n'
                         f'record(ao, "{names[1]}") {{ field(VAL, "1") }}\n') as rsrv_port:
        theirs = refusals(rsrv_port, *names)
    mount(Texts(prefix=P))
    assert refusals(ca_server.tcp_port, *names) == theirs == (152, 160)  # GETFAIL, PUTFAIL


def put_and_read(port: int, name: str, dbr_type: ChannelType, payload: bytes
                 ) -> tuple[int, bytes, int, int]:
    """(status of the put, then the value as text, its alarm status and severity)."""
    raw = Raw(port)
    status = raw.put(raw.create(name), dbr_type, payload)
    (text,), _ = raw.read(name, ChannelType.STRING)
    _, meta = raw.read(name, ChannelType.STS_STRING)
    raw.sock.close()
    return status, text, meta.status, meta.severity


def text(value: str) -> tuple[ChannelType, bytes]:
    return ChannelType.STRING, value.encode().ljust(40, b"\0")


def index(value: int) -> tuple[ChannelType, bytes]:
    return ChannelType.LONG, value.to_bytes(4, "big", signed=True)


def puts_as_rsrv(db: str, group: PVGroup, puts: list, mount, ca_server) -> list:
    """Each put (``(name, (dbr_type, payload))``, names after the group's prefix) made to
    softioc serving ``db``, then to ``group`` mounted on our server: the same (status,
    text read back) from both, which are returned."""
    def run(port: int) -> list:
        return [put_and_read(port, group.prefix + name, *put)[:2] for name, put in puts]

    with running_softioc(db) as rsrv_port:
        theirs = run(rsrv_port)
    mount(group)
    assert run(ca_server.tcp_port) == theirs
    return theirs


class Menus(PVGroup):
    ai = pvproperty(value=1.0, record="ai")
    bo = pvproperty(value="On", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bo")
    mbbi = pvproperty(value=1, dtype=ChannelType.ENUM, record="mbbi")


def test_menu_and_state_puts_as_rsrv(mount, ca_server, unique_prefix):
    """SCAN keeps Event and an index past its menu (read as its number; it scans nothing),
    not I/O Intr (Passive: no soft record interrupts); a number put as text to a menu must
    be the whole text; "" names no state of a bo or an mbbi without strings."""
    P = unique_prefix
    puts = [("ai.SCAN", text("Event")), ("ai.SCAN", index(1)), ("ai.SCAN", text("6")),
            ("ai.SCAN", text("I/O Intr")),
            ("ai.SCAN", index(20)), ("ai.SCAN", text(" 5 ")), ("ai.SCAN", text("2.0")),
            ("ai.SCAN", text("4 s")), ("ai.SCAN", text("")), ("ai.HHSV", index(7)),
            ("bo", text("")), ("bo", text("Off")), ("bo", text(" 1")), ("mbbi", text(""))]
    db = (f'record(ai, "{P}ai") {{ field(VAL, "1") }}\n'
          f'record(bo, "{P}bo") {{ field(ZNAM, "Off") field(ONAM, "On") field(VAL, "1") }}\n'
          f'record(mbbi, "{P}mbbi") {{ field(VAL, "1") }}\n')
    theirs = puts_as_rsrv(db, Menus(prefix=P), puts, mount, ca_server)
    assert theirs[:6] == [(1, b"Event"), (1, b"Event"), (1, b"1 second"), (1, b"Passive"),
                          (1, b"20"), (1, b"2 second")]
    assert [status for status, _ in theirs[6:9]] == [160] * 3  # PUTFAIL, the value kept


class BeyondStates(PVGroup):
    bo = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bo")
    bi = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bi")
    mbbo = pvproperty(value="zero", dtype=ChannelType.ENUM,
                      enum_strings=["zero", "one", "two"], record="mbbo")
    mbbi = pvproperty(value="zero", dtype=ChannelType.ENUM,
                      enum_strings=["zero", "one", "two"], record="mbbi")
    gap = pvproperty(value="zero", dtype=ChannelType.ENUM, enum_strings=["zero", "", "two"],
                     record="mbbo")
    plain = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=["Off", "On"])


#: the severity fields set on both servers (ours over CA: theirs start at NO_ALARM too,
#: set here so that the state alarms show)
STATE_SEVERITIES = {"bo": {"OSV": "MINOR"}, "bi": {"OSV": "MINOR"},
                    "mbbo": {"FVSV": "MINOR", "UNSV": "MAJOR"},
                    "mbbi": {"FVSV": "MINOR", "UNSV": "MAJOR"}}
ENUM_PUTS = [
    *(("enum", i) for i in (2, 5, 15, 16, 65535, 1)),
    ("long", -1), ("long", 70000), ("double", 2.7),
    *(("text", t) for t in ("1e0", "1.0", "1abc", " 1", "1 ", "0x1", "011", "On ", "2", "",
                            " ", "one")),
]


def enum_answers(port: int, name: str) -> list:
    """After each of ENUM_PUTS (from state 0): the put's status, the value as DBR_ENUM and
    DBR_STRING, its alarm (DBR_STS_ENUM) and DBR_CTRL_ENUM's number of states."""
    raw = Raw(port)
    sid = raw.create(name)
    out = []
    for kind, value in ENUM_PUTS:
        raw.put(sid, ChannelType.ENUM, (0).to_bytes(2, "big"))
        dbr_type, payload = (
            (ChannelType.ENUM, value.to_bytes(2, "big")) if kind == "enum" else
            index(value) if kind == "long" else number(value) if kind == "double" else
            text(value))
        status = raw.put(sid, dbr_type, payload)
        (enum,), _ = raw.read(name, ChannelType.ENUM)
        (string,), _ = raw.read(name, ChannelType.STRING)
        _, sts = raw.read(name, ChannelType.STS_ENUM)
        _, ctrl = raw.read(name, ChannelType.CTRL_ENUM)
        out.append((kind, value, status, int(enum), string, AlarmStatus(sts.status),
                    AlarmSeverity(sts.severity), len(ctrl.enum_strings)))
    raw.sock.close()
    return out


def test_record_enums_take_any_index_and_text_as_rsrv(mount, ca_server, unique_prefix):
    """bi/bo/mbbi/mbbo VAL store any 16-bit index, however it is put (DBR_ENUM, a LONG or
    DOUBLE cast to it), as dbPut does: a bo/bi past 1 reads "Illegal_Value", an mbbx ""
    up to 15 and "Illegal Value" past it; the alarm is a bo's OSV for any state but 0, none
    for a bi past 1, an mbbx's state severity up to 15 and UNSV past it, except an mbbo with
    states named: SOFT/INVALID (its convert()).  A number put as text must be the whole
    text (strtoul base 0, blanks around it) and a state, but an mbbo takes the number the
    text starts with; "" names an mbbx's first state without a string.  A plain ENUM
    pvproperty (no record) keeps refusing an index past its states, as caproto does."""
    P = unique_prefix
    db = "".join(f'record({rtyp}, "{P}{name}") {{ {fields} '
                 + " ".join(f'field({k}, "{v}")' for k, v in STATE_SEVERITIES[rtyp].items())
                 + " }\n"
                 for name, rtyp, fields in (
                     ("bo", "bo", 'field(ZNAM, "Off") field(ONAM, "On")'),
                     ("bi", "bi", 'field(ZNAM, "Off") field(ONAM, "On")'),
                     ("mbbo", "mbbo", 'field(ZRST, "zero") field(ONST, "one") '
                                      'field(TWST, "two")'),
                     ("mbbi", "mbbi", 'field(ZRST, "zero") field(ONST, "one") '
                                      'field(TWST, "two")'),
                     ("gap", "mbbo", 'field(ZRST, "zero") field(TWST, "two")')))
    names = ("bo", "bi", "mbbo", "mbbi", "gap")

    def run(port: int) -> dict:
        return {name: enum_answers(port, P + name) for name in names}

    with running_softioc(db) as rsrv_port:
        theirs = run(rsrv_port)
    mount(BeyondStates(prefix=P))
    raw = Raw(ca_server.tcp_port)
    for name in names:
        for field, severity in STATE_SEVERITIES["mbbo" if name == "gap" else name].items():
            raw.put_string(f"{P}{name}.{field}", severity)
    raw.sock.close()
    mine = run(ca_server.tcp_port)
    for name in names:
        assert mine[name] == theirs[name], name
    STATE, SOFT = AlarmStatus.STATE, AlarmStatus.SOFT
    MINOR, MAJOR, INVALID = AlarmSeverity.MINOR, AlarmSeverity.MAJOR, AlarmSeverity.INVALID
    bo, bi, mbbo, mbbi = (theirs[n] for n in ("bo", "bi", "mbbo", "mbbi"))
    assert bo[1][2:] == (1, 5, b"Illegal_Value", STATE, MINOR, 2)
    assert bi[1][2:] == (1, 5, b"Illegal_Value", 0, 0, 2)
    assert mbbo[1][2:] == mbbi[1][2:] == (1, 5, b"", STATE, MINOR, 3)
    assert mbbo[3][2:] == (1, 16, b"Illegal Value", SOFT, INVALID, 3)
    assert mbbi[3][2:] == (1, 16, b"Illegal Value", STATE, MAJOR, 3)
    assert [row[3] for row in mbbo[6:9]] == [65535, 4464, 2]  # C casts
    texts = {name: [row[2:4] for row in theirs[name][9:]] for name in ("bo", "mbbo", "gap")}
    assert texts["bo"][:3] == [(160, 0)] * 3 and texts["mbbo"][:3] == [(1, 1)] * 3
    assert texts["mbbo"][9] == (1, 3) and texts["gap"][9] == (1, 1)  # ""
    assert theirs["bo"][9 + 9][2] == 160  # "" names no bo state
    assert texts["bo"][3:7] == [(1, 1), (1, 1), (1, 1), (160, 0)]  # " 1", "1 ", "0x1", "011"
    # not a record: caproto's rule
    raw = Raw(ca_server.tcp_port)
    assert raw.put(raw.create(P + "plain"), ChannelType.ENUM, (5).to_bytes(2, "big")) == 160
    raw.sock.close()


def number(value: float) -> tuple[ChannelType, bytes]:
    return ChannelType.DOUBLE, struct.pack(">d", value)


class Described(PVGroup):
    ao = pvproperty(value=0.0, record="ao", precision=3)
    lo = pvproperty(value=0, record="longout")
    wf = pvproperty(value=[0.0], max_length=4, record="waveform", precision=2)
    hist = pvproperty(value=[0], max_length=4, record="histogram", precision=2,
                      dtype=ChannelType.LONG)


def test_a_number_put_to_a_string_field_is_printed_with_the_records_prec(
        mount, ca_server, unique_prefix):
    """dbPut prints it with what get_precision gives (6 without one; a histogram's PREC is
    for its value fields only)."""
    P = unique_prefix
    puts = [(name, number(value)) for name in ("ao.DESC", "ao.EGU", "lo.DESC", "wf.EGU",
                                                "hist.DESC")
            for value in (1.5, -2.25, 123456.789, 1e10)]
    db = (f'record(ao, "{P}ao") {{ field(PREC, "3") }}\n'
          f'record(longout, "{P}lo") {{ }}\n'
          f'record(waveform, "{P}wf") {{ field(FTVL, "DOUBLE") field(NELM, "4") '
          f'field(PREC, "2") }}\n'
          f'record(histogram, "{P}hist") {{ field(NELM, "4") field(PREC, "2") }}\n')
    theirs = puts_as_rsrv(db, Described(prefix=P), puts, mount, ca_server)
    assert theirs[0] == (1, b"1.500") and theirs[8] == (1, b"1.500000")
    assert theirs[12] == (1, b"1.50") and theirs[16] == (1, b"1.500000")


class Undefined(PVGroup):
    ai = pvproperty(value=1.0, record="ai")
    ao = pvproperty(value=1.0, record="ao")
    udfs = pvproperty(value=1.0, record="ao")


def test_nan_value_raises_udf_alarm_as_rsrv(mount, ca_server, unique_prefix):
    """A NaN put to an ai or ao: the UDF alarm with severity UDFS (INVALID unless set);
    a number clears it."""
    P = unique_prefix
    nan, one = struct.pack(">d", math.nan), struct.pack(">d", 1.0)
    db = (f'record(ai, "{P}ai") {{ field(VAL, "1") }}\n'
          f'record(ao, "{P}ao") {{ field(VAL, "1") }}\n'
          f'record(ao, "{P}udfs") {{ field(VAL, "1") field(UDFS, "MINOR") }}\n')

    def run(port: int) -> list:
        put_and_read(port, P + "udfs.UDFS", *text("MINOR"))  # ours start at INVALID
        return [put_and_read(port, P + name, ChannelType.DOUBLE, value)
                for name in ("ai", "ao", "udfs") for value in (nan, one)]

    with running_softioc(db) as rsrv_port:
        theirs = run(rsrv_port)
    mount(Undefined(prefix=P))
    assert run(ca_server.tcp_port) == theirs
    assert theirs[0] == (1, b"nan", AlarmStatus.UDF, AlarmSeverity.INVALID)
    assert theirs[1][2:] == (0, 0)
    assert theirs[4][2:] == (AlarmStatus.UDF, AlarmSeverity.MINOR)


def failed_replies(port: int, name: str) -> list:
    """(status, count, payload size) of failed reads and subscriptions of text as numbers."""
    raw = Raw(port)
    sid = raw.create(name)
    out = []
    for dbr_type in (ChannelType.DOUBLE, ChannelType.TIME_DOUBLE, ChannelType.CTRL_DOUBLE):
        for count in (0, 1, 2):
            reply = raw.read_reply(sid, dbr_type, count)
            out.append(("read", reply.status, reply.data_count, len(reply.payload)))
            raw.ioid += 1
            raw.sock.sendall(packers.event_add_request(dbr_type, count, sid, raw.ioid, 1))
            # (without payload it parses as a cancel's confirmation: matched by its id)
            update = raw.until(object, lambda m, sub=raw.ioid:
                               getattr(m, "subscriptionid", None) == sub)
            out.append(("subscribe", getattr(update, "status", None), update.data_count,
                        len(getattr(update, "payload", b""))))
    raw.sock.close()
    return out


def test_failed_reads_carry_rsrvs_zeroed_data(mount, ca_server, unique_prefix):
    """A read or subscription that fails (text that is no number) carries zeros of
    ``dbr_size_n(type, count)``: for count 0 only the type's fields before the value."""
    name = unique_prefix + "text"
    with running_softioc(f'record(stringin, "{name}") {{ field(VAL, "hello") }}\n') as port:
        theirs = failed_replies(port, name)
    mount(Texts(prefix=unique_prefix))
    assert failed_replies(ca_server.tcp_port, name) == theirs
    # count 0 of a DOUBLE: no data at all (the subscription's reply then reads as a
    # cancel's confirmation, without a status: libca ignores it)
    assert theirs[:2] == [("read", 152, 0, 0), ("subscribe", None, 0, 0)]
    assert ("read", 152, 0, 16) in theirs and ("read", 152, 0, 80) in theirs


class Fields(PVGroup):
    ao = pvproperty(value=2.5, record="ao", precision=2)
    big = pvproperty(value=12.0, record="int64in")


def field_readings(port: int, P: str) -> list:
    """Texts and display limits of fields whose database type has no DBR of its own, the
    deadbands' references after puts, and an int64in's limits."""
    raw = Raw(port)
    for name, value in (("ao.MDEL", 1.0), ("ao", 2.5), ("ao", 4.0), ("ao", 4.5)):
        raw.put(raw.create(P + name), ChannelType.DOUBLE, struct.pack(">d", value))
        # (4.5 is within MDEL of 4.0)
    out: list = [raw.read(P + name, ChannelType.STRING)[0][0]
                 for name in ("ao.ROFF", "ao.UTAG", "ao.MLST", "ao.ALST")]
    for name in ("ao.UTAG", "ao.ROFF", "big"):
        _, meta = raw.read(P + name, ChannelType.CTRL_DOUBLE)
        out.append(comparable(meta.precision, meta.lower_disp_limit, meta.upper_disp_limit,
                              meta.upper_alarm_limit, meta.lower_alarm_limit))
    raw.sock.close()
    return out


def test_field_texts_ranges_and_deadband_references_as_rsrv(mount, ca_server, unique_prefix):
    """ULONG/UINT64 fields (served as DOUBLE) print whole numbers and show their type's
    range; MLST/ALST are the values last posted; an int64in's alarm limits go out as they
    are (its get_alarm_double has no severity check)."""
    P = unique_prefix
    db = (f'record(ao, "{P}ao") {{ field(VAL, "2.5") field(PREC, "2") }}\n'
          f'record(int64in, "{P}big") {{ field(VAL, "12") }}\n')
    with running_softioc(db) as rsrv_port:
        theirs = field_readings(rsrv_port, P)
    mount(Fields(prefix=P))
    assert field_readings(ca_server.tcp_port, P) == theirs
    assert theirs[:4] == [b"0", b"0", b"4.00", b"4.50"]
    assert theirs[4] == (0, 0.0, 2.0**64, "nan", "nan")
    assert theirs[6][3:] == (0.0, 0.0)


class WideIntegers(PVGroup):
    mbbo = pvproperty(value=0, record="mbbo")
    big = pvproperty(value=0, record="int64out", upper_ctrl_limit=1e15, lower_ctrl_limit=-1e15)


INTEGER_READS = (ChannelType.LONG, ChannelType.INT, ChannelType.CHAR, ChannelType.ENUM,
                 ChannelType.CTRL_LONG, ChannelType.TIME_INT, ChannelType.DOUBLE,
                 ChannelType.STRING)


def wide_integer_readings(port: int, P: str) -> list:
    """ULONG and INT64 values beyond 32 bits, read in every integer DBR type and as DOUBLE
    and STRING."""
    raw = Raw(port)
    out = []
    for name, text in (("mbbo.ZRVL", "4294967295"), ("mbbo.ONVL", "3000000000"),
                       ("mbbo.TWVL", "65537"), ("big", "1099511627777"),
                       ("big", "-1099511627779"), ("big.DRVH", "4294967296")):
        raw.put_string(P + name, text)
        out.append((name, text, [raw.read(P + name, t)[0][0] for t in INTEGER_READS]))
    raw.sock.close()
    return out


def test_integer_fields_served_as_double_read_as_c_casts_as_rsrv(mount, ca_server,
                                                                  unique_prefix):
    """A ULONG or INT64 field (or VAL) read as an integer DBR type is C-cast to it, as
    dbGet converts from the field's own type: its low bits, not a saturated double."""
    P = unique_prefix
    db = (f'record(mbbo, "{P}mbbo") {{ }}\n'
          f'record(int64out, "{P}big") {{ field(DRVH, "{10**15}") field(DRVL, "{-10**15}") }}\n')
    with running_softioc(db) as rsrv_port:
        theirs = wide_integer_readings(rsrv_port, P)
    mount(WideIntegers(prefix=P))
    assert wide_integer_readings(ca_server.tcp_port, P) == theirs
    assert theirs[0][2][:4] == [-1, -1, 255, 65535]
    assert theirs[3][2][:4] == [1, 1, 1, 1]


class Precise(PVGroup):
    ao = pvproperty(value=1.5, record="ao")
    calc = pvproperty(value=1.5, record="calc")


def precision_readings(port: int, P: str) -> list:
    """For PRECs beyond 0..15: each channel's GR precision and its value as text."""
    raw = Raw(port)
    for name in ("ao.HOPR", "ao.HIHI", "calc.A", "calc.HOPR"):
        raw.put_string(P + name, "1.5")
    out = []
    for prec in ("-1", "20", "16", "3"):
        for record in ("ao", "calc"):
            raw.put_string(f"{P}{record}.PREC", prec)
        for name in ("ao", "ao.HOPR", "ao.OVAL", "ao.HIHI", "calc", "calc.A", "calc.HOPR"):
            _, meta = raw.read(P + name, ChannelType.GR_DOUBLE)
            text = raw.read(P + name, ChannelType.STRING)[0][0]
            out.append((prec, name, meta.precision, text))
    raw.sock.close()
    return out


def test_a_prec_beyond_0_to_15_as_rsrv(mount, ca_server, unique_prefix):
    """VAL's text uses PREC as cvtDoubleToString's epicsUInt16 (-1: 17 digits); a field's
    precision is recGblGetPrec's (15 for a PREC below 0 or above 15) but where the record
    support gives PREC as it is (an ao's OVAL, a calc's inputs)."""
    P = unique_prefix
    db = (f'record(ao, "{P}ao") {{ field(VAL, "1.5") }}\n'
          f'record(calc, "{P}calc") {{ field(VAL, "1.5") }}\n')
    with running_softioc(db) as rsrv_port:
        theirs = precision_readings(rsrv_port, P)
    mount(Precise(prefix=P))
    assert precision_readings(ca_server.tcp_port, P) == theirs
    assert ("-1", "ao", -1, b" 1.50000000000000000e+00") in theirs
    assert ("-1", "ao.HOPR", 15, b" 1.500000000000000e+00") in theirs


class Bits(PVGroup):
    mbbid = pvproperty(value=5, record="mbbiDirect")
    mbbod = pvproperty(value=0, record="mbboDirect")
    calc = pvproperty(value=0.0, record="calc")


def test_bit_fields_and_link_fields_as_rsrv(mount, ca_server, unique_prefix):
    """B0..B1F of mbbiDirect/mbboDirect are the bits of VAL (a put to one sets that bit);
    a link field (INPA, FLNK) reads as text and fails as a SHORT or LONG."""
    P = unique_prefix
    db = (f'record(mbbiDirect, "{P}mbbid") {{ field(PINI, "YES") field(VAL, "5") }}\n'
          f'record(mbboDirect, "{P}mbbod") {{ field(PINI, "YES") field(VAL, "0") }}\n'
          f'record(calc, "{P}calc") {{ field(PINI, "YES") }}\n')

    def run(port: int) -> list:
        raw = Raw(port)
        out = [raw.read(P + f"mbbid.B{bit:X}", ChannelType.LONG)[0][0] for bit in range(4)]
        out.append(put_and_read(port, P + "mbbod.B3", *index(1))[:2])
        out.append(raw.read(P + "mbbod", ChannelType.LONG)[0][0])
        out.append(raw.read(P + "calc.INPA", ChannelType.STRING)[0][0])
        out += [raw.read_reply(raw.create(P + name), dbr_type).status
                for name in ("calc.INPA", "calc.FLNK")
                for dbr_type in (ChannelType.INT, ChannelType.LONG)]
        raw.sock.close()
        return out

    with running_softioc(db) as rsrv_port:
        theirs = run(rsrv_port)
    mount(Bits(prefix=P))
    assert run(ca_server.tcp_port) == theirs
    assert theirs == [1, 0, 1, 0, (1, b"1"), 8, b"", 152, 152, 152, 152]


def updates_after_puts(port: int, name: str, puts: list[tuple[ChannelType, bytes]]) -> list:
    """The (status, text) of each DBE_VALUE|DBE_LOG update of ``name`` while ``puts`` land."""
    raw = Raw(port)
    sid = raw.create(name)
    raw.sock.sendall(packers.event_add_request(ChannelType.STS_STRING, 1, sid, 99, 3))
    raw.until(object, lambda m: getattr(m, "subscriptionid", None) == 99)  # the first one
    for dbr_type, payload in puts:
        raw.put(sid, dbr_type, payload)
    raw.drain()
    return [decode_dbr(ChannelType.STS_STRING, m.payload, 1)[0][0] for m in raw.messages
            if getattr(m, "subscriptionid", None) == 99]


class Posting(PVGroup):
    bo = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bo")
    so = pvproperty(value="a", dtype=ChannelType.STRING, record="stringout")


def test_states_and_texts_post_only_when_changed_as_rsrv(mount, ca_server, unique_prefix):
    """A bo or stringout written its current value posts nothing (EPICS' monitor():
    MLST != VAL), a new one posts once."""
    P = unique_prefix
    db = (f'record(bo, "{P}bo") {{ field(ZNAM, "Off") field(ONAM, "On") }}\n'
          f'record(stringout, "{P}so") {{ field(VAL, "a") }}\n')
    bo_puts = [index(1), index(1), text("On"), index(0)]
    so_puts = [text("a"), text("b"), text("b"), text("c")]

    def run(port: int) -> list:
        return [updates_after_puts(port, P + "bo", bo_puts),
                updates_after_puts(port, P + "so", so_puts)]

    with running_softioc(db) as rsrv_port:
        theirs = run(rsrv_port)
    mount(Posting(prefix=P))
    assert run(ca_server.tcp_port) == theirs
    assert theirs == [[b"On", b"Off"], [b"b", b"c"]]


class OneSided(PVGroup):
    flow = pvproperty(value=30.0, record="ao")
    cryo = pvproperty(value=-170.0, record="ao")
    hot = pvproperty(value=0.0, record="ao")


def one_sided_alarms(port: int, P: str) -> list:
    """"Below 10 is MAJOR, below 20 MINOR" (LOLO/LOW alone), a cryostat's HIGH/HIHI
    below zero and HIHI alone (LOLO, never set, stays 0 and unarmed), set over CA; the
    alarm of each value put, and the GR/CTRL limits."""
    raw = Raw(port)
    setup = {"flow": {"LOLO": "10", "LLSV": "MAJOR", "LOW": "20", "LSV": "MINOR"},
             "cryo": {"HIGH": "-160", "HSV": "MINOR", "HIHI": "-150", "HHSV": "MAJOR"},
             "hot": {"HIHI": "10", "HHSV": "MAJOR"}}
    for record, fields in setup.items():
        for field, text in fields.items():
            raw.put_string(f"{P}{record}.{field}", text)
    out = []
    for record, values in (("flow", (15.0, 5.0, 25.0)), ("cryo", (-155.0, -100.0, -170.0)),
                           ("hot", (0.0, -5.0, 11.0))):
        sid = raw.create(P + record)
        for value in values:
            assert raw.put(sid, ChannelType.DOUBLE, struct.pack(">d", value)) == 1
            _, meta = decode_dbr(ChannelType.STS_DOUBLE,
                                 raw.read_reply(sid, ChannelType.STS_DOUBLE).payload, 1)
            out.append((record, value, AlarmStatus(meta.status).name,
                        AlarmSeverity(meta.severity).name))
        _, meta = raw.read(P + record, ChannelType.CTRL_DOUBLE)
        out.append(comparable(meta.upper_alarm_limit, meta.upper_warning_limit,
                              meta.lower_warning_limit, meta.lower_alarm_limit))
    raw.sock.close()
    return out


def test_one_sided_alarm_limits_written_over_ca_alarm_as_rsrv(mount, ca_server, unique_prefix):
    """EPICS' checkAlarms tests each limit by itself: LOLO=10 with LLSV=MAJOR alarms below
    10 whatever HIHI is. A limit written through its field is armed alone here too (the
    framework's pairing rule stays for limits given as pvproperty arguments)."""
    P = unique_prefix
    db = f'record(ao, "{P}flow") {{ field(VAL, "30") }}\n' \
         f'record(ao, "{P}cryo") {{ field(VAL, "-170") }}\n' \
         f'record(ao, "{P}hot") {{ }}\n'
    with running_softioc(db) as rsrv_port:
        theirs = one_sided_alarms(rsrv_port, P)
    mount(OneSided(prefix=P))
    assert one_sided_alarms(ca_server.tcp_port, P) == theirs
    assert ("flow", 5.0, "LOLO", "MAJOR") in theirs and ("cryo", -100.0, "HIHI", "MAJOR") in theirs
    assert [entry for entry in theirs if entry[0] == "hot"] == [
        ("hot", 0.0, "NO_ALARM", "NO_ALARM"), ("hot", -5.0, "NO_ALARM", "NO_ALARM"),
        ("hot", 11.0, "HIHI", "MAJOR")]


class Disabling(PVGroup):
    ao = pvproperty(value=0.0, record="ao")
    bo = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bo")
    so = pvproperty(value="a", record="stringout")


def disabling_alarms(port: int, P: str) -> list:
    """DISV=0 (DISA untouched: 0) disables at once; DISA=1 on bo/stringout, then DISA=0:
    the next processing clears the DISABLE alarm (every processing starts from NO_ALARM)."""
    raw = Raw(port)
    out = []

    def alarm(name: str) -> tuple:
        _, meta = decode_dbr(ChannelType.STS_STRING,
                             raw.read_reply(raw.create(P + name), ChannelType.STS_STRING).payload,
                             1)
        return name, AlarmStatus(meta.status).name, AlarmSeverity(meta.severity).name

    raw.put_string(P + "ao.DISS", "MINOR")
    raw.put_string(P + "ao.DISV", "0")
    raw.put_string(P + "ao", "5")
    out.append(alarm("ao"))
    for record, value, later in (("bo", "On", "Off"), ("so", "b", "c")):
        raw.put_string(f"{P}{record}.DISS", "MINOR")
        raw.put_string(f"{P}{record}.DISA", "1")
        raw.put_string(P + record, value)
        out.append(alarm(record))
        raw.put_string(f"{P}{record}.DISA", "0")
        raw.put_string(f"{P}{record}.PROC", "1")
        out.append(alarm(record))
        raw.put_string(P + record, later)
        out.append(alarm(record))
    raw.sock.close()
    return out


def test_disabling_and_enabling_alarms_as_rsrv(mount, ca_server, unique_prefix):
    P = unique_prefix
    db = (f'record(ao, "{P}ao") {{ }}\n'
          f'record(bo, "{P}bo") {{ field(ZNAM, "Off") field(ONAM, "On") }}\n'
          f'record(stringout, "{P}so") {{ field(VAL, "a") }}\n')
    with running_softioc(db) as rsrv_port:
        theirs = disabling_alarms(rsrv_port, P)
    mount(Disabling(prefix=P))
    assert disabling_alarms(ca_server.tcp_port, P) == theirs
    assert theirs[0] == ("ao", "DISABLE", "MINOR") and theirs[2][1:] == ("NO_ALARM", "NO_ALARM")


class Driven(PVGroup):
    ao = pvproperty(value=0.0, record="ao", upper_ctrl_limit=10.0, lower_ctrl_limit=-10.0)
    lo = pvproperty(value=0, record="longout", upper_ctrl_limit=10, lower_ctrl_limit=-10)


def driven_values(port: int, P: str) -> list:
    raw = Raw(port)
    out = []
    for record in ("ao", "lo"):
        raw.put_string(P + record, "8")
        raw.put_string(f"{P}{record}.DRVH", "5")       # pp(TRUE): the record processes
        raw.put_string(f"{P}{record}.DRVL", "-3")
        raw.put_string(P + record, "-7")
        raw.put_string(f"{P}{record}.DRVL", "-2")
        out += [raw.read(P + record, ChannelType.DOUBLE)[0][0]]
        raw.put_string(P + record, "4")
        raw.put_string(f"{P}{record}.DRVH", "3")
        out += [raw.read(P + record, ChannelType.DOUBLE)[0][0]]
    raw.sock.close()
    return out


def test_tightened_drive_limits_drive_the_output_at_once_as_rsrv(mount, ca_server,
                                                                 unique_prefix):
    P = unique_prefix
    db = (f'record(ao, "{P}ao") {{ field(DRVH, "10") field(DRVL, "-10") }}\n'
          f'record(longout, "{P}lo") {{ field(DRVH, "10") field(DRVL, "-10") }}\n')
    with running_softioc(db) as rsrv_port:
        theirs = driven_values(rsrv_port, P)
    mount(Driven(prefix=P))
    assert driven_values(ca_server.tcp_port, P) == theirs == [-2.0, 3.0, -2.0, 3.0]


class Processed(PVGroup):
    ao = pvproperty(value=0.0, record="ao")
    lo = pvproperty(value=0, record="longout")
    bo = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bo")


def updates_after_procs(port: int, P: str) -> dict:
    """The DBE_VALUE updates each record posts for three PROC=1 with its value unchanged,
    then, for the ao, three more with MDEL -1 (every processing posts)."""
    out = {}
    for record in ("ao", "lo", "bo"):
        raw = Raw(port)
        sid = raw.create(P + record)
        raw.sock.sendall(packers.event_add_request(ChannelType.STS_STRING, 1, sid, 99, 1))
        raw.until(object, lambda m: getattr(m, "subscriptionid", None) == 99)
        proc = raw.create(P + record + ".PROC")
        for _ in range(3):
            raw.put(proc, ChannelType.LONG, struct.pack(">i", 1))
        if record == "ao":
            raw.put_string(P + "ao.MDEL", "-1")
            for _ in range(3):
                raw.put(proc, ChannelType.LONG, struct.pack(">i", 1))
        raw.drain()
        out[record] = sum(getattr(m, "subscriptionid", None) == 99 for m in raw.messages)
    return out


def test_proc_posts_through_the_deadbands_as_rsrv(mount, ca_server, unique_prefix):
    """PROC with the value unchanged posts nothing (MDEL 0; bo: MLST == VAL); with MDEL
    -1 each processing posts (the update counts after the first one)."""
    P = unique_prefix
    db = (f'record(ao, "{P}ao") {{ }}\nrecord(longout, "{P}lo") {{ }}\n'
          f'record(bo, "{P}bo") {{ field(ZNAM, "Off") field(ONAM, "On") }}\n')
    with running_softioc(db) as rsrv_port:
        theirs = updates_after_procs(rsrv_port, P)
    mount(Processed(prefix=P))
    assert updates_after_procs(ca_server.tcp_port, P) == theirs == {"ao": 3, "lo": 0, "bo": 0}


class ChangeOfState(PVGroup):
    mbbo = pvproperty(value=0, dtype=ChannelType.ENUM, enum_strings=["A", "B", "C"],
                      record="mbbo")
    bo = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=["Off", "On"],
                    record="bo")


def cos_alarms(port: int, P: str) -> list:
    raw = Raw(port)
    out = []
    for record, values in (("mbbo", ("1", "1", None, "2", "0")), ("bo", ("1", "1", None, "0"))):
        raw.put_string(f"{P}{record}.COSV", "MINOR")
        for value in values:
            if value is None:
                raw.put_string(f"{P}{record}.PROC", "1")
            else:
                raw.put_string(f"{P}{record}", value)
            _, meta = decode_dbr(ChannelType.STS_STRING, raw.read_reply(
                raw.create(P + record), ChannelType.STS_STRING).payload, 1)
            out.append((record, value, AlarmStatus(meta.status).name))
    raw.sock.close()
    return out


def test_change_of_state_alarms_last_as_rsrv(mount, ca_server, unique_prefix):
    """mbbo keeps LALM while it raises COS, so the alarm stays until the value returns to
    it (EPICS' mbbo checkAlarms); a bo's COS lasts one processing."""
    P = unique_prefix
    db = (f'record(mbbo, "{P}mbbo") {{ field(ZRST, "A") field(ONST, "B") field(TWST, "C") }}\n'
          f'record(bo, "{P}bo") {{ field(ZNAM, "Off") field(ONAM, "On") }}\n')
    with running_softioc(db) as rsrv_port:
        theirs = cos_alarms(rsrv_port, P)
    mount(ChangeOfState(prefix=P))
    assert cos_alarms(ca_server.tcp_port, P) == theirs
    assert theirs[1] == ("mbbo", "1", "COS") and theirs[4] == ("mbbo", "0", "NO_ALARM")


class AlarmFields(PVGroup):
    ao = pvproperty(value=0.0, record="ao")


def alarm_field_updates(port: int, P: str) -> dict:
    """The updates of ao.STAT/SEVR/AMSG per event mask while puts move the alarm."""
    raw = Raw(port)
    for field, text in (("HIGH", "4"), ("HSV", "MINOR"), ("HIHI", "9"), ("HHSV", "MAJOR"),
                        ("LOW", "-4"), ("LSV", "MINOR"), ("LOLO", "-9"), ("LLSV", "MAJOR")):
        raw.put_string(f"{P}ao.{field}", text)
    raw.put_string(P + "ao", "0")
    subscriptions = {}
    for number, (field, mask) in enumerate(
            (f, m) for f in ("STAT", "SEVR", "AMSG") for m in (1, 2, 4)):
        sid = raw.create(f"{P}ao.{field}")
        raw.sock.sendall(packers.event_add_request(ChannelType.STRING, 1, sid, 100 + number,
                                                   mask))
        subscriptions[100 + number] = f"{field}/{mask}"
    time.sleep(0.3)
    sid = raw.create(P + "ao")
    for value in (5.0, 9.5, 0.0, -5.0):
        raw.put(sid, ChannelType.DOUBLE, struct.pack(">d", value))
    raw.drain()
    counts = dict.fromkeys(subscriptions.values(), 0)
    for message in raw.messages:
        key = subscriptions.get(getattr(message, "subscriptionid", None))
        if key is not None:
            counts[key] += 1
    return counts


def test_stat_sevr_amsg_post_with_recgblresetalarms_masks_as_rsrv(mount, ca_server,
                                                                   unique_prefix):
    """STAT and AMSG post DBE_ALARM at every alarm change (and DBE_VALUE when the status
    changed), SEVR DBE_VALUE; none posts DBE_LOG (a camonitor -m a of NAME.STAT heard
    nothing, an archiver's DBE_LOG monitor too much)."""
    P = unique_prefix
    with running_softioc(f'record(ao, "{P}ao") {{ }}\n') as rsrv_port:
        theirs = alarm_field_updates(rsrv_port, P)
    mount(AlarmFields(prefix=P))
    assert alarm_field_updates(ca_server.tcp_port, P) == theirs
    assert theirs["STAT/4"] == 5 and theirs["STAT/2"] == 1


def field_stamps(port: int, P: str) -> list:
    """Each field's DBR_TIME stamp minus the record's, after a put raised an alarm."""
    raw = Raw(port)
    raw.put_string(P + "ao.HIGH", "4")
    raw.put_string(P + "ao.HSV", "MINOR")
    time.sleep(0.2)
    raw.put_string(P + "ao", "5")
    out = []
    _, record = raw.read(P + "ao", ChannelType.TIME_DOUBLE)
    for field in ("STAT", "SEVR", "EGU", "HIGH", "DESC"):
        _, meta = raw.read(f"{P}ao.{field}", ChannelType.TIME_STRING)
        out.append((field, (meta.secs - record.secs) * 10**9 + meta.nsecs - record.nsecs))
    raw.sock.close()
    return out


def test_fields_carry_the_records_time_stamp_as_rsrv(mount, ca_server, unique_prefix):
    P = unique_prefix
    with running_softioc(f'record(ao, "{P}ao") {{ }}\n') as rsrv_port:
        theirs = field_stamps(rsrv_port, P)
    mount(AlarmFields(prefix=P))
    assert field_stamps(ca_server.tcp_port, P) == theirs == [
        ("STAT", 0), ("SEVR", 0), ("EGU", 0), ("HIGH", 0), ("DESC", 0)]


class TypedFields(PVGroup):
    ao = pvproperty(value=0.0, record="ao")
    wf = pvproperty(value=[], record="waveform", max_length=3, dtype=float)


def class_names(port: int, P: str) -> dict:
    """DBR_CLASS_NAME of a record and of fields of each type, long-string views included."""
    raw = Raw(port)
    names = [f"{P}ao{field}" for field in ("", ".SCAN", ".HOPR", ".PREC", ".UDF", ".DESC",
                                           ".RTYP", ".FLNK", ".DESC$", ".NAME$")]
    names += [f"{P}wf", f"{P}wf.NORD", f"{P}wf.FTVL"]
    out = {name: raw.read(name, ChannelType.CLASS_NAME)[1].class_name for name in names}
    raw.sock.close()
    return out


def test_fields_name_their_records_type_as_rsrv(mount, ca_server, unique_prefix):
    """DBR_CLASS_NAME names the record's type whatever field the channel reads (RSRV's
    dbChannel gives its record's type); ca_test reads it of every channel."""
    P = unique_prefix
    with running_softioc(f'record(ao, "{P}ao") {{ }}\n'
                         f'record(waveform, "{P}wf") {{ field(NELM, "3") field(FTVL, "DOUBLE") }}\n'
                         ) as rsrv_port:
        theirs = class_names(rsrv_port, P)
    mount(TypedFields(prefix=P))
    assert class_names(ca_server.tcp_port, P) == theirs
    assert set(theirs.values()) == {b"ao", b"waveform"}


class Gap(PVGroup):
    ao = pvproperty(value=1.0, record="ao", doc="gap")


def property_updates(port: int, P: str) -> list:
    """The DBE_PROPERTY updates a monitor of ``ao.DESC`` and one of ``ao.HOPR`` hear while
    EGU (prop YES) is written twice and DESC (prop NO) once."""
    raw = Raw(port)
    for field, subscription in (("DESC", 91), ("HOPR", 92)):
        sid = raw.create(f"{P}ao.{field}")
        raw.sock.sendall(packers.event_add_request(ChannelType.STRING, 1, sid, subscription,
                                                   0x08))   # DBE_PROPERTY alone
        raw.until(object, lambda m, s=subscription: getattr(m, "subscriptionid", None) == s)
    for field, value in (("EGU", "mm"), ("EGU", "um"), ("DESC", "new")):
        raw.put_string(f"{P}ao.{field}", value)
    raw.drain()
    return [(m.subscriptionid, decode_dbr(ChannelType.STRING, m.payload, 1)[0][0])
            for m in raw.messages if getattr(m, "subscriptionid", None) in (91, 92)]


def test_a_property_change_reaches_monitors_of_every_field_as_rsrv(mount, ca_server,
                                                                     unique_prefix):
    """dbPut of a prop(YES) field posts DBE_PROPERTY to every monitor of the record
    (db_post_events with no field), whatever field each watches."""
    P = unique_prefix
    with running_softioc(f'record(ao, "{P}ao") {{ field(DESC, "gap") }}\n') as rsrv_port:
        theirs = property_updates(rsrv_port, P)
    mount(Gap(prefix=P))
    assert property_updates(ca_server.tcp_port, P) == theirs
    assert len(theirs) == 4


class Arrays(PVGroup):
    wf = pvproperty(value=[0.0] * 4, max_length=4, record="waveform")


def array_updates(port: int, P: str) -> list:
    """The values a DBE_VALUE subscription of a waveform sees: [1, 2] put three times, a
    PROC, then with MPST "On Change" [1, 2] twice and [3, 4] once."""
    raw = Raw(port)
    sid = raw.create(P + "wf")
    raw.sock.sendall(packers.event_add_request(ChannelType.DOUBLE, 2, sid, 99, 1))
    raw.until(object, lambda m: getattr(m, "subscriptionid", None) == 99)

    def put(values: list[float]) -> None:
        raw.ioid += 1
        raw.sock.sendall(packers.write_notify_request(
            ChannelType.DOUBLE, len(values), sid, raw.ioid, struct.pack(f">{len(values)}d",
                                                                        *values)))
        raw.until(WriteNotifyResponse, lambda m, ioid=raw.ioid: m.ioid == ioid)

    for _ in range(3):
        put([1.0, 2.0])
    raw.put(raw.create(P + "wf.PROC"), ChannelType.LONG, struct.pack(">i", 1))
    raw.put_string(P + "wf.MPST", "On Change")
    for values in ([1.0, 2.0], [1.0, 2.0], [3.0, 4.0]):
        put(values)
    raw.drain()
    return [list(decode_dbr(ChannelType.DOUBLE, m.payload, 2)[0]) for m in raw.messages
            if getattr(m, "subscriptionid", None) == 99]


def test_array_records_post_every_processing_unless_on_change_as_rsrv(mount, ca_server,
                                                                       unique_prefix):
    """MPST "Always" (the waveform's default): each put and PROC posts, the value
    unchanged or not; "On Change": only a changed array posts -- changed from the last one
    posted while on change (the record's HASH), so the first put after the switch posts."""
    P = unique_prefix
    db = f'record(waveform, "{P}wf") {{ field(FTVL, "DOUBLE") field(NELM, "4") }}\n'
    with running_softioc(db) as rsrv_port:
        theirs = array_updates(rsrv_port, P)
    mount(Arrays(prefix=P))
    assert array_updates(ca_server.tcp_port, P) == theirs
    assert theirs == [[1.0, 2.0]] * 5 + [[3.0, 4.0]]


class Disp(PVGroup):
    ao = pvproperty(value=1.0, record="ao")


def puts_under_disp(port: int, P: str) -> list:
    """The status of puts to VAL, EGU, PROC and (long string) DESC$ with DISP 1, the
    values kept, then DISP 0 and a put that lands."""
    raw = Raw(port)
    raw.put_string(P + "ao.EGU", "mm")
    raw.put_string(P + "ao.DISP", "1")
    out = [raw.put(raw.create(P + "ao"), ChannelType.DOUBLE, struct.pack(">d", 5.0)),
           raw.put(raw.create(P + "ao.EGU"), ChannelType.STRING, b"cm".ljust(40, b"\0")),
           raw.put(raw.create(P + "ao.PROC"), ChannelType.LONG, struct.pack(">i", 1)),
           raw.put(raw.create(P + "ao.DESC$"), ChannelType.CHAR, b"x\0"),
           raw.read(P + "ao", ChannelType.DOUBLE)[0][0],
           raw.read(P + "ao.EGU", ChannelType.STRING)[0][0],
           raw.read(P + "ao.DISP", ChannelType.LONG)[0][0]]
    raw.put_string(P + "ao.DISP", "0")
    out.append(raw.put(raw.create(P + "ao"), ChannelType.DOUBLE, struct.pack(">d", 6.0)))
    out.append(raw.read(P + "ao", ChannelType.DOUBLE)[0][0])
    raw.sock.close()
    return out


def test_disp_refuses_client_puts_but_its_own_as_rsrv(mount, ca_server, unique_prefix):
    """dbPutField: while DISP is set, a put to any field but DISP fails (ECA_PUTFAIL) and
    changes nothing."""
    P = unique_prefix
    db = f'record(ao, "{P}ao") {{ field(VAL, "1") }}\n'
    with running_softioc(db) as rsrv_port:
        theirs = puts_under_disp(rsrv_port, P)
    group = mount(Disp(prefix=P))
    ours = puts_under_disp(ca_server.tcp_port, P)
    assert ours == theirs
    putfail = 160  # ECA_PUTFAIL
    assert theirs == [putfail] * 4 + [1.0, b"mm", 1, 1, 6.0]
    ca_server.call(group.ao.write(7.0))  # the IOC's own writes are not client puts
    assert group.ao.value == 7.0


class Mlst(PVGroup):
    ao = pvproperty(value=0.0, record="ao")
    so = pvproperty(value="a", dtype=ChannelType.STRING, record="stringout")


def mlst_updates_and_menu_puts(port: int, P: str) -> tuple:
    """Updates of a subscription to ao.MLST while VAL moves three times (after the first
    one), and the status and value of a put of "Always" to a stringout's MPST."""
    raw = Raw(port)
    sid = raw.create(P + "ao.MLST")
    raw.sock.sendall(packers.event_add_request(ChannelType.DOUBLE, 1, sid, 99, 1))
    raw.until(object, lambda m: getattr(m, "subscriptionid", None) == 99)
    val = raw.create(P + "ao")
    for value in (1.0, 2.0, 3.0):
        raw.put(val, ChannelType.DOUBLE, struct.pack(">d", value))
    status = raw.put(raw.create(P + "so.MPST"), ChannelType.STRING, b"Always".ljust(40, b"\0"))
    menu = raw.read(P + "so.MPST", ChannelType.STRING)[0][0]
    mlst = raw.read(P + "ao.MLST", ChannelType.DOUBLE)[0][0]
    raw.drain()
    updates = sum(getattr(m, "subscriptionid", None) == 99 for m in raw.messages)
    return updates, status, menu, mlst


def test_mlst_is_never_posted_and_text_records_keep_their_mpst_as_rsrv(mount, ca_server,
                                                                      unique_prefix):
    P = unique_prefix
    db = f'record(ao, "{P}ao") {{ }}\nrecord(stringout, "{P}so") {{ field(VAL, "a") }}\n'
    with running_softioc(db) as rsrv_port:
        theirs = mlst_updates_and_menu_puts(rsrv_port, P)
    mount(Mlst(prefix=P))
    assert mlst_updates_and_menu_puts(ca_server.tcp_port, P) == theirs == \
        (0, 1, b"Always", 3.0)


class TextPosting(PVGroup):
    so = pvproperty(value="a", dtype=ChannelType.STRING, record="stringout")
    si = pvproperty(value="a", dtype=ChannelType.STRING, record="stringin")
    lso = pvproperty(value="", max_length=40, dtype=ChannelType.CHAR, record="lso")
    lsi = pvproperty(value="", max_length=40, dtype=ChannelType.CHAR, record="lsi")


def text_updates(port: int, P: str, name: str, mask: int) -> list:
    """What a subscription (``mask``) to a stringin/stringout sees after each step: puts of
    the same and of new text, with MPST and APST "Always" in turn."""
    raw = Raw(port)
    sid = raw.create(P + name)
    raw.sock.sendall(packers.event_add_request(ChannelType.STRING, 1, sid, 99, mask))
    raw.until(object, lambda m: getattr(m, "subscriptionid", None) == 99)
    seen = []
    for step in ("b", "b", "MPST=Always", "b", "c", "MPST=On Change", "APST=Always", "c", "d",
                 "APST=On Change", "d"):
        field, _, value = step.rpartition("=")
        raw.put_string(f"{P}{name}.{field}" if field else P + name, value)
        raw.sock.settimeout(0.2)
        try:
            while True:
                raw.messages += raw.parser.feed(raw.sock.recv(1 << 16))
        except TimeoutError:
            pass
        seen.append([decode_dbr(ChannelType.STRING, m.payload, 1)[0][0] for m in raw.messages
                     if getattr(m, "subscriptionid", None) == 99])
        raw.messages.clear()
        raw.sock.settimeout(10)
    raw.sock.close()
    return seen


def test_text_records_post_on_change_unless_mpst_or_apst_always_as_rsrv(mount, ca_server,
                                                                        unique_prefix):
    """stringin/stringout and lsi/lso post DBE_VALUE|DBE_LOG when the text changed; MPST
    "Always" adds DBE_VALUE on every processing, APST "Always" DBE_LOG."""
    P = unique_prefix
    db = (f'record(stringout, "{P}so") {{ field(VAL, "a") }}\n'
          f'record(stringin, "{P}si") {{ field(VAL, "a") }}\n'
          f'record(lso, "{P}lso") {{ field(SIZV, "40") }}\n'
          f'record(lsi, "{P}lsi") {{ field(SIZV, "40") }}\n')
    cases = [(name, mask) for name in ("so", "si", "lso", "lsi")
             for mask in (1, 2)]  # DBE_VALUE, DBE_LOG
    with running_softioc(db) as rsrv_port:
        theirs = [text_updates(rsrv_port, P, name, mask) for name, mask in cases]
    mount(TextPosting(prefix=P))
    assert [text_updates(ca_server.tcp_port, P, name, mask) for name, mask in cases] == theirs
    assert theirs[0] == [[b"b"], [], [], [b"b"], [b"c"], [], [], [], [b"d"], [], []]
    assert theirs[1] == [[b"b"], [], [], [], [b"c"], [], [], [b"c"], [b"d"], [], []]

"""Channel data from the server's side: read_dbr payloads, the cache, write_dbr, views.

Payloads are checked by decoding them with ``iochost.ca.dbr.decode_dbr``; puts are built
with ``encode_dbr``, as a client would send them.
"""
import numpy as np
import pytest

from iochost.ca.dbr import (DBE_ALARM, DBE_LOG, DBE_VALUE, ChannelType, Metadata, decode_dbr,
                            encode_dbr, native_type)
from iochost.ca.eca import ECA_BADTYPE, ECA_NOCONVERT, ECA_NOWTACCESS, ECA_PUTFAIL
from iochost.ca.errors import CaStatusError
from iochost.pv.alarms import AlarmSeverity, AlarmStatus
from iochost.pv.data import (ChannelByte, ChannelChar, ChannelDouble, ChannelEnum, ChannelFloat,
                             ChannelInteger, ChannelShort, ChannelString)

T = ChannelType


def read(chan, dbr_type, count=0):
    payload, sent = chan.read_dbr(dbr_type, count)
    assert len(payload) % 8 == 0
    values, meta = decode_dbr(dbr_type, payload, sent)
    return (values.tolist() if isinstance(values, np.ndarray) else values), meta, sent


async def put(chan, dbr_type, values, count=None, host="h", user="u"):
    payload, sent = encode_dbr(dbr_type, native_type(dbr_type), values, Metadata(), count)
    await chan.write_dbr(dbr_type, sent, payload, host, user)


# -- reads -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("chan, dbr_type, values", [
    (ChannelDouble(value=1.25), T.DOUBLE, [1.25]),
    (ChannelDouble(value=1.25), T.LONG, [1]),
    (ChannelDouble(value=1.25, precision=2), T.STRING, [b"1.25"]),
    (ChannelFloat(value=0.5), T.FLOAT, [0.5]),
    (ChannelInteger(value=-7), T.LONG, [-7]),
    (ChannelInteger(value=-7), T.DOUBLE, [-7.0]),
    (ChannelShort(value=300), T.INT, [300]),
    (ChannelInteger(value=[1, 2, 3], max_length=5), T.LONG, [1, 2, 3]),
    (ChannelDouble(value=[], max_length=5), T.DOUBLE, []),
    (ChannelEnum(enum_strings=["off", "on"], value="on"), T.ENUM, [1]),
    (ChannelEnum(enum_strings=["off", "on"], value="on"), T.STRING, [b"on"]),
    (ChannelString(value="hello"), T.STRING, [b"hello"]),
    (ChannelString(value="x" * 60), T.STRING, [b"x" * 39]),  # DBR_STRING holds 39 bytes
    (ChannelString(value=["a", "bc"]), T.STRING, [b"a", b"bc"]),
    (ChannelString(value="caf\xe9"), T.STRING, ["caf\xe9".encode("latin-1")]),
    (ChannelChar(value="abc", max_length=10), T.CHAR, list(b"abc")),
    (ChannelChar(value="abc", max_length=10), T.STRING, [b"abc"]),  # text, not numbers
    (ChannelChar(value="abc", max_length=10, report_as_string=True), T.STRING, [b"abc"]),
    (ChannelByte(value=b"\x01\xff", max_length=4), T.CHAR, [1, 255]),
    (ChannelByte(value=0, max_length=1), T.CHAR, [0]),
    (ChannelByte(value=b""), T.CHAR, []),  # empty: none, as ChannelChar and caproto answer
    (ChannelChar(value=""), T.CHAR, []),
])
def test_read_native_values(chan, dbr_type, values):
    got, _, sent = read(chan, dbr_type)
    assert got == values and sent == len(values)


def test_read_metadata_of_a_numeric_channel():
    chan = ChannelDouble(value=2.0, units="mm", precision=3, timestamp=(100, 200),
                         upper_disp_limit=10, lower_disp_limit=-10, upper_alarm_limit=9,
                         upper_warning_limit=8, lower_warning_limit=-8, lower_alarm_limit=-9,
                         upper_ctrl_limit=7, lower_ctrl_limit=-7)
    _, ctrl, _ = read(chan, T.CTRL_DOUBLE)
    assert (ctrl.units, ctrl.precision) == (b"mm", 3)
    assert (ctrl.upper_disp_limit, ctrl.lower_disp_limit, ctrl.upper_alarm_limit,
            ctrl.upper_warning_limit, ctrl.lower_warning_limit, ctrl.lower_alarm_limit,
            ctrl.upper_ctrl_limit, ctrl.lower_ctrl_limit) == (10, -10, 9, 8, -8, -9, 7, -7)
    _, time_meta, _ = read(chan, T.TIME_DOUBLE)
    assert (time_meta.secs, time_meta.nsecs) == (100, 200)
    # Limits of an integer channel go out as integers, clamped to the type.
    ints = ChannelShort(value=1, upper_disp_limit=1e9, lower_disp_limit=-2.5)
    _, gr, _ = read(ints, T.GR_INT)
    assert (gr.upper_disp_limit, gr.lower_disp_limit) == (32767, -2)


async def test_read_alarm_enum_class_name_and_stsack():
    chan = ChannelEnum(enum_strings=["a", "b"], value="b", reported_record_type="mbbi")
    await chan.alarm.write(status=AlarmStatus.STATE, severity=AlarmSeverity.MINOR)
    _, meta, _ = read(chan, T.CTRL_ENUM)
    assert meta.enum_strings == (b"a", b"b") and (meta.status, meta.severity) == (7, 1)
    values, _, _ = read(chan, T.CLASS_NAME)
    assert values == [b"mbbi"]
    values, stsack, _ = read(chan, T.STSACK_STRING)
    assert values == [b"b"] and (stsack.ackt, stsack.acks) == (1, AlarmSeverity.MINOR)


def test_read_count_semantics():
    chan = ChannelInteger(value=[1, 2, 3], max_length=5)
    assert read(chan, T.LONG, 2)[0] == [1, 2]
    assert read(chan, T.LONG, 5)[0] == [1, 2, 3, 0, 0]   # padded as RSRV does
    assert read(chan, T.LONG, 7)[0] == [1, 2, 3, 0, 0, 0, 0]   # beyond max_length too
    with pytest.raises(CaStatusError) as err:
        chan.read_dbr(99, 0)
    assert err.value.status == ECA_BADTYPE


def _kept_bytes(chan) -> int:
    """The payload bytes a channel keeps for its next reads."""
    kept = [chan._cache_value, *(chan._cache or {}).values()]
    return sum(len(entry[0]) for entry in kept if entry is not None)


def test_reads_of_count_after_count_keep_a_bounded_cache():
    # a client asking count after count -- parts of a big array, or padded past a scalar --
    # must not make the server keep every reply (RSRV keeps none): it grew by the reply
    big = ChannelDouble(value=np.arange(200_000.0), max_length=200_000)
    scalar = ChannelDouble(value=1.5)
    for count in range(1, 300):
        assert read(big, T.DOUBLE, count)[0] == list(range(count))
        assert read(scalar, T.DOUBLE, 1000 + count)[0] == [1.5] + [0.0] * (999 + count)
    assert _kept_bytes(scalar) == 0     # padded replies are never kept
    assert _kept_bytes(big) <= (1 + ChannelDouble.cached_reads) * 299 * 8
    text = ChannelChar(value="abc", max_length=100, report_as_string=True).long_string()
    for count in range(1, 300):
        text.read_dbr(T.CHAR, count)
    assert len(text._parent._cache) <= ChannelDouble.cached_reads


async def test_reads_are_cached_until_the_next_change():
    chan = ChannelDouble(value=1.0)
    first = chan.read_dbr(T.TIME_DOUBLE, 0)
    assert chan.read_dbr(T.TIME_DOUBLE, 0) is first       # same object: no re-encode
    await chan.write(1.0)                                  # no post, but a new time stamp
    assert chan.read_dbr(T.TIME_DOUBLE, 0) is not first
    second = chan.read_dbr(T.TIME_DOUBLE, 0)
    await chan.write_metadata(units="V", publish=False)
    assert chan.read_dbr(T.TIME_DOUBLE, 0) is not second
    assert read(chan, T.CTRL_DOUBLE)[1].units == b"V"


async def test_listener_sees_the_new_payload():
    chan = ChannelDouble(value=1.0)
    seen = []
    chan.add_listener(lambda ch, flags: seen.append((flags, read(ch, T.DOUBLE)[0])))
    chan.read_dbr(T.DOUBLE, 0)  # fill the cache first
    await chan.write(2.0)
    assert seen == [(DBE_VALUE | DBE_LOG, [2.0])]


# -- puts ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chan, dbr_type, values, expected", [
    (ChannelDouble(), T.DOUBLE, [2.5], 2.5),
    (ChannelDouble(), T.STRING, [b"3.5"], 3.5),
    (ChannelDouble(), T.LONG, [4], 4.0),
    (ChannelInteger(), T.DOUBLE, [4.9], 4),
    (ChannelShort(), T.STRING, [b"0x10"], 16),
    (ChannelDouble(max_length=4), T.DOUBLE, [1.0, 2.0], [1.0, 2.0]),
    (ChannelInteger(max_length=4), T.INT, [1, 2, 3, 4], [1, 2, 3, 4]),
    (ChannelEnum(enum_strings=["a", "b"]), T.ENUM, [1], "b"),
    (ChannelEnum(enum_strings=["a", "b"]), T.STRING, [b"b"], "b"),
    (ChannelEnum(enum_strings=["a", "b"]), T.STRING, [b"1"], "b"),
    (ChannelString(), T.STRING, [b"hi"], "hi"),
    (ChannelString(max_length=3), T.STRING, [b"a", b"b"], ["a", "b"]),
    (ChannelString(), T.STRING, [b"caf\xe9"], "caf\xe9"),
    (ChannelChar(max_length=5), T.CHAR, np.frombuffer(b"hello\0", np.uint8), "hello"),
    # DBR_STRING elements to CHAR text: a number each, as caproto and RSRV (caput -a PV 2 65 66)
    (ChannelChar(max_length=8), T.STRING, [b"65", b"66"], "AB"),
    # ...but a text record's VAL takes a DBR_STRING as text, as RSRV's stringout does
    (ChannelChar(max_length=8, reported_record_type="stringout"), T.STRING, [b"text"], "text"),
    (ChannelChar(max_length=8, report_as_string=True), T.STRING, [b"text"], "text"),
    (ChannelByte(max_length=3), T.CHAR, [1, 2, 3], b"\x01\x02\x03"),
])
async def test_put_values(chan, dbr_type, values, expected):
    seen = []
    chan.add_listener(lambda ch, flags: seen.append(flags))
    await put(chan, dbr_type, values)
    value = chan.value.tolist() if isinstance(chan.value, np.ndarray) else chan.value
    assert value == expected and type(value) is type(expected)
    assert seen == [DBE_VALUE | DBE_LOG]


async def test_put_of_a_time_type_ignores_its_metadata():
    chan = ChannelDouble(value=0.0)
    payload, count = encode_dbr(T.TIME_DOUBLE, T.DOUBLE, [7.0],
                                Metadata(status=3, severity=2, secs=1, nsecs=1))
    await chan.write_dbr(T.TIME_DOUBLE, count, payload, "h", "u")
    assert chan.value == 7.0 and chan.status == AlarmStatus.NO_ALARM
    assert chan.epics_timestamp.secondsSinceEpoch > 1


@pytest.mark.parametrize("chan, dbr_type, values, status", [
    (ChannelDouble(read_only=True), T.DOUBLE, [1.0], ECA_NOWTACCESS),
    (ChannelDouble(access_check=lambda h, u: 1), T.DOUBLE, [1.0], ECA_NOWTACCESS),
    (ChannelDouble(), T.STRING, [b"abc"], ECA_NOCONVERT),
    (ChannelChar(max_length=8), T.STRING, [b"abc"], ECA_NOCONVERT),   # text goes as CHAR
    (ChannelEnum(enum_strings=["a"]), T.STRING, [b"zz"], ECA_NOCONVERT),
    (ChannelEnum(enum_strings=["a"]), T.ENUM, [3], ECA_PUTFAIL),
    (ChannelDouble(lower_ctrl_limit=0, upper_ctrl_limit=1), T.DOUBLE, [2.0], ECA_PUTFAIL),
    (ChannelShort(), T.DOUBLE, [1e6], None),  # wraps like a C cast: no error
])
async def test_put_failures_keep_the_old_value(chan, dbr_type, values, status):
    old = chan.value
    if status is None:
        await put(chan, dbr_type, values)
        return
    with pytest.raises(CaStatusError) as err:
        await put(chan, dbr_type, values)
    assert err.value.status == status, err.value.message
    assert chan.value is old


@pytest.mark.parametrize("chan, dbr_type, values, kept", [
    (ChannelDouble(max_length=2), T.DOUBLE, [1.0, 2.0, 3.0], [1.0, 2.0]),
    (ChannelDouble(), T.DOUBLE, [4.0, 5.0], 4.0),
    (ChannelString(), T.STRING, [b"first", b"second"], "first"),
    (ChannelChar(max_length=3), T.CHAR, np.frombuffer(b"abcd", np.uint8), "abc"),
    (ChannelChar(max_length=8, report_as_string=True), T.STRING, [b"one", b"two"], "one"),
    (ChannelChar(max_length=3, report_as_string=True), T.CHAR,
     np.frombuffer(b"abcd", np.uint8), "abc"),
    (ChannelChar(max_length=3), T.STRING, [b"65", b"66", b"67", b"68"], "ABC"),
    # one DBR_STRING longer than the text holds: cut (it was refused, ECA_BADCOUNT)
    (ChannelChar(max_length=8, report_as_string=True), T.STRING, [b"0123456789ABCDEF"],
     "01234567"),
    (ChannelChar(max_length=4, string_encoding="utf-8", report_as_string=True), T.STRING,
     ["aé€".encode()], "aé"),     # a character cut in two is dropped
])
async def test_a_put_of_more_elements_keeps_those_that_fit(chan, dbr_type, values, kept):
    """As RSRV's dbPut: no ECA_BADCOUNT, a field's count of elements copied."""
    await put(chan, dbr_type, values)
    assert np.array_equal(chan.value, kept) if isinstance(kept, list) else chan.value == kept


@pytest.mark.parametrize("dbr_type", [T.STSACK_STRING, T.CLASS_NAME])
async def test_put_of_a_read_only_type_fails_as_in_rsrv(dbr_type):
    """RSRV's dbPut has no conversion for them: ECA_PUTFAIL (checked by the oracle test)."""
    chan = ChannelString(value="a")
    payload, count = encode_dbr(dbr_type, T.STRING, [b"b"], Metadata())
    with pytest.raises(CaStatusError) as err:
        await chan.write_dbr(dbr_type, count, payload, "h", "u")
    assert err.value.status == ECA_PUTFAIL and chan.value == "a"


class Refusing(ChannelDouble):
    __slots__ = ()

    async def verify_value(self, value):
        raise RuntimeError("interlock")


async def test_putter_error_is_putfail_with_its_message():
    chan = Refusing(value=1.0)
    with pytest.raises(CaStatusError, match="RuntimeError: interlock") as err:
        await put(chan, T.DOUBLE, [2.0])
    assert err.value.status == ECA_PUTFAIL
    assert (chan.value, chan.status, chan.severity) == (1.0, AlarmStatus.WRITE,
                                                        AlarmSeverity.MAJOR)


async def test_put_ackt_and_acks():
    chan = ChannelDouble(value=0.0, upper_alarm_limit=1, lower_alarm_limit=-1)
    seen = []
    chan.add_listener(lambda ch, flags: seen.append(flags))
    await chan.write(5.0)
    await chan.write(0.0)
    assert (chan.severity, chan.alarm.severity_to_acknowledge) == (0, AlarmSeverity.MAJOR)
    seen.clear()
    await put(chan, T.PUT_ACKS, [AlarmSeverity.MAJOR])
    assert chan.alarm.severity_to_acknowledge == 0 and seen == [DBE_ALARM]
    await put(chan, T.PUT_ACKT, [0])
    assert chan.alarm.must_acknowledge_transient is False
    _, meta, _ = read(chan, T.STSACK_STRING)
    assert (meta.ackt, meta.acks) == (0, 0)
    with pytest.raises(CaStatusError) as err:
        await put(ChannelDouble(read_only=True), T.PUT_ACKT, [0])
    assert err.value.status == ECA_NOWTACCESS


# -- the long-string view (NAME.$) ----------------------------------------------------------------

async def test_long_string_view_of_a_string():
    chan = ChannelString(value="a" * 50, long_string_max_length=60)
    view = chan.long_string()
    assert (view.native_type, view.max_length) == (T.CHAR, 60)
    values, _, sent = read(view, T.CHAR)
    assert bytes(values) == b"a" * 50 + b"\0" and sent == 51
    assert read(view, T.STRING)[0] == [b"a" * 39]
    seen = []
    listener = lambda ch, flags: seen.append((ch, flags))  # noqa: E731
    view.add_listener(listener)
    await put(view, T.CHAR, np.frombuffer(b"new text\0junk", np.uint8))
    assert chan.value == "new text" and seen == [(view, DBE_VALUE | DBE_LOG)]
    assert bytes(read(view, T.CHAR)[0]) == b"new text\0"   # the cache followed the change
    view.remove_listener(listener)
    await chan.write("again")
    assert len(seen) == 1
    await put(view, T.CHAR, np.frombuffer(b"b" * 61, np.uint8))   # cut to the view's 60
    assert chan.value == "b" * 60


async def test_long_string_view_truncates_to_its_length():
    chan = ChannelString(value="x" * 10, long_string_max_length=4)
    assert bytes(read(chan.long_string(), T.CHAR)[0]) == b"xxxx"   # no room for the NUL


async def test_long_string_view_of_a_char_string_and_access():
    chan = ChannelChar(value="abc", max_length=20, report_as_string=True, read_only=True)
    assert (chan.native_type, chan.max_length) == (T.STRING, 1)
    view = chan.long_string()
    assert view.max_length == 20
    assert bytes(read(view, T.CHAR)[0]) == b"abc\0"
    with pytest.raises(CaStatusError) as err:
        await put(view, T.CHAR, np.frombuffer(b"x\0", np.uint8))
    assert err.value.status == ECA_NOWTACCESS
    assert view.get_field("VAL") is None and view.long_string() is view

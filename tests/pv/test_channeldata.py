"""Channel data from the IOC author's side: values, the write path, deadbands, publishing."""
import asyncio
import math
import sys
import time

import numpy as np
import pytest

from iochost.ca.dbr import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, AccessRights
from iochost.pv.alarms import AlarmSeverity, AlarmStatus, ChannelAlarm
from iochost.pv.data import (CannotExceedLimits, ChannelByte, ChannelChar, ChannelData,
                             ChannelDouble, ChannelEnum, ChannelFloat, ChannelInteger,
                             ChannelShort, ChannelString, ChannelValueError, RecordStates,
                             SkipWrite, TimeStamp, TooManyElements, WrongValueType)

VL = DBE_VALUE | DBE_LOG


class Recorder:
    def __init__(self, channel=None):
        self.flags = []
        if channel is not None:
            channel.add_listener(self)

    def __call__(self, channel, flags):
        self.flags.append(flags)


# -- construction ----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, kwargs, value, max_length", [
    (ChannelDouble, {}, 0.0, 1),
    (ChannelFloat, {"value": 0.1}, float(np.float32(0.1)), 1),   # rounded to float32
    (ChannelInteger, {"value": 7}, 7, 1),
    (ChannelShort, {"value": -3}, -3, 1),
    (ChannelEnum, {"enum_strings": ["off", "on"]}, "off", 1),
    (ChannelEnum, {"enum_strings": ["off", "on"], "value": 1}, "on", 1),
    (ChannelString, {"value": "hi"}, "hi", 1),
    (ChannelString, {"value": ["a", "b"]}, ["a", "b"], 2),
    (ChannelChar, {"value": "hello"}, "hello", 256),    # room for longer text
    (ChannelChar, {"value": "x" * 300}, "x" * 300, 300),
    (ChannelChar, {"value": b"bytes", "max_length": 40}, "bytes", 40),
    (ChannelByte, {"value": b"\x01\x02\x00"}, b"\x01\x02", 3),   # trailing NUL stripped
])
def test_construction(cls, kwargs, value, max_length):
    chan = cls(**kwargs)
    assert chan.value == value and type(chan.value) is type(value)
    assert chan.max_length == max_length
    assert chan.alarm.channels == (chan,)
    assert (chan.status, chan.severity) == (AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM)
    assert abs(chan.timestamp - time.time()) < 5


def test_numeric_arrays_are_read_only_numpy_copies():
    given = [1, 2, 3]
    chan = ChannelDouble(value=given, max_length=10)
    assert isinstance(chan.value, np.ndarray) and chan.value.dtype == np.float64
    assert chan.value.tolist() == [1.0, 2.0, 3.0] and chan.length == 3 and len(chan) == 3
    with pytest.raises(ValueError):
        chan.value[0] = 5  # a change must go through write()
    source = np.arange(4, dtype=np.int32)
    ints = ChannelInteger(value=source)
    source[0] = 99
    assert ints.value[0] == 0 and ints.max_length == 4


def test_timestamp_forms():
    assert ChannelDouble(timestamp=1_000_000_000.5).timestamp == 1_000_000_000.5
    # an exact float keeps its nanoseconds (seconds * 1e9 as a float lost the last bits)
    exact = ChannelDouble(timestamp=1234567890.25)
    assert exact.epics_timestamp.nanoSeconds == 250_000_000 and exact.timestamp == 1234567890.25
    epics = ChannelDouble(timestamp=(10, 500))
    assert epics.epics_timestamp == TimeStamp(10, 500)
    assert epics.timestamp == pytest.approx(631152010.0000005)
    assert ChannelDouble(timestamp=TimeStamp(1, 2)).epics_timestamp == (1, 2)
    with pytest.raises(TypeError, match="timestamp"):
        ChannelDouble(timestamp="yesterday")


def test_timestamp_has_caprotos_api():
    import time

    stamp = TimeStamp.now()
    assert abs(stamp.timestamp - time.time()) < 1
    stamp.nanoSeconds = 7                          # settable, as caproto's
    assert tuple(stamp) == (stamp.secondsSinceEpoch, 7)
    assert TimeStamp.from_unix_timestamp(631152001.25) == TimeStamp(1, 250_000_000)
    assert TimeStamp.from_unix_timestamp(0.0) == (0, 0)          # before 1990: the epoch
    assert TimeStamp.from_flexible_value((3, 4)) == TimeStamp(3, 4)
    assert TimeStamp.from_flexible_value(631152002.0) == (2, 0)
    assert TimeStamp(5, 6) != TimeStamp(5, 7) and TimeStamp(5, 6) != "5.6"
    assert TimeStamp(1, 0).as_datetime().timestamp() == pytest.approx(631152001.0)
    with pytest.raises(TypeError):
        hash(stamp)                                # mutable: unhashable, as caproto's


@pytest.mark.parametrize("make, message", [
    (lambda: ChannelEnum(enum_strings=[str(i) for i in range(17)]), "at most 16"),
    (lambda: ChannelEnum(enum_strings=["x" * 26]), "at most 25 bytes"),
    (lambda: ChannelEnum(enum_strings=["a"], max_length=3), "arrays of ENUM"),
    (lambda: ChannelDouble(max_length=0), "at least 1"),
    (lambda: ChannelInteger(value=2**31), "out of the LONG range"),
])
def test_construction_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# -- writing --------------------------------------------------------------------------------------

async def test_write_stores_stamps_and_publishes():
    chan = ChannelDouble(value=1.0, timestamp=0)
    seen = Recorder(chan)
    before = time.time_ns()
    await chan.write(2.5)
    assert chan.value == 2.5
    assert before <= chan.timestamp_ns <= time.time_ns()
    assert seen.flags == [VL]
    await chan.write(3.0, timestamp=123.25)
    assert chan.timestamp == 123.25


@pytest.mark.parametrize("cls, kwargs, value, stored", [
    (ChannelDouble, {}, 3, 3.0),
    (ChannelDouble, {}, np.float32(0.5), 0.5),
    (ChannelDouble, {}, [4.5], 4.5),                  # one-element sequences unpack
    (ChannelInteger, {}, 3.9, 3),                     # truncation, as a C cast
    (ChannelInteger, {}, np.int64(-8), -8),
    (ChannelShort, {}, True, 1),
    (ChannelDouble, {"max_length": 3}, 1.5, [1.5]),   # a scalar into an array channel
    (ChannelInteger, {"max_length": 3}, (1, 2), [1, 2]),
    (ChannelShort, {"max_length": 3}, np.array([-32768.9, 32767.9]), [-32768, 32767]),
    (ChannelShort, {"max_length": 3}, np.array([5, 65], np.uint16), [5, 65]),
    (ChannelFloat, {"max_length": 3}, [1.5, float("inf")], [1.5, float("inf")]),
    (ChannelEnum, {"enum_strings": ["a", "b", "c"]}, 2, "c"),
    (ChannelEnum, {"enum_strings": ["a", "b", "c"]}, b"b", "b"),
    (ChannelEnum, {}, 5, 5),                          # no strings: the index is the value
    (ChannelEnum, {"enum_strings": ["a", "b", "c"]}, 1.0, "b"),  # a whole float: caproto's
    (ChannelString, {}, 5, "5"),                      # numbers as caproto's str() writes them
    (ChannelString, {}, np.float64(4.5), "4.5"),
    (ChannelString, {}, b"caf\xe9", "caf\xe9"),       # bytes decode with latin-1
    (ChannelString, {"max_length": 3}, "one", ["one"]),
    (ChannelChar, {"max_length": 8}, np.frombuffer(b"abc", np.uint8), "abc"),
    (ChannelByte, {"max_length": 4}, [1, 2], b"\x01\x02"),
    (ChannelByte, {"max_length": 4}, 255, b"\xff"),
    (ChannelByte, {"max_length": 4}, np.array([-1, 200], np.int16), b"\xff\xc8"),
])
async def test_write_normalises(cls, kwargs, value, stored):
    chan = cls(**kwargs)
    await chan.write(value)
    result = chan.value.tolist() if isinstance(chan.value, np.ndarray) else chan.value
    assert result == stored and type(result) is type(stored)


@pytest.mark.parametrize("cls, kwargs, value, error, message", [
    (ChannelDouble, {}, "1.5", WrongValueType, "holds numbers"),
    (ChannelDouble, {}, None, WrongValueType, "holds numbers"),
    (ChannelDouble, {}, [1.0, 2.0], TooManyElements, "2 elements"),
    (ChannelDouble, {}, [], ChannelValueError, "empty"),
    (ChannelDouble, {"max_length": 2}, [1, 2, 3], TooManyElements, "max_length=2"),
    (ChannelDouble, {"max_length": 2}, ["x"], WrongValueType, "cannot hold"),
    (ChannelFloat, {}, 1e39, ChannelValueError, "FLOAT range"),
    (ChannelInteger, {}, float("nan"), ChannelValueError, "cannot hold"),
    (ChannelShort, {}, 40000, ChannelValueError, "INT range"),
    # numpy would cast these arrays silently: 40000 to -25536, 2**40 to 0, NaN to anything
    (ChannelShort, {"max_length": 4}, np.array([1, 40000]), ChannelValueError, "INT range"),
    (ChannelInteger, {"max_length": 4}, np.array([2**40]), ChannelValueError, "LONG range"),
    (ChannelInteger, {"max_length": 4}, np.array([1.0, np.nan]), ChannelValueError,
     "non-finite"),
    (ChannelShort, {"max_length": 4}, np.array([32768.0]), ChannelValueError, "INT range"),
    (ChannelFloat, {"max_length": 4}, np.array([1.0, 1e39]), ChannelValueError, "FLOAT range"),
    (ChannelFloat, {"max_length": 4}, [1.0, -1e39], ChannelValueError, "FLOAT range"),
    (ChannelEnum, {"enum_strings": ["a"]}, "b", ChannelValueError, "not one of the states"),
    (ChannelEnum, {"enum_strings": ["a"]}, 1, ChannelValueError, "not one of the 1 states"),
    (ChannelEnum, {"enum_strings": ["a"]}, 0.5, WrongValueType, "state string or an index"),
    (ChannelEnum, {"enum_strings": ["a"], "record_states": RecordStates()}, 65536,
     ChannelValueError, "ENUM range"),
    (ChannelString, {}, None, WrongValueType, "holds text"),
    (ChannelString, {}, True, WrongValueType, "holds text"),
    (ChannelString, {}, "\u20ac", ChannelValueError, "latin-1"),
    (ChannelString, {"max_length": 2}, ["a", "b", "c"], TooManyElements, "3 strings"),
    (ChannelChar, {"max_length": 3}, "abcd", TooManyElements, "4 bytes"),
    (ChannelByte, {}, "text", WrongValueType, "not str"),
    (ChannelByte, {}, 256, ChannelValueError, "not a byte"),
    (ChannelByte, {"max_length": 4}, np.array([1, 300]), ChannelValueError, "not bytes"),
])
async def test_write_refuses_and_keeps_old_value(cls, kwargs, value, error, message):
    chan = cls(**kwargs)
    old = chan.value
    seen = Recorder(chan)
    with pytest.raises(error, match=message):
        await chan.write(value)
    assert chan.value is old
    # A malformed value never reached the device: no alarm, nothing published.
    assert (chan.status, seen.flags) == (AlarmStatus.NO_ALARM, [])


async def test_a_record_enum_holds_any_index():
    """An EPICS record's ENUM value (``record_states``) stores an index past its states and
    reads it back as the int; a plain one refuses it (above)."""
    chan = ChannelEnum(enum_strings=["a", "b"], record_states=RecordStates())
    for index, value in ((5, 5), (65535, 65535), (1, "b")):
        await chan.write(index)
        assert (chan.value, chan.raw_value) == (value, index)


@pytest.mark.parametrize("value, ok", [(-1, True), (1, True), (0, True), (1.01, False),
                                       (-2, False), (float("nan"), False)])
async def test_control_limits(value, ok):
    chan = ChannelDouble(value=0.0, lower_ctrl_limit=-1, upper_ctrl_limit=1)
    if ok:
        await chan.write(value)
        assert chan.value == value
    else:
        with pytest.raises(CannotExceedLimits, match=r"control limits \[-1, 1\]"):
            await chan.write(value)
        assert chan.value == 0.0
        assert (chan.status, chan.severity) == (AlarmStatus.WRITE, AlarmSeverity.MAJOR)
        # verify_value=False is the IOC's own bypass (caproto's semantics)
        await chan.write(value, verify_value=False)
        assert chan.value == value or math.isnan(value)


async def test_empty_control_range_means_no_limits():
    chan = ChannelInteger(value=0, lower_ctrl_limit=5, upper_ctrl_limit=5)
    await chan.write(1000)
    assert chan.value == 1000


class Hooked(ChannelDouble):
    """verify_value / update_fields overrides, as the framework's subclass makes them."""

    __slots__ = ("replacement", "fields_saw", "raise_")

    def __init__(self, **kwargs):
        self.replacement = None
        self.fields_saw = []
        self.raise_ = None
        super().__init__(**kwargs)

    async def verify_value(self, value):
        if self.raise_ is not None:
            raise self.raise_
        return self.replacement

    async def update_fields(self, value):
        self.fields_saw.append(value)


async def test_verify_value_may_replace_and_update_fields_sees_final_value():
    chan = Hooked(value=0.0)
    chan.replacement = 7  # normalised like any value
    await chan.write(1.0)
    assert chan.value == 7.0 and type(chan.value) is float
    assert chan.fields_saw == [7.0]
    chan.replacement = None  # None keeps the written value
    await chan.write(2.0)
    assert chan.value == 2.0


@pytest.mark.parametrize("skip", [SkipWrite(), SkipWrite])
async def test_skipwrite_keeps_old_value_silently(skip):
    chan = Hooked(value=1.0, timestamp=5.0)
    seen = Recorder(chan)
    if isinstance(skip, Exception):
        chan.raise_ = skip
    else:
        chan.replacement = skip  # returning the class also skips (caproto)
    await chan.write(2.0)
    assert (chan.value, chan.timestamp, seen.flags) == (1.0, 5.0, [])
    assert chan.status == AlarmStatus.NO_ALARM


async def test_putter_error_raises_write_alarm_and_next_good_write_clears_it():
    chan = Hooked(value=1.0)
    chan.raise_ = RuntimeError("device says no")
    with pytest.raises(RuntimeError, match="device says no"):
        await chan.write(2.0)
    assert (chan.value, chan.status, chan.severity) == (1.0, AlarmStatus.WRITE,
                                                        AlarmSeverity.MAJOR)
    chan.raise_ = None
    await chan.write(3.0)   # numeric writes re-evaluate the alarm (no limits: NO_ALARM)
    assert (chan.status, chan.severity) == (AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM)


def test_write_runs_inline_without_tasks():
    """write() must complete in one step: it creates no task and awaits no future."""
    chan = ChannelDouble(value=0.0, upper_alarm_limit=1, lower_alarm_limit=-1)
    coro = chan.write(5.0)
    with pytest.raises(StopIteration):
        coro.send(None)
    assert chan.status == AlarmStatus.HIHI


# -- alarms from limits ----------------------------------------------------------------------------

async def test_alarm_limits_on_write():
    chan = ChannelDouble(value=0.0, lower_alarm_limit=-10, lower_warning_limit=-5,
                         upper_warning_limit=5, upper_alarm_limit=10)
    seen = Recorder(chan)
    for value, status, severity, flags in [
        (6, AlarmStatus.HIGH, AlarmSeverity.MINOR, VL | DBE_ALARM),
        (7, AlarmStatus.HIGH, AlarmSeverity.MINOR, VL),
        (11, AlarmStatus.HIHI, AlarmSeverity.MAJOR, VL | DBE_ALARM),
        (-11, AlarmStatus.LOLO, AlarmSeverity.MAJOR, VL | DBE_ALARM),
        (0, AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM, VL | DBE_ALARM),
    ]:
        await chan.write(value)
        assert (chan.status, chan.severity, seen.flags[-1]) == (status, severity, flags)
    # An explicit alarm wins over the limits.
    await chan.write(20, status=AlarmStatus.COMM, severity=AlarmSeverity.INVALID)
    assert (chan.status, chan.severity) == (AlarmStatus.COMM, AlarmSeverity.INVALID)


async def test_arrays_and_text_do_not_touch_the_alarm():
    for chan, value in [(ChannelDouble(value=[0.0, 0.0], upper_alarm_limit=1), [5.0, 5.0]),
                        (ChannelString(value="a"), "b")]:
        await chan.alarm.write(status=AlarmStatus.COMM, severity=AlarmSeverity.MINOR)
        await chan.write(value)
        assert chan.status == AlarmStatus.COMM


# -- deadbands ------------------------------------------------------------------------------------

@pytest.mark.parametrize("value_atol, log_atol, writes, expected", [
    (0, 0, [1.0, 1.0, 1.5], [VL, 0, VL]),                  # same value: nothing posted
    (0.5, 0, [0.3, 0.6, 0.9], [DBE_LOG, VL, DBE_LOG]),    # MDEL against the last *posted*
    (0, 1.0, [0.5, 1.2, 1.3], [DBE_VALUE, VL, DBE_VALUE]),
    (-1, -1, [0.0, 0.0], [VL, VL]),                       # negative: every write posts
    (0, 0, [float("nan"), float("nan"), 1.0], [VL, 0, VL]),
    (10, 10, [float("inf"), 1.0], [VL, VL]),
])
async def test_scalar_deadbands(value_atol, log_atol, writes, expected):
    chan = ChannelDouble(value=0.0, value_atol=value_atol, log_atol=log_atol)
    seen = Recorder(chan)
    for value in writes:
        await chan.write(value)
    assert seen.flags == [f for f in expected if f]
    assert len([f for f in expected if not f]) == len(writes) - len(seen.flags)


@pytest.mark.parametrize("value_atol, writes, expected", [
    (0, [[1, 2], [1, 2], [1, 3], [1, 3, 0]], [VL, 0, VL, VL]),
    (1.5, [[1, 2], [2, 3], [3, 4]], [VL, 0, VL]),
])
async def test_array_deadbands(value_atol, writes, expected):
    chan = ChannelDouble(value=[0, 0], max_length=3, value_atol=value_atol,
                         log_atol=value_atol)
    seen = Recorder(chan)
    for value in writes:
        await chan.write(value)
    assert seen.flags == [f for f in expected if f]


@pytest.mark.parametrize("chan, value", [
    (ChannelString(value="a"), "a"),
    (ChannelEnum(enum_strings=["a", "b"], value="a"), "a"),
    (ChannelChar(value="abc"), "abc"),
    (ChannelByte(value=b"ab"), b"ab"),
])
async def test_text_always_posts(chan, value):
    seen = Recorder(chan)
    await chan.write(value)
    await chan.write(value, flags=DBE_PROPERTY)
    assert seen.flags == [VL, VL | DBE_PROPERTY]


# -- metadata --------------------------------------------------------------------------------------

async def test_write_metadata_posts_property_only_on_change():
    chan = ChannelDouble(value=1.0, units="mm", precision=2)
    seen = Recorder(chan)
    await chan.write_metadata(units="mm", precision=2)
    assert seen.flags == []
    await chan.write_metadata(units="um", upper_disp_limit=[5])   # caproto unpacks [5]
    assert (chan.units, chan.upper_disp_limit, seen.flags) == ("um", 5, [DBE_PROPERTY])
    await chan.write_metadata(status=AlarmStatus.SOFT, severity=AlarmSeverity.MINOR,
                              precision=4)
    assert seen.flags[-1] == DBE_PROPERTY | DBE_ALARM and chan.precision == 4
    await chan.write_metadata(timestamp=42.0)
    assert chan.timestamp == 42.0 and len(seen.flags) == 2
    await chan.write_metadata(units="m", publish=False)
    assert chan.units == "m" and len(seen.flags) == 2


async def test_write_with_metadata_combines_into_one_post():
    chan = ChannelInteger(value=1)
    seen = Recorder(chan)
    await chan.write(2, units="counts", lower_ctrl_limit=0, upper_ctrl_limit=10)
    assert seen.flags == [VL | DBE_PROPERTY]
    assert (chan.units, chan.lower_ctrl_limit, chan.upper_ctrl_limit) == ("counts", 0, 10)


async def test_enum_strings_change_keeps_the_index():
    chan = ChannelEnum(enum_strings=["off", "on"], value="on")
    seen = Recorder(chan)
    await chan.write_metadata(enum_strings=["OFF", "ON", "AUTO"])
    assert (chan.value, chan.raw_value, seen.flags) == ("ON", 1, [DBE_PROPERTY])
    await chan.write_metadata(enum_strings=["only"])
    assert chan.value == 1  # an index with no string reads back as the number
    assert chan.get_raw_value("only") == 0 and chan.get_raw_value("x") is None


@pytest.mark.parametrize("chan, name", [
    (ChannelDouble(), "enum_strings"),
    (ChannelString(), "units"),
    (ChannelDouble(), "unit"),
])
async def test_unknown_metadata_is_one_clear_error(chan, name):
    with pytest.raises(TypeError, match=f"no metadata {name} .it takes: .*timestamp"):
        await chan.write_metadata(**{name: 1})
    with pytest.raises(TypeError, match=f"no metadata {name}"):
        await chan.write(chan.value, **{name: 1})


def test_metadata_is_read_only_as_attributes():
    chan = ChannelDouble(units="V")
    with pytest.raises(AttributeError):
        chan.units = "A"
    with pytest.raises(AttributeError):
        chan.value = 3.0


# -- listeners and access -------------------------------------------------------------------------

async def test_listener_may_remove_itself_during_publish():
    chan = ChannelDouble()
    calls = []

    def once(channel, flags):
        calls.append("once")
        channel.remove_listener(once)

    def always(channel, flags):
        calls.append("always")

    chan.add_listener(once)
    chan.add_listener(always)
    await chan.write(1.0)
    await chan.write(2.0)
    assert calls == ["once", "always", "always"]
    chan.remove_listener(once)  # not registered any more: no error


async def test_a_failing_listener_does_not_stop_the_others(caplog):
    chan = ChannelDouble()
    seen = []
    chan.add_listener(lambda ch, fl: 1 / 0)
    chan.add_listener(lambda ch, fl: seen.append(fl))
    await chan.write(1.0)
    assert seen == [VL] and "ZeroDivisionError" in caplog.text


@pytest.mark.parametrize("kwargs, expected", [
    ({}, AccessRights.READ | AccessRights.WRITE),
    ({"read_only": True}, AccessRights.READ),
    ({"access_check": lambda host, user: AccessRights.READ if user == "guest"
      else AccessRights.READ_WRITE}, None),
])
def test_check_access(kwargs, expected):
    chan = ChannelDouble(**kwargs)
    if expected is None:
        assert chan.check_access("h", "guest") == AccessRights.READ
        assert chan.check_access("h", "ops") == AccessRights.READ_WRITE
    else:
        assert chan.check_access("h", "u") == expected


async def test_read_only_still_writable_from_the_ioc():
    chan = ChannelString(value="a", read_only=True)
    await chan.write("b")
    assert chan.value == "b"


def test_fields_and_views():
    chan = ChannelDouble()
    assert chan.get_field("") is chan and chan.get_field("VAL") is chan
    assert chan.get_field("EGU") is None
    assert chan.long_string() is None
    assert ChannelString(value=["a", "b"]).long_string() is None
    text = ChannelString(value="x")
    assert text.long_string() is text.long_string()   # one view per channel
    assert ChannelChar(value="abc").long_string().native_type == 4  # already a CHAR array


def _has_own_dict(obj: object) -> bool:
    """Whether ``obj`` holds anything in an instance dict (asked without making one, as
    ``obj.__dict__`` would: the default ``__getstate__`` gives (dict or None, slots))."""
    state = obj.__getstate__()
    return isinstance(state, tuple) and state[0] is not None


def test_slots_keep_instances_small():
    for cls in (ChannelDouble, ChannelEnum, ChannelString, ChannelChar, ChannelByte):
        assert not _has_own_dict(cls()), cls
        assert sys.getsizeof(cls()) <= 208, cls   # 152-208 bytes, ChannelByte the largest
    assert not hasattr(ChannelAlarm(), "__dict__")
    assert issubclass(ChannelDouble, ChannelData)


async def test_rarely_set_attributes_live_in_the_instance_dict_only_when_given():
    plain = ChannelDouble()
    given = ChannelDouble(upper_disp_limit=5.0, lower_ctrl_limit=0.0, read_only=True,
                          string_encoding="utf-8")
    assert not _has_own_dict(plain) and _has_own_dict(given)   # read_only, encoding
    assert (plain.upper_disp_limit, plain.lower_ctrl_limit) == (0, 0)
    assert (plain.read_only, plain.string_encoding) == (False, "latin-1")
    assert (given.upper_disp_limit, given.lower_ctrl_limit) == (5.0, 0.0)
    assert plain._limits is ChannelInteger()._limits   # all-zero limits: one shared tuple
    assert (given.read_only, given.string_encoding) == (True, "utf-8")
    changed = ChannelDouble()
    await changed.write_metadata(upper_disp_limit=7.0, lower_alarm_limit=-1.0)
    assert (changed.upper_disp_limit, changed.lower_alarm_limit) == (7.0, -1.0)
    assert plain._limits is ChannelDouble()._limits and plain.upper_disp_limit == 0


async def test_concurrent_writes_leave_a_consistent_state():
    chan = ChannelDouble(value=0.0)
    await asyncio.gather(*(chan.write(float(i)) for i in range(20)))
    assert chan.value == 19.0


async def test_zero_dimensional_arrays_are_scalars():
    chan = ChannelDouble(value=np.array(2.5))
    assert (chan.value, chan.max_length) == (2.5, 1)
    await chan.write(np.array(3))
    assert chan.value == 3.0 and type(chan.value) is float
    text = ChannelString(value=np.array("abc"))
    assert text.value == "abc"


def test_enum_strings_must_encode():
    with pytest.raises(ValueError, match="must be latin-1 text"):
        ChannelEnum(enum_strings=["\u20ac"])
    assert ChannelEnum(enum_strings=["\u20ac"], string_encoding="utf-8").value == "\u20ac"

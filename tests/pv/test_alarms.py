"""Alarm rules: limit evaluation, ACKT/ACKS as EPICS records, one publish per channel."""
import pytest

from iochost.ca.dbr import DBE_ALARM, DBE_LOG, DBE_VALUE
from iochost.pv.alarms import AlarmSeverity, AlarmStatus, ChannelAlarm, limit_alarm
from iochost.pv.data import ChannelDouble, ChannelString

S, V = AlarmStatus, AlarmSeverity
NONE = (S.NO_ALARM, V.NO_ALARM)


def test_enum_values_are_epics_numbers():
    first = [S.NO_ALARM, S.READ, S.WRITE, S.HIHI, S.HIGH, S.LOLO, S.LOW, S.STATE]
    assert first == list(range(8))
    assert (S.UDF, S.DISABLE, S.SIMM, S.READ_ACCESS, S.WRITE_ACCESS) == (17, 18, 19, 20, 21)
    assert len(S) == 22
    assert (V.NO_ALARM, V.MINOR, V.MAJOR, V.INVALID) == (0, 1, 2, 3)
    assert V.MAJOR_ALARM is V.MAJOR and V.INVALID_ALARM is V.INVALID  # caproto spellings


# lolo, low, high, hihi limits
LIMITS = (-10, -5, 5, 10)


@pytest.mark.parametrize("value, expected", [
    (0, NONE),
    (4.999, NONE),
    (5, (S.HIGH, V.MINOR)),          # limits are inclusive, as in EPICS
    (9.9, (S.HIGH, V.MINOR)),
    (10, (S.HIHI, V.MAJOR)),
    (1e300, (S.HIHI, V.MAJOR)),
    (-5, (S.LOW, V.MINOR)),
    (-10, (S.LOLO, V.MAJOR)),
    (float("nan"), NONE),
    (float("inf"), (S.HIHI, V.MAJOR)),
])
def test_limit_alarm(value, expected):
    assert limit_alarm(value, *LIMITS) == expected


@pytest.mark.parametrize("limits, value, expected", [
    ((0, 0, 0, 0), 1e9, NONE),                 # no pair defines a range
    ((0, -5, 5, 0), 7, (S.HIGH, V.MINOR)),      # warning pair only
    ((-10, 0, 0, 10), 7, NONE),                # alarm pair only
    ((-10, 0, 0, 10), 10, (S.HIHI, V.MAJOR)),
    ((10, 0, 0, -10), 20, NONE),               # an inverted pair is no range
    ((float("nan"), -5, 5, 10), 20, (S.HIGH, V.MINOR)),  # NaN limit: that pair is off
    ((-10, float("nan"), 5, 10), 7, NONE),
])
def test_limit_pairs(limits, value, expected):
    assert limit_alarm(value, *limits) == expected


def test_limit_severity_override():
    assert limit_alarm(20, *LIMITS, hihi_severity=V.INVALID) == (S.HIHI, V.INVALID)
    # A limit with severity NO_ALARM raises nothing; the next pair still applies.
    assert limit_alarm(20, *LIMITS, hihi_severity=V.NO_ALARM) == (S.HIGH, V.MINOR)


def test_ackt_acks_follow_epics_records():
    alarm = ChannelAlarm()
    assert (alarm.must_acknowledge_transient, alarm.severity_to_acknowledge) == (True, 0)
    alarm.update(status=S.HIHI, severity=V.MAJOR)
    assert alarm.severity_to_acknowledge == V.MAJOR
    alarm.update(status=S.HIGH, severity=V.MINOR)          # transient: ACKS stays MAJOR
    assert alarm.severity_to_acknowledge == V.MAJOR
    assert alarm.update(severity_to_acknowledge=V.MINOR) == 0  # below ACKS: no effect
    assert alarm.severity_to_acknowledge == V.MAJOR
    assert alarm.update(severity_to_acknowledge=V.MAJOR) == DBE_ALARM
    assert alarm.severity_to_acknowledge == V.NO_ALARM
    assert alarm.update(severity_to_acknowledge=V.MAJOR) == 0  # nothing left to acknowledge


def test_clearing_ackt_lowers_acks_to_current_severity():
    alarm = ChannelAlarm(status=S.LOW, severity=V.MINOR, severity_to_acknowledge=V.MAJOR)
    assert alarm.update(must_acknowledge_transient=True) == 0   # unchanged
    assert alarm.update(must_acknowledge_transient=False) == DBE_ALARM
    assert alarm.severity_to_acknowledge == V.MINOR
    # Without ACKT, ACKS follows the severity down as well as up.
    alarm.update(status=S.NO_ALARM, severity=V.NO_ALARM)
    assert alarm.severity_to_acknowledge == V.NO_ALARM


def test_update_flags_only_on_change():
    alarm = ChannelAlarm()
    assert alarm.update(status=S.NO_ALARM, severity=V.NO_ALARM) == 0
    assert alarm.update(status=S.COMM) == DBE_ALARM             # status alone counts
    assert alarm.update(alarm_string="cable unplugged") == 0    # not on the wire
    assert alarm.alarm_string == "cable unplugged"
    with pytest.raises(ValueError):
        alarm.update(severity=7)


class Recorder:
    """A listener that records (channel, flags) calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, channel, flags):
        self.calls.append((channel, flags))


async def test_shared_alarm_publishes_once_per_channel():
    alarm = ChannelAlarm()
    volts = ChannelDouble(value=0.0, alarm=alarm, upper_alarm_limit=10, lower_alarm_limit=-10)
    label = ChannelString(value="psu", alarm=alarm)
    seen_volts, seen_label = Recorder(), Recorder()
    volts.add_listener(seen_volts)
    label.add_listener(seen_label)
    assert alarm.channels == (volts, label)

    await volts.write(12.0)
    # The writer gets one combined update; the other channel gets DBE_ALARM once.
    assert seen_volts.calls == [(volts, DBE_VALUE | DBE_LOG | DBE_ALARM)]
    assert seen_label.calls == [(label, DBE_ALARM)]
    assert (label.status, label.severity) == (S.HIHI, V.MAJOR)

    seen_volts.calls.clear(), seen_label.calls.clear()
    await alarm.write(severity_to_acknowledge=V.MAJOR)
    assert seen_volts.calls == [(volts, DBE_ALARM)]
    assert seen_label.calls == [(label, DBE_ALARM)]

    seen_volts.calls.clear(), seen_label.calls.clear()
    await alarm.write(status=S.HIHI, severity=V.MAJOR)  # no change: nobody is told
    assert seen_volts.calls == seen_label.calls == []


class ComparedByValue(ChannelDouble):
    """A user's channel class that compares (and hashes) by value."""

    __slots__ = ()

    def __eq__(self, other):
        return isinstance(other, ChannelDouble) and other.value == self.value

    def __hash__(self):
        return hash(self.value)


class Unhashable(ChannelDouble):
    __slots__ = ()

    def __eq__(self, other):
        return self is other

    __hash__ = None  # type: ignore[assignment]


async def test_alarm_members_stay_apart_whatever_their_class_calls_equal():
    alarm = ChannelAlarm()
    first, second = (ComparedByValue(value=1.0, alarm=alarm) for _ in range(2))
    odd, plain = Unhashable(value=1.0, alarm=alarm), ChannelDouble(value=1.0, alarm=alarm)
    assert first == second and first is not second
    assert alarm.channels == (first, second, odd, plain)
    seen = {id(channel): Recorder() for channel in alarm.channels}
    for channel in alarm.channels:
        channel.add_listener(seen[id(channel)])
    await alarm.write(status=S.COMM, severity=V.MINOR)
    assert all(recorder.calls == [(channel, DBE_ALARM)]
               for channel in alarm.channels for recorder in [seen[id(channel)]])
    alarm.disconnect(second)
    alarm.disconnect(odd)
    assert alarm.channels == (first, plain)


async def test_alarm_write_without_publish_still_invalidates_reads():
    alarm = ChannelAlarm()
    chan = ChannelDouble(value=1.0, alarm=alarm)
    seen = Recorder()
    chan.add_listener(seen)
    before = chan.read_dbr(13, 0)  # STS_DOUBLE
    await alarm.write(status=S.COMM, severity=V.INVALID, publish=False)
    assert seen.calls == []
    after = chan.read_dbr(13, 0)
    assert after != before and after[0][:4] == b"\x00\x09\x00\x03"


def test_replacing_a_channels_alarm_moves_membership():
    first, second = ChannelAlarm(), ChannelAlarm(status=S.SOFT, severity=V.MINOR)
    chan = ChannelDouble(value=1.0, alarm=first)
    chan.alarm = second
    assert first.channels == () and second.channels == (chan,)
    assert (chan.status, chan.severity) == (S.SOFT, V.MINOR)

"""Group alarms over Channel Access: pvproperties of a group share one ChannelAlarm
(``group.alarms``, a defaultdict) unless ``alarm_group`` separates them, and an alarm
change reaches each PV's monitors exactly once (caproto sends duplicates)."""
import pytest

from iochost import AlarmSeverity, AlarmStatus, ChannelAlarm, PVGroup, pvproperty
from iochost.ca.dbr import DBE_ALARM, DBE_VALUE
from test_group_helpers import client, mount  # noqa: F401  (fixtures)


class Shared(PVGroup):
    a = pvproperty(value=0)
    b = pvproperty(value=0.0)
    separate = pvproperty(value=0, alarm_group="motor")
    also_separate = pvproperty(value=0, alarm_group="motor")

    @a.putter
    async def a(self, instance, value):
        if value < 0:
            raise ValueError("no negative values")
        return value


@pytest.fixture
def shared(mount, unique_prefix):
    return mount(Shared(prefix=unique_prefix))


def alarm_of(client, pvname):
    metadata = client.read(pvname, data_type="time").metadata
    return metadata.status, metadata.severity


def test_alarms_is_a_defaultdict_of_shared_channel_alarms(shared):
    assert isinstance(shared.alarms[None], ChannelAlarm)
    assert shared.a.alarm is shared.b.alarm is shared.alarms[None]
    assert shared.separate.alarm is shared.also_separate.alarm is shared.alarms["motor"]
    assert shared.alarms["motor"] is not shared.alarms[None]


def test_alarm_set_on_one_pv_shows_on_its_alarm_group(shared, client, ca_server):
    ca_server.call(shared.a.write(3, status=AlarmStatus.HIGH,
                                  severity=AlarmSeverity.MINOR_ALARM))
    high_minor = (AlarmStatus.HIGH, AlarmSeverity.MINOR_ALARM)
    assert alarm_of(client, shared.prefix + "a") == high_minor
    assert alarm_of(client, shared.prefix + "b") == high_minor
    assert alarm_of(client, shared.prefix + "separate") == (
        AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM)
    ca_server.call(shared.separate.alarm.write(status=AlarmStatus.COMM,
                                               severity=AlarmSeverity.INVALID_ALARM))
    assert alarm_of(client, shared.prefix + "also_separate") == (
        AlarmStatus.COMM, AlarmSeverity.INVALID_ALARM)
    assert alarm_of(client, shared.prefix + "b") == high_minor


def test_alarm_change_is_published_once_per_pv(shared, client, ca_server):
    monitors = {name: client.monitor(shared.prefix + name, DBE_VALUE | DBE_ALARM)
                for name in ("a", "b", "separate")}
    for monitor in monitors.values():
        monitor.wait_for(1)
    ca_server.call(shared.alarms[None].write(status=AlarmStatus.STATE,
                                             severity=AlarmSeverity.MAJOR_ALARM))
    for name in ("a", "b"):
        events = monitors[name].settle()
        assert len(events) == 2, name
        assert events[-1].metadata.severity == AlarmSeverity.MAJOR_ALARM
    assert len(monitors["separate"].settle()) == 1


def test_failed_client_put_alarms_each_sharing_pv_once(shared, client):
    monitors = {name: client.monitor(shared.prefix + name, DBE_VALUE | DBE_ALARM)
                for name in ("a", "b")}
    for monitor in monitors.values():
        monitor.wait_for(1)
    assert client.write(shared.prefix + "a", -5) == "ECA_PUTFAIL"
    for name, monitor in monitors.items():
        events = monitor.settle()
        assert len(events) == 2, name
        assert (events[-1].metadata.status, events[-1].metadata.severity) == (
            AlarmStatus.WRITE, AlarmSeverity.MAJOR_ALARM)

"""A record-typed pvproperty owns its alarm, as every EPICS record does; plain pvproperties
keep caproto's shared group alarm; ``alarm_group`` shares explicitly (caproto's client)."""
import pytest

from iochost import PVGroup, pvproperty
from iochost.pv.alarms import AlarmSeverity, AlarmStatus


class Mixed(PVGroup):
    ring = pvproperty(value=500.0, record="ai", lower_alarm_limit=100.0,
                      upper_alarm_limit=600.0)
    gap = pvproperty(value=1.0, record="ao")
    grouped_a = pvproperty(value=0.0, record="ai", alarm_group="pair")
    grouped_b = pvproperty(value=0.0, record="ao", alarm_group="pair")
    plain_a = pvproperty(value=0.0, lower_alarm_limit=-1.0, upper_alarm_limit=1.0)
    plain_b = pvproperty(value=0.0)


@pytest.fixture
def ioc(mount, unique_prefix):
    return mount(Mixed(prefix=unique_prefix))


def test_each_record_has_its_own_alarm_plain_pvs_share_the_group_one(ioc):
    alarms = [ioc.ring.alarm, ioc.gap.alarm, ioc.grouped_a.alarm]
    assert len({id(alarm) for alarm in alarms}) == 3
    assert ioc.grouped_a.alarm is ioc.grouped_b.alarm is ioc.alarms["pair"]
    assert ioc.plain_a.alarm is ioc.plain_b.alarm is ioc.alarms[None]
    assert ioc.ring.alarm is not ioc.alarms[None]


def test_an_alarm_on_one_record_leaves_the_others_alone(ioc, client):
    p = ioc.prefix
    assert client.write(p + "ring", 50.0) == "ECA_NORMAL"     # below LOLO
    assert (client.value(p + "ring.STAT"), client.value(p + "ring.SEVR")) == (
        AlarmStatus.LOLO, AlarmSeverity.MAJOR)
    for name in ("gap", "grouped_a", "plain_a"):
        reading = client.read(p + name, data_type="status")
        assert (reading.metadata.status, reading.metadata.severity) == (0, 0), name
    # A write to another record does not clear it (it did while all records shared one).
    assert client.write(p + "gap", 2.0) == "ECA_NORMAL"
    assert client.value(p + "ring.SEVR") == AlarmSeverity.MAJOR


def test_plain_pvproperties_keep_the_shared_alarm(ioc, client):
    p = ioc.prefix
    assert client.write(p + "plain_a", 5.0) == "ECA_NORMAL"   # HIHI on the shared alarm
    reading = client.read(p + "plain_b", data_type="status")
    assert (reading.metadata.status, reading.metadata.severity) == (
        AlarmStatus.HIHI, AlarmSeverity.MAJOR)


def test_alarm_group_shares_between_records(ioc, client):
    p = ioc.prefix
    assert client.write(p + "grouped_a.HIHI", 1.0) == "ECA_NORMAL"
    assert client.write(p + "grouped_a", 2.0) == "ECA_NORMAL"
    assert client.value(p + "grouped_b.SEVR") == AlarmSeverity.MAJOR

"""What record fields do, over Channel Access (caproto's client against our server).

Each test mounts a small IOC with records, acts through a field and checks the record
(or acts on the record and checks the field).
"""
import asyncio
import time

import pytest
from iochost.testing import wait_until

from iochost import ChannelType, PVGroup, pvproperty
from iochost.ca.dbr import DBE_ALARM, DBE_PROPERTY, DBE_VALUE
from iochost.pv.alarms import AlarmSeverity, AlarmStatus
from iochost.pv.types import PvpropertyDouble
from iochost.records import AiFields, AoFields


class Records(PVGroup):
    ai = pvproperty(value=1.0, record="ai", doc="an input", units="mm", precision=2)
    ao = pvproperty(value=0.0, record=AoFields, upper_ctrl_limit=10.0,
                    lower_ctrl_limit=-10.0)
    typed = pvproperty(value=0.0, dtype=PvpropertyDouble[AiFields])
    bo = pvproperty(value="Off", enum_strings=["Off", "On"], record="bo",
                    dtype=ChannelType.ENUM)
    mbbi = pvproperty(value="one", enum_strings=["zero", "one", "two"], record="mbbi",
                      dtype=ChannelType.ENUM)
    wave = pvproperty(value=[1.0, 2.0], max_length=8, record="waveform")
    text = pvproperty(value="hello", record="stringin", dtype=ChannelType.STRING)
    counted = pvproperty(value=0, record="longout")
    period = pvproperty(value=5.0, record="ao", upper_ctrl_limit=60.0, lower_ctrl_limit=1.0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.puts: list = []

    @counted.putter
    async def counted(self, instance, value):
        self.puts.append(value)
        return value

    @period.putter
    async def period(self, instance, value):    # returns None: the value it was given stays
        self.puts.append(value)


def text(client, name):
    """The value as DBR_STRING (menu fields give their choice string)."""
    return client.read(name, data_type=ChannelType.STRING).data[0].decode()


def put_text(client, name, value):
    return client.write(name, value, data_type=ChannelType.STRING)


@pytest.fixture
def ioc(mount, unique_prefix):
    return mount(Records(prefix=unique_prefix))


def test_record_type_in_rtyp_and_class_name(ioc, client):
    p = ioc.prefix
    assert [client.value(p + name + ".RTYP") for name in ("ai", "ao", "typed", "bo", "wave")
            ] == ["ai", "ao", "ai", "bo", "waveform"]
    reading = client.read(p + "mbbi", data_type=ChannelType.CLASS_NAME)
    assert reading.metadata.value == b"mbbi"


def test_rtyp_and_name_cannot_change(mount, unique_prefix, client):
    head = unique_prefix.split(":")[0] + ":NAME:"
    p = head + "X" * (44 - len(head)) + ":"     # record name: 47 characters
    mount(Records(prefix=p))
    # a DBR_STRING holds 39 characters; the whole name (up to 60) is in the NAME$ view
    assert len(p + "ai") > 39 and client.value(p + "ai.NAME") == (p + "ai")[:39]
    assert bytes(client.value(p + "ai.NAME$")).rstrip(b"\0").decode() == p + "ai"
    assert client.write(p + "ai.NAME", "other") == "ECA_NOWTACCESS"
    assert client.write(p + "ai.RTYP", "ao") == "ECA_PUTFAIL"   # RSRV grants, then refuses
    assert client.value(p + "ai.RTYP") == "ai"


def test_val_is_the_record_itself(ioc, client):
    p = ioc.prefix
    assert client.write(p + "ai.VAL", 4.5) == "ECA_NORMAL"
    assert ioc.ai.value == 4.5
    assert client.native(p + "ai.VAL") == client.native(p + "ai")


def test_desc_is_the_doc(ioc, client):
    p = ioc.prefix
    assert client.value(p + "ai.DESC") == "an input"
    assert client.write(p + "ai.DESC", "renamed") == "ECA_NORMAL"
    assert ioc.ai.doc == "renamed"
    assert client.value(p + "ao.DESC") == ""


def test_egu_and_prec_are_the_units_and_precision(ioc, client):
    p = ioc.prefix
    assert (client.value(p + "ai.EGU"), client.value(p + "ai.PREC")) == ("mm", 2)
    monitor = client.monitor(p + "ai", DBE_PROPERTY, data_type="control")
    monitor.wait_for(1)
    assert client.write(p + "ai.EGU", "keV") == "ECA_NORMAL"
    assert client.write(p + "ai.PREC", 5) == "ECA_NORMAL"
    events = monitor.wait_for(3)
    assert (events[-1].metadata.units, events[-1].metadata.precision) == (b"keV", 5)
    assert (ioc.ai.units, ioc.ai.precision) == ("keV", 5)


def test_egu_follows_write_metadata(ioc, client, ca_server):
    p = ioc.prefix
    monitor = client.monitor(p + "ai.EGU", DBE_VALUE)
    assert monitor.wait_for(1)[0].data[0] == b"mm"
    ca_server.call(ioc.ai.write_metadata(units="V"))
    assert monitor.wait_for(2)[-1].data[0] == b"V"


def test_display_and_control_limits(ioc, client):
    p = ioc.prefix
    assert client.write(p + "ai.HOPR", 50.0) == "ECA_NORMAL"
    assert client.write(p + "ai.LOPR", -5.0) == "ECA_NORMAL"
    control = client.read(p + "ai", data_type="control").metadata
    assert (control.upper_disp_limit, control.lower_disp_limit) == (50.0, -5.0)
    assert (client.value(p + "ao.DRVH"), client.value(p + "ao.DRVL")) == (10.0, -10.0)
    assert client.write(p + "ao", 20.0) == "ECA_NORMAL"     # clamped to DRVH, as EPICS' ao
    assert ioc.ao.value == 10.0 and client.value(p + "ao.SEVR") == 0
    assert client.write(p + "ao.DRVH", 30.0) == "ECA_NORMAL"
    assert client.write(p + "ao", 20.0) == "ECA_NORMAL"
    assert ioc.ao.value == 20.0 and ioc.ao.upper_ctrl_limit == 30.0
    # a putter that returns None keeps the clamped value it was given (it kept the put's)
    assert client.write(p + "period", 0.5) == "ECA_NORMAL"
    assert ioc.puts[-1] == 1.0 and ioc.period.value == 1.0


def test_hihi_then_a_high_value_raises_hihi_major(ioc, client):
    p = ioc.prefix
    alarms = client.monitor(p + "ai", DBE_ALARM)
    alarms.wait_for(1)
    assert client.write(p + "ai.HIHI", 10.0) == "ECA_NORMAL"
    assert client.write(p + "ai.LOLO", -10.0) == "ECA_NORMAL"
    assert client.write(p + "ai", 12.0) == "ECA_NORMAL"
    assert (text(client, p + "ai.SEVR"), text(client, p + "ai.STAT")) == ("MAJOR", "HIHI")
    event = alarms.wait_for(2)[-1]
    assert (event.metadata.status, event.metadata.severity) == (
        AlarmStatus.HIHI, AlarmSeverity.MAJOR)
    assert client.write(p + "ai", 0.0) == "ECA_NORMAL"
    assert text(client, p + "ai.SEVR") == "NO_ALARM"


def test_severity_fields_and_hysteresis_drive_the_alarm(ioc, client):
    p = ioc.prefix
    for field, value in (("HIGH", 5.0), ("LOW", -5.0), ("HYST", 1.0)):
        assert client.write(p + "ai." + field, value) == "ECA_NORMAL"
    assert put_text(client, p + "ai.HSV", "MAJOR") == "ECA_NORMAL"
    assert client.write(p + "ai", 6.0) == "ECA_NORMAL"
    assert (ioc.ai.alarm.status, ioc.ai.alarm.severity) == (
        AlarmStatus.HIGH, AlarmSeverity.MAJOR)
    assert client.write(p + "ai", 4.5) == "ECA_NORMAL"      # inside HYST: still HIGH
    assert ioc.ai.alarm.status == AlarmStatus.HIGH
    assert client.write(p + "ai", 3.9) == "ECA_NORMAL"      # past HYST: cleared
    assert ioc.ai.alarm.status == AlarmStatus.NO_ALARM
    assert put_text(client, p + "ai.HSV", "NO_ALARM") == "ECA_NORMAL"
    assert client.write(p + "ai", 6.0) == "ECA_NORMAL"
    assert ioc.ai.alarm.status == AlarmStatus.NO_ALARM


def test_stat_sevr_acks_ackt_mirror_the_alarm(ioc, client):
    p = ioc.prefix
    assert client.write(p + "ai.LOLO", -10.0) == "ECA_NORMAL"
    assert client.write(p + "ai.HIHI", 10.0) == "ECA_NORMAL"
    assert client.write(p + "ai", 11.0) == "ECA_NORMAL"
    assert client.write(p + "ai", 0.0) == "ECA_NORMAL"
    assert [text(client, p + "ai." + f) for f in ("STAT", "SEVR", "ACKS", "ACKT")] == [
        "NO_ALARM", "NO_ALARM", "MAJOR", "YES"]
    for field in ("STAT", "SEVR", "ACKS", "ACKT"):
        assert client.write(p + "ai." + field, 0) == "ECA_NOWTACCESS"
    pv = client.pv(p + "ai")
    pv.write([AlarmSeverity.MAJOR], data_type=ChannelType.PUT_ACKS, wait=True)
    pv.write([0], data_type=ChannelType.PUT_ACKT, wait=True)
    assert [text(client, p + "ai." + f) for f in ("ACKS", "ACKT")] == ["NO_ALARM", "NO"]


def test_mdel_and_adel_are_the_deadbands(ioc, client):
    p = ioc.prefix
    assert client.write(p + "ai.MDEL", 1.0) == "ECA_NORMAL"
    assert client.write(p + "ai.ADEL", 5.0) == "ECA_NORMAL"
    assert (ioc.ai.value_atol, ioc.ai.log_atol) == (1.0, 5.0)
    values = client.monitor(p + "ai", DBE_VALUE)
    values.wait_for(1)
    for value in (1.5, 1.9, 2.5):      # 1.0 -> 1.5, 1.9 within MDEL; 2.5 is past it
        assert client.write(p + "ai", value) == "ECA_NORMAL"
    events = values.wait_for(2)
    assert [e.data[0] for e in values.settle(0.2)] == [1.0, 2.5]
    assert len(events) == 2


def test_proc_runs_the_putter_again_and_posts_through_mdel(ioc, client):
    """As EPICS' monitor(): an unchanged value posts nothing (MDEL 0), every processing
    posts with MDEL < 0 (softIoc does the same: tests/records/test_records_rsrv.py)."""
    p = ioc.prefix
    assert client.write(p + "counted", 7) == "ECA_NORMAL"
    values = client.monitor(p + "counted", DBE_VALUE)
    values.wait_for(1)
    assert client.write(p + "counted.PROC", [1]) == "ECA_NORMAL"
    assert ioc.puts == [7, 7]
    assert len(values.settle(0.3)) == 1
    assert client.write(p + "counted.MDEL", [-1]) == "ECA_NORMAL"
    assert client.write(p + "counted.PROC", [1]) == "ECA_NORMAL"
    assert len(values.wait_for(2)) == 2


def test_disa_disv_disable_processing_with_the_disable_alarm(ioc, client):
    p = ioc.prefix
    assert put_text(client, p + "counted.DISS", "MINOR") == "ECA_NORMAL"
    assert client.write(p + "counted.DISA", 1) == "ECA_NORMAL"   # DISV is 1
    values = client.monitor(p + "counted", DBE_VALUE)
    values.wait_for(1)
    assert client.write(p + "counted", 3) == "ECA_NORMAL"
    # stored as dbPut stores it, not processed (no putter); raising the DISABLE alarm
    # posts it once (DBE_VALUE|DBE_ALARM, as dbProcess), later disabled puts post nothing
    assert (ioc.counted.value, ioc.puts) == (3, [])
    assert (text(client, p + "counted.STAT"), text(client, p + "counted.SEVR")) == (
        "DISABLE", "MINOR")
    assert put_text(client, p + "counted.DISS", "MAJOR") == "ECA_NORMAL"
    assert client.write(p + "counted", 4) == "ECA_NORMAL"
    assert text(client, p + "counted.SEVR") == "MINOR"     # raised once, with the DISS then
    assert [e.data[0] for e in values.settle(0.2)] == [0, 3]
    assert client.write(p + "counted.DISV", 2) == "ECA_NORMAL"
    assert client.write(p + "counted", 3) == "ECA_NORMAL"
    assert (ioc.counted.value, ioc.puts) == (3, [3])


def test_state_names_are_the_enum_strings(ioc, client):
    p = ioc.prefix
    assert [client.value(p + "bo." + f) for f in ("ZNAM", "ONAM")] == ["Off", "On"]
    assert [client.value(p + "mbbi." + f) for f in ("ZRST", "ONST", "TWST", "THST")] == [
        "zero", "one", "two", ""]
    properties = client.monitor(p + "mbbi", DBE_PROPERTY, data_type="control")
    properties.wait_for(1)
    assert client.write(p + "mbbi.THST", "three") == "ECA_NORMAL"
    assert client.write(p + "bo.ONAM", "Closed") == "ECA_NORMAL"
    assert tuple(properties.wait_for(2)[-1].metadata.enum_strings) == (
        b"zero", b"one", b"two", b"three")
    assert ioc.bo.enum_strings == ("Off", "Closed")
    assert put_text(client, p + "bo", "Closed") == "ECA_NORMAL"
    assert ioc.bo.value == "Closed"


def test_nelm_is_the_max_length_and_read_only(ioc, client):
    p = ioc.prefix
    assert client.native(p + "wave.NELM") == ("DOUBLE", 1)
    assert client.value(p + "wave.NELM") == 8
    assert client.write(p + "wave.NELM", 3) == "ECA_NOWTACCESS"
    assert text(client, p + "wave.FTVL") == "DOUBLE"


def test_rval_is_the_raw_value(ioc, client):
    p = ioc.prefix
    assert client.write(p + "ai", 3.7) == "ECA_NORMAL"
    assert client.value(p + "ai.RVAL") == 4   # rounded, as an ao's convert rounds
    assert client.write(p + "ai.RVAL", 9) == "ECA_NORMAL"
    assert ioc.ai.value == 9.0
    # of a binary or multi-bit record: the state index, whatever DBR type the put carries
    for data_type in (None, ChannelType.LONG, ChannelType.STRING):
        value = "1" if data_type == ChannelType.STRING else 1
        assert client.write(p + "bo.RVAL", value, data_type=data_type) == "ECA_NORMAL"
        assert (ioc.bo.value, client.value(p + "bo.RVAL")) == ("On", 1)
        assert client.write(p + "bo", 0) == "ECA_NORMAL"
    assert client.write(p + "mbbi.RVAL", 2.0) == "ECA_NORMAL" and ioc.mbbi.value == "two"
    # an index past the states too: the record's VAL holds any (as a put to VAL does)
    assert client.write(p + "mbbi.RVAL", 7) == "ECA_NORMAL" and ioc.mbbi.value == 7


def test_scan_field_sets_a_use_scan_field_rate(mount, unique_prefix, client):
    class Scanned(PVGroup):
        ticks = pvproperty(value=0, record="longin")

        @ticks.scan(period=1.0, use_scan_field=True)
        async def ticks(self, instance, async_lib):
            self.times.append(time.monotonic())
            await instance.write(instance.value + 1)

    ioc = Scanned(prefix=unique_prefix)
    ioc.times = []
    mount(ioc)
    p = ioc.prefix
    wait_until(lambda: ioc.ticks.scan_period == 1.0)
    assert text(client, p + "ticks.SCAN") == "1 second"
    assert put_text(client, p + "ticks.SCAN", ".5 second") == "ECA_NORMAL"
    assert ioc.ticks.scan_period == 0.5
    start = len(ioc.times)
    wait_until(lambda: len(ioc.times) >= start + 3, timeout=3)
    intervals = [b - a for a, b in zip(ioc.times[start:], ioc.times[start + 1:])]
    assert all(0.35 < dt < 0.7 for dt in intervals[-2:]), intervals
    assert put_text(client, p + "ticks.SCAN", "Passive") == "ECA_NORMAL"
    assert ioc.ticks.scan_period is None
    # Passive: a PROC reads the device once -- the scan hook is the record's device read
    # (it only stamped the value again, so a client could not ask for a reading)
    time.sleep(0.3)
    before = client.value(p + "ticks")
    assert client.write(p + "ticks.PROC", [1]) == "ECA_NORMAL"
    assert client.value(p + "ticks") == before + 1


def test_a_record_without_a_scan_hook_processes_at_the_scan_a_client_sets(
        mount, unique_prefix, client, ca_server):
    """EPICS' classic counter, a calc with CALC=VAL+1 and SCAN=.1 second, counts; a soft
    ai re-stamps its value each period. SCAN was stored and did nothing without a scan
    hook. Passive stops it; stopping the IOC's hooks cancels it."""
    from iochost.pv import stop_group

    class Soft(PVGroup):
        counter = pvproperty(value=0.0, record="calc")
        reading = pvproperty(value=1.5, record="ai")

    ioc = mount(Soft(prefix=unique_prefix))
    p = ioc.prefix
    assert put_text(client, p + "counter.CALC", "VAL+1") == "ECA_NORMAL"
    assert put_text(client, p + "counter.SCAN", ".1 second") == "ECA_NORMAL"
    assert put_text(client, p + "reading.SCAN", ".1 second") == "ECA_NORMAL"
    stamp = client.read(p + "reading", ChannelType.TIME_DOUBLE).metadata.timestamp
    assert wait_until(lambda: client.value(p + "counter") >= 5, timeout=5)
    assert client.read(p + "reading", ChannelType.TIME_DOUBLE).metadata.timestamp > stamp
    assert put_text(client, p + "counter.SCAN", "Passive") == "ECA_NORMAL"
    time.sleep(0.25)
    stopped = client.value(p + "counter")
    time.sleep(0.35)
    assert client.value(p + "counter") == stopped
    assert put_text(client, p + "counter.SCAN", ".1 second") == "ECA_NORMAL"
    task = ioc.counter._periodic
    assert task is not None and not task.done()
    ca_server.call(stop_group(ioc))
    assert task.done() and ioc.reading._periodic is None


def test_a_periodic_scan_keeps_its_period_whatever_processing_takes(
        mount, unique_prefix, client):
    """A record processes on a fixed grid, as EPICS' periodicTask: a .1 second scan whose
    processing takes 40 ms still processes ten times a second (it processed every 140 ms,
    and a calc counter every ~100.7 ms: caEventRate saw 9.93 Hz against softIoc's 10)."""
    class Slow(PVGroup):
        slow = pvproperty(value=0.0, record="ao")
        processed: list[float] = []

        @slow.putter
        async def slow(self, instance, value):
            self.processed.append(time.monotonic())
            await asyncio.sleep(0.04)

    ioc = mount(Slow(prefix=unique_prefix))
    assert put_text(client, ioc.prefix + "slow.SCAN", ".1 second") == "ECA_NORMAL"
    assert wait_until(lambda: len(ioc.processed) >= 12, timeout=5)
    assert put_text(client, ioc.prefix + "slow.SCAN", "Passive") == "ECA_NORMAL"
    ticks = ioc.processed[1:12]
    assert 0.095 <= (ticks[-1] - ticks[0]) / 10 <= 0.105  # (a late one delays no other)


def test_field_putter_hook_from_the_group(mount, unique_prefix, client):
    class Hooked(PVGroup):
        A = pvproperty(value=1.0, record="ai")
        B = pvproperty(value=0.0)

        @A.fields.current_raw_value.putter
        async def _raw(fields, instance, value):
            await fields.parent.group.B.write(value * 2)

        @A.fields.DESC.putter
        async def _desc(fields, instance, value):
            return value.upper()

    ioc = mount(Hooked(prefix=unique_prefix))
    p = ioc.prefix
    assert client.write(p + "A.RVAL", 4) == "ECA_NORMAL"
    assert (ioc.B.value, ioc.A.value) == (8.0, 1.0)   # the putter replaces RVAL's write
    assert client.write(p + "A.DESC", "quiet") == "ECA_NORMAL"
    assert client.value(p + "A.DESC") == "QUIET"


def test_fields_are_made_on_first_access_only(ioc, client):
    made = ioc.typed.field_inst
    assert len(made.created) == 0
    assert client.value(ioc.prefix + "typed.HIHI") == 0.0
    assert set(made.created) == {"HIHI"}
    assert made.high_alarm_limit is ioc.typed.fields["HIGH"]
    assert "LOLO" in ioc.typed.fields and len(made.created) == 2
    assert set(made.created) == {"HIHI", "HIGH"}      # `in` made nothing


def test_fields_list_every_field_without_making_any(ioc):
    # caproto's records example prints list(instance.fields): every field, as caproto's
    # eager dict has them, yet listing, len(), `in` and dir() make no channel.
    fields, made = ioc.typed.fields, ioc.typed.field_inst
    names = list(fields)
    assert names[:3] == ["NAME", "DESC", "ASG"] and "HIHI" in names and "RTYP" in names
    assert len(fields) == len(names) == len(set(names)) == len(made.field_names())
    assert {"DESC", "description", "HIHI", "hihi_alarm_limit"} <= set(dir(made))
    assert len(made.created) == 0
    assert fields["DESC"] is made.description and set(made.created) == {"DESC"}


def test_unknown_field_does_not_connect(ioc, client, ca_server):
    assert ca_server.server.database.resolve(ioc.prefix + "ai.NOPE") is None \
        if hasattr(ca_server, "server") else ioc.ai.get_field("NOPE") is None


def test_long_string_fields_have_their_char_view(ioc, client):
    p = ioc.prefix
    long_text = "forty bytes, one more than DBR_STRING's."   # DESC holds 40 + NUL
    assert len(long_text) == 40
    assert client.write(p + "ai.DESC$", list(long_text.encode()) + [0]) == "ECA_NORMAL"
    assert ioc.ai.doc == long_text
    assert bytes(client.read(p + "ai.DESC$").data).rstrip(b"\0").decode() == long_text
    assert client.native(p + "ai.DESC$") == ("CHAR", 41)
    assert client.value(p + "ai.DESC") == long_text[:39]
    assert client.value(p + "ai.NAME$")[:len(p)] == [ord(c) for c in p]


def test_field_reads_carry_the_record_alarm(ioc, client):
    p = ioc.prefix
    assert client.write(p + "ai.LOLO", -10.0) == "ECA_NORMAL"
    assert client.write(p + "ai.HIHI", 10.0) == "ECA_NORMAL"
    assert client.read(p + "ai.DESC", data_type="time").metadata.severity == 0
    assert client.write(p + "ai", 11.0) == "ECA_NORMAL"
    for field in ("DESC", "HIHI", "SCAN", "PREC"):
        metadata = client.read(p + "ai." + field, data_type="time").metadata
        assert (metadata.status, metadata.severity) == (AlarmStatus.HIHI, AlarmSeverity.MAJOR)
    control = client.read(p + "ai.SCAN", data_type="control").metadata
    assert tuple(control.enum_strings[:3]) == (b"Passive", b"Event", b"I/O Intr")


def test_state_severities_of_binary_records(ioc, client):
    p = ioc.prefix
    assert put_text(client, p + "bo.OSV", "MAJOR") == "ECA_NORMAL"
    assert put_text(client, p + "bo", "On") == "ECA_NORMAL"
    assert (ioc.bo.alarm.status, ioc.bo.alarm.severity) == (AlarmStatus.STATE,
                                                            AlarmSeverity.MAJOR)
    assert put_text(client, p + "bo.COSV", "MINOR") == "ECA_NORMAL"
    assert put_text(client, p + "bo", "Off") == "ECA_NORMAL"       # a change of state
    assert (ioc.bo.alarm.status, ioc.bo.alarm.severity) == (AlarmStatus.COS,
                                                            AlarmSeverity.MINOR)
    assert put_text(client, p + "bo", "Off") == "ECA_NORMAL"       # no change: no alarm
    assert ioc.bo.alarm.severity == AlarmSeverity.NO_ALARM
    assert put_text(client, p + "mbbi.TWSV", "MINOR") == "ECA_NORMAL"
    assert ioc.mbbi.alarm.severity == AlarmSeverity.NO_ALARM        # it is "one"
    assert put_text(client, p + "mbbi", "two") == "ECA_NORMAL"
    assert (text(client, p + "mbbi.STAT"), text(client, p + "mbbi.SEVR")) == ("STATE",
                                                                           "MINOR")


def test_field_hook_named_after_its_pv_keeps_the_pv(mount, unique_prefix, client):
    """caproto's style: the decorators return the pvproperty, so ``async def A`` keeps A."""
    class Named(PVGroup):
        A = pvproperty(value=1.0, record="ai")

        @A.fields.DESC.putter
        async def A(fields, instance, value):
            return value.upper()

    assert isinstance(Named.__dict__["A"], pvproperty)
    ioc = mount(Named(prefix=unique_prefix))
    assert client.write(ioc.prefix + "A.DESC", "named") == "ECA_NORMAL"
    assert client.value(ioc.prefix + "A.DESC") == "NAMED"
    assert client.value(ioc.prefix + "A") == 1.0


def test_a_calc_computes_its_value_from_calc_and_refuses_a_bad_expression(mount,
                                                                          unique_prefix,
                                                                          client):
    class Calc(PVGroup):
        sum = pvproperty(value=0.0, record="calc")

    group = mount(Calc(prefix=unique_prefix))
    name = group.prefix + "sum"
    assert put_text(client, name + ".CALC", "A+B*2") == "ECA_NORMAL"
    assert client.write(name + ".A", 1.0) == "ECA_NORMAL"
    assert client.write(name + ".B", 2.5) == "ECA_NORMAL"
    assert wait_until(lambda: client.value(name) == 6.0)
    assert group.sum.value == 6.0
    # a CALC that is not valid EPICS calc is refused and the old one kept (EPICS stores
    # it and fails the put); the record still computes with the old one
    assert put_text(client, name + ".CALC", "A+") == "ECA_PUTFAIL"
    assert text(client, name + ".CALC") == "A+B*2"
    assert client.write(name + ".B", 0.5) == "ECA_NORMAL"
    assert wait_until(lambda: client.value(name) == 2.0)
    # a put to VAL does not process a calc (VAL is pp FALSE)
    assert client.write(name, 9.0) == "ECA_NORMAL"
    assert client.value(name) == 9.0


def test_hopr_lopr_shown_from_control_limits_change_one_at_a_time(mount, unique_prefix,
                                                                  client):
    """An ai given control limits alone shows them as HOPR/LOPR (as RSRV serves HOPR/LOPR
    as both): writing HOPR keeps LOPR (it read 0), and the control limits follow what is
    shown, so a put is checked against the limits a client sees (a put of 6 was refused
    against the hidden 3 after HOPR/LOPR were set to +-50)."""
    class Limited(PVGroup):
        c = pvproperty(value=0.0, record="ai", lower_ctrl_limit=-3.0, upper_ctrl_limit=3.0)

    p = mount(Limited(prefix=unique_prefix)).prefix
    assert (client.value(p + "c.LOPR"), client.value(p + "c.HOPR")) == (-3.0, 3.0)
    assert client.write(p + "c.HOPR", 50.0) == "ECA_NORMAL"
    assert (client.value(p + "c.LOPR"), client.value(p + "c.HOPR")) == (-3.0, 50.0)
    assert client.write(p + "c.LOPR", -50.0) == "ECA_NORMAL"
    control = client.read(p + "c", data_type="control").metadata
    assert (control.lower_ctrl_limit, control.upper_ctrl_limit) == (-50.0, 50.0)
    assert (control.lower_disp_limit, control.upper_disp_limit) == (-50.0, 50.0)
    assert client.write(p + "c", 6.0) == "ECA_NORMAL" and client.value(p + "c") == 6.0

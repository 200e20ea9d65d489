"""Hooks over Channel Access: putter (replace, keep, SkipWrite, failure -> ECA_PUTFAIL and a
WRITE/MAJOR alarm), startup/shutdown, scan loops (period, errors, stop_on_error), keyword
forms, getters, group_write, and writes from IOC code taking the same path as a client's."""
import asyncio
import contextvars
import logging
import sys
import time

import pytest

from iochost import AlarmSeverity, AlarmStatus, ChannelType, PVGroup, SkipWrite, pvproperty
from iochost.ca.dbr import DBE_ALARM, DBE_VALUE
from iochost.pv import stop_group
from test_group_helpers import client, mount, wait_until  # noqa: F401  (fixtures)


class Putters(PVGroup):
    doubled = pvproperty(value=0.0)
    kept = pvproperty(value=0)
    magic = pvproperty(value=85)
    fragile = pvproperty(value=1.0)
    seen = pvproperty(value=0, read_only=True)

    @doubled.putter
    async def doubled(self, instance, value):
        await self.seen.write(self.seen.value + 1)
        return value * 2

    @kept.putter
    async def kept(self, instance, value):
        await self.seen.write(self.seen.value + 1)     # returns None: value kept as written

    @magic.putter
    async def magic(self, instance, value):
        if value != 85:
            raise SkipWrite()
        return value

    @fragile.putter
    async def fragile(self, instance, value):
        if value < 0:
            raise RuntimeError("negative values break the device")
        if value == 99:
            return str(value)        # a bug: text for a DOUBLE
        return value


@pytest.fixture
def putters(mount, unique_prefix):
    return mount(Putters(prefix=unique_prefix))


def test_putter_may_replace_the_value(putters, client):
    assert client.write(putters.prefix + "doubled", 2.5) == "ECA_NORMAL"
    assert client.value(putters.prefix + "doubled") == 5.0
    assert client.value(putters.prefix + "seen") == 1


def test_putter_returning_none_keeps_the_written_value(putters, client):
    assert client.write(putters.prefix + "kept", 12) == "ECA_NORMAL"
    assert client.value(putters.prefix + "kept") == 12


def test_skipwrite_keeps_the_old_value_silently(putters, client):
    pvname = putters.prefix + "magic"
    monitor = client.monitor(pvname, DBE_VALUE | DBE_ALARM)
    monitor.wait_for(1)                                   # the initial value
    assert client.write(pvname, 3) == "ECA_NORMAL"
    assert client.value(pvname) == 85
    assert len(monitor.settle()) == 1                     # nothing published
    reading = client.read(pvname, data_type="time")
    assert reading.metadata.severity == AlarmSeverity.NO_ALARM


def test_putter_failure_is_putfail_with_write_alarm(putters, client):
    pvname = putters.prefix + "fragile"
    assert client.write(pvname, -1.0) == "ECA_PUTFAIL"
    reading = client.read(pvname, data_type="time")
    assert reading.data[0] == 1.0
    assert (reading.metadata.status, reading.metadata.severity) == (
        AlarmStatus.WRITE, AlarmSeverity.MAJOR_ALARM)
    assert client.write(pvname, 2.0) == "ECA_NORMAL"      # a good write goes through
    assert client.value(pvname) == 2.0


def test_a_putter_returning_what_the_pv_cannot_hold_is_its_own_failure(putters, client,
                                                                       caplog):
    """The client sent a good DOUBLE: ECA_PUTFAIL with the putter's error at ERROR (it was
    ECA_BADTYPE, "invalid DBR type", and a WARNING as if the client were at fault)."""
    pvname = putters.prefix + "fragile"
    with caplog.at_level(logging.WARNING):
        assert client.write(pvname, 99.0) == "ECA_PUTFAIL"
    assert client.value(pvname) == 1.0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and pvname in r.message]
    assert errors and "the putter returned '99.0'" in errors[0].message


def test_writes_from_code_run_the_putter_and_reach_monitors(putters, client, ca_server):
    pvname = putters.prefix + "doubled"
    monitor = client.monitor(pvname, DBE_VALUE)
    monitor.wait_for(1)
    ca_server.call(putters.doubled.write(4.0))
    events = monitor.wait_for(2)
    assert events[-1].data[0] == 8.0
    assert putters.seen.value == 1
    # ... and skip the putter only when asked to
    ca_server.call(putters.doubled.write(1.0, verify_value=False))
    assert monitor.wait_for(3)[-1].data[0] == 1.0


class Lifecycle(PVGroup):
    started = pvproperty(value=0, read_only=True)
    stopped = pvproperty(value=0, read_only=True)
    # own alarm groups: the scan loops' alarms must not mix
    ticks = pvproperty(value=0, read_only=True, alarm_group="ticks")
    failing = pvproperty(value=0, read_only=True, alarm_group="failing")
    give_up = pvproperty(value=0, read_only=True, alarm_group="give_up")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fail = True
        self.shutdown_ran = False

    @started.startup
    async def started(self, instance, async_lib):
        await instance.write(instance.value + 1)

    @stopped.shutdown
    async def stopped(self, instance, async_lib):
        self.shutdown_ran = True
        await instance.write(instance.value + 1)

    @ticks.scan(period=0.02)
    async def ticks(self, instance, async_lib):
        await instance.write(instance.value + 1)

    @failing.scan(period=0.02, failure_severity=AlarmSeverity.MINOR_ALARM)
    async def failing(self, instance, async_lib):
        if self.fail:
            raise ValueError("device not answering")
        await instance.write(instance.value + 1)

    @give_up.scan(period=0.02, stop_on_error=True)
    async def give_up(self, instance, async_lib):
        await instance.write(instance.value + 1)
        if instance.value >= 3:
            raise ValueError("stop here")


@pytest.fixture
def lifecycle(mount, unique_prefix):
    return mount(Lifecycle(prefix=unique_prefix))


def test_startup_hook_runs_once_at_start(lifecycle, client):
    wait_until(lambda: client.value(lifecycle.prefix + "started") == 1, what="startup hook")


def test_shutdown_hook_runs_at_stop(lifecycle, client, ca_server):
    assert client.value(lifecycle.prefix + "stopped") == 0
    ca_server.call(stop_group(lifecycle))
    assert lifecycle.shutdown_ran
    assert client.value(lifecycle.prefix + "stopped") == 1
    ticks = lifecycle.ticks.value
    assert client.value(lifecycle.prefix + "ticks") == ticks   # the scan loop stopped too


def test_a_shutdown_hook_past_its_time_is_cancelled_and_says_so(mount, unique_prefix,
                                                                 ca_server, caplog):
    class Hangs(PVGroup):
        stuck = pvproperty(value=0)

        @stuck.shutdown
        async def stuck(self, instance, async_lib):
            await asyncio.sleep(30)

    group = mount(Hangs(prefix=unique_prefix))
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        ca_server.call(stop_group(group, timeout=0.2))
    assert time.monotonic() - started < 5
    assert f"shutdown hook of {unique_prefix}stuck failed: TimeoutError: did not finish " \
           "within 0.2 s: cancelled" in caplog.text


def test_scan_runs_periodically(lifecycle, client):
    monitor = client.monitor(lifecycle.prefix + "ticks", DBE_VALUE)
    events = monitor.wait_for(5)
    values = [event.data[0] for event in events]
    assert values == sorted(values) and values[-1] >= 4


def test_scan_failure_sets_scan_alarm_until_it_recovers(lifecycle, client):
    pvname = lifecycle.prefix + "failing"

    def alarm():
        metadata = client.read(pvname, data_type="time").metadata
        return metadata.status, metadata.severity

    wait_until(lambda: alarm() == (AlarmStatus.SCAN, AlarmSeverity.MINOR_ALARM),
               what="SCAN/MINOR alarm")
    lifecycle.fail = False
    wait_until(lambda: alarm() == (AlarmStatus.NO_ALARM, AlarmSeverity.NO_ALARM),
               what="alarm cleared")
    assert client.value(pvname) > 0


def test_stop_on_error_ends_the_scan(lifecycle, client):
    pvname = lifecycle.prefix + "give_up"
    wait_until(lambda: client.value(pvname) == 3, what="three scans")
    reading = client.read(pvname, data_type="time")
    assert (reading.metadata.status, reading.metadata.severity) == (
        AlarmStatus.SCAN, AlarmSeverity.MAJOR_ALARM)
    wait_until(lambda: lifecycle.ticks.value > 10, what="other scans keep going")
    assert client.value(pvname) == 3


async def log_write(group, instance, value):
    group.written.append((instance.pvname, value))
    return value


async def count_start(group, instance, async_lib):
    await instance.write(instance.value + 100)


class KeywordHooks(PVGroup):
    a = pvproperty(value=0, put=log_write, startup=count_start)
    b = pvproperty(value=0, put=log_write)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.written = []


def test_keyword_hooks_are_reusable(mount, unique_prefix, client):
    group = mount(KeywordHooks(prefix=unique_prefix))
    wait_until(lambda: client.value(group.prefix + "a") == 100, what="startup=")
    assert client.write(group.prefix + "a", 1) == "ECA_NORMAL"
    assert client.write(group.prefix + "b", 2) == "ECA_NORMAL"
    # the startup hook's own write went through the putter too
    assert group.written == [(group.prefix + "a", 100), (group.prefix + "a", 1),
                             (group.prefix + "b", 2)]


class Getters(PVGroup):
    """A getter (discouraged) answers each read; group_write filters every write."""

    reads = 0
    polled = pvproperty(value=0)
    clamped = pvproperty(value=0)

    @polled.getter
    async def polled(self, instance):
        self.reads += 1
        return self.reads * 10

    async def group_write(self, instance, value):
        return min(value, 100)


def test_getter_answers_reads(mount, unique_prefix, client):
    group = mount(Getters(prefix=unique_prefix))
    assert client.value(group.prefix + "polled") == 10
    assert client.value(group.prefix + "polled") == 20


def test_a_monitored_getter_runs_once_per_read_not_in_a_loop(mount, unique_prefix, client):
    """A getter's value is written, which posts a monitor update: the update carries that
    value and does not run the getter again (it did, endlessly, ~30,000 updates/s)."""
    group = mount(Getters(prefix=unique_prefix))
    name = group.prefix + "polled"
    updates = client.monitor(name, DBE_VALUE)
    first = updates.wait_for(1)
    # one first update, of the value as stored: a subscription does not run the getter
    # (as caproto and RSRV; it ran it, and the update came twice, after the getter's time)
    assert len(updates.settle(0.5)) == len(first) == 1 and first[0].data[0] == 0
    assert group.reads == 0
    reads = group.reads
    value = client.value(name)                              # one read: one getter run
    assert group.reads == reads + 1 and value == group.reads * 10
    events = updates.wait_for(len(first) + 1)
    assert events[-1].data[0] == value and len(updates.settle(0.5)) == len(first) + 1


def test_group_write_is_the_default_putter(mount, unique_prefix, client):
    group = mount(Getters(prefix=unique_prefix))
    assert client.write(group.prefix + "clamped", 500) == "ECA_NORMAL"
    assert client.value(group.prefix + "clamped") == 100


class ScanField(PVGroup):
    """A scan that follows the record's scan period (what a put to .SCAN sets)."""

    ticks = pvproperty(value=0, record="ai", read_only=True)

    @ticks.scan(period=0.02, use_scan_field=True)
    async def ticks(self, instance, async_lib):
        await instance.write(instance.value + 1)


def test_use_scan_field_follows_the_scan_period(mount, unique_prefix, client, ca_server):
    group = mount(ScanField(prefix=unique_prefix))
    pvname = group.prefix + "ticks"
    wait_until(lambda: client.value(pvname) >= 3, what="scans at the initial period")
    assert group.ticks.scan_period == 0.02
    ca_server.call(lambda: group.ticks.set_scan_period(None))        # Passive
    paused_at = client.value(pvname)
    monitor = client.monitor(pvname, DBE_VALUE)
    assert len(monitor.settle(0.3)) <= 2          # the initial update, maybe one in flight
    assert client.value(pvname) <= paused_at + 1
    ca_server.call(lambda: group.ticks.set_scan_period(0.01))        # wakes at once
    wait_until(lambda: client.value(pvname) >= paused_at + 5, what="scans resumed")


class BrokenStartup(PVGroup):
    broken = pvproperty(value=0)
    fine = pvproperty(value=0)

    @broken.startup
    async def broken(self, instance, async_lib):
        raise RuntimeError("hardware missing")

    @fine.startup
    async def fine(self, instance, async_lib):
        await instance.write(1)


def test_failing_startup_hook_is_logged_and_isolated(mount, unique_prefix, client, caplog):
    group = mount(BrokenStartup(prefix=unique_prefix))
    wait_until(lambda: client.value(group.prefix + "fine") == 1, what="the other hook")
    wait_until(lambda: f"startup hook of {group.prefix}broken failed" in caplog.text,
               what="the failure logged")
    assert "hardware missing" in caplog.text
    assert client.write(group.prefix + "broken", 5) == "ECA_NORMAL"   # still served


class Elapsed(PVGroup):
    """Two 0.1 s scans whose work takes 0.05 s: one subtracts that from its sleep."""

    subtracted = pvproperty(value=0, alarm_group="subtracted")
    added = pvproperty(value=0, alarm_group="added")

    @subtracted.scan(period=0.1)
    async def subtracted(self, instance, async_lib):
        await instance.write(instance.value + 1)
        await async_lib.sleep(0.05)

    @added.scan(period=0.1, subtract_elapsed=False)
    async def added(self, instance, async_lib):
        await instance.write(instance.value + 1)
        await async_lib.sleep(0.05)


def test_subtract_elapsed_keeps_the_period(mount, unique_prefix, client):
    group = mount(Elapsed(prefix=unique_prefix))

    monitors = [client.monitor(group.prefix + name, DBE_VALUE) for name in ("subtracted", "added")]

    def mean_interval(monitor):
        stamps = [event.metadata.timestamp for event in monitor.wait_for(7)[1:]]
        return (stamps[-1] - stamps[0]) / (len(stamps) - 1)

    with_subtraction, without = (mean_interval(monitor) for monitor in monitors)
    assert 0.08 < with_subtraction < without - 0.03


def test_put_to_scan_field_changes_the_rate(mount, unique_prefix, client):
    """With record support, a client's put to NAME.SCAN drives a use_scan_field scan."""
    group = mount(ScanField(prefix=unique_prefix))
    scan_field = group.prefix + "ticks.SCAN"
    assert client.write(scan_field, "Passive", data_type=ChannelType.STRING) == "ECA_NORMAL"
    assert group.ticks.scan_period is None
    paused_at = client.value(group.prefix + "ticks")
    monitor = client.monitor(group.prefix + "ticks", DBE_VALUE)
    assert len(monitor.settle(0.3)) <= 2
    assert client.write(scan_field, ".1 second", data_type=ChannelType.STRING) == "ECA_NORMAL"
    assert group.ticks.scan_period == 0.1
    stamps = [event.metadata.timestamp for event in monitor.wait_for(6)[-4:]]
    assert 0.07 < (stamps[-1] - stamps[0]) / 3 < 0.2
    assert client.value(group.prefix + "ticks") > paused_at


GUARD = contextvars.ContextVar("GUARD", default=False)


def test_a_contextvar_a_putter_sets_stays_in_its_own_write(mount, unique_prefix, client):
    """Each client write runs in a context of its own, as a task of its own would (caproto
    runs each in a task): caproto's mini_beamline guards its motor putter with a contextvar
    set before its first await, and every put after the first one on a circuit saw it set
    (the write had started inline, in the circuit's context) and skipped the move."""
    class Guarded(PVGroup):
        value = pvproperty(value=0.0)
        seen: list[bool] = []

        @value.putter
        async def value(self, instance, value):
            type(self).seen.append(GUARD.get())
            GUARD.set(True)
            try:
                await asyncio.sleep(0.05)
            finally:
                GUARD.set(False)
            return value

    ioc = mount(Guarded(prefix=unique_prefix))
    for value in (1.0, 2.0, 3.0):
        assert client.write(ioc.prefix + "value", value) == "ECA_NORMAL"
    assert Guarded.seen == [False, False, False]
    assert client.value(ioc.prefix + "value") == 3.0


class Exits(PVGroup):
    """caproto's too_clever/caproto_to_ophyd: a PV whose putter ends the process."""

    exit = pvproperty(value=0)
    other = pvproperty(value=1.0)

    @exit.putter
    async def exit(self, instance, value):
        sys.exit(0)


def test_a_putter_that_exits_cannot_end_a_shared_process(mount, unique_prefix, client,
                                                         caplog):
    """In a host (any server without ``exit_requested``) a putter's sys.exit is refused
    and logged: the process serves other IOCs; it used to drop the client's circuit, with
    asyncio's "Fatal error on transport" traceback."""
    group = mount(Exits(prefix=unique_prefix))
    with caplog.at_level(logging.ERROR, "iochost.server"):
        assert client.write(group.prefix + "exit", 1) == "ECA_PUTFAIL"
    assert "its putter asked the process to end (SystemExit)" in caplog.text
    assert client.value(group.prefix + "other") == 1.0          # the same circuit serves on

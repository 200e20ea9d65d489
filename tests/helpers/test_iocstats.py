"""iocStats PVs over CA: the iocAdmin template's types, units and limits; counts that follow
the clients; START_CNT carried across a restart by autosave."""
from __future__ import annotations

import math
import re
import time
from datetime import datetime

import pytest
from caproto.threading.client import Context

from iochost.ca.alarm_codes import AlarmSeverity, AlarmStatus
from iochost.ca.dbr import ChannelType
from iochost.testing import wait_until

TIMEOUT = 5.0
MOUNT = """\
mounts:
  - {name: settings, ioc: helper-test-settings, prefix: "$(P)S:"}
"""


def test_iocstats_pvs_have_the_template_types_units_and_limits(start_host, unique_prefix,
                                                                pyepics, caproto_context,
                                                                caplog):
    P = unique_prefix.split(":")[0] + "IOC"
    host = start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")
    assert host.mounts["_iocstats"].state in ("running", "degraded")
    native = {name: caproto_context.get_pvs(f"{P}:{name}")[0] for name in (
        "CA_CLNT_CNT", "SYS_CPU_LOAD", "MEM_FREE", "UPTIME", "ST_SCRIPT", "ACCESS",
        "HEARTBEAT", "CA_UPD_TIME", "FD_FREE", "LOAD")}
    types = {name: pv.read(data_type="native").data_type for name, pv in native.items()}
    assert types == {"CA_CLNT_CNT": ChannelType.DOUBLE, "SYS_CPU_LOAD": ChannelType.DOUBLE,
                     "MEM_FREE": ChannelType.DOUBLE, "UPTIME": ChannelType.STRING,
                     "ST_SCRIPT": ChannelType.CHAR, "ACCESS": ChannelType.ENUM,
                     "HEARTBEAT": ChannelType.DOUBLE, "CA_UPD_TIME": ChannelType.DOUBLE,
                     "FD_FREE": ChannelType.DOUBLE, "LOAD": ChannelType.DOUBLE}
    clients = native["CA_CLNT_CNT"].read(data_type="control").metadata
    assert (clients.upper_disp_limit, clients.upper_alarm_limit,
            clients.upper_warning_limit) == (200.0, 175.0, 100.0)
    cpu = native["SYS_CPU_LOAD"].read(data_type="control").metadata
    assert (cpu.units, cpu.precision, cpu.upper_alarm_limit, cpu.upper_warning_limit) == \
        (b"%", 1, 80.0, 70.0)
    assert native["MEM_FREE"].read(data_type="control").metadata.units == b"byte"
    period = native["CA_UPD_TIME"].read(data_type="control")
    assert period.data[0] == 15.0 and period.metadata.units == b"sec"
    assert (period.metadata.upper_ctrl_limit, period.metadata.lower_ctrl_limit) == (60.0, 1.0)
    fd_free = native["FD_FREE"].read(data_type="control").metadata
    assert (fd_free.lower_alarm_limit, fd_free.lower_warning_limit) == (5.0, 20.0)
    # the limits the template leaves unset arm nothing: NaN, as from devIocStats
    assert all(math.isnan(v) for v in (fd_free.upper_alarm_limit, fd_free.upper_warning_limit,
                                       clients.lower_alarm_limit, clients.lower_warning_limit))
    access = pyepics.PV(f"{P}:ACCESS", form="ctrl")
    assert access.wait_for_connection(TIMEOUT)
    assert list(access.get_ctrlvars()["enum_strs"]) == \
        ["Running", "Maintenance", "Test", "OFFLINE"]
    # HHSV/HSV of the template, read as record fields
    assert pyepics.caget(f"{P}:CA_CLNT_CNT.HHSV", as_string=True) == "MAJOR"
    assert pyepics.caget(f"{P}:CA_CLNT_CNT.HSV", as_string=True) == "MINOR"
    assert pyepics.caget(f"{P}:CA_CLNT_CNT.DESC", as_string=True) == "Number of CA Clients"
    # MEM_FREE's low limits are armed at 0 (LLSV MAJOR, LSV MINOR): a LOLO a site sets
    # above the free memory raises a MAJOR alarm at once
    assert [pyepics.caget(f"{P}:MEM_FREE.{f}", as_string=True) for f in ("LLSV", "LSV")] == \
        ["MAJOR", "MINOR"]
    assert pyepics.caput(f"{P}:MEM_FREE.LOLO", 1e18, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caget(f"{P}:MEM_FREE.SEVR", as_string=True, use_monitor=False) == "MAJOR"
    assert pyepics.caput(f"{P}:MEM_FREE.LOLO", 0, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caget(f"{P}:MEM_FREE.SEVR", as_string=True, use_monitor=False) == \
        "NO_ALARM"
    # ACCESS's state severities: OFFLINE is a MAJOR alarm, Test a MINOR one, Running none
    for state, severity in (("OFFLINE", 2), ("Test", 1), ("Running", 0)):
        assert pyepics.caput(f"{P}:ACCESS", state, wait=True, timeout=TIMEOUT) == 1
        assert access.get_with_metadata(use_monitor=False, timeout=TIMEOUT)["severity"] == \
            severity, state
    # values
    beat = pyepics.caget(f"{P}:HEARTBEAT")
    assert wait_until(lambda: pyepics.caget(f"{P}:HEARTBEAT", use_monitor=False) > beat,
                      timeout=TIMEOUT)
    # a calcout in iocAdminSoft.db: a put sets the count, which goes on from there
    assert pyepics.caput(f"{P}:HEARTBEAT", 1000, wait=True, timeout=TIMEOUT) == 1
    assert wait_until(lambda: 1000 < pyepics.caget(f"{P}:HEARTBEAT", use_monitor=False) < 1010,
                      timeout=TIMEOUT)
    # statsUpTime: the day part only once a day has passed
    assert re.fullmatch(r"\d\d:\d\d:\d\d", pyepics.caget(f"{P}:UPTIME", as_string=True))
    datetime.strptime(pyepics.caget(f"{P}:TOD", as_string=True), "%m/%d/%Y %H:%M:%S")
    assert pyepics.caget(f"{P}:ST_SCRIPT", as_string=True) == "helpers-test.yaml"
    assert pyepics.caget(f"{P}:EPICS_VERS", as_string=True).startswith("iochost ")
    assert pyepics.caget(f"{P}:PROCESS_ID") > 0 and pyepics.caget(f"{P}:CPU_CNT") >= 1
    assert pyepics.caget(f"{P}:MEM_MAX") > pyepics.caget(f"{P}:MEM_USED") > 0
    assert pyepics.caget(f"{P}:RECORD_CNT", use_monitor=False) >= len(host.database) - 5
    import os
    assert pyepics.caget(f"{P}:CA_ADDR_LIST", as_string=True) == \
        os.environ["EPICS_CA_ADDR_LIST"][:39]
    # iocEnvVar.template's names (the variable without EPICS_) beside the older aliases;
    # an unset variable reads EPICS base's default, as envGetConfigParam gives it
    assert pyepics.caget(f"{P}:CA_SERVER_PORT", as_string=True) == \
        pyepics.caget(f"{P}:CA_SRVR_PORT", as_string=True) == os.environ["EPICS_CA_SERVER_PORT"]
    if "EPICS_CA_BEACON_PERIOD" not in os.environ:
        assert pyepics.caget(f"{P}:CA_BEACON_PERIOD", as_string=True) == "15.0"
    assert pyepics.caget(f"{P}:ENGINEER", as_string=True) == \
        (os.environ.get("ENGINEER") or os.environ.get("LOGNAME") or os.environ.get("USER")
         or "<not available>")[:39]
    # SYSRESET is refused unless the config allows it (a put that fails, the host lives)
    reset = caproto_context.get_pvs(f"{P}:SysReset")[0]          # the alias
    reply = reset.write([1], wait=True, notify=True, timeout=TIMEOUT)
    assert reply.status.name == "ECA_PUTFAIL", reply
    assert host.running
    # a refusal, said in one line (no traceback, as READACF's)
    refusals = [r for r in caplog.records if "SYSRESET is refused" in r.getMessage()]
    assert refusals and all(r.levelname == "WARNING" and not r.exc_info for r in refusals)


def test_client_counts_follow_clients_as_they_connect(start_host, unique_prefix, pyepics):
    P = unique_prefix.split(":")[0] + "IOC"
    start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")
    assert pyepics.caput(f"{P}:CA_UPD_TIME", 1, wait=True, timeout=TIMEOUT) == 1

    def reading(name):
        return pyepics.caget(f"{P}:{name}", use_monitor=False, timeout=TIMEOUT)

    assert wait_until(lambda: reading("CA_CLNT_CNT") >= 1, timeout=TIMEOUT)
    reading("CA_CONN_CNT")          # this client's own channels are open before the baseline
    time.sleep(1.5)                 # one update period
    clients, channels = reading("CA_CLNT_CNT"), reading("CA_CONN_CNT")
    extra = Context(timeout=TIMEOUT)             # one more client (its own circuit)
    try:
        pvs = extra.get_pvs(*(f"{unique_prefix}S:{name}" for name in
                              ("gain", "count", "mode", "label", "offset")))
        for pv in pvs:
            pv.wait_for_connection(timeout=TIMEOUT)
        assert wait_until(lambda: reading("CA_CLNT_CNT") == clients + 1, timeout=TIMEOUT)
        assert wait_until(lambda: reading("CA_CONN_CNT") == channels + 5, timeout=TIMEOUT,
                          what=f"{channels} + 5 channels, not {reading('CA_CONN_CNT')}")
    finally:
        extra.disconnect()
    assert wait_until(lambda: reading("CA_CLNT_CNT") == clients, timeout=TIMEOUT)
    assert wait_until(lambda: reading("CA_CONN_CNT") == channels, timeout=TIMEOUT)


def test_scan_fields_are_the_templates_and_passive_stops_a_records_updates(
        start_host, unique_prefix, pyepics):
    """SCAN reads as ioc.template sets it; a Passive I/O Intr record keeps its value while
    the figure changes, until processed (then it reads the latest sample), and I/O Intr
    may be chosen again (devIocStats can interrupt)."""
    P = unique_prefix.split(":")[0] + "IOC"
    start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")

    def reading(name, **kwargs):
        return pyepics.caget(f"{P}:{name}", use_monitor=False, timeout=TIMEOUT, **kwargs)

    scans = {name: reading(f"{name}.SCAN", as_string=True) for name in (
        "CA_CONN_CNT", "MEM_FREE", "IOC_CPU_LOAD", "TOD", "UPTIME", "HEARTBEAT",
        "RECORD_CNT")}
    assert scans == {"CA_CONN_CNT": "I/O Intr", "MEM_FREE": "I/O Intr",
                     "IOC_CPU_LOAD": "I/O Intr", "TOD": "1 second", "UPTIME": "1 second",
                     "HEARTBEAT": "1 second", "RECORD_CNT": "Passive"}
    assert pyepics.caput(f"{P}:CA_UPD_TIME", 1, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caput(f"{P}:CA_CONN_CNT.SCAN", "Passive", wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caput(f"{P}:TOD.SCAN", "Passive", wait=True, timeout=TIMEOUT) == 1
    time.sleep(1.5)                 # one update period: no sample is on its way
    channels, tod, beat = reading("CA_CONN_CNT"), reading("TOD"), reading("HEARTBEAT")
    extra = Context(timeout=TIMEOUT)
    try:
        for pv in extra.get_pvs(*(f"{unique_prefix}S:{name}" for name in ("gain", "count"))):
            pv.wait_for_connection(timeout=TIMEOUT)
        time.sleep(2.5)             # two update periods, two seconds of TOD
        assert (reading("CA_CONN_CNT"), reading("TOD")) == (channels, tod)
        assert reading("HEARTBEAT") > beat          # the others go on
        # processed while Passive, it reads the latest sample (devIocStats' read_ai)
        assert pyepics.caput(f"{P}:CA_CONN_CNT.PROC", 1, wait=True, timeout=TIMEOUT) == 1
        assert reading("CA_CONN_CNT") >= channels + 2
        assert (reading("CA_CONN_CNT.SCAN", as_string=True), reading("TOD")) == ("Passive", tod)
        assert pyepics.caput(f"{P}:CA_CONN_CNT.SCAN", "I/O Intr", wait=True,
                             timeout=TIMEOUT) == 1
        assert reading("CA_CONN_CNT.SCAN", as_string=True) == "I/O Intr"
        assert wait_until(lambda: reading("CA_CONN_CNT") >= channels + 2, timeout=TIMEOUT)
    finally:
        extra.disconnect()


def test_a_failed_reading_is_logged_and_the_poll_goes_on(start_host, unique_prefix, pyepics,
                                                         monkeypatch, caplog):
    import iochost.helpers.iocstats as iocstats

    failing = []

    def flaky_open_fds():           # 7 at the start, then one failure, then 4242
        if failing:
            failing.clear()
            raise OSError("/proc/self/fd went away")
        return 4242 if failing is None else 7

    monkeypatch.setattr(iocstats, "open_fds", flaky_open_fds)
    P = unique_prefix.split(":")[0] + "IOC"
    start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")
    assert pyepics.caget(f"{P}:FD_CNT", use_monitor=False, timeout=TIMEOUT) == 7
    failing.append(True)
    assert pyepics.caput(f"{P}:FD_UPD_TIME", 1, wait=True, timeout=TIMEOUT) == 1
    assert wait_until(lambda: not failing, timeout=TIMEOUT)     # the poll's reading failed
    failing = None
    assert wait_until(lambda: pyepics.caget(f"{P}:FD_CNT", use_monitor=False) == 4242,
                      timeout=TIMEOUT)
    assert any("iocStats poll" in r.getMessage() and "went away" in r.getMessage()
               for r in caplog.records)


def test_general_time_pvs_are_the_templates(start_host, unique_prefix, pyepics):
    """iocGeneralTime.template's records (as softIoc serves them: GTIM_TIME DOUBLE, sec,
    PREC 3; GTIM_ERR_CNT LONG with HIHI 1; the "1 second" SCANs), with the host's answers:
    the OS clock, no failed provider, no event provider."""
    P = unique_prefix.split(":")[0] + "GT"
    start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")

    def reading(name, **kwargs):
        return pyepics.caget(f"{P}:{name}", use_monitor=False, timeout=TIMEOUT, **kwargs)

    epics_now = time.time() - 631152000          # seconds since 1990, EPICS' epoch
    assert abs(reading("GTIM_TIME") - epics_now) < 5.0
    info = pyepics.PV(f"{P}:GTIM_TIME", form="ctrl")
    assert info.wait_for_connection(TIMEOUT)
    ctrl = info.get_ctrlvars(timeout=TIMEOUT)
    assert (ctrl["units"], ctrl["precision"]) == ("sec", 3)
    errors = pyepics.PV(f"{P}:GTIM_ERR_CNT", form="ctrl")
    assert errors.wait_for_connection(TIMEOUT)
    assert errors.get(timeout=TIMEOUT) == 0 and errors.type == "ctrl_long"
    assert errors.get_ctrlvars(timeout=TIMEOUT)["upper_alarm_limit"] == 1
    assert (reading("GTIM_CUR_SRC"), reading("GTIM_EVT_SRC"), reading("GTIM_HI_SRC")) == \
        ("OS Clock", "No working providers", "OS Clock")
    assert {name: reading(f"{name}.SCAN", as_string=True) for name in (
        "GTIM_TIME", "GTIM_ERR_CNT", "GTIM_CUR_SRC", "GTIM_RESET")} == {
        "GTIM_TIME": "1 second", "GTIM_ERR_CNT": "1 second", "GTIM_CUR_SRC": "1 second",
        "GTIM_RESET": "Passive"}
    assert reading("GTIM_RESET", as_string=True) == "Reset"
    assert pyepics.caput(f"{P}:GTIM_RESET", 1, wait=True, timeout=TIMEOUT) == 1
    first = reading("GTIM_TIME")
    assert wait_until(lambda: reading("GTIM_TIME") > first, timeout=TIMEOUT)


def test_scan_monitors_time_the_periodic_scans(start_host, unique_prefix, pyepics):
    """iocScanMon.template per SCAN rate (Absolute: the time between two processings,
    alarmed 1 % / 5 % over the period; Relative: less the period; INVALID until a
    second processing), and SCANMON_SEVR."""
    P = unique_prefix.split(":")[0] + "SM"
    host = start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")

    def reading(name, **kwargs):
        return pyepics.caget(f"{P}:{name}", use_monitor=False, timeout=TIMEOUT, **kwargs)

    assert {rate: reading(f"{rate}_UPD_TIME.SCAN", as_string=True) for rate in (
        "01HZ", "02HZ", "05HZ", "1HZ", "2HZ", "5HZ", "10HZ")} == {
        "01HZ": "10 second", "02HZ": "5 second", "05HZ": "2 second", "1HZ": "1 second",
        "2HZ": ".5 second", "5HZ": ".2 second", "10HZ": ".1 second"}
    # the first processing at a period only starts the clock: scanMon's -1, which the
    # template's BRSV makes a SOFT INVALID alarm until the next processing
    assert (reading("01HZ_UPD_TIME.STAT", as_string=True),
            reading("01HZ_UPD_TIME.SEVR", as_string=True)) == ("SOFT", "INVALID")
    assert reading("1HZ_MODE", as_string=True) == "Absolute"
    assert reading("1HZ_UPD_TIME.EGU") == "second" and reading("1HZ_UPD_TIME.PREC") == 5
    assert wait_until(lambda: 0.9 < reading("1HZ_UPD_TIME") < 3.0, timeout=TIMEOUT)
    assert reading("1HZ_UPD_TIME.SEVR", as_string=True) != "INVALID"
    limits = {field: reading(f"1HZ_UPD_TIME.{field}") for field in ("HIHI", "HIGH", "LOLO")}
    assert limits == pytest.approx({"HIHI": 1.05, "HIGH": 1.01, "LOLO": -1.0})
    assert pyepics.caput(f"{P}:2HZ_MODE", "Relative", wait=True, timeout=TIMEOUT) == 1
    assert wait_until(lambda: reading("2HZ_UPD_TIME.HIHI") == pytest.approx(0.025),
                      timeout=TIMEOUT)
    assert wait_until(lambda: abs(reading("2HZ_UPD_TIME")) < 0.4, timeout=TIMEOUT)
    assert pyepics.caput(f"{P}:1HZ_UPD_TIME.HIHI", 0.5, wait=True, timeout=TIMEOUT) == 1
    assert wait_until(lambda: reading("1HZ_UPD_TIME.HIHI") == pytest.approx(1.05),
                      timeout=TIMEOUT)                  # set again at the next processing
    # the template's A (the mode), B and C (the tolerances, %): a put to B moves HIGH
    assert (reading("1HZ_UPD_TIME.A"), reading("1HZ_UPD_TIME.B"),
            reading("1HZ_UPD_TIME.C")) == (1.0, 1.0, 5.0)
    assert wait_until(lambda: reading("2HZ_UPD_TIME.A") == 0.0, timeout=TIMEOUT)  # Relative
    assert pyepics.caput(f"{P}:1HZ_UPD_TIME.B", 2, wait=True, timeout=TIMEOUT) == 1
    assert wait_until(lambda: reading("1HZ_UPD_TIME.HIGH") == pytest.approx(1.02),
                      timeout=TIMEOUT)
    # the worst severity of the monitors: 01HZ's, made MAJOR while Passive (not processed)
    assert pyepics.caput(f"{P}:01HZ_UPD_TIME.SCAN", "Passive", wait=True,
                         timeout=TIMEOUT) == 1
    slow = host.mounts["_iocstats"].ioc.scanmon_01HZ
    start_host.call(slow.alarm.write(status=AlarmStatus.HIHI,
                                     severity=AlarmSeverity.MAJOR_ALARM))
    assert reading("SCANMON_SEVR.SCAN", as_string=True) == "1 second"
    assert wait_until(lambda: reading("SCANMON_SEVR.SEVR", as_string=True) == "MAJOR",
                      timeout=TIMEOUT)
    assert reading("SCANMON_SEVR.STAT", as_string=True) == "LINK"


def test_start_count_is_autosaved_across_restarts(start_host, unique_prefix, pyepics):
    P = unique_prefix.split(":")[0] + "IOC"
    host = start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")
    assert wait_until(lambda: pyepics.caget(f"{P}:START_CNT", use_monitor=False) == 1,
                      timeout=TIMEOUT)
    assert pyepics.caput(f"{P}:ACCESS", "Test", wait=True, timeout=TIMEOUT) == 1
    # a site's own alarm limits, which the template asks autosave to keep
    assert pyepics.caput(f"{P}:CA_CLNT_CNT.HIHI", 150.0, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caput(f"{P}:MEM_FREE.LOLO", 1e6, wait=True, timeout=TIMEOUT) == 1
    start_host.stop(host)
    start_host(MOUNT, unique_prefix, host_keys=f"stats_prefix: '{P}'")
    fresh = Context(timeout=TIMEOUT)    # a new client: no reconnect back-off of the old one
    try:
        count, access = fresh.get_pvs(f"{P}:START_CNT", f"{P}:ACCESS")
        assert wait_until(lambda: count.read().data[0] == 2, timeout=TIMEOUT)
        assert access.read(data_type=ChannelType.STRING).data[0] == b"Test"
        hihi, lolo, hhsv = fresh.get_pvs(f"{P}:CA_CLNT_CNT.HIHI", f"{P}:MEM_FREE.LOLO",
                                         f"{P}:CA_CLNT_CNT.HHSV")
        assert (hihi.read().data[0], lolo.read().data[0]) == (150.0, 1e6)
        assert hhsv.read(data_type=ChannelType.STRING).data[0] == b"MAJOR"
    finally:
        fresh.disconnect()


def test_the_stats_helper_serves_a_mounts_figures(start_host, unique_prefix, pyepics,
                                                   caproto_context):
    short = unique_prefix.split(":")[0] + ":"       # caproto's client: names <= 60 characters
    host = start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {stats: {period: 0.3}}}
        """, short)
    S = short + "STATS:"
    assert wait_until(lambda: pyepics.caget(S + "STATE", as_string=True, use_monitor=False)
                      == "running", timeout=TIMEOUT)
    mount = host.mounts["settings"]
    assert pyepics.caget(S + "PV_CNT") == len(mount.pvnames) == len(mount.ioc.pvdb)
    assert pyepics.caget(S + "RESTARTS") == 0
    gain = caproto_context.get_pvs(short + "gain")[0]
    seen = []

    def listen(sub, response):                      # caproto keeps only a weak reference
        seen.append(response.data[0])
    subscription = gain.subscribe()
    subscription.add_callback(listen)
    try:
        assert wait_until(lambda: pyepics.caget(S + "CHANNELS", use_monitor=False) >= 2,
                          timeout=TIMEOUT)        # caproto's gain, pyepics' own STATS PVs
        for step in range(20):
            assert pyepics.caput(short + "gain", float(step), wait=True) == 1
        assert wait_until(lambda: pyepics.caget(S + "UPDATES_RATE", use_monitor=False) > 0,
                          timeout=TIMEOUT)
        assert wait_until(lambda: seen and seen[-1] == 19.0, timeout=TIMEOUT)
    finally:
        subscription.clear()
    rate = caproto_context.get_pvs(S + "UPDATES_RATE")[0].read(data_type="control")
    assert rate.metadata.units == b"1/s"
    ca_server_call = start_host.call
    ca_server_call(host.unmount("settings"))
    ca_server_call(host.mount("settings"))
    fresh = Context(timeout=TIMEOUT)
    try:
        restarts = fresh.get_pvs(S + "RESTARTS")[0]
        assert restarts.read().data[0] == 1
    finally:
        fresh.disconnect()


def test_updates_rate_counts_no_monitor_of_another_field(start_host, unique_prefix, pyepics,
                                                         caproto_context):
    """A monitor on ``speed.EGU`` hears nothing when speed's value changes: the rate stays
    0 (it counted each change for it); one on ``speed.VAL`` counts."""
    short = unique_prefix.split(":")[0] + ":"
    start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {stats: {period: 0.2}}}
        """, short)
    S = short + "STATS:"
    speed = caproto_context.get_pvs(short + "speed")[0]     # puts without a monitor

    def rates_while_speed_changes(field: str) -> list[float]:
        subscription = caproto_context.get_pvs(short + "speed." + field)[0].subscribe()
        heard: list = []

        def listen(sub, response):                  # caproto keeps only a weak reference
            heard.append(response)
        subscription.add_callback(listen)
        try:
            assert wait_until(lambda: heard, timeout=TIMEOUT)     # the subscription is live
            rates = []
            for step in range(10):
                speed.write([float(step + 1)], wait=True)
                time.sleep(0.05)
                rates.append(pyepics.caget(S + "UPDATES_RATE", use_monitor=False))
            time.sleep(0.5)                    # the last refresh covers the last puts
            return rates + [pyepics.caget(S + "UPDATES_RATE", use_monitor=False)]
        finally:
            subscription.clear()

    assert max(rates_while_speed_changes("EGU")) == 0
    assert max(rates_while_speed_changes("VAL")) > 0


def test_uptime_reads_as_devIocStats_writes_it():
    from iochost.helpers.sysinfo import uptime_text

    assert [uptime_text(s) for s in (21, 86400 + 61, 3 * 86400 + 3600)] == \
        ["00:00:21", "1 day, 00:01:01", "3 days, 01:00:00"]


def test_environment_pvs_show_the_ca_sections_settings(start_host, unique_prefix, pyepics,
                                                      monkeypatch):
    """A ca: setting stands for its EPICS_CAS_* variable (as the server reads it), so the
    environment PVs show what the host serves with: they read the variable or EPICS'
    default (CAS_SRVR_PORT empty while the host served ca.port)."""
    for variable in ("EPICS_CAS_BEACON_PERIOD", "EPICS_CAS_BEACON_PORT"):
        monkeypatch.delenv(variable, raising=False)
    P = unique_prefix.split(":")[0] + "ENV"
    start_host(MOUNT + "ca: {beacon_period: 7.5, beacon_port: 5999}\n", unique_prefix,
               host_keys=f"stats_prefix: '{P}'")
    assert pyepics.caget(f"{P}:CAS_BEACON_PERIOD", as_string=True) == "7.5"
    assert pyepics.caget(f"{P}:CAS_BEACON_PORT", as_string=True) == "5999"

"""iocStats for the host: devIocStats' PV names with iocAdmin ``ioc.template``'s records
(and those iocAdminSoft loads with it: ``iocGeneralTime.template``, the scan monitors of
``iocAdminScanMon.db``).

The host mounts this IOC as ``_iocstats`` under ``host.stats_prefix`` + ``:`` (the
template's ``$(IOCNAME):``) when that key is set, with the ``autosave`` helper attached
(``ACCESS``, ``START_CNT`` and the alarm limits and severities of the records the
template's ``info(autosaveFields_pass0, ...)`` names are saved). Types, units, limits,
severities and update periods are the template's; ``docs/helpers.md`` lists every name and
where its value comes from.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import platform
import socket
import sys
import time
from datetime import datetime
from typing import Any, ClassVar

from iochost import ChannelType, PVGroup, __version__, pvproperty
from iochost.ca.codes import CA_MAJOR_VERSION, CA_MINOR_VERSION
from iochost.ca.dbr import EPICS_EPOCH
from iochost.pv.alarms import AlarmSeverity, AlarmStatus
from iochost.pv.data_errors import ChannelValueError
from iochost.pv.faults import log_hook_error
from iochost.records.behaviour import LIMIT_SEVERITIES
from iochost.records.links import interrupt_scan, is_scanned
from iochost.server.settings import configured_variables

from .sysinfo import CpuLoad, max_fds, memory, open_fds, uptime_text

__all__ = ["ENVIRONMENT_PVS", "TOD_FORMAT", "IocStatsIOC"]

log = logging.getLogger("iochost.iocstats")

#: the template's TODFORMAT
TOD_FORMAT = "%m/%d/%Y %H:%M:%S"
#: The environment PVs: iocStats names each after its variable without ``EPICS_``
#: (iocEnvVar.template) and keeps the older short names as aliases
#: (siteEnvVarAliases.template, once epicsEnvVars.substitutions): PV name -> variable.
ENVIRONMENT_PVS = {
    "CA_ADDR_LIST": "EPICS_CA_ADDR_LIST", "CA_CONN_TIME": "EPICS_CA_CONN_TMO",
    "CA_AUTO_ADDR": "EPICS_CA_AUTO_ADDR_LIST", "CA_RPTR_PORT": "EPICS_CA_REPEATER_PORT",
    "CA_SRVR_PORT": "EPICS_CA_SERVER_PORT", "CA_MAX_ARRAY": "EPICS_CA_MAX_ARRAY_BYTES",
    "CA_SRCH_TIME": "EPICS_CA_MAX_SEARCH_PERIOD", "CA_BEAC_TIME": "EPICS_CA_BEACON_PERIOD",
    "CAS_SRVR_PORT": "EPICS_CAS_SERVER_PORT", "CAS_AUTO_ADDR": "EPICS_CAS_AUTO_BEACON_ADDR_LIST",
    "CAS_ADDR_LIST": "EPICS_CAS_BEACON_ADDR_LIST", "CAS_BEACON_PERIOD": "EPICS_CAS_BEACON_PERIOD",
    "CAS_BEACON_PORT": "EPICS_CAS_BEACON_PORT", "CAS_ADDR_INTF_LIST": "EPICS_CAS_INTF_ADDR_LIST",
    "CAS_ADDR_IGNORE_LIST": "EPICS_CAS_IGNORE_ADDR_LIST", "TIMEZONE": "EPICS_TIMEZONE",
    "TS_NTP_INET": "EPICS_TS_NTP_INET", "IOC_LOG_PORT": "EPICS_IOC_LOG_PORT",
    "IOC_LOG_INET": "EPICS_IOC_LOG_INET",
}
ENVIRONMENT_PVS.update({variable.removeprefix("EPICS_"): variable
                        for variable in (*ENVIRONMENT_PVS.values(), "EPICS_TZ")})
#: what envGetConfigParam gives for an unset variable: EPICS base's built-in defaults
ENVIRONMENT_DEFAULTS = {
    "EPICS_CA_AUTO_ADDR_LIST": "YES", "EPICS_CA_CONN_TMO": "30.0",
    "EPICS_CA_BEACON_PERIOD": "15.0", "EPICS_CA_REPEATER_PORT": "5065",
    "EPICS_CA_SERVER_PORT": "5064", "EPICS_CA_MAX_ARRAY_BYTES": "16384",
    "EPICS_CA_MAX_SEARCH_PERIOD": "300", "EPICS_IOC_LOG_PORT": "7004",
}
#: devIocStats' text for what it cannot find
NOT_AVAILABLE = "<not available>"
_STRING_SIZE = 39       # a stringin's VAL holds 39 characters (MAX_STRING_SIZE - 1)


#: the fields the template's ``info(autosaveFields_pass0, ...)`` saves: a site's own alarm
#: limits survive a restart
_SAVED_LIMITS = ("HOPR", "LOPR", "HIHI", "HIGH", "LOW", "LOLO", "HHSV", "HSV", "LSV", "LLSV")
_SAVED_LOW_LIMITS = ("HOPR", "LOPR", "LOW", "LOLO", "LSV", "LLSV")


def _ai(doc: str, autosave: tuple[str, ...] | None = None, **limits: Any) -> pvproperty:
    return pvproperty(value=0.0, record="ai", read_only=True, doc=doc, autosave=autosave,
                      **limits)


def _stringin(doc: str, value: str = "") -> pvproperty:
    return pvproperty(value=value[:_STRING_SIZE], dtype=ChannelType.STRING, record="stringin",
                      read_only=True, doc=doc)


def _waveform(doc: str, length: int) -> pvproperty:
    return pvproperty(value="", max_length=length, record="waveform", read_only=True,
                      doc=doc)


def _period(doc: str, value: float) -> pvproperty:
    return pvproperty(value=value, record="ao", units="sec", upper_ctrl_limit=60.0,
                      lower_ctrl_limit=1.0, upper_disp_limit=60.0, doc=doc)


_CPU_LIMITS = {"units": "%", "precision": 1, "upper_disp_limit": 100.0,
               "upper_alarm_limit": 80.0, "upper_warning_limit": 70.0}


#: limit severities the template gives to limits it leaves at 0
ARMED_AT_ZERO = {"MEM_FREE": ("LLSV", "LSV")}
#: the template's SCAN I/O Intr records: each posts the figure devIocStats samples at its
#: *_UPD_TIME while SCAN processes it (I/O Intr or a period), none while Passive
INTERRUPTING = frozenset(("CA_CLNT_CNT", "CA_CONN_CNT", "FD_CNT", "SYS_CPU_LOAD",
                          "IOC_CPU_LOAD", "SUSP_TASK_CNT", "MEM_USED", "MEM_FREE", "MEM_MAX"))
#: iocGeneralTime.template's "1 second" records whose value does not change here: time comes
#: from the OS clock, no provider fails, and there is no event provider
CONSTANT_EACH_SECOND = ("GTIM_ERR_CNT", "GTIM_CUR_SRC", "GTIM_EVT_SRC", "GTIM_HI_SRC")
#: iocScanMon.template's instances (iocAdminScanMon.substitutions): the monitor of each
#: periodic SCAN rate and its period; then the MINOR and MAJOR tolerances (%) its B and C
#: start with
SCAN_MONITORS = {"01HZ": 10.0, "02HZ": 5.0, "05HZ": 2.0, "1HZ": 1.0, "2HZ": 0.5, "5HZ": 0.2,
                 "10HZ": 0.1}
SCAN_TOLERANCES = (1.0, 5.0)
#: the template's ACCESS state severities (ZRSV NO_ALARM)
ACCESS_SEVERITIES = {"ONSV": "MINOR", "TWSV": "MINOR", "THSV": "MAJOR"}


async def _monitor_scan(group: IocStatsIOC, instance: Any, async_lib: Any) -> None:
    """devIocStats' scanMon: the time since the last processing (Relative: less the period),
    alarmed beyond the tolerances, which set the limits at every processing (a put to HIHI
    lasts until the next one); the first processing at a period only starts the clock, and
    is INVALID until the next."""
    rate = instance.pvspec.name.removesuffix("_UPD_TIME")
    now, period = time.monotonic(), instance.scan_period or 0.0
    absolute = getattr(group, f"scanmon_{rate}_mode").value == "Absolute"
    fields = instance.fields
    minor, major = (fields.get(name).value / 100.0 for name in "BC")
    base = 1.0 if absolute else 0.0
    if fields.get("A").value != base:    # the template's A: the mode, as scanMon reads it
        await fields.get("A").write(base)
    limits = {"HIHI": (instance.upper_alarm_limit, period * (base + major)),
              "HIGH": (instance.upper_warning_limit, period * (base + minor)),
              "LOW": (instance.lower_warning_limit, -period if absolute else -period * minor),
              "LOLO": (instance.lower_alarm_limit, -period if absolute else -period * major)}
    for field, (limit, wanted) in limits.items():
        if limit != wanted:
            await instance.fields.get(field).write(wanted)
    last = group.scan_seen.get(rate)
    group.scan_seen[rate] = (now, period)
    if last is not None and last[1] == period:
        await instance.write(now - last[0] - (0.0 if absolute else period), verify_value=False)
    else:   # scanMon returns -1: the template's BRSV makes that a SOFT INVALID alarm
        await instance.alarm.write(status=AlarmStatus.SOFT,
                                   severity=AlarmSeverity.INVALID_ALARM)


class IocStatsIOC(PVGroup):
    """devIocStats' PVs for the whole host (see the module docstring)."""

    ACCESS = pvproperty(value="Running", dtype=ChannelType.ENUM, record="mbbo",
                        enum_strings=("Running", "Maintenance", "Test", "OFFLINE"),
                        autosave=True, doc="Acc Mode")
    STARTTOD = _stringin("Time and date of startup")
    TOD = _stringin("Current time and date")
    # writable, as the template's calcout: the count goes on from a value put to it
    HEARTBEAT = pvproperty(value=0.0, record="calcout", doc="1 Hz counter since startup")
    START_CNT = pvproperty(value=0.0, record="calcout", read_only=True, autosave=True,
                           doc="Increments at startup")
    READACF = pvproperty(value=0.0, record="sub", doc="ACF Update")
    SYSRESET = pvproperty(value=0.0, record="sub", doc="IOC Restart")
    CA_CLNT_CNT = _ai("Number of CA Clients", _SAVED_LIMITS, upper_disp_limit=200.0,
                      upper_alarm_limit=175.0, upper_warning_limit=100.0)
    CA_CONN_CNT = _ai("Number of CA Connections", _SAVED_LIMITS, upper_disp_limit=5000.0,
                      upper_alarm_limit=4500.0, upper_warning_limit=4000.0)
    RECORD_CNT = _ai("Number of Records")
    FD_MAX = _ai("Max File Descriptors")
    FD_CNT = _ai("Allocated File Descriptors")
    # the upper limits make each pair a range (the framework's rule); they arm nothing
    FD_FREE = pvproperty(value=0.0, record="calc", read_only=True, upper_disp_limit=150.0,
                         lower_alarm_limit=5.0, lower_warning_limit=20.0,
                         upper_alarm_limit=math.inf, upper_warning_limit=math.inf,
                         autosave=_SAVED_LOW_LIMITS, doc="Available FDs")
    SYS_CPU_LOAD = _ai("System CPU Load", _SAVED_LIMITS, **_CPU_LIMITS)
    IOC_CPU_LOAD = _ai("IOC CPU Load", _SAVED_LIMITS, **_CPU_LIMITS)
    CPU_CNT = _ai("Number of CPUs")
    SUSP_TASK_CNT = _ai("Number Suspended Tasks", _SAVED_LIMITS, upper_alarm_limit=1.0)
    MEM_USED = _ai("Allocated Memory", units="byte")
    # LOLO/LOW start at 0 but armed (the template's LLSV MAJOR, LSV MINOR): a site's own
    # LOLO raises an alarm as soon as it is set
    MEM_FREE = _ai("Free Memory", _SAVED_LOW_LIMITS, units="byte",
                   upper_alarm_limit=math.inf, upper_warning_limit=math.inf)
    MEM_MAX = _ai("Maximum Memory", units="byte")
    CA_UPD_TIME = _period("CA Check Update Period", 15.0)
    FD_UPD_TIME = _period("FD Check Update Period", 20.0)
    LOAD_UPD_TIME = _period("CPU Check Update Period", 10.0)
    MEM_UPD_TIME = _period("Memory Check Update Period", 10.0)
    ST_SCRIPT1 = _stringin("Startup Script Part1")
    ST_SCRIPT2 = _stringin("Startup Script Part2")
    ST_SCRIPT = _waveform("Startup Script", 120)
    KERNEL_VERS = _stringin("Kernel Version")
    EPICS_VERS = _stringin("EPICS Version")
    EPICS_VERSION = _waveform("EPICS Version", 120)
    HOSTNAME = _stringin("Host Name")
    APP_DIR1 = _stringin("Application Directory Part 1")
    APP_DIR2 = _stringin("Application Directory Part 2")
    APP_DIR = _waveform("Application Directory", 160)
    UPTIME = _stringin("Elapsed Time since Start")
    ENGINEER = _stringin("Engineer")
    LOCATION = _stringin("Location")
    PROCESS_ID = _ai("Process ID")
    PARENT_ID = _ai("Parent Process ID")
    for _pv, _variable in ENVIRONMENT_PVS.items():
        locals()[_pv] = _stringin(_variable)
    del _pv, _variable

    # iocGeneralTime.template (which iocAdminSoft loads with ioc.template)
    GTIM_TIME = pvproperty(value=0.0, record="ai", read_only=True, units="sec", precision=3,
                           doc="Gen Time Secs since 1990")
    GTIM_ERR_CNT = pvproperty(value=0, record="longin", read_only=True, upper_alarm_limit=1,
                              doc="Gen Time Error Count")
    GTIM_CUR_SRC = _stringin("Gen Time Current Provider", "OS Clock")
    GTIM_EVT_SRC = _stringin("Gen Time Event Provider", "No working providers")
    GTIM_HI_SRC = _stringin("Gen Time Highest Provider", "OS Clock")
    GTIM_RESET = pvproperty(value="Reset", dtype=ChannelType.ENUM, enum_strings=("Reset", "Reset"),
                            record="bo", doc="Gen Time Error Reset")

    # iocScanMon.template per SCAN rate, and iocScanMonSum.template: how late the periodic
    # scans run (here each is a task of the event loop: how late the loop wakes them)
    for _rate, _period in SCAN_MONITORS.items():
        locals()[f"scanmon_{_rate}_mode"] = pvproperty(
            value="Absolute", dtype=ChannelType.ENUM, enum_strings=("Relative", "Absolute"),
            record="bo", name=f"{_rate}_MODE", doc=f"{_rate} Mode")
        locals()[f"scanmon_{_rate}"] = pvproperty(
            value=0.0, record="sub", read_only=True, units="second", precision=5,
            name=f"{_rate}_UPD_TIME", doc=f"{_rate} Update Time",
        ).scan(period=_period, use_scan_field=True)(_monitor_scan)
    del _rate, _period
    SCANMON_SEVR = pvproperty(value=0.0, record="calc", read_only=True,
                              doc="ScanMon Max Severity")

    #: devIocStats' aliases: alias -> record
    ALIASES: ClassVar[dict[str, str]] = {"LOAD": "IOC_CPU_LOAD", "SysReset": "SYSRESET"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for alias, record in self.ALIASES.items():
            self.pvdb[self.prefix + alias] = self.pvdb[self.prefix + record]
        #: the latest figure of each INTERRUPTING record, sampled whether it posts or not
        self.samples: dict[str, float] = {}
        for name in INTERRUPTING:
            record = getattr(self, name)
            interrupt_scan(record, functools.partial(self._sample, name))
        for name in CONSTANT_EACH_SECOND:      # processed every second, to the same value
            getattr(self, name).set_scan_period(1.0)
        self.host: Any = None
        self.started = time.monotonic()
        self._cpu = CpuLoad()
        self._due: dict[str, float] = {}
        #: scan monitor -> (when it last ran, at which period)
        self.scan_seen: dict[str, tuple[float, float]] = {}

    async def attach(self, host: Any) -> None:
        """Read the host's figures from now on (the plugin awaits this once mounted)."""
        self.host = host
        await self._template_severities()
        config_path = str(getattr(host.config, "path", "") or "")
        for name, value in (("ST_SCRIPT1", config_path[:_STRING_SIZE]),
                            ("ST_SCRIPT2", config_path[_STRING_SIZE:2 * _STRING_SIZE]),
                            ("ST_SCRIPT", config_path[:120])):
            await getattr(self, name).write(value, verify_value=False)
        for name, value in self._environment().items():   # now with the ca: section's
            await getattr(self, name).write(value, verify_value=False)
        await self.refresh(force=True)

    async def _template_severities(self) -> None:
        """The template gives a severity only to the limits it sets (HHSV/HSV, or LLSV/LSV
        for FD_FREE) and to MEM_FREE's LLSV/LSV; the others are NO_ALARM: no LOLO alarm at
        0 CA clients, and their limits go out as NaN, as from devIocStats."""
        for record in self.pvdb.values():
            fields = getattr(record, "fields", None)
            if fields is None or not hasattr(record, "upper_alarm_limit"):
                continue
            armed = ARMED_AT_ZERO.get(record.pvspec.name, ())
            for severity, limit in LIMIT_SEVERITIES.items():
                value = getattr(record, limit)
                if severity in armed:
                    continue
                if not value or not math.isfinite(value):  # unset, or a range's open end
                    await fields.get(severity).write("NO_ALARM")
        # the scan monitors' tolerances (%), the template's B (MINOR) and C (MAJOR): a put
        # to them moves the limits at the next processing
        for rate in SCAN_MONITORS:
            fields = getattr(self, f"scanmon_{rate}").fields
            for name, tolerance in zip("BC", SCAN_TOLERANCES, strict=True):
                await fields.get(name).write(tolerance)
        # ACCESS's states: Maintenance and Test are MINOR, OFFLINE is MAJOR
        access = self.ACCESS.fields
        for state, severity in ACCESS_SEVERITIES.items():
            await access.get(state).write(severity)

    def _environment(self) -> dict[str, str]:
        """The environment PVs' values: each variable, or EPICS' default; a setting of the
        host config's ``ca:`` section stands for its EPICS_CAS_* variable when that is not
        set (as the server reads them)."""
        environ = dict(os.environ)
        if self.host is not None:
            environ.update(configured_variables(self.host.config.ca.settings()))
        return {pv: environ.get(variable, ENVIRONMENT_DEFAULTS.get(variable, ""))[:_STRING_SIZE]
                for pv, variable in ENVIRONMENT_PVS.items()}

    # -- the values set once --------------------------------------------------------------------
    @STARTTOD.startup
    async def STARTTOD(self, instance: Any, async_lib: Any) -> None:
        environ = os.environ
        directory = os.getcwd()
        version = f"iochost {__version__} (CA {CA_MAJOR_VERSION}.{CA_MINOR_VERSION}, " \
                  f"Python {platform.python_version()})"
        values = {
            "STARTTOD": datetime.now().strftime(TOD_FORMAT),
            "KERNEL_VERS": f"{platform.system()} {platform.release()}"[:_STRING_SIZE],
            "EPICS_VERS": version[:_STRING_SIZE], "EPICS_VERSION": version[:120],
            "HOSTNAME": socket.gethostname()[:_STRING_SIZE],
            "APP_DIR1": directory[:_STRING_SIZE],
            "APP_DIR2": directory[_STRING_SIZE:2 * _STRING_SIZE],
            "APP_DIR": directory[:160],
            # devIocStatsGetEngineer/Location: the variable, then (ENGINEER) the login name
            "ENGINEER": (environ.get("ENGINEER") or environ.get("LOGNAME")
                         or environ.get("USER") or NOT_AVAILABLE)[:_STRING_SIZE],
            "LOCATION": environ.get("LOCATION", NOT_AVAILABLE)[:_STRING_SIZE],
            "PROCESS_ID": float(os.getpid()), "PARENT_ID": float(os.getppid()),
            "CPU_CNT": float(os.cpu_count() or 1), "FD_MAX": float(max_fds()),
            **self._environment(),
        }
        for name, value in values.items():
            await getattr(self, name).write(value, verify_value=False)
        await self.refresh(force=True)
        while True:     # devIocStats' poll: each group of figures is due at its *_UPD_TIME
            await asyncio.sleep(1.0)
            try:
                await self.refresh()
            except Exception as error:   # a failed reading must not end the poll
                log_hook_error(log, instance.pvname, "iocStats poll", error)

    @START_CNT.startup
    async def START_CNT(self, instance: Any, async_lib: Any) -> None:
        # the template's PINI calcout A+1: pass 0 restored the previous count already
        await instance.write(instance.value + 1, verify_value=False)

    # -- writes --------------------------------------------------------------------------------
    @SYSRESET.putter
    async def SYSRESET(self, instance: Any, value: Any) -> None:
        if value != 1:
            return
        host = self.host
        if host is None or not getattr(host.config.host, "allow_sysreset", False):
            raise ChannelValueError("SYSRESET is refused: the host config does not set "
                                    "host.allow_sysreset: true")
        log.warning("SYSRESET: restarting the host (%s)", " ".join(sys.argv))
        asyncio.get_running_loop().call_later(0.1, _restart, host)

    @READACF.putter
    async def READACF(self, instance: Any, value: Any) -> None:
        # devIocStats' READACF re-reads the access security file (asInit)
        # a refusal, not a fault: one WARNING line, no traceback
        if getattr(self.host, "access", None) is None:
            raise ChannelValueError("READACF: this host has no access rules to reload "
                                    "(no access: section in its config)")
        if not await self.host.reload_access():
            raise ChannelValueError("READACF: the access rules file has errors (logged "
                                    "with file:line); the rules in force are kept")

    # -- the periodic values ------------------------------------------------------------------
    def _due_now(self, period_pv: str, now: float) -> bool:
        if now < self._due.get(period_pv, 0.0):
            return False
        self._due[period_pv] = now + max(float(getattr(self, period_pv).value), 1.0)
        return True

    # the template's "1 second" records: a put to their SCAN changes the period
    @HEARTBEAT.scan(period=1.0, use_scan_field=True)
    async def HEARTBEAT(self, instance: Any, async_lib: Any) -> None:
        beat = instance.value + 1 if instance.value < 2147483647 else 1
        await instance.write(float(beat), verify_value=False)

    @TOD.scan(period=1.0, use_scan_field=True)
    async def TOD(self, instance: Any, async_lib: Any) -> None:
        await instance.write(datetime.now().strftime(TOD_FORMAT), verify_value=False)

    @GTIM_TIME.scan(period=1.0, use_scan_field=True)
    async def GTIM_TIME(self, instance: Any, async_lib: Any) -> None:
        await instance.write(time.time() - EPICS_EPOCH, verify_value=False)

    @GTIM_RESET.putter
    async def GTIM_RESET(self, instance: Any, value: Any) -> None:
        await self.GTIM_ERR_CNT.write(0, verify_value=False)   # generalTime's error counts

    @SCANMON_SEVR.scan(period=1.0, use_scan_field=True)
    async def SCANMON_SEVR(self, instance: Any, async_lib: Any) -> None:
        # CALC "0", its inputs the monitors' .SEVR MS: the worst severity, as a LINK alarm
        worst = max(getattr(self, f"scanmon_{rate}").alarm.severity for rate in SCAN_MONITORS)
        await instance.alarm.write(status=AlarmStatus.LINK if worst else AlarmStatus.NO_ALARM,
                                   severity=worst)

    @UPTIME.scan(period=1.0, use_scan_field=True)
    async def UPTIME(self, instance: Any, async_lib: Any) -> None:
        await instance.write(uptime_text(time.monotonic() - self.started), verify_value=False)

    async def refresh(self, force: bool = False) -> None:
        """Update each group of figures whose ``*_UPD_TIME`` has come (all if ``force``)."""
        now = time.monotonic()
        host = self.host
        if (self._due_now("CA_UPD_TIME", now) or force) and host is not None \
                and host.server is not None:
            totals = host.server.totals()
            await self._post(self.CA_CLNT_CNT, totals.clients)
            await self._post(self.CA_CONN_CNT, totals.channels)
            await self._post(self.RECORD_CNT, len(host.database))
            failed = sum(mount.state == "failed" for mount in host.mounts.values())
            await self._post(self.SUSP_TASK_CNT, failed + getattr(host, "suspended_tasks", 0))
        if self._due_now("FD_UPD_TIME", now) or force:
            count = open_fds()
            await self._post(self.FD_CNT, count)
            await self._post(self.FD_FREE, self.FD_MAX.value - count
                             if self.FD_MAX.value > 0 else 1000.0)  # CALC B>0?B-A:C
        if self._due_now("LOAD_UPD_TIME", now) or force:
            system, process = self._cpu.sample()
            await self._post(self.SYS_CPU_LOAD, system)
            await self._post(self.IOC_CPU_LOAD, process)
        if self._due_now("MEM_UPD_TIME", now) or force:
            used, free, total = memory()
            await self._post(self.MEM_USED, used)
            await self._post(self.MEM_FREE, free)
            await self._post(self.MEM_MAX, total)

    def _sample(self, name: str) -> float:
        """An INTERRUPTING record's device read: the latest sample of its figure."""
        return self.samples.get(name, getattr(self, name).value)

    async def _post(self, channel: Any, value: float) -> None:
        value = float(value)
        name = channel.pvspec.name
        if name in INTERRUPTING:
            self.samples[name] = value
            if not is_scanned(channel):
                return      # Passive: the record keeps its value until processed
        if channel.value != value:
            await channel.write(value, verify_value=False)

    @CA_UPD_TIME.putter
    async def CA_UPD_TIME(self, instance: Any, value: Any) -> None:
        self._due.pop("CA_UPD_TIME", None)     # a new period applies at the next beat

    @FD_UPD_TIME.putter
    async def FD_UPD_TIME(self, instance: Any, value: Any) -> None:
        self._due.pop("FD_UPD_TIME", None)

    @LOAD_UPD_TIME.putter
    async def LOAD_UPD_TIME(self, instance: Any, value: Any) -> None:
        self._due.pop("LOAD_UPD_TIME", None)

    @MEM_UPD_TIME.putter
    async def MEM_UPD_TIME(self, instance: Any, value: Any) -> None:
        self._due.pop("MEM_UPD_TIME", None)


_RESTARTS: set[asyncio.Task[None]] = set()   # a task nobody awaits must be referenced


def _restart(host: Any) -> None:
    """Stop the host cleanly (final saves, shutdown hooks), then exec the same command."""
    async def stop_and_exec() -> None:
        await host.stop()
        os.execv(sys.executable, [sys.executable, *sys.argv])
    _RESTARTS.add(asyncio.ensure_future(stop_and_exec()))

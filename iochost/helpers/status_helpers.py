"""caproto's status helpers, for use inside an IOC as a ``SubGroup``, with caproto's PV names.

::

    from iochost import PVGroup, StatusHelper, SubGroup

    class MyIOC(PVGroup):
        stats = SubGroup(StatusHelper, prefix="stats:")

A caproto IOC that uses ``caproto.server.stats`` runs by changing its imports. Values come
from ``iochost.helpers.sysinfo`` (``/proc``) instead of psutil; like caproto's,
``CA_CLNT_CNT``/``CA_CONN_CNT`` and ``SUSP_TASK_CNT`` stay 0 inside an IOC (the host-wide
``iocstats`` IOC serves the real counts). ``SYSRESET`` exits the process in caproto; here a
write of 1 is refused unless the class sets ``allow_sysreset = True``, because one IOC
must not end a host that serves others. ``MemoryTracingHelper`` traces nothing until
``EnableTracing`` is set to ``Enable``.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime
import inspect
import linecache
import os
import platform
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, ClassVar

from iochost import ChannelType, PVGroup, SubGroup, __version__, pvproperty

from .sysinfo import CpuLoad, max_fds, memory, open_fds

__all__ = ["BasicStatusHelper", "PeriodicStatusHelper", "MemoryTracingHelper",
           "StatusHelper", "top_allocations"]


def _root_of(group: PVGroup) -> PVGroup:
    while getattr(group, "parent", None) is not None:
        group = group.parent  # type: ignore[assignment]
    return group


def _groups_of(group: PVGroup) -> list[PVGroup]:
    """``group`` and every subgroup below it."""
    found = [group]
    for child in getattr(group, "groups", {}).values():
        found.extend(_groups_of(child))
    return found


def _source_of(obj: Any) -> str:
    try:
        return str(Path(inspect.getsourcefile(obj) or "").resolve())
    except TypeError:          # built-in
        return ""


class BasicStatusHelper(PVGroup):
    """Process facts set once at startup (caproto's names and record types)."""

    allow_sysreset: ClassVar[bool] = False

    process_id = pvproperty(value=0, name="PROCESS_ID", record="ai", read_only=True)
    parent_pid = pvproperty(value=0, name="PARENT_ID", record="ai", read_only=True,
                            doc="Parent Process ID")
    cpu_count = pvproperty(value=0, name="CPU_CNT", record="longin", read_only=True,
                           doc="Number of CPUs")
    kernel_version = pvproperty(value=str(platform.uname().version), name="KERNEL_VERS",
                                record="stringin", read_only=True, doc="OS/Kernel Version")
    version = pvproperty(value=f"iochost {__version__} on {sys.version}", name="EPICS_VERSION",
                         record="stringin", read_only=True, doc="EPICS (iochost) version")
    engineer = pvproperty(value="", max_length=40, name="ENGINEER", record="stringin",
                          read_only=True, doc="Who is responsible for this IOC")
    location = pvproperty(value="", max_length=40, name="LOCATION", record="stringin",
                          read_only=True)
    hostname = pvproperty(value="", max_length=255, name="HOSTNAME", record="stringin",
                          read_only=True)
    application_directory = pvproperty(value="", name="APP_DIR", record="waveform",
                                       max_length=255, read_only=True,
                                       doc="Startup directory (__main__)")
    source_filename = pvproperty(value="", name="SOURCE_FILE", record="waveform",
                                 max_length=255, read_only=True,
                                 doc="Top-level PVGroup source filename")
    sysreset = pvproperty(value=0, name="SYSRESET", record="sub",
                          doc="IOC exit / restart (if allowed)")

    @sysreset.putter
    async def sysreset(self, instance: Any, value: Any) -> None:
        if value != 1:
            return
        if not self.allow_sysreset:
            raise PermissionError("SYSRESET is refused: set allow_sysreset = True on the "
                                  "helper class to let a client end this process")
        self.log.warning("exit requested through SYSRESET")
        sys.exit(0)

    @process_id.startup
    async def process_id(self, instance: Any, async_lib: Any) -> None:
        await self.process_id.write(os.getpid())
        await self.parent_pid.write(os.getppid())
        await self.cpu_count.write(os.cpu_count() or 1)
        await self.engineer.write(os.environ.get("ENGINEER", "")[:40])
        await self.location.write(os.environ.get("LOCATION", "")[:40])
        await self.hostname.write(platform.node()[:255])
        await self.source_filename.write(_source_of(type(_root_of(self)))[:255])
        main = sys.modules.get("__main__")
        main_file = _source_of(main) if main is not None else ""
        await self.application_directory.write(
            (str(Path(main_file).parent) if main_file else os.getcwd())[:255])


class PeriodicStatusHelper(PVGroup):
    """An iocStats-like set of figures refreshed every ``UPD_TIME`` seconds."""

    access = pvproperty(value="Running", dtype=ChannelType.ENUM, name="ACCESS", record="mbbo",
                        enum_strings=("Running", "Maintenance", "Test", "OFFLINE"),
                        doc="CA Security access level to this IOC")
    start_tod = pvproperty(value="", max_length=100, name="STARTTOD", record="stringin",
                           read_only=True, doc="Time and date of startup")
    time_of_day = pvproperty(value="", max_length=100, name="TOD", record="stringin",
                             read_only=True, doc="Current time and date")
    heartbeat = pvproperty(value=0, name="HEARTBEAT", record="calcout", read_only=True,
                           doc="1 Hz counter since startup")
    start_count = pvproperty(value=0, name="START_CNT", record="calcout", read_only=True,
                             autosave=True, doc="Startup count, if autosave is working")
    ca_client_count = pvproperty(value=0, name="CA_CLNT_CNT", record="longin", read_only=True,
                                 doc="Number of CA clients (the host's iocstats has them)")
    ca_connection_count = pvproperty(value=0, name="CA_CONN_CNT", record="longin",
                                     read_only=True, doc="Number of CA connections")
    record_count = pvproperty(value=0, name="RECORD_CNT", record="ai", read_only=True,
                              doc="Number of records")
    fd_max = pvproperty(value=0, name="FD_MAX", record="ai", read_only=True,
                        doc="Max File Descriptors")
    fd_count = pvproperty(value=0, name="FD_CNT", record="ai", read_only=True,
                          doc="Allocated File Descriptors")
    fd_free = pvproperty(value=0, name="FD_FREE", record="calc", read_only=True,
                         doc="Available FDs")
    sys_cpu_load = pvproperty(value=0.0, name="SYS_CPU_LOAD", record="ai", units="%",
                              lower_ctrl_limit=0.0, upper_ctrl_limit=100.0, read_only=True,
                              doc="CPU load")
    ioc_cpu_load = pvproperty(value=0.0, name="IOC_CPU_LOAD", record="ai", units="%",
                              lower_ctrl_limit=0.0, upper_ctrl_limit=100.0, read_only=True)
    susp_task_count = pvproperty(value=0, name="SUSP_TASK_CNT", record="longin",
                                 read_only=True, doc="Number of Suspended Tasks")
    mem_used = pvproperty(value=0, name="MEM_USED", record="ai", units="KByte",
                          read_only=True, doc="Memory used.")
    mem_free = pvproperty(value=0, name="MEM_FREE", record="ai", units="KByte",
                          read_only=True, doc="Memory free.")
    mem_max = pvproperty(value=0, name="MEM_MAX", record="ai", units="KByte", read_only=True)
    uptime = pvproperty(value=0, name="UPTIME", record="longin", units="s", read_only=True,
                        doc="Elapsed time since start")
    num_threads = pvproperty(value=0, name="NumThreads", record="longin", read_only=True,
                             doc="Number of threads in use")
    update_period = pvproperty(value=15.0, name="UPD_TIME", record="ao", lower_ctrl_limit=1,
                               upper_ctrl_limit=60, doc="Basic stats update rate")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._started = time.monotonic()
        self._cpu = CpuLoad()

    @start_tod.startup
    async def start_tod(self, instance: Any, async_lib: Any) -> None:
        await instance.write(str(datetime.datetime.now()))

    @time_of_day.scan(period=1)
    async def time_of_day(self, instance: Any, async_lib: Any) -> None:
        await instance.write(str(datetime.datetime.now()))

    @heartbeat.scan(period=1)
    async def heartbeat(self, instance: Any, async_lib: Any) -> None:
        await instance.write((instance.value + 1) % 2**31)

    @start_count.startup
    async def start_count(self, instance: Any, async_lib: Any) -> None:
        # A host-attached autosave restored the count before any hook (pass 0); an
        # AutosaveHelper in the same IOC restores from its own startup hook: wait for it
        # (caproto waits a fixed 3 s instead).
        from .autosave_group import AutosaveHelper

        for group in _groups_of(_root_of(self)):
            if isinstance(group, AutosaveHelper):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(group.restored.wait(), timeout=3.0)
        await instance.write(instance.value + 1)

    async def _update(self) -> None:
        await self.record_count.write(len(_root_of(self).pvdb))
        used, free, total = memory()
        await self.mem_used.write(used // 1024)
        await self.mem_free.write(free // 1024)
        await self.mem_max.write(total // 1024)
        system, process = self._cpu.sample()
        await self.sys_cpu_load.write(system)
        await self.ioc_cpu_load.write(process)
        count = open_fds()
        await self.fd_count.write(count)
        await self.fd_free.write(self.fd_max.value - count)
        await self.num_threads.write(threading.active_count())
        await self.uptime.write(int(time.monotonic() - self._started))

    @update_period.startup
    async def update_period(self, instance: Any, async_lib: Any) -> None:
        await self.fd_max.write(max_fds())
        while True:
            try:
                await self._update()
            except Exception as error:   # a failed reading must not end the loop
                self.log.warning("status update failed: %s", error)
            await async_lib.library.sleep(self.update_period.value)


#: allocations of tracemalloc itself and of the import machinery are noise
TRACEMALLOC_FILTERS = (
    tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    tracemalloc.Filter(False, "<unknown>"),
    tracemalloc.Filter(False, tracemalloc.__file__),
)


def top_allocations(snapshot: tracemalloc.Snapshot, limit: int = 20,
                    filters: tuple[tracemalloc.Filter, ...] = TRACEMALLOC_FILTERS) -> list[str]:
    """``#n: file:line: size KiB`` lines (and the source line) of the largest allocations."""
    lines: list[str] = []
    stats = snapshot.filter_traces(filters).statistics("lineno")
    for rank, stat in enumerate(stats[:limit], 1):
        frame = stat.traceback[0]
        lines.append(f"#{rank}: {frame.filename}:{frame.lineno}: {stat.size / 1024:.1f} KiB")
        source = linecache.getline(frame.filename, frame.lineno).strip()
        if source:
            lines.append(f"    {source}")
    return lines


class MemoryTracingHelper(PVGroup):
    """tracemalloc's top allocations and their change, every 10 s while enabled."""

    enable_tracing = pvproperty(value="Disable", dtype=ChannelType.ENUM, name="EnableTracing",
                                enum_strings=("Disable", "Enable"), record="bo",
                                doc="Enable/disable in-depth memory analysis")
    diff_results = pvproperty(value="Unset", max_length=20000, name="TraceDiffResults",
                              record="waveform", read_only=True,
                              doc="Trace diff from snapshot to snapshot")
    top_allocations = pvproperty(value="Unset", max_length=20000, name="TraceTopAllocations",
                                 record="waveform", read_only=True,
                                 doc="Top allocations in snapshot")
    trace_count = pvproperty(value=10, name="TraceCount", record="ao",
                             doc="Number of top allocations to view")

    def __init__(self, *args: Any,
                 filters: tuple[tracemalloc.Filter, ...] = TRACEMALLOC_FILTERS,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = filters
        self._previous: tracemalloc.Snapshot | None = None

    @enable_tracing.scan(period=10)
    async def enable_tracing(self, instance: Any, async_lib: Any) -> None:
        await self.trace_once()

    async def trace_once(self) -> None:
        """One round: stop tracing when disabled, else snapshot and publish."""
        if self.enable_tracing.value != "Enable":
            if tracemalloc.is_tracing():
                tracemalloc.stop()
            self._previous = None
            return
        if not tracemalloc.is_tracing():
            tracemalloc.start()
        snapshot = tracemalloc.take_snapshot()
        count = int(self.trace_count.value)
        text = "\n".join(top_allocations(snapshot, count, self.filters))
        await self.top_allocations.write(text[:self.top_allocations.max_length])
        if self._previous is not None:
            changes = snapshot.filter_traces(self.filters).compare_to(self._previous, "lineno")
            diff = "\n".join(str(change) for change in changes[:count])
            await self.diff_results.write(diff[:self.diff_results.max_length])
        self._previous = snapshot


class StatusHelper(PVGroup):
    """:class:`BasicStatusHelper` and :class:`PeriodicStatusHelper` together."""

    basic = SubGroup(BasicStatusHelper, prefix="")
    periodic = SubGroup(PeriodicStatusHelper, prefix="")

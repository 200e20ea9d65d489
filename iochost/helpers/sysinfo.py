"""What devIocStats reads from the operating system, read the Linux way (``/proc``), with
portable fallbacks where ``/proc`` is missing. Plain functions; no EPICS here."""
from __future__ import annotations

import os
import resource
import time

__all__ = ["CpuLoad", "max_fds", "memory", "open_fds", "uptime_text"]


class CpuLoad:
    """System and process CPU load in percent since the previous ``sample()``.

    System load comes from ``/proc/stat`` (busy over total jiffies); the process load is
    its CPU time over the wall time of all CPUs (devIocStats' ``ioc_cpuload``: the share of
    the whole machine), so both are 0..100."""

    def __init__(self) -> None:
        self.cpus = os.cpu_count() or 1
        self._wall, self._cpu = time.monotonic(), time.process_time()
        self._busy, self._total = _system_jiffies()

    def sample(self) -> tuple[float, float]:
        """(system %, process %)."""
        wall, cpu = time.monotonic(), time.process_time()
        busy, total = _system_jiffies()
        elapsed = (wall - self._wall) * self.cpus
        process = 100.0 * (cpu - self._cpu) / elapsed if elapsed > 0 else 0.0
        system = 100.0 * (busy - self._busy) / (total - self._total) \
            if total > self._total else 0.0
        self._wall, self._cpu, self._busy, self._total = wall, cpu, busy, total
        return min(max(system, 0.0), 100.0), min(max(process, 0.0), 100.0)


def _system_jiffies() -> tuple[int, int]:
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(item) for item in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
    return sum(fields) - idle, sum(fields)


def open_fds() -> int:
    """File descriptors this process has open."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return max(len(os.listdir(directory)) - 1, 0)   # minus the listing's own
        except OSError:
            continue
    return 0


def max_fds() -> int:
    """The soft limit on open file descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def memory() -> tuple[int, int, int]:
    """(used by this process (resident), free on the machine (available), total), bytes."""
    used = free = total = 0
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            used = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            values = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in meminfo
                      if line.split()[1:2] and line.split()[1].isdigit()}
        total = values.get("MemTotal", 0)
        free = values.get("MemAvailable", values.get("MemFree", 0))
    except (OSError, ValueError, IndexError):
        pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
        total = pages * os.sysconf("SC_PAGE_SIZE") if pages else 0
    return used, free, total


def uptime_text(seconds: float) -> str:
    """devIocStats' UPTIME (statsUpTime): ``HH:MM:SS``, after ``1 day, `` or ``N days, ``
    once a day has passed."""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    day_part = "" if not days else "1 day, " if days == 1 else f"{days} days, "
    return f"{day_part}{hours:02d}:{minutes:02d}:{secs:02d}"

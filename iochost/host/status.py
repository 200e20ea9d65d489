"""The host status PVs: one built-in IOC mounted under ``host.status_prefix``.

``<prefix>UPTIME``, ``MOUNTS``, ``PVS``, ``CLIENTS``, ``CHANNELS``, ``CPU``, ``MEMORY`` are
refreshed every ``period`` seconds; ``<prefix>MOUNT:<name>:STATE`` (one per mount, added and
removed with the mounts) says ``running``, ``failed``, ``unmounted`` or ``disabled``.
"""
from __future__ import annotations

import os
import resource
import time
from typing import TYPE_CHECKING, Any

from iochost import ChannelString, PVGroup, pvproperty

from .validation import HOST_STATUS_MOUNT, state_pvname

if TYPE_CHECKING:
    from .host import Host


def _rss_megabytes() -> float:
    """Resident memory of this process (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class CpuMeter:
    """Process CPU use in percent of one core since the previous reading."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.monotonic(), time.process_time()

    def percent(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        elapsed = wall - self.wall
        used = (cpu - self.cpu) / elapsed * 100.0 if elapsed > 0 else 0.0
        self.wall, self.cpu = wall, cpu
        return used


class HostStatusIOC(PVGroup):
    """Status of the iochost process: uptime, mounts, PVs, clients, channels, CPU, memory."""

    UPTIME = pvproperty(value=0.0, read_only=True, units="s", precision=1,
                        doc="Seconds since the host started")
    MOUNTS = pvproperty(value=0, read_only=True, doc="Mounts that are running")
    PVS = pvproperty(value=0, read_only=True, doc="PVs served")
    CLIENTS = pvproperty(value=0, read_only=True, doc="Connected CA clients (circuits)")
    CHANNELS = pvproperty(value=0, read_only=True, doc="Open CA channels")
    CPU = pvproperty(value=0.0, read_only=True, units="%", precision=1,
                     doc="CPU use of the host process, percent of one core")
    MEMORY = pvproperty(value=0.0, read_only=True, units="MB", precision=1,
                        doc="Resident memory of the host process")

    def __init__(self, *args: Any, period: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.period = period
        self.host: Host | None = None
        self.state_pvs: dict[str, ChannelString] = {}
        self._cpu = CpuMeter()

    def attach(self, host: Host) -> None:
        """Report on ``host`` (the host calls this once it built this IOC)."""
        self.host = host

    def state_pvname(self, mount: str) -> str:
        return state_pvname(self.prefix, mount)

    def state_channel(self, mount: str, state: str) -> tuple[str, ChannelString]:
        """The STATE PV of ``mount`` (created on first use)."""
        channel = self.state_pvs.get(mount)
        if channel is None:
            channel = self.state_pvs[mount] = ChannelString(value=state, read_only=True)
        return self.state_pvname(mount), channel

    async def refresh(self) -> None:
        """Publish the current figures."""
        if self.host is None:
            return
        stats = self.host.server.stats() if self.host.server is not None else {}
        values = {
            self.UPTIME: round(self.host.uptime, 3),
            self.MOUNTS: sum(1 for name, m in self.host.mounts.items()
                             if m.serving and name != HOST_STATUS_MOUNT),
            self.PVS: len(self.host.database),
            self.CLIENTS: stats.get("clients", 0),
            self.CHANNELS: stats.get("channels", 0),
            self.CPU: round(self._cpu.percent(), 2),
            self.MEMORY: round(_rss_megabytes(), 2),
        }
        for channel, value in values.items():
            if channel.value != value:
                await channel.write(value)
        for name, mount in self.host.mounts.items():
            channel = self.state_pvs.get(name)
            if channel is not None and channel.value != mount.state:
                await channel.write(mount.state)

    @UPTIME.startup
    async def UPTIME(self, instance, async_lib) -> None:
        """Refresh every ``period`` seconds for the life of the host."""
        while True:
            await self.refresh()
            await async_lib.sleep(self.period)

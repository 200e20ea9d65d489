"""The host status PVs: one built-in IOC mounted under ``host.status_prefix``.

``<prefix>UPTIME``, ``MOUNTS``, ``PVS``, ``CLIENTS``, ``CHANNELS``, ``CPU``, ``MEMORY``,
``LOOP_BLOCKS``, ``LOOP_MAX_BLOCK`` (the event-loop watchdog's, iochost.host.watchdog) are
refreshed every ``period`` seconds; ``<prefix>MOUNT:<name>:STATE`` (one per mount of the
config, added and withdrawn with them) says ``running``, ``degraded``, ``failed``,
``unmounted`` or ``disabled``. The built-in plugin (``iochost.host.builtins``) mounts it
and keeps the STATE PVs current through the public hooks.
"""
from __future__ import annotations

import os
import resource
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from iochost import ChannelString, PVGroup, pvproperty

from .hostconfig import is_builtin

if TYPE_CHECKING:
    from .host import Host, Mount


def _rss_megabytes() -> float:
    """Resident memory of this process (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class CpuMeter:
    """Process CPU use in percent of one core over the last window of at least ``window``
    seconds: a reading sooner than that after the previous one gives the previous figure,
    so that many readers (two browsers, a scraper) do not each measure a sliver of time."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self.wall, self.cpu = time.monotonic(), time.process_time()
        self.last = 0.0

    def percent(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        elapsed = wall - self.wall
        if elapsed >= self.window:
            self.last = (cpu - self.cpu) / elapsed * 100.0
            self.wall, self.cpu = wall, cpu
        return self.last


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
    LOOP_BLOCKS = pvproperty(value=0, read_only=True,
                             doc="Event-loop blocks longer than host.loop_watchdog")
    LOOP_MAX_BLOCK = pvproperty(value=0.0, read_only=True, units="s", precision=2,
                                doc="Longest block of the event loop")

    def __init__(self, *args: Any, period: float = 1.0, mounts: Sequence[str] = (),
                 **kwargs: Any) -> None:
        """``mounts``: the names of the mounts to serve a STATE PV for from the start."""
        super().__init__(*args, **kwargs)
        self.period = period
        self.host: Host | None = None
        self.state_pvs: dict[str, ChannelString] = {}
        for mount in mounts:
            self.pvdb[self.state_pvname(mount)] = self._state_channel(mount)
        self._cpu = CpuMeter()

    def attach(self, host: Host) -> None:
        """Report on ``host`` (the built-in plugin calls this once this IOC is mounted)."""
        self.host = host

    def state_pvname(self, mount: str) -> str:
        """The PV that shows a mount's state."""
        return f"{self.prefix}MOUNT:{mount}:STATE"

    def _state_channel(self, mount: str) -> ChannelString:
        channel = self.state_pvs[mount] = ChannelString(value="unmounted", read_only=True)
        return channel

    async def show_state(self, mount: Mount) -> None:
        """Publish ``mount``'s state (its STATE PV is added first if it is new)."""
        if self.host is None or is_builtin(mount.name):
            return
        channel = self.state_pvs.get(mount.name)
        if channel is None:
            channel = self._state_channel(mount.name)
            self.host.add_pvs(self, {self.state_pvname(mount.name): channel})
        if channel.value != mount.state:
            await channel.write(mount.state)

    def withdraw_states(self) -> None:
        """Withdraw the STATE PVs of mounts the host no longer has (after a reload)."""
        if self.host is None:
            return
        gone = [name for name in self.state_pvs if name not in self.host.mounts]
        self.host.remove_pvs(self, [self.state_pvname(name) for name in gone])
        for name in gone:
            del self.state_pvs[name]

    async def refresh(self) -> None:
        """Publish the current figures."""
        if self.host is None:
            return
        stats = self.host.server.stats() if self.host.server is not None else {}
        values = {
            self.UPTIME: round(self.host.uptime, 3),
            self.MOUNTS: sum(1 for name, m in self.host.mounts.items()
                             if m.serving and not is_builtin(name)),
            self.PVS: len(self.host.database),
            self.CLIENTS: stats.get("clients", 0),
            self.CHANNELS: stats.get("channels", 0),
            self.CPU: round(self._cpu.percent(), 2),
            self.MEMORY: round(_rss_megabytes(), 2),
            self.LOOP_BLOCKS: self.host.loop_blocks,
            self.LOOP_MAX_BLOCK: round(self.host.loop_max_block, 3),
        }
        for channel, value in values.items():
            if channel.value != value:
                await channel.write(value)

    @UPTIME.startup
    async def UPTIME(self, instance, async_lib) -> None:
        """Refresh every ``period`` seconds for the life of the host."""
        while True:
            await self.refresh()
            await async_lib.sleep(self.period)

"""The ``stats`` helper: one mount's figures as PVs under its own prefix.

::

    helpers:
      stats: {prefix: "STATS:", period: 1.0}

adds to the mount (``<mount prefix><prefix>NAME``, served with the mount's PVs):

| PV | type | value |
|---|---|---|
| ``STATE`` | string | the mount's state (``running``, ``degraded``) |
| ``LAST_ERROR`` | string | the newest failing hook (``PV: hook``), or empty |
| ``RESTARTS`` | long | times this mount was mounted again in this host run |
| ``PV_CNT`` | long | PVs the mount serves (these included) |
| ``CHANNELS`` | long | client channels open on its PVs (and their fields) |
| ``UPDATES_RATE`` | double, ``1/s`` | monitor updates posted to subscribers per second |

``UPDATES_RATE`` counts each value change of the mount's PVs once per live subscription
on that PV's value (from the server's introspection; a monitor on ``REC.EGU`` hears no
value change); the server may send fewer when it coalesces updates for a slow client.
"""
from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from collections import Counter
from typing import Any

from iochost.ca.dbr import DBE_VALUE
from iochost.pv.data import ChannelData, ChannelDouble, ChannelInteger, ChannelString

__all__ = ["MountStats"]

#: host -> mount name -> times mounted
_MOUNTED: weakref.WeakKeyDictionary[Any, Counter[str]] = weakref.WeakKeyDictionary()


def _base_name(name: str) -> str:
    """The PV a channel name belongs to: ``REC.EGU`` -> ``REC``, ``REC$`` -> ``REC``."""
    return name.removesuffix("$").split(".", 1)[0]


def _is_value(name: str, base: str) -> bool:
    """Does channel ``name`` of PV ``base`` show its value (``REC``, ``REC.VAL``, ``REC$``,
    ``REC.{"dbnd":...}``), not another field (``REC.EGU``), whose monitors a value change
    does not reach?"""
    field = re.split(r"[$\[{]", name[len(base):].removeprefix("."), maxsplit=1)[0]
    return field in ("", "VAL")


class MountStats:
    """See the module docstring."""

    def __init__(self, mount: Any, *, prefix: str = "STATS:", period: float = 1.0) -> None:
        self.mount, self.period = mount, period
        full = mount.config.prefix + prefix
        self.channels: dict[str, ChannelData] = {
            "STATE": ChannelString(value="", read_only=True),
            "LAST_ERROR": ChannelString(value="", read_only=True),
            "RESTARTS": ChannelInteger(value=0, read_only=True),
            "PV_CNT": ChannelInteger(value=0, read_only=True),
            "CHANNELS": ChannelInteger(value=0, read_only=True),
            "UPDATES_RATE": ChannelDouble(value=0.0, read_only=True, units="1/s",
                                          precision=1),
        }
        self.names = {name: full + name for name in self.channels}
        self._changes: Counter[str] = Counter()
        self._watched: list[tuple[ChannelData, Any]] = []
        self._task: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Add the PVs to the mount's before they become searchable."""
        pvdb = self.mount.ioc.pvdb
        for name, channel in self.channels.items():
            pvdb[self.names[name]] = channel
        host = getattr(self.mount, "host", None)
        if host is not None:
            counts = _MOUNTED.setdefault(host, Counter())
            counts[self.mount.name] += 1
            await self.channels["RESTARTS"].write(counts[self.mount.name] - 1)

    async def start(self) -> None:
        own = set(self.names.values())
        for name, channel in self.mount.ioc.pvdb.items():
            if name in own:
                continue

            def changed(_channel: ChannelData, flags: int, name: str = name) -> None:
                if flags & DBE_VALUE:
                    self._changes[name] += 1
            channel.add_listener(changed)
            self._watched.append((channel, changed))
        self._task = asyncio.create_task(self._loop(), name=f"stats {self.mount.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for channel, listener in self._watched:
            channel.remove_listener(listener)
        self._watched = []

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        wait = 0.0                       # the first figures as soon as the mount is up
        while True:
            await asyncio.sleep(wait)
            wait = self.period
            now = loop.time()
            try:
                await self.refresh(now - last)
            except Exception:    # a figure that fails must not end the loop
                self.mount.ioc.log.exception("stats helper: refresh failed")
            last = now

    async def refresh(self, elapsed: float) -> None:
        """Update every PV; ``elapsed`` seconds since the previous refresh."""
        mount = self.mount
        faults = getattr(mount, "faults", {})
        values: dict[str, Any] = {
            "STATE": mount.state, "PV_CNT": len(mount.pvnames),
            "LAST_ERROR": (f"{next(reversed(faults))}: {list(faults.values())[-1]}"
                           if faults else "")[:39],
        }
        server = getattr(getattr(mount, "host", None), "server", None)
        if server is not None:
            mine = set(mount.pvnames)
            channels, subscriptions = 0, Counter[str]()
            for client in server.clients():
                for info in server.client_channels(client.client_id) or ():
                    base = _base_name(info.name)
                    if info.name in mine:
                        channels += 1
                        subscriptions[info.name] += info.subscriptions
                    elif base in mine:
                        channels += 1
                        if _is_value(info.name, base):
                            subscriptions[base] += info.subscriptions
            changes, self._changes = self._changes, Counter()
            posted = sum(count * subscriptions[name] for name, count in changes.items())
            values["CHANNELS"] = channels
            values["UPDATES_RATE"] = posted / elapsed if elapsed > 0 else 0.0
        for name, value in values.items():
            channel = self.channels[name]
            if channel.value != value:
                await channel.write(value, verify_value=False)

"""The PV set as an IOC for servers with caproto's API (iochost and caproto share this code).

``build_pvdb(pvs, api)`` takes the library's ``ChannelDouble``, ``PVGroup`` and
``pvproperty`` (see ``IocApi``), so both servers serve the very same IOC.  The GO / DISPLAY
behaviour is written the way an IOC author would: an asyncio task that awaits
``write(value)`` and yields to the event loop between updates, so the server can send while
the poster posts.
"""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from benchmarks.pvset import MAX_POST_SECONDS, PVSet

Write = Callable[[float], Awaitable[object]]


class Poster:
    """Runs the flat-out poster and the display updater; at most one of each at a time."""

    def __init__(self, fast: Write, count: Write, display: Sequence[Write], hz: float,
                 fast_value: Callable[[], float]) -> None:
        self._fast, self._count, self._display = fast, count, list(display)
        self._period = 1.0 / hz
        self._fast_value = fast_value
        self._tick = 0.0
        self._tasks: dict[str, asyncio.Task] = {}

    def go(self, seconds: float) -> None:
        """Start posting FAST flat out for `seconds` (ignored while a run is in progress)."""
        self._start("go", self._post_flat_out(min(float(seconds), MAX_POST_SECONDS)))

    def display(self, on: bool) -> None:
        if on:
            self._start("display", self._update_display())
        elif task := self._tasks.pop("display", None):
            task.cancel()

    def _start(self, key: str, coro) -> None:
        if key in self._tasks and not self._tasks[key].done():
            coro.close()
            return
        self._tasks[key] = asyncio.get_running_loop().create_task(coro)

    async def _post_flat_out(self, seconds: float) -> None:
        # One line per run in the server's log: a failed monitor run shows whether the
        # poster ran (and how far) or the updates were lost on the way.
        loop = asyncio.get_running_loop()
        first = value = self._fast_value()
        print(f"poster: posting FAST for {seconds} s from {first}", file=sys.stderr, flush=True)
        try:
            end = loop.time() + seconds
            while loop.time() < end:
                value += 1
                await self._fast(value)
                await asyncio.sleep(0)
            await self._count(value)
        except BaseException as exc:
            print(f"poster: stopped after {value - first:.0f} posts: {exc!r}", file=sys.stderr,
                  flush=True)
            raise
        print(f"poster: posted {value - first:.0f}, COUNT = {value}", file=sys.stderr,
              flush=True)

    async def _update_display(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        first = self._tick
        print(f"poster: display on at tick {first:.0f}", file=sys.stderr, flush=True)
        try:
            while True:
                self._tick += 1
                for write in self._display:
                    await write(self._tick)
                due += self._period
                await asyncio.sleep(max(0.0, due - loop.time()))
        finally:
            print(f"poster: display off after {self._tick - first:.0f} ticks", file=sys.stderr,
                  flush=True)


class IocApi(NamedTuple):
    """The caproto-compatible names a server library provides."""
    ChannelDouble: type
    PVGroup: type
    pvproperty: Callable[..., Any]


def controls_group(api: IocApi) -> type:
    """GO / FAST / COUNT / DISPLAY as a PVGroup of `api`'s library."""
    pvproperty = api.pvproperty

    class Controls(api.PVGroup):
        go = pvproperty(value=0.0, name="GO")
        fast = pvproperty(value=0.0, name="FAST")
        count = pvproperty(value=0.0, name="COUNT")
        display = pvproperty(value=0, name="DISPLAY")

        def __init__(self, *args, display_pvs=(), hz=10.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.poster = Poster(self.fast.write, self.count.write,
                                 [pv.write for pv in display_pvs], hz,
                                 fast_value=lambda: self.fast.value)

        @go.putter
        async def go(self, instance, value):
            self.poster.go(value)

        @display.putter
        async def display(self, instance, value):
            self.poster.display(bool(value))

    return Controls


def ai_group(pvs: PVSet, api: IocApi) -> Any:
    """A PVGroup instance of `pvs.ai_records` ai records."""
    attrs = {f"ai{i}": api.pvproperty(value=0.0, name=name[len(pvs.prefix):], record="ai")
             for i, name in enumerate(pvs.ai_names())}
    return type("AIRecords", (api.PVGroup,), attrs)(prefix=pvs.prefix)


def pvproperty_group(pvs: PVSet, api: IocApi) -> Any:
    """A PVGroup instance of `pvs.pvproperties` DOUBLE pvproperties with precision and
    units: one class, as an IOC author writes a large IOC."""
    attrs = {f"p{i}": api.pvproperty(value=0.0, name=name[len(pvs.prefix):], precision=3,
                                     units="mm")
             for i, name in enumerate(pvs.pvproperty_names())}
    return type("Properties", (api.PVGroup,), attrs)(prefix=pvs.prefix)


def build_pvdb(pvs: PVSet, api: IocApi) -> dict:
    """name -> channel data for the whole PV set."""
    pvdb: dict = {}
    if pvs.controls:
        display = {name: api.ChannelDouble(value=0.0) for name in pvs.display_names()}
        pvdb.update(display)
        controls = controls_group(api)(prefix=pvs.prefix, display_pvs=list(display.values()),
                                       hz=pvs.display_hz)
        pvdb.update(controls.pvdb)
    if pvs.waveform:
        pvdb[pvs.control("WF")] = api.ChannelDouble(
            value=np.arange(pvs.waveform, dtype=float), max_length=pvs.waveform)
    pvdb.update((name, api.ChannelDouble(value=0.0)) for name in pvs.scalar_names())
    if pvs.pvproperties:
        pvdb.update(pvproperty_group(pvs, api).pvdb)
    if pvs.ai_records:
        pvdb.update(ai_group(pvs, api).pvdb)
    return pvdb

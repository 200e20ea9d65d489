"""Serve a PVSet with caproto's asyncio server: ``python -m benchmarks.servers.serve_caproto JSON``."""
from __future__ import annotations

import sys

import numpy as np
from caproto import ChannelDouble
from caproto.asyncio.server import run
from caproto.server import PVGroup, pvproperty

from benchmarks.pvset import PVSet
from benchmarks.servers.pyposter import Poster


class Controls(PVGroup):
    """GO / FAST / COUNT / DISPLAY, written as a caproto IOC author would."""

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


def ai_group(pvs: PVSet) -> PVGroup:
    """A PVGroup of `pvs.ai_records` ai records."""
    attrs = {f"ai{i}": pvproperty(value=0.0, name=name[len(pvs.prefix):], record="ai")
             for i, name in enumerate(pvs.ai_names())}
    return type("AIRecords", (PVGroup,), attrs)(prefix=pvs.prefix)


def build_pvdb(pvs: PVSet) -> dict:
    pvdb: dict = {}
    if pvs.controls:
        display = {name: ChannelDouble(value=0.0) for name in pvs.display_names()}
        pvdb.update(display)
        pvdb.update(Controls(prefix=pvs.prefix, display_pvs=list(display.values()),
                             hz=pvs.display_hz).pvdb)
    if pvs.waveform:
        pvdb[pvs.control("WF")] = ChannelDouble(value=np.arange(pvs.waveform, dtype=float),
                                                max_length=pvs.waveform)
    pvdb.update((name, ChannelDouble(value=0.0)) for name in pvs.scalar_names())
    if pvs.ai_records:
        pvdb.update(ai_group(pvs).pvdb)
    return pvdb


if __name__ == "__main__":
    run(build_pvdb(PVSet.from_json(sys.argv[1])), interfaces=["127.0.0.1"])

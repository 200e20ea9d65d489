"""Serve a PVSet with EPICS' C IOC and its CA server RSRV, via pythonSoftIOC:
``python -m benchmarks.servers.serve_softioc JSON``.

Scalars are ao records (writable, as the other servers' PVs), ai records are ai records.
FAST is posted flat out by a Python thread calling ``aOut.set`` (which processes the record
synchronously, so every set is a posted update); the display PVs are calc records scanned
at 10 Hz by the IOC itself (``CALC=A+1`` on their own value), disabled while DISPLAY is 0:
the C IOC updating PVs the way a C IOC does.  PV Access is disabled (CA only).
"""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
from softioc import asyncio_dispatcher, builder, softioc

from benchmarks.netenv import die_with_parent
from benchmarks.pvset import MAX_POST_SECONDS, PVSet

_SCAN_FOR_HZ = {10.0: ".1 second", 5.0: ".2 second", 2.0: ".5 second", 1.0: "1 second"}


def build_records(pvs: PVSet) -> None:
    if pvs.controls:
        fast = builder.aOut(pvs.control("FAST"), initial_value=0.0)
        count = builder.aOut(pvs.control("COUNT"), initial_value=0.0)
        builder.aOut(pvs.control("GO"), initial_value=0.0, always_update=True,
                     on_update=lambda seconds: _start_posting(fast, count, seconds))
        builder.longOut(pvs.control("DISPLAY"), initial_value=0)
        for name in pvs.display_names():
            builder.records.calc(name, CALC="A+1", INPA=f"{name} NPP",
                                 SCAN=_SCAN_FOR_HZ[pvs.display_hz],
                                 SDIS=f"{pvs.control('DISPLAY')} NPP", DISV=0)
    if pvs.waveform:
        builder.WaveformIn(pvs.control("WF"), np.arange(pvs.waveform, dtype=float))
    for name in pvs.scalar_names():
        builder.aOut(name, initial_value=0.0)
    for name in pvs.pvproperty_names():
        builder.aOut(name, initial_value=0.0, PREC=3, EGU="mm")
    for name in pvs.ai_names():
        builder.aIn(name, initial_value=0.0)


def _start_posting(fast, count, seconds: float) -> None:
    threading.Thread(target=_post_flat_out, args=(fast, count, seconds), daemon=True).start()


def _post_flat_out(fast, count, seconds: float) -> None:
    value = fast.get()
    end = time.monotonic() + min(float(seconds), MAX_POST_SECONDS)
    while time.monotonic() < end:
        value += 1
        fast.set(value)
    count.set(value)


if __name__ == "__main__":
    die_with_parent()
    build_records(PVSet.from_json(sys.argv[1]))
    builder.LoadDatabase()
    softioc.iocInit(asyncio_dispatcher.AsyncioDispatcher(), enable_pva=False)
    threading.Event().wait()     # serve until the harness terminates us

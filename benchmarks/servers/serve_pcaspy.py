"""Serve a PVSet with pcaspy (EPICS' C++ Portable Channel Access Server, driven from
Python): ``python -m benchmarks.servers.serve_pcaspy JSON``.

Every PV is a pcaspy parameter with a value (a read of a parameter never set fails): DOUBLE
scalars, the pvproperty set with its precision and units, the waveform. ``server.process``
runs in the main thread, as pcaspy's examples do; FAST is posted flat out by a Python
thread (``setParam`` + ``updatePV`` per post: every call is a posted update), and the
display PVs are updated at ``display_hz`` by another thread with one shared tick.
pcaspy has no records: the ai set is served as plain DOUBLE parameters.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any

from pcaspy import Driver, SimpleServer

from benchmarks.netenv import die_with_parent
from benchmarks.pvset import MAX_POST_SECONDS, PVSet


def pvdb_for(pvs: PVSet) -> dict[str, dict[str, Any]]:
    """pcaspy's database: name without the prefix -> its parameter's description."""
    skip = len(pvs.prefix)
    db: dict[str, dict[str, Any]] = {}
    if pvs.controls:
        db.update({name: {"value": 0.0} for name in ("GO", "FAST", "COUNT")})
        db["DISPLAY"] = {"type": "int", "value": 0}
        db.update((name[skip:], {"value": 0.0}) for name in pvs.display_names())
    if pvs.waveform:
        db["WF"] = {"count": pvs.waveform, "value": [float(i) for i in range(pvs.waveform)]}
    db.update((name[skip:], {"value": 0.0}) for name in pvs.scalar_names())
    db.update((name[skip:], {"value": 0.0, "prec": 3, "unit": "mm"})
              for name in pvs.pvproperty_names())
    db.update((name[skip:], {"value": 0.0}) for name in pvs.ai_names())
    return db


class BenchDriver(Driver):  # type: ignore[misc]
    """GO starts the flat-out poster, DISPLAY 1/0 the display updater."""

    def __init__(self, pvs: PVSet) -> None:
        super().__init__()
        skip = len(pvs.prefix)
        self.display = [name[skip:] for name in pvs.display_names()]
        self.period = 1.0 / pvs.display_hz
        self.display_on = threading.Event()
        self.lock = threading.Lock()       # the poster and the display share the library
        threading.Thread(target=self._update_display, daemon=True).start()

    def write(self, reason: str, value: Any) -> bool:
        self.setParam(reason, value)
        if reason == "GO":
            threading.Thread(target=self._post_flat_out, args=(float(value),),
                             daemon=True).start()
        elif reason == "DISPLAY":
            (self.display_on.set if value else self.display_on.clear)()
        return True

    def _post_flat_out(self, seconds: float) -> None:
        value = self.getParam("FAST")
        end = time.monotonic() + min(seconds, MAX_POST_SECONDS)
        while time.monotonic() < end:
            value += 1
            with self.lock:
                self.setParam("FAST", value)
                self.updatePV("FAST")
        with self.lock:
            self.setParam("COUNT", value)
            self.updatePV("COUNT")

    def _update_display(self) -> None:
        tick = 0.0
        due = time.monotonic()
        while True:
            self.display_on.wait()
            tick += 1
            with self.lock:
                for name in self.display:
                    self.setParam(name, tick)
                    self.updatePV(name)
            due = max(due + self.period, time.monotonic() - self.period)
            time.sleep(max(0.0, due - time.monotonic()))


if __name__ == "__main__":
    die_with_parent()
    pv_set = PVSet.from_json(sys.argv[1])
    server = SimpleServer()
    server.createPV(pv_set.prefix, pvdb_for(pv_set))
    driver = BenchDriver(pv_set)
    while True:
        server.process(0.01)

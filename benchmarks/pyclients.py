"""Second-opinion clients, one run per process:
``python -m benchmarks.pyclients pyepics|caproto connect|get|waveform ARGS``.

Same modes, arguments and JSON results as ``caclient.c`` (for the subset implemented here).
pyepics drives EPICS' own libca from Python; caproto's threading client is an independent
Python CA stack. Both cost more per operation than the C client, so their figures are a
lower bound on the server; they check the C client's ranking, not replace it.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time

from benchmarks.netenv import die_with_parent


class _Countdown:
    """Sets `done` when `arrived` has been called n times (from any thread)."""

    def __init__(self, n: int) -> None:
        self.done, self._remaining, self._lock = threading.Event(), n, threading.Lock()

    def arrived(self, _response: object) -> None:
        with self._lock:
            self._remaining -= 1
            if self._remaining == 0:
                self.done.set()


def _pyepics(mode: str, args: list[str]) -> dict:
    from epics import ca

    def connect(names: list[str], timeout: float) -> list:
        chids = [ca.create_channel(n, connect=False, auto_cb=False) for n in names]
        deadline = time.monotonic() + timeout
        for chid in chids:
            ca.connect_channel(chid, timeout=max(0.001, deadline - time.monotonic()))
        return chids

    if mode == "connect":
        pattern, n, timeout = args[0], int(args[1]), float(args[2])
        t0 = time.monotonic()
        chids = connect([pattern % i for i in range(n)], timeout)
        seconds = time.monotonic() - t0
        connected = sum(ca.isConnected(c) for c in chids)
        return {"channels": n, "connected": connected, "seconds": seconds,
                "rate": n / seconds if connected == n else 0.0}
    if mode == "get":
        pattern, n, seconds, max_rounds = args[0], int(args[1]), float(args[2]), int(args[3])
        chids = connect([pattern % i for i in range(n)], 60.0)
        rounds, t0, elapsed = 0, time.monotonic(), 0.0
        while rounds < max_rounds and elapsed < seconds:
            for chid in chids:
                ca.get(chid, wait=False)
            ca.poll()
            for chid in chids:
                if ca.get_complete(chid, timeout=30.0) is None:
                    return {"error": "get timed out"}
            rounds += 1
            elapsed = time.monotonic() - t0
        return {"ops": rounds * n, "seconds": elapsed, "rate": rounds * n / elapsed,
                "outstanding": n}
    if mode == "waveform":
        name, seconds, max_rounds = args[0], float(args[1]), int(args[2])
        (chid,) = connect([name], 30.0)
        reads, t0, elapsed, value = 0, time.monotonic(), 0.0, None
        while reads < max_rounds and elapsed < seconds:
            value = ca.get(chid, timeout=60.0)
            reads += 1
            elapsed = time.monotonic() - t0
        return {"elements": len(value), "reads": reads, "seconds": elapsed,
                "mb_per_s": reads * value.nbytes / elapsed / 1e6,
                "intact": bool(value[-1] == len(value) - 1)}
    raise SystemExit(f"pyepics: unknown mode {mode!r}")


def _caproto(mode: str, args: list[str]) -> dict:
    from caproto.threading.client import Batch, Context

    ctx = Context()

    def connect(names: list[str], timeout: float) -> list:
        pvs = ctx.get_pvs(*names, timeout=timeout)
        deadline = time.monotonic() + timeout
        for pv in pvs:
            pv.wait_for_connection(timeout=max(0.001, deadline - time.monotonic()))
        return pvs

    if mode == "connect":
        pattern, n, timeout = args[0], int(args[1]), float(args[2])
        t0 = time.monotonic()
        try:
            connect([pattern % i for i in range(n)], timeout)
        except TimeoutError:
            return {"channels": n, "connected": 0, "seconds": timeout, "rate": 0.0}
        seconds = time.monotonic() - t0
        return {"channels": n, "connected": n, "seconds": seconds, "rate": n / seconds}
    if mode == "get":
        pattern, n, seconds, max_rounds = args[0], int(args[1]), float(args[2]), int(args[3])
        pvs = connect([pattern % i for i in range(n)], 60.0)
        rounds, t0, elapsed = 0, time.monotonic(), 0.0
        while rounds < max_rounds and elapsed < seconds:
            countdown = _Countdown(n)
            with Batch() as batch:
                for pv in pvs:
                    batch.read(pv, countdown.arrived)
            if not countdown.done.wait(30.0):
                return {"error": "get timed out"}
            rounds += 1
            elapsed = time.monotonic() - t0
        return {"ops": rounds * n, "seconds": elapsed, "rate": rounds * n / elapsed,
                "outstanding": n}
    raise SystemExit(f"caproto: unknown mode {mode!r}")


CLIENTS = {"pyepics": _pyepics, "caproto": _caproto}

if __name__ == "__main__":
    die_with_parent()
    client, mode, *rest = sys.argv[1:]
    print(json.dumps(CLIENTS[client](mode, rest)), flush=True)
    os._exit(0)      # skip the libraries' slow teardown of hundreds of channels

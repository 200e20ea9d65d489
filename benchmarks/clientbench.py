"""Client rows: the same three jobs done by four CA clients, one run per process::

    python -m benchmarks.clientbench iochost|pyepics|aioca|caproto-asyncio MODE ARGS

* ``connect PATTERN N TIMEOUT`` -- create N channels at once, wait until all connect;
* ``get PATTERN N SECONDS MAX_ROUNDS`` -- rounds of N outstanding gets (native type) until
  SECONDS pass;
* ``monitor FAST COUNT TIMEOUT LATE_TIMEOUT`` -- subscribe to FAST (DBR_TIME_DOUBLE) and
  COUNT, print READY, wait for one stdin line (the harness then makes the server post FAST
  flat out), count FAST updates until COUNT announces the final value and it arrived.

Results are one JSON line with the keys of ``caclient.c``'s modes (``rate``,
``delivered_per_s``...).  iochost's client, aioca (libca under asyncio) and caproto's asyncio
client run in an asyncio loop; pyepics drives libca from Python threads.  Everything a
process sends stays on loopback: the harness passes the loopback environment.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks.netenv import die_with_parent


class Monitor:
    """Counts FAST updates between the trigger and the final value COUNT announces."""

    def __init__(self) -> None:
        self.first_fast = self.first_count = None
        self.armed = False
        self.delivered = 0
        self.first_recv = self.last_recv = 0.0
        self.last_value: float | None = None
        self.final: float | None = None
        self.initial: float | None = None
        self.changed = threading.Event()

    def fast(self, value: float) -> None:
        value = float(value)
        now = time.monotonic()
        if self.first_fast is None:
            self.first_fast = value
        elif self.armed:
            if not self.delivered:
                self.first_recv = now
            self.delivered += 1
            self.last_recv = now
        self.last_value = value
        self.changed.set()

    def count(self, value: float) -> None:
        value = float(value)
        if self.first_count is None:
            self.first_count = value
            self.initial = value
        elif value != self.initial:
            self.final = value
        self.changed.set()

    @property
    def ready(self) -> bool:
        return self.first_fast is not None and self.first_count is not None

    def result(self) -> dict:
        done = bool(self.final is not None and self.last_value == self.final)
        span = self.last_recv - self.first_recv
        posted = (self.final - self.initial) if self.final is not None else 0.0
        return {"delivered": self.delivered, "posted": posted,
                "fraction": self.delivered / posted if posted else 0.0,
                "delivered_pct": 100 * self.delivered / posted if posted else 0.0,
                "delivered_per_s": self.delivered / span if span > 0 else 0.0,
                "final_delivered": done, "receive_span_s": span}


def _wait_stdin() -> None:
    sys.stdin.readline()


async def _monitor_async(subscribe: Callable[[str, Callable[[float], None]], Awaitable[object]],
                         fast: str, count: str, timeout: float, late: float) -> dict:
    mon = Monitor()
    await subscribe(fast, mon.fast)
    await subscribe(count, mon.count)
    deadline = time.monotonic() + timeout
    while not mon.ready and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    if not mon.ready:
        return {"error": "no initial updates"}
    mon.armed = True
    print("READY", flush=True)
    await asyncio.to_thread(_wait_stdin)
    deadline = time.monotonic() + timeout
    while mon.final is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    deadline = time.monotonic() + late
    while mon.final is not None and mon.last_value != mon.final and \
            time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return mon.result()


async def _timed_connect(connect: Callable[[list[str], float], Awaitable[int]],
                         pattern: str, n: int, timeout: float) -> dict:
    names = [pattern % i for i in range(n)]
    t0 = time.monotonic()
    connected = await connect(names, timeout)
    seconds = time.monotonic() - t0
    return {"channels": n, "connected": connected, "seconds": seconds,
            "rate": n / seconds if connected == n else 0.0}


async def _timed_gets(get_all: Callable[[], Awaitable[object]], n: int, seconds: float,
                      max_rounds: int) -> dict:
    rounds, t0, elapsed = 0, time.monotonic(), 0.0
    while rounds < max_rounds and elapsed < seconds:
        await get_all()
        rounds += 1
        elapsed = time.monotonic() - t0
    return {"ops": rounds * n, "seconds": elapsed, "rate": rounds * n / elapsed,
            "outstanding": n}


# -- iochost's client ---------------------------------------------------------------------------
async def _iochost(mode: str, args: list[str]) -> dict:
    from iochost.client import Context
    from iochost.client.errors import ClientError

    async with Context() as context:
        async def connect(names: list[str], timeout: float) -> int:
            channels = [context.channel(name) for name in names]
            try:
                await asyncio.wait_for(asyncio.gather(
                    *(ch.wait_connected(None) for ch in channels)), timeout)
            except (TimeoutError, ClientError):
                pass
            return sum(ch.connected for ch in channels)

        if mode == "connect":
            return await _timed_connect(connect, args[0], int(args[1]), float(args[2]))
        if mode == "get":
            names = [args[0] % i for i in range(int(args[1]))]
            await connect(names, 60.0)
            channels = [context.channel(name) for name in names]
            return await _timed_gets(
                lambda: asyncio.gather(*(ch.get("native") for ch in channels)), len(names),
                float(args[2]), int(args[3]))
        if mode == "monitor":
            async def subscribe(name: str, fn: Callable[[float], None]) -> object:
                channel = await context.connect(name, 30.0)
                sub = channel.subscribe("time" if name == args[0] else "native")
                sub.add_callback(lambda reading: fn(reading.data[0]))
                return sub
            return await _monitor_async(subscribe, args[0], args[1], float(args[2]),
                                        float(args[3]))
    raise SystemExit(f"iochost: unknown mode {mode!r}")


# -- aioca (libca under asyncio) ----------------------------------------------------------------
async def _aioca(mode: str, args: list[str]) -> dict:
    from aioca import FORMAT_TIME, caget, camonitor, connect

    async def connect_all(names: list[str], timeout: float) -> int:
        results = await connect(names, timeout=timeout, throw=False)
        return sum(bool(r) for r in results)

    if mode == "connect":
        return await _timed_connect(connect_all, args[0], int(args[1]), float(args[2]))
    if mode == "get":
        names = [args[0] % i for i in range(int(args[1]))]
        await connect_all(names, 60.0)
        return await _timed_gets(lambda: caget(names), len(names), float(args[2]),
                                 int(args[3]))
    if mode == "monitor":
        async def subscribe(name: str, fn: Callable[[float], None]) -> object:
            await connect(name, timeout=30.0)
            kwargs = {"format": FORMAT_TIME} if name == args[0] else {}
            return camonitor(name, lambda value: fn(float(value)), **kwargs)
        return await _monitor_async(subscribe, args[0], args[1], float(args[2]),
                                    float(args[3]))
    raise SystemExit(f"aioca: unknown mode {mode!r}")


# -- caproto's asyncio client -------------------------------------------------------------------
async def _caproto_asyncio(mode: str, args: list[str]) -> dict:
    from caproto import ChannelType
    from caproto.asyncio.client import Context

    context = Context()
    try:
        async def connect(names: list[str], timeout: float) -> int:
            pvs = await context.get_pvs(*names, timeout=timeout)
            try:
                await asyncio.wait_for(asyncio.gather(
                    *(pv.wait_for_connection() for pv in pvs)), timeout)
            except TimeoutError:
                pass
            return sum(pv.connected for pv in pvs)

        if mode == "connect":
            return await _timed_connect(connect, args[0], int(args[1]), float(args[2]))
        if mode == "get":
            names = [args[0] % i for i in range(int(args[1]))]
            pvs = await context.get_pvs(*names, timeout=60.0)
            await asyncio.gather(*(pv.wait_for_connection() for pv in pvs))
            return await _timed_gets(lambda: asyncio.gather(*(pv.read() for pv in pvs)),
                                     len(names), float(args[2]), int(args[3]))
        if mode == "monitor":
            kept: list[Callable[..., Any]] = []   # caproto holds callbacks weakly

            async def subscribe(name: str, fn: Callable[[float], None]) -> object:
                (pv,) = await context.get_pvs(name, timeout=30.0)
                await pv.wait_for_connection()
                data_type = ChannelType.TIME_DOUBLE if name == args[0] else None
                sub = pv.subscribe(data_type=data_type)

                async def on_update(_sub: object, response: object) -> None:
                    fn(float(response.data[0]))   # type: ignore[attr-defined]
                kept.append(on_update)
                sub.add_callback(on_update)
                return sub
            return await _monitor_async(subscribe, args[0], args[1], float(args[2]),
                                        float(args[3]))
    finally:
        await context.disconnect()
    raise SystemExit(f"caproto-asyncio: unknown mode {mode!r}")


# -- pyepics (libca from Python threads) --------------------------------------------------------
def _pyepics(mode: str, args: list[str]) -> dict:
    from benchmarks.pyclients import CLIENTS

    if mode != "monitor":
        return CLIENTS["pyepics"](mode, args)
    from epics import ca, dbr

    mon = Monitor()
    fast, count, timeout, late = args[0], args[1], float(args[2]), float(args[3])
    keep = []
    for name, fn, ftype in ((fast, mon.fast, dbr.TIME_DOUBLE), (count, mon.count, None)):
        chid = ca.create_channel(name, connect=True, auto_cb=False)
        if not ca.connect_channel(chid, timeout=30.0):
            return {"error": f"{name} did not connect"}
        keep.append(ca.create_subscription(
            chid, use_time=ftype is not None, callback=lambda value=None, fn=fn, **_: fn(value)))
    deadline = time.monotonic() + timeout
    while not mon.ready and time.monotonic() < deadline:
        mon.changed.wait(0.05)
        mon.changed.clear()
    if not mon.ready:
        return {"error": "no initial updates"}
    mon.armed = True
    print("READY", flush=True)
    _wait_stdin()
    deadline = time.monotonic() + timeout
    while mon.final is None and time.monotonic() < deadline:
        time.sleep(0.02)
    deadline = time.monotonic() + late
    while mon.final is not None and mon.last_value != mon.final and \
            time.monotonic() < deadline:
        time.sleep(0.02)
    return mon.result()


ASYNC_CLIENTS = {"iochost": _iochost, "aioca": _aioca, "caproto-asyncio": _caproto_asyncio}
CLIENTS = ("iochost", "pyepics", "aioca", "caproto-asyncio")


def main(client: str, mode: str, args: list[str]) -> dict:
    if client == "pyepics":
        return _pyepics(mode, args)
    if client not in ASYNC_CLIENTS:
        raise SystemExit(f"unknown client {client!r}; choose from {', '.join(CLIENTS)}")
    return asyncio.run(ASYNC_CLIENTS[client](mode, args))


if __name__ == "__main__":
    die_with_parent()
    name, mode_name, *rest = sys.argv[1:]
    print(json.dumps(main(name, mode_name, rest)), flush=True)
    os._exit(0)      # skip the libraries' slow teardown of hundreds of channels

"""Where a big connect's time goes on the server: ``python -m benchmarks.trace_connect
[N] [--runs 3] [--timeline 40]``.

Serves N scalar PVs from iochost's server in this process (loopback, a private port), runs
the benchmark's C client (``caclient connect``, libca) against it ``--runs`` times, and
prints per run: the client's rate and CPU time, the server process's CPU time, how long it was busy
answering searches (``SearchResponder.datagram_received``, ``sendto`` included) and
serving the circuit
(``VirtualCircuit.data_received``), and the garbage collector's time and collections per
generation.  For the last run it prints the timeline of the server's callbacks, bursts of
one kind merged: libca's search rounds show as bursts of search datagrams alternating with
the CREATE_CHANs of the round before.  The busy times change far less between runs than the
rate does on a shared machine: compare two versions of the server by them.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import time
from collections.abc import Callable
from typing import Any

from benchmarks.cbuild import build_caclient
from benchmarks.netenv import ca_env, free_port

#: (start, kind, seconds, bytes) of every timed callback; kind "U" (search) or "T" (circuit)
Event = tuple[float, str, float, int]


def _timed(cls: type, name: str, kind: str, events: list[Event]) -> Callable[[], None]:
    """Time every call of ``cls.name(data, ...)``; returns the function that undoes it."""
    original = getattr(cls, name)

    def timed(self: Any, data: bytes, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, data, *args)
        finally:
            events.append((start, kind, time.perf_counter() - start, len(data)))

    setattr(cls, name, timed)
    return lambda: setattr(cls, name, original)


def _timeline(events: list[Event], rows: int) -> list[str]:
    """Consecutive callbacks of one kind (less than 0.3 ms apart) as one line each."""
    bursts: list[list[Any]] = []   # [start, kind, end, count, bytes, busy]
    for start, kind, seconds, size in events:
        last = bursts[-1] if bursts else None
        if last is not None and last[1] == kind and start - last[2] < 3e-4:
            last[2] = start + seconds
            last[3] += 1
            last[4] += size
            last[5] += seconds
        else:
            bursts.append([start, kind, start + seconds, 1, size, seconds])
    origin = events[0][0]
    names = {"U": "search datagrams", "T": "circuit reads"}
    return [f"{1e3 * (b[0] - origin):8.2f} ms  {b[3]:4d} {names[b[1]]:16s} {b[4]:8,d} bytes"
            f"  busy {1e3 * b[5]:6.2f} ms" for b in bursts[:rows]]


async def _trace(n: int, runs: int, rows: int) -> None:
    from iochost.pv.data import ChannelDouble
    from iochost.server import Server, ServerConfig
    from iochost.server.circuit import VirtualCircuit
    from iochost.server.process import freeze_heap
    from iochost.server.udp import SearchResponder

    env = ca_env(free_port(), free_port())
    os.environ.update(env)   # this process's server: loopback only, the private port
    server = Server({f"TRACE:{i:06d}": ChannelDouble(value=0.0) for i in range(n)},
                    ServerConfig.from_env())
    await server.start()
    freeze_heap()            # as a host does once it serves
    events: list[Event] = []
    collector = {"seconds": 0.0, "started": 0.0, "counts": [0, 0, 0]}

    def on_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collector["started"] = time.perf_counter()
        else:
            collector["seconds"] += time.perf_counter() - collector["started"]
            collector["counts"][info["generation"]] += 1

    undo = [_timed(SearchResponder, "datagram_received", "U", events),
            _timed(VirtualCircuit, "data_received", "T", events)]
    gc.callbacks.append(on_collection)
    try:
        for run in range(1, runs + 1):
            events.clear()
            collector.update(seconds=0.0, counts=[0, 0, 0])
            cpu = time.process_time()
            children = _children_cpu()
            client = await asyncio.create_subprocess_exec(
                str(build_caclient()), "connect", "TRACE:%06d", str(n), "60", env=env,
                stdout=asyncio.subprocess.PIPE)
            out, _ = await client.communicate()
            cpu = time.process_time() - cpu
            client_cpu = _children_cpu() - children
            rate = out.decode().strip().rsplit('"rate": ', 1)[-1].rstrip("}")
            busy = {kind: sum(e[2] for e in events if e[1] == kind) for kind in "UT"}
            print(f"run {run}: {float(rate):,.0f} ch/s; server CPU {1e3 * cpu:.1f} ms, busy "
                  f"{1e3 * busy['U']:.1f} ms "
                  f"on searches ({sum(e[1] == 'U' for e in events)} datagrams), "
                  f"{1e3 * busy['T']:.1f} ms on the circuit; collector "
                  f"{1e3 * collector['seconds']:.1f} ms, collections {collector['counts']}; "
                  f"client CPU {1e3 * client_cpu:.1f} ms")
            await asyncio.sleep(0.5)  # the client's circuit closes
        print("\ntimeline of the last run:")
        print("\n".join(_timeline(events, rows)))
    finally:
        gc.callbacks.remove(on_collection)
        for restore in undo:
            restore()
        await server.stop()


def _children_cpu() -> float:
    """CPU seconds of the waited-for child processes (the client's, once it exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000, help="channels (10,000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeline", type=int, default=40, help="bursts shown (40)")
    args = parser.parse_args()
    from iochost.server import new_event_loop

    new_event_loop().run_until_complete(_trace(args.n, args.runs, args.timeline))


if __name__ == "__main__":
    main()

"""In-process micro-benchmark of the circuit's request handling, without sockets:
``python -m benchmarks.micro_circuit [--rounds 200]``.

A :class:`VirtualCircuit` of a real (unstarted) :class:`Server` is fed, through
``data_received``, chunks of 1000 pipelined requests as libca sends them (READ_NOTIFY of
DBR_DOUBLE, READ_NOTIFY of DBR_TIME_DOUBLE, WRITE_NOTIFY of DBR_DOUBLE); its writes go to
a transport that only counts bytes.  It prints the best and median time per request over
``--rounds`` chunks.  A fourth row times the display load's fan-out: 100 circuits each
subscribed (DBR_TIME_DOUBLE) to the same 1000 channels; one round writes every channel once
and flushes every circuit, and the time is per update queued.  The connect rows: "create" feeds
1000 pipelined CREATE_CHANs to a new circuit (time per channel, the circuit's replies
included); "search" answers 1000 names in libca's datagrams of 31 searches behind a VERSION
(time per name, reply datagrams built, not sent).  Being CPU-bound in one
thread, it compares two versions of the server code on a shared, loaded machine far more
steadily than the socket benchmarks can
(run the two versions back to back, several times); it does not replace them.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from iochost.ca import packers
from iochost.ca.dbr import ChannelType
from iochost.pv.data import ChannelDouble
from iochost.server import PVDatabase, Server, ServerConfig
from iochost.server.circuit import VirtualCircuit
from iochost.server.udp import SearchResponder

N_CHANNELS = 1000


class _CountingTransport:
    """Just enough of an asyncio transport for a circuit: counts what is written."""

    def __init__(self) -> None:
        self.written = 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def writelines(self, chunks: list[bytes]) -> None:
        self.written += sum(map(len, chunks))

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


async def _measure(rounds: int) -> dict[str, tuple[float, float]]:
    database = PVDatabase({f"MICRO:{i}": ChannelDouble(value=float(i)) for i in range(N_CHANNELS)})
    server = Server(database, ServerConfig.from_env())
    circuit = VirtualCircuit(server)
    transport = _CountingTransport()
    circuit.connection_made(transport)  # type: ignore[arg-type]
    circuit.data_received(packers.version_request() + packers.host_name_request(b"micro")
                          + packers.client_name_request(b"micro"))
    circuit.data_received(b"".join(packers.create_chan_request(f"MICRO:{i}".encode(), i)
                                   for i in range(N_CHANNELS)))
    sids = sorted(circuit.channels)
    assert len(sids) == N_CHANNELS, "channels did not connect"
    value = ChannelDouble(value=1.5)
    payload, _ = value.read_dbr(int(ChannelType.DOUBLE), 1)
    chunks = {
        "get DBR_DOUBLE": b"".join(packers.read_notify_request(ChannelType.DOUBLE, 1, sid, i)
                                   for i, sid in enumerate(sids)),
        "get DBR_TIME_DOUBLE": b"".join(
            packers.read_notify_request(ChannelType.TIME_DOUBLE, 1, sid, i)
            for i, sid in enumerate(sids)),
        "put DBR_DOUBLE": b"".join(
            packers.write_notify_request(ChannelType.DOUBLE, 1, sid, i, payload)
            for i, sid in enumerate(sids)),
    }
    results: dict[str, tuple[float, float]] = {}
    for name, chunk in chunks.items():
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            circuit.data_received(chunk)
            times.append((time.perf_counter() - start) / N_CHANNELS)
            await asyncio.sleep(0)
        results[name] = (min(times), statistics.median(times))
    assert not circuit.closed, "the circuit closed during the benchmark"
    return results


async def _measure_connect(rounds: int) -> dict[str, tuple[float, float]]:
    names = [f"MICRO:{i:06d}".encode() for i in range(10 * N_CHANNELS)]
    database = PVDatabase({name.decode(): ChannelDouble(value=0.0) for name in names})
    server = Server(database, ServerConfig.from_env())
    wanted = names[::10]  # 1000 of the 10,000, as a client connecting some of an IOC
    creates = b"".join(packers.create_chan_request(name, i) for i, name in enumerate(wanted))
    datagrams = [packers.search_version_request(1) + b"".join(
        packers.search_request(name, i) for i, name in enumerate(wanted[k:k + 31], k))
        for k in range(0, N_CHANNELS, 31)]
    responder = SearchResponder(database.search_predicate(), 5064, frozenset(),
                                {"searches": 0, "search_hits": 0},
                                exact=database.exact_entries())
    create_times, search_times = [], []
    for _ in range(rounds):
        circuit = VirtualCircuit(server)
        circuit.connection_made(_CountingTransport())  # type: ignore[arg-type]
        circuit.data_received(packers.version_request() + packers.host_name_request(b"micro")
                              + packers.client_name_request(b"micro"))
        start = time.perf_counter()
        circuit.data_received(creates)
        create_times.append((time.perf_counter() - start) / N_CHANNELS)
        assert len(circuit.channels) == N_CHANNELS, "channels did not connect"
        circuit.connection_lost(None)
        start = time.perf_counter()
        replies = [responder._answer(datagram) for datagram in datagrams]
        search_times.append((time.perf_counter() - start) / N_CHANNELS)
        assert sum(len(reply) for reply in replies) == len(datagrams), "a search went unanswered"
        await asyncio.sleep(0)
    return {"create": (min(create_times), statistics.median(create_times)),
            "search": (min(search_times), statistics.median(search_times))}


FANOUT_CIRCUITS = 100
#: what a row's time is per (the request rows: per request)
_UNITS = {"monitor fan-out": "update", "create": "channel", "search": "name"}


async def _measure_fanout(rounds: int) -> tuple[float, float]:
    channels = [ChannelDouble(value=0.0) for _ in range(N_CHANNELS)]
    server = Server(PVDatabase({f"FAN:{i}": data for i, data in enumerate(channels)}),
                    ServerConfig.from_env())
    circuits = []
    for _ in range(FANOUT_CIRCUITS):
        circuit = VirtualCircuit(server)
        circuit.connection_made(_CountingTransport())  # type: ignore[arg-type]
        circuit.data_received(b"".join(packers.create_chan_request(f"FAN:{i}".encode(), i)
                                       for i in range(N_CHANNELS)))
        circuit.data_received(b"".join(
            packers.event_add_request(ChannelType.TIME_DOUBLE, 1, sid, sid, 5)
            for sid in circuit.channels))
        circuits.append(circuit)
    await asyncio.sleep(0.01)           # the first updates (current values) go out
    times = []
    for round_ in range(rounds):
        start = time.perf_counter()
        for data in channels:
            await data.write(float(round_ + 1))
        for circuit in circuits:
            circuit._flush()
        times.append((time.perf_counter() - start) / (N_CHANNELS * FANOUT_CIRCUITS))
        await asyncio.sleep(0)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    results = asyncio.run(_measure(args.rounds))
    results["monitor fan-out"] = asyncio.run(_measure_fanout(max(args.rounds // 10, 3)))
    results.update(asyncio.run(_measure_connect(args.rounds)))
    for name, (best, median) in results.items():
        print(f"{name:22s} best {best * 1e9:7.0f} ns/{_UNITS.get(name, 'request')}"
              f"   median {median * 1e9:7.0f} ns")


if __name__ == "__main__":
    main()

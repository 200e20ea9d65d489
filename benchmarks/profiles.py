"""How big and how long each workload runs: ``full`` (the committed figures, < 10 min),
``quick`` (< 2 min smoke run), ``smoke`` (seconds; the test suite's)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    repeats: int                    # medians over this many runs per server
    scalars: int                    # scalar PVs in the main PV set
    connect_counts: tuple[int, ...]
    outstanding: int                # gets / puts in flight per round
    op_seconds: float               # window of the get / put / waveform loops
    post_seconds: float             # how long FAST is posted flat out
    late_timeout: float             # how long a subscriber waits for the final value
    subscribers: tuple[int, ...]    # monitor workloads: number of subscriber processes
    display_clients: int
    display_pvs: int
    display_seconds: float
    display_connect_timeout: float
    waveform: int                   # elements
    startup_scalars: tuple[int, ...]
    startup_ai_records: int         # 0 = skip
    second_opinion: bool            # also run pyepics and caproto's client
    #: client rows (against RSRV): iochost's client beside these (benchmarks.clientbench)
    client_rows: tuple[str, ...] = ()
    #: start-up rows of a PVGroup of this many pvproperties (and, when any, of 1,000 plus a
    #: 1e6-element waveform)
    startup_pvproperties: tuple[int, ...] = ()
    #: "connect all N channels" rows, each on a server of its own with N scalars
    connect_all: tuple[int, ...] = ()
    startup_timeout: float = 120.0
    startup_settle: float = 0.5     # idle time before the RSS reading
    #: a run longer than this is not repeated: its spread is small next to its size, and
    #: repeating the slowest peers' runs would blow the time budget
    no_repeat_after: float = 20.0


PROFILES = {
    "full": Profile(
        name="full", repeats=3, scalars=10_000, connect_counts=(1000, 10_000), outstanding=1000,
        op_seconds=2.0, post_seconds=2.0, late_timeout=10.0, subscribers=(1, 10),
        display_clients=100, display_pvs=1000, display_seconds=4.0,
        display_connect_timeout=20.0, waveform=1_000_000,
        startup_scalars=(10_000, 100_000), startup_ai_records=10_000, second_opinion=True,
        client_rows=("iochost", "pyepics", "aioca", "caproto-asyncio"),
        startup_pvproperties=(10_000, 100_000), connect_all=(100_000,)),
    "quick": Profile(
        name="quick", repeats=1, scalars=1000, connect_counts=(1000,), outstanding=1000,
        op_seconds=1.0, post_seconds=1.0, late_timeout=5.0, subscribers=(1, 10),
        display_clients=10, display_pvs=100, display_seconds=2.0,
        display_connect_timeout=15.0, waveform=1_000_000,
        startup_scalars=(10_000,), startup_ai_records=1000, second_opinion=False,
        startup_timeout=60.0, client_rows=("iochost", "pyepics", "aioca", "caproto-asyncio"),
        startup_pvproperties=(10_000,)),
    "smoke": Profile(
        name="smoke", repeats=1, scalars=100, connect_counts=(100,), outstanding=100,
        op_seconds=0.3, post_seconds=0.3, late_timeout=3.0, subscribers=(1,),
        display_clients=2, display_pvs=10, display_seconds=1.5,  # stalls of a loaded CI host
        display_connect_timeout=10.0, waveform=10_000,
        startup_scalars=(1000,), startup_ai_records=0, second_opinion=False,
        startup_timeout=30.0, startup_settle=0.2, startup_pvproperties=(1000,)),
}

"""The benchmark harness, in its smallest profile, against iochost only.

Runs ``python -m benchmarks --profile smoke --servers iochost`` as the README does (the
harness keeps every process on loopback with ports of its own) and checks that every
workload produced a well-formed result with non-zero rates -- not how fast they are:
performance claims live in ``benchmarks/RESULTS.md``, not in timed assertions.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:   # benchmarks/ is not installed: it runs from the repository root
    sys.path.insert(0, str(REPO))

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None,
                                reason="the C load generator needs gcc")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--profile", "smoke", "--servers", "iochost",
         "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_every_workload_has_a_positive_headline_figure(smoke_run):
    results, _ = smoke_run
    assert results["meta"]["servers"] == ["iochost"]
    assert results["meta"]["cpu_count"] >= 1
    assert len(results["workloads"]) >= 7
    for key, workload in results["workloads"].items():
        entry = workload["servers"]["iochost"]
        assert entry["error"] is None, f"{key}: {entry['error']}"
        assert len(entry["runs"]) == 1, key
        assert entry["median"][workload["metric"]] > 0, (key, _diagnoses(entry))


def test_results_are_consistent(smoke_run):
    results, _ = smoke_run
    w = {key: wl["servers"]["iochost"]["median"] for key, wl in results["workloads"].items()}
    assert w["connect_100"]["connected"] == 100
    assert w["get"]["ops"] >= 100 and w["put"]["ops"] >= 100
    monitor = w["monitor_1"]
    assert monitor["final_delivered"] is True, \
        _diagnoses(results["workloads"]["monitor_1"]["servers"]["iochost"])
    assert 0 < monitor["delivered_pct"] <= 100
    assert monitor["posted"] > 0
    display = w["display"]
    assert display["connected"] == 2 * 10 and display["delivered"] > 0
    assert 0 <= display["max_age_ms"] < 60_000 and display["stale"] >= 0  # ages are measured
    assert w["waveform"]["intact"] is True and w["waveform"]["reads"] >= 1
    startup = w["startup_1000"]
    assert 0 < startup["seconds"] < 30 and startup["rss_mb"] > 10
    # the IOC as users write it: one PVGroup of pvproperties (and with a 1e6 waveform)
    startup = w["startup_pvproperty_1000"]
    assert 0 < startup["seconds"] < 30 and startup["rss_mb"] > 10
    # 8 MB of data (RSS is counted in pages, and the allocator's own use varies by ~1 MB)
    assert w["startup_pvproperty_waveform"]["rss_mb"] > startup["rss_mb"] + 5


def _diagnoses(entry: dict) -> list[str]:
    """What a failed monitor run recorded (server log, subscribers' libca messages)."""
    return [run["diagnosis"] for run in entry["runs"] if "diagnosis" in run]


def test_table_is_printed_with_ratio_columns(smoke_run):
    _, stdout = smoke_run
    assert "| workload | unit | iochost | caproto | RSRV (softioc) |" in stdout
    assert "iochost/caproto" in stdout and "iochost/RSRV" in stdout


def _results(metric_values: dict[str, dict[str, object]]) -> dict:
    """A workload's results as the harness stores them: server -> median metrics."""
    return {"servers": {server: {"runs": [values], "error": None, "median": values}
                        for server, values in metric_values.items()}}


@pytest.mark.parametrize(("higher_is_better", "ours", "rsrv", "conditions", "verdict"), [
    # ratio exactly at the target ratio passes; just below fails
    (True, 200.0, 100.0, (), "met"),
    (True, 199.0, 100.0, (), "MISSED: 1.99x RSRV, needs >= 2x"),
    # lower is better (start-up time): the ratio must stay at or under the target
    (False, 2.0, 1.0, (), "met"),
    (False, 2.1, 1.0, (), "MISSED: 2.1x RSRV, needs <= 2x"),
    # absolute conditions on iochost's figures, and one on a ratio
    (True, 300.0, 100.0, (("final_delivered", ">=", 1),), "met"),
    (True, 300.0, 100.0, (("late_ms", "<=", 10.0),), "MISSED: late_ms 12 <= 10 fails"),
    (True, 300.0, 100.0, (("rss", "ratio<=", 0.5),), "MISSED: rss 0.6 <= 0.5 fails"),
    # a missing peer figure gives no verdict rather than a wrong one
    (True, 300.0, None, (), "?"),
])
def test_target_verdicts(higher_is_better, ours, rsrv, conditions, verdict):
    from benchmarks.report import judge
    from benchmarks.workloads import Target

    iochost = {"rate": ours, "final_delivered": True, "late_ms": 12.0, "rss": 60.0}
    peer = {"rss": 100.0} if rsrv is None else {"rate": rsrv, "rss": 100.0}
    wres = _results({"iochost": iochost, "rsrv": peer})
    target = Target("test", 2.0, conditions)
    assert judge(target, wres, "rate", higher_is_better) == verdict


def test_a_target_against_the_faster_of_two_peers_and_one_of_conditions_only():
    from benchmarks.report import judge
    from benchmarks.workloads import Target

    fastest = Target("test", 1.0, peers=("rsrv", "pcaspy"))
    wres = _results({"iochost": {"rate": 150.0}, "rsrv": {"rate": 100.0},
                     "pcaspy": {"rate": 160.0}})
    assert judge(fastest, wres, "rate", True) == "MISSED: 0.938x pcaspy, needs >= 1x"
    assert judge(fastest, wres, "rate", False) == "MISSED: 1.5x RSRV, needs <= 1x"
    del wres["servers"]["pcaspy"]                  # not installed: the other peer counts
    assert judge(fastest, wres, "rate", True) == "met"
    absolute = Target("test", 0.0, (("rss_mb", "<=", 40.0),), peers=())
    assert judge(absolute, _results({"iochost": {"seconds": 1.0, "rss_mb": 39.0}}), "seconds",
                 False) == "met"
    assert judge(absolute, _results({"iochost": {"seconds": 1.0, "rss_mb": 41.0}}), "seconds",
                 False) == "MISSED: rss_mb 41 <= 40 fails"


def test_a_stay_ahead_target_compares_with_every_peer_and_the_previous_run():
    from benchmarks.report import baseline_of, judge
    from benchmarks.workloads import Target

    ahead = Target("test", 1.0, peers=("rsrv", "pcaspy", "caproto"), max_regression=0.10)
    wres = _results({"iochost": {"rate": 90.0}, "rsrv": {"rate": 50.0},
                     "pcaspy": {"rate": 60.0}, "caproto": {"rate": 5.0}})
    assert judge(ahead, wres, "rate", True, baseline=100.0) == "met"     # exactly -10 %
    assert judge(ahead, wres, "rate", True, baseline=101.0) == \
        "MISSED: 0.891x the previous run's 101, needs >= 0.9x"
    wres["servers"]["pcaspy"]["median"]["rate"] = 95.0                   # a peer overtakes
    assert judge(ahead, wres, "rate", True, baseline=100.0) == \
        "MISSED: 0.947x pcaspy, needs >= 1x"
    assert judge(ahead, wres, "rate", True, baseline=200.0) == (
        "MISSED: 0.947x pcaspy, needs >= 1x; 0.45x the previous run's 200, needs >= 0.9x")
    # no previous run of this profile: no verdict on that half, but a miss still shows
    assert judge(ahead, wres, "rate", True) == "MISSED: 0.947x pcaspy, needs >= 1x"
    wres["servers"]["pcaspy"]["median"]["rate"] = 60.0
    assert judge(ahead, wres, "rate", True).startswith("? (no previous run")
    # the previous run's figures are iochost's medians, and only of the same profile
    previous = {"meta": {"profile": "full", "date": "D", "iochost_commit": "C"},
                "workloads": {"put": _results({"iochost": {"rate": 7.0},
                                               "rsrv": {"rate": 3.0}})}}
    assert baseline_of(previous, "full") == {"date": "D", "commit": "C",
                                             "figures": {"put": {"rate": 7.0}}}
    assert baseline_of(previous, "quick") is None


def test_peer_servers_do_not_import_iochost():
    """What the peers' server scripts import from benchmarks/ stays clear of iochost: its
    imports (numpy, asyncio, the server) would be charged to every peer's start-up and RSS."""
    code = ("import sys, benchmarks.netenv, benchmarks.pvset\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'iochost'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_micro_circuit_measures_gets_and_puts():
    """benchmarks.micro_circuit (the in-process before/after measure in RESULTS.md) runs:
    every request kind answered, the circuit still open."""
    import asyncio

    from benchmarks.micro_circuit import _measure

    results = asyncio.run(_measure(2))
    assert set(results) == {"get DBR_DOUBLE", "get DBR_TIME_DOUBLE", "put DBR_DOUBLE"}
    assert all(0 < best <= median < 1.0 for best, median in results.values())


def test_micro_circuit_measures_creates_and_searches():
    """Its connect rows: every CREATE_CHAN connects and every search datagram is answered
    (``_measure_connect`` asserts both), timed per channel and per name."""
    import asyncio

    from benchmarks.micro_circuit import _measure_connect

    results = asyncio.run(_measure_connect(2))
    assert set(results) == {"create", "search"}
    assert all(0 < best <= median < 1e-3 for best, median in results.values())


def test_trace_connect_times_a_real_connect():
    """benchmarks.trace_connect (the connect timeline in RESULTS.md): libca connects every
    channel, and the server's searches and circuit reads are counted and timed."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.trace_connect", "500", "--runs",
                           "1", "--timeline", "5"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    run, _, title, *timeline = done.stdout.splitlines()
    assert float(run.split()[2].replace(",", "")) > 0, run   # 0 ch/s: not all connected
    # 500 names in libca's 1,024-byte datagrams of 31: 17 search datagrams in all
    assert "(17 datagrams)" in run, run
    assert title == "timeline of the last run:"
    first = timeline[0].split()
    assert first[0] == "0.00" and first[3] == "search", timeline[0]
    assert any("circuit reads" in line for line in timeline)

"""Profile a server under one workload with py-spy, and print where its time goes:
``python -m benchmarks.profile_server WORKLOAD [--server iochost] [--profile quick] [--runs 3]``.

Starts the server as the harness does, samples it with ``py-spy record`` (raw collapsed
stacks, idle frames excluded) while the workload runs ``--runs`` times, then prints the
functions with the most samples on top of the stack (self) and anywhere in it (total).
Start-up workloads are profiled with cProfile inside the server script instead
(``--startup``).
"""
from __future__ import annotations

import argparse
import collections
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.profiles import PROFILES
from benchmarks.pvset import PVSet
from benchmarks.servers.launch import LOG_DIR, REPO, SERVERS, ServerProcess
from benchmarks.workloads import workloads_for

OUT_DIR = LOG_DIR.parent / "profiles"


def summarize(raw: Path, top: int = 25) -> str:
    """Self and total sample counts per function, and self counts per source line, from
    py-spy's raw (collapsed) output."""
    line_counts: collections.Counter[str] = collections.Counter()
    self_counts: collections.Counter[str] = collections.Counter()
    total_counts: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        samples += n
        line_counts[stack.rsplit(";", 1)[-1].replace(str(REPO) + "/", "")] += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1]
                  + ")" if " (" in f else f for f in stack.split(";")]
        self_counts[frames[-1]] += n
        for frame in set(frames):
            total_counts[frame] += n
    lines = [f"{samples} samples"]
    for title, counts in (("self", self_counts), ("total", total_counts),
                          ("self, per line", line_counts)):
        lines.append(f"\n-- top {top} by {title} --")
        lines += [f"{100 * c / samples:5.1f}%  {f}" for f, c in counts.most_common(top)]
    return "\n".join(lines)


def profile_live(server_key: str, workload_key: str, profile_name: str, runs: int,
                 rate: int = 250) -> Path:
    profile = PROFILES[profile_name]
    w = {w.key: w for w in workloads_for(profile)}[workload_key]
    pvs = w.pvs or PVSet(scalars=profile.scalars, waveform=profile.waveform, display=0)
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise SystemExit(f"error: {py_spy} not found: install the bench extra "
                         "(pip install -e '.[bench]'), which brings py-spy")
    server = ServerProcess.start(server_key, pvs, timeout=profile.startup_timeout)
    server.wait_started()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    raw = OUT_DIR / f"{server_key}-{workload_key}.txt"
    spy = subprocess.Popen([str(py_spy), "record", "--pid",
                            str(server.proc.pid), "--rate", str(rate), "--format", "raw",
                            "--output", str(raw)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)                      # let py-spy attach
        for i in range(runs):
            result = w.run(server, profile)
            print(f"run {i + 1}: {w.metric}={result.get(w.metric)}", file=sys.stderr)
    finally:
        spy.send_signal(signal.SIGINT)       # py-spy writes its output on SIGINT
        spy.wait(30)
        server.stop()
    return raw


def profile_startup(server_key: str, workload_key: str, profile_name: str) -> Path:
    """cProfile the server script from interpreter start to 'searchable' (+1 s)."""
    profile = PROFILES[profile_name]
    w = {w.key: w for w in workloads_for(profile)}[workload_key]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"{server_key}-{workload_key}.pstats"
    module = SERVERS[server_key][0]
    server = ServerProcess.start(server_key, w.pvs, timeout=profile.startup_timeout,
                                 python_args=["-m", "cProfile", "-o", str(out), "-m", module])
    print(f"searchable after {server.searchable_after:.2f} s (under cProfile)", file=sys.stderr)
    time.sleep(1.0)
    server.proc.send_signal(signal.SIGINT)   # cProfile writes its file on a clean exit
    server.proc.wait(30)
    server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload")
    parser.add_argument("--server", default="iochost", choices=sorted(SERVERS))
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--startup", action="store_true")
    args = parser.parse_args()
    if args.startup:
        import pstats
        out = profile_startup(args.server, args.workload, args.profile)
        pstats.Stats(str(out)).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(str(out)).sort_stats("tottime").print_stats(args.top)
    else:
        raw = profile_live(args.server, args.workload, args.profile, args.runs, args.rate)
        print(summarize(raw, args.top))


if __name__ == "__main__":
    main()

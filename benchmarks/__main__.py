"""``python -m benchmarks [--quick] [--servers iochost,caproto,rsrv,pcaspy] [--only KEY,...]``

Runs iochost, caproto's server, RSRV (softioc) and pcaspy (when installed) side by side on
loopback and prints a table of medians and ratios with the targets' verdicts; the full
results go to ``benchmarks/results-<date>.json``. The no-regression targets compare with
``benchmarks/RESULTS.json`` (the committed run), when it ran the same profile.
"""
from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import sys
from pathlib import Path

from benchmarks.cbuild import build_caclient
from benchmarks.netenv import loopback_env
from benchmarks.profiles import PROFILES
from benchmarks.report import (baseline_of, render_client_table, render_errors, render_meta,
                               render_table)
from benchmarks.runner import run_benchmarks
from benchmarks.servers.launch import SERVERS, available_servers
from benchmarks.workloads import missing_clients, workloads_for

HERE = Path(__file__).resolve().parent


def precompile() -> None:
    """Write the bytecode of iochost's and the harness's modules, as installing a wheel
    does: the peers' modules (site-packages) have theirs, and an editable install in an
    environment with PYTHONDONTWRITEBYTECODE (this machine's) would otherwise compile
    every module at every start, ~50 ms of each start-up row."""
    import iochost

    for package in (Path(iochost.__file__).parent, HERE):
        if not compileall.compile_dir(package, quiet=1):
            print(f"benchmarks: could not write the bytecode of {package}; start-up rows "
                  "include compiling it", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="profile", const="quick",
                      help="smaller, single runs (< 2 min)")
    size.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--servers", default=",".join(available_servers()),
                        help=f"comma-separated subset of {','.join(SERVERS)} (default: "
                             "those installed; pcaspy comes with the bench extra)")
    parser.add_argument("--only", help="comma-separated workload keys")
    parser.add_argument("--json", type=Path, help="where to write the results "
                        "(default benchmarks/results-<date>.json)")
    parser.add_argument("--markdown", type=Path,
                        help="also write the table as markdown (for RESULTS.md)")
    parser.add_argument("--baseline", type=Path, default=HERE / "RESULTS.json",
                        help="the previous run the no-regression targets compare with "
                             "(default benchmarks/RESULTS.json; used when its profile is "
                             "this run's)")
    args = parser.parse_args(argv)
    baseline = None
    if args.baseline.exists():
        baseline = baseline_of(json.loads(args.baseline.read_text()), args.profile or "full")
    elif args.baseline != HERE / "RESULTS.json":
        parser.error(f"no such baseline file: {args.baseline}")
    missing = [key for key in SERVERS if key not in available_servers()]
    missing += missing_clients(PROFILES[args.profile or "full"])
    if missing:
        print(f"benchmarks: {', '.join(missing)} not installed (pip install -e '.[bench]'): "
              "run without", file=sys.stderr)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in servers if s not in SERVERS]
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVERS)}")
    # Our own process never talks CA, but keep the environment loopback-only all the same.
    os.environ.update(loopback_env())

    only = set(args.only.split(",")) if args.only else None
    known = {w.key for w in workloads_for(PROFILES[args.profile or "full"])}
    if only and only - known:
        parser.error(f"unknown workload(s) {', '.join(sorted(only - known))}; "
                     f"this profile has {', '.join(sorted(known))}")
    precompile()
    try:
        build_caclient()         # fail before any server starts
    except (RuntimeError, OSError) as exc:
        print(f"benchmarks: cannot build the C client (needs gcc and epicscorelibs): {exc}",
              file=sys.stderr)
        return 2
    try:
        results = run_benchmarks(PROFILES[args.profile or "full"], servers, only,
                                 log=lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("benchmarks: interrupted; the servers have been stopped", file=sys.stderr)
        return 130
    if baseline is not None:
        results["baseline"] = baseline
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.json or HERE / f"results-{stamp}.json"
    out.write_text(json.dumps(results, indent=1))
    text = f"{render_meta(results)}\n\n{render_table(results)}\n"
    client_table = render_client_table(results)
    if client_table:
        text += f"\nClient rows (each client against RSRV):\n\n{client_table}\n"
    errors = render_errors(results)
    if errors:
        text += f"\nFailures:\n\n{errors}\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

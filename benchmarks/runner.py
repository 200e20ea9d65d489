"""Run every workload against every server: servers side by side, runs interleaved.

All servers under test run at once, each on its own loopback port, idle while another is
measured. Each repeat visits the servers in a rotated order, so slow drifts of the
machine's background load spread over all of them; medians are taken per server.
A workload that fails for a server is recorded with its error and not repeated for it.
"""
from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from functools import partial

from benchmarks.clients import ClientError
from benchmarks.profiles import Profile
from benchmarks.pvset import PVSet
from benchmarks.servers.launch import REPO, ServerProcess, ServerStartError
from benchmarks.workloads import Workload, measure_startup, workloads_for

Log = Callable[[str], None]


def _median(runs: list[dict]) -> dict:
    """Per-key median of the numeric (and boolean: all true) values over runs."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    out: dict = {}
    for k in keys:
        values = [r[k] for r in runs if k in r]
        out[k] = all(values) if isinstance(values[0], bool) else statistics.median(values)
    return out


def _rotated(keys: list[str], shift: int) -> list[str]:
    shift %= max(1, len(keys))
    return keys[shift:] + keys[:shift]


def _optional_versions() -> dict[str, str]:
    """Versions of the `bench` extra's packages that are installed."""
    from importlib import metadata

    versions = {}
    for name in ("pcaspy", "aioca"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _meta(profile: Profile, servers: list[str]) -> dict:
    import caproto
    import epics
    import numpy
    import softioc

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "profile": profile.name, "servers": servers,
        "cpu_count": os.cpu_count(), "machine": platform.machine(),
        "cpu_model": _cpu_model(), "python": platform.python_version(),
        "load_avg_start": os.getloadavg(),
        "iochost_commit": _git("rev-parse", "--short", "HEAD"),
        # other engineers edit the shared tree: say whether iochost/ had local changes
        "iochost_uncommitted_files": len(_git("status", "--porcelain", "--", "iochost")
                                         .splitlines()),
        "versions": {"caproto": caproto.__version__, "softioc": softioc.__version__,
                     "pyepics": epics.__version__, "numpy": numpy.__version__,
                     **_optional_versions()},
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                              check=False, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_benchmarks(profile: Profile, server_keys: list[str], only: set[str] | None = None,
                   log: Log = print) -> dict:
    """Run the profile's workloads (or those in `only`) on `server_keys`; the results dict."""
    wls = [w for w in workloads_for(profile) if only is None or w.key in only]
    results: dict = {"meta": _meta(profile, server_keys), "workloads": {}}
    for w in wls:
        results["workloads"][w.key] = {"title": w.title, "metric": w.metric, "unit": w.unit,
                                       "higher_is_better": w.higher_is_better,
                                       "client": w.client, "servers": {}}
    shared = [w for w in wls if w.run is not None and w.pvs is None]
    if shared:
        _run_shared(profile, server_keys, shared, results, log)
    for w in wls:
        if w.pvs is not None:
            _run_own_server(profile, server_keys, w, results, log)
    results["meta"]["load_avg_end"] = os.getloadavg()
    for w in results["workloads"].values():
        for entry in w["servers"].values():
            if entry["runs"]:
                entry["median"] = _median(entry["runs"])
    return results


def _entry(results: dict, wkey: str, skey: str) -> dict:
    return results["workloads"][wkey]["servers"].setdefault(
        skey, {"runs": [], "error": None, "median": None})


def _run_shared(profile: Profile, server_keys: list[str], wls: list[Workload], results: dict,
              log: Log) -> None:
    pvs = PVSet(scalars=profile.scalars, waveform=profile.waveform,
                display=0)
    servers: dict[str, ServerProcess] = {}
    try:
        for key in server_keys:
            log(f"starting {key} ({pvs.scalars:,} scalars, "
                f"{pvs.waveform:,}-element waveform) ...")
            try:
                servers[key] = ServerProcess.start(key, pvs, timeout=profile.startup_timeout)
                servers[key].wait_started()
            except ServerStartError as exc:
                log(f"  {exc}")
                for w in wls:
                    _entry(results, w.key, key)["error"] = str(exc).splitlines()[0]
        for w in wls:
            for rep, key, entry in _schedule(profile, w, list(servers), results):
                _measure(profile, w, key, rep, entry, partial(w.run, servers[key], profile), log)
    finally:
        for server in servers.values():
            server.stop()


def _schedule(profile: Profile, w: Workload, keys: list[str], results: dict):
    """(repeat, server, entry) for each run still wanted: not after a failure, nor after a
    run slower than ``profile.no_repeat_after``."""
    keys = [key for key in keys if w.servers is None or key in w.servers]
    for rep in range(w.repeats or profile.repeats):
        for key in _rotated(keys, rep):
            entry = _entry(results, w.key, key)
            if not entry["error"] and not entry.get("slow"):
                yield rep, key, entry


def _measure(profile: Profile, w: Workload, key: str, rep: int, entry: dict,
             run: Callable[[], dict], log: Log) -> None:
    """One run of `w` on server `key`: its result, or its error, goes into `entry`."""
    t0 = time.monotonic()
    try:
        result = run()
    except (ClientError, ServerStartError) as exc:
        entry["error"] = str(exc).splitlines()[0][:300]
        log(f"{w.key:22s} {key:8s} run {rep + 1}: FAILED {entry['error']}")
        return
    entry["runs"].append(result)
    entry["slow"] = time.monotonic() - t0 > profile.no_repeat_after
    extras = "".join(f", {m}={result[m]:,.3g}" for m in w.extra if m in result)
    log(f"{w.key:22s} {key:8s} run {rep + 1}: {w.metric}={result.get(w.metric, float('nan')):,.1f}"
        f" {w.unit}{extras} ({time.monotonic() - t0:.1f} s)")


def _run_own_server(profile: Profile, server_keys: list[str], w: Workload, results: dict,
                    log: Log) -> None:
    """Runs of `w`, each on a server freshly started with `w.pvs`."""
    def live_run(key: str) -> dict:
        server = ServerProcess.start(key, w.pvs, timeout=profile.startup_timeout)
        try:
            server.wait_started()  # the workload measures serving, not the end of start-up
            return w.run(server, profile)
        finally:
            server.stop()

    for rep, key, entry in _schedule(profile, w, server_keys, results):
        if w.run is None:
            run = partial(measure_startup, key, w.pvs, profile.startup_timeout,
                          profile.startup_settle)
        else:
            run = partial(live_run, key)
        _measure(profile, w, key, rep, entry, run, log)

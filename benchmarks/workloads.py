"""The workloads: what each measures, its headline metric, and the issue's target.

A workload runs against one already-started server (``run(server, profile)``) and returns
its client's result dict; ``startup`` workloads start their own server instead.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.clients import CLIENT_ROW, ClientError, SignalledClient, run_client
from benchmarks.profiles import Profile
from benchmarks.pvset import PVSet
from benchmarks.servers.launch import REPO, ServerProcess


@dataclass(frozen=True)
class Target:
    """The issue's target, stated on its reference day as an absolute figure next to RSRV's
    (or as a ratio to the best of several peers); judged in our run as the same ratio to the
    peers' figures measured here (plus absolute conditions)."""
    text: str
    #: iochost / the best peer must be >= this (<= if lower is better)
    rsrv_ratio: float
    #: (metric, op, value); op ">=" / "<=" on the iochost figure, "ratio<=" on iochost/RSRV
    conditions: tuple[tuple[str, str, float], ...] = ()
    #: the peers the ratio is taken to: the best of those measured (none: conditions only)
    peers: tuple[str, ...] = ("rsrv",)
    #: iochost's headline figure may fall at most this fraction short of the baseline run's
    #: (the previous ``RESULTS.json`` of the same profile); None: no such condition
    max_regression: float | None = None


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    metric: str                 # headline key of the result dict
    unit: str
    higher_is_better: bool
    run: Callable[[ServerProcess, Profile], dict] | None   # None: a start-up workload
    target: Target | None = None
    client: str = "c"
    #: a PV set of its own: each run gets a freshly started server (start-up workloads,
    #: and loads heavy enough to leave a backlog that would skew the next measurement)
    pvs: PVSet | None = None
    extra: tuple[str, ...] = ()  # further metrics shown in the table
    repeats: int | None = None  # overrides the profile's (second opinions run once)
    servers: tuple[str, ...] | None = None  # only against these (client rows: RSRV)


class ServerLoad:
    """The server's CPU use and run-queue wait over a window, in % of one core.

    CPU comes from the process totals (which keep the time of threads that have ended, e.g.
    RSRV's per-client threads).  Run-queue wait exists per live thread only, so a poller
    follows every thread through the window (threads ending lose at most one poll period).
    """
    POLL = 0.05

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self._first = server.run_queue_waits()
        self._last = dict(self._first)
        self._cpu0, self._t0 = server.cpu_seconds(), time.monotonic()
        self._done = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._done.wait(self.POLL):
            self._sample()

    def _sample(self) -> None:
        try:
            self._last.update(self._server.run_queue_waits())
        except OSError:           # the server has exited
            pass

    def stop(self) -> dict:
        self._done.set()
        self._poller.join()
        self._sample()
        wall = time.monotonic() - self._t0
        wait = sum(w - self._first.get(tid, 0.0) for tid, w in self._last.items())
        return {"server_cpu_pct": 100 * (self._server.cpu_seconds() - self._cpu0) / wall,
                "server_wait_pct": 100 * wait / wall}


def _loaded(run: Callable[[ServerProcess, Profile], dict]):
    """Add the server's load over the whole client run (connection phase included)."""
    def measured(server: ServerProcess, profile: Profile) -> dict:
        load = ServerLoad(server)
        result = run(server, profile)
        return {**load.stop(), **result}
    return measured


def _connect(n: int, client: str = "c"):
    def run(server: ServerProcess, profile: Profile) -> dict:
        return run_client(client, "connect", [server.pvs.scalar_pattern, n, 60],
                          server.client_env, timeout=90)
    return run


def _ops(mode: str, client: str = "c"):
    def run(server: ServerProcess, profile: Profile) -> dict:
        args = [server.pvs.scalar_pattern, profile.outstanding, profile.op_seconds, 10**9]
        return run_client(client, mode, args, server.client_env,
                          timeout=profile.op_seconds + 120)
    return run


def _waveform(client: str = "c"):
    def run(server: ServerProcess, profile: Profile) -> dict:
        return run_client(client, "waveform", [server.pvs.control("WF"), profile.op_seconds,
                                               10**6], server.client_env,
                          timeout=profile.op_seconds + 90)
    return run


def _trigger(server: ServerProcess, name: str, value: float) -> None:
    # Generous: a server may still be busy with another client's searches.
    result = run_client("c", "trigger", [server.pvs.control(name), value, 60],
                        server.client_env, 90)
    if result.get("status") != "Normal successful completion":   # ca_message(ECA_NORMAL)
        raise ClientError(f"put of {value} to {name} failed: {result.get('status')}")


class WebBrowser:
    """``benchmarks.webclient``: the mount page's traffic (pvws stream of FAST and COUNT,
    /api/host once a second) for ``seconds``, in a process of its own."""

    def __init__(self, server: ServerProcess, seconds: float) -> None:
        url = server.web_url()
        if url is None:
            raise ClientError(f"{server.key} serves no web page")
        pvs = ",".join((server.pvs.control("FAST"), server.pvs.control("COUNT")))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.webclient", url, pvs, str(seconds)],
            cwd=REPO, env=server.client_env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "READY":
            self.kill()
            raise ClientError(f"web client did not start: {line.strip()!r}")

    def result(self, timeout: float) -> dict:
        out, _ = self.proc.communicate(timeout=timeout)
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _monitor(subscribers: int, with_web_page: Callable[..., WebBrowser] | None = None):
    """`subscribers` processes each subscribe to FAST; the server posts flat out;
    `with_web_page(server, seconds)`, when given, has a browser streaming them meanwhile."""
    def run(server: ServerProcess, profile: Profile) -> dict:
        wait = profile.post_seconds + 20
        clients = [SignalledClient("monitor", [server.pvs.control("FAST"),
                                               server.pvs.control("COUNT"), wait,
                                               profile.late_timeout], server.client_env)
                   for _ in range(subscribers)]
        browser = None
        web: dict = {}
        try:
            for c in clients:
                c.wait_ready()
            if with_web_page is not None:
                browser = with_web_page(server, profile.post_seconds + 4)
            load = ServerLoad(server)
            for c in clients:
                c.start()
            _trigger(server, "GO", profile.post_seconds)
            results = [c.result(timeout=wait + profile.late_timeout + 10) for c in clients]
            server_load = load.stop()
            if browser is not None:
                web = browser.result(timeout=profile.post_seconds + 15)
        finally:
            for c in clients:
                c.kill()
            if browser is not None:
                browser.kill()
        all_final = all(r["final_delivered"] for r in results)
        diagnosis = {} if all_final else {"diagnosis": _diagnosis(server, clients)}
        return {
            "subscribers": subscribers,
            "posted": results[0]["posted"],
            "posted_per_s": results[0]["posted_per_s"],
            "delivered_per_s": sum(r["delivered_per_s"] for r in results),
            "delivered_pct": 100 * min(r["fraction"] for r in results),
            "final_delivered": all_final,
            "final_late_ms": max(r["final_late_ms"] for r in results) if all_final else -1.0,
            **server_load,
            **web,
            "per_subscriber": results,
            **diagnosis,
        }
    return run


def _diagnosis(server: ServerProcess, clients: Sequence[SignalledClient]) -> str:
    """For a run that received nothing: the server's log (the poster logs each run)
    and what the clients' libca printed."""
    log = server.log_path.read_text(errors="replace")[-1500:]
    said = "\n".join(f"client {i}: {c.stderr_tail() or '(nothing)'}"
                     for i, c in enumerate(clients))
    return f"server log {server.log_path} ends:\n{log}\n{said}"


def _client_monitor(client: str):
    """One subscriber process of `client` on FAST while the server posts flat out."""
    def run(server: ServerProcess, profile: Profile) -> dict:
        wait = profile.post_seconds + 20
        subscriber = SignalledClient("monitor", [server.pvs.control("FAST"),
                                                 server.pvs.control("COUNT"), wait,
                                                 profile.late_timeout], server.client_env,
                                     client=CLIENT_ROW + client)
        try:
            subscriber.wait_ready()
            subscriber.start()
            _trigger(server, "GO", profile.post_seconds)
            return subscriber.result(timeout=wait + profile.late_timeout + 10)
        finally:
            subscriber.kill()
    return run


#: The client rows' jobs: (key, title, metric, unit).
CLIENT_JOBS = (("connect", "connect 1,000 channels", "rate", "ch/s"),
               ("get", "1,000 outstanding gets", "rate", "gets/s"),
               ("monitor", "monitor updates received, server posting flat out",
                "delivered_per_s", "upd/s"))


#: client rows whose package may be missing (the `bench` extra): left out, said in one line
OPTIONAL_CLIENTS = {"aioca": "aioca"}


def missing_clients(profile: Profile) -> list[str]:
    """The profile's client rows whose package is not installed."""
    import importlib.util

    return [c for c in profile.client_rows
            if c in OPTIONAL_CLIENTS and importlib.util.find_spec(OPTIONAL_CLIENTS[c]) is None]


def client_workloads(profile: Profile) -> list[Workload]:
    """The client rows: each client of ``profile.client_rows`` (installed) against RSRV."""
    wls = []
    missing = missing_clients(profile)
    for client in (c for c in profile.client_rows if c not in missing):
        tag = CLIENT_ROW + client
        runs = {"connect": _connect(1000, tag), "get": _ops("get", tag),
                "monitor": _client_monitor(client)}
        for job, title, metric, unit in CLIENT_JOBS:
            wls.append(Workload(f"client_{job}_{client}", f"{title} [{client}]", metric, unit,
                                True, runs[job], client=tag, servers=("rsrv",),
                                extra=("delivered_pct",) if job == "monitor" else ()))
    return wls


def _display(server: ServerProcess, profile: Profile) -> dict:
    """display_clients circuits each watching display_pvs PVs the server updates at 10 Hz."""
    n_pv = min(profile.display_pvs, server.pvs.display)
    client = SignalledClient("display", [server.pvs.display_pattern, n_pv,
                                         profile.display_clients, profile.display_seconds,
                                         profile.display_connect_timeout], server.client_env)
    try:
        client.wait_ready()
        _trigger(server, "DISPLAY", 1)
        load = ServerLoad(server)
        client.start()
        result = client.result(timeout=profile.display_seconds + 30)
        server_load = load.stop()
    finally:
        client.kill()
        _trigger(server, "DISPLAY", 0)
    expected = result["connected"] * server.pvs.display_hz * result["seconds"]
    # "gaps": updates the server provably skipped (holes in a PV's counter sequence);
    # "lost": every update not delivered in the window (skipped, coalesced or still queued).
    result["gaps"] = result.pop("lost")
    result.update(expected=expected, lost=max(0.0, expected - result["delivered"]),
                  all_connected=result["connected"] == n_pv * profile.display_clients,
                  delivered_pct=100 * result["delivered"] / expected if expected else 0.0,
                  **server_load)
    if not result["delivered"]:
        result["diagnosis"] = _diagnosis(server, [client])
    return result


def _stay_ahead(also: str = "",
                conditions: tuple[tuple[str, str, float], ...] = ()) -> Target:
    """Issue 12's target for the rows where iochost already led: still ahead of every peer
    measured, and no more than 10 % below the previous run's figure."""
    return Target(f"stay ahead of every peer{also} (issue 12)",
                  1.0, conditions, peers=("rsrv", "pcaspy", "caproto"), max_regression=0.10)


def workloads_for(profile: Profile) -> list[Workload]:
    """The workloads of a profile, in run order."""
    wls: list[Workload] = []
    fastest = Target(">= the faster of RSRV and pcaspy (issue 12)", 1.0,
                     peers=("rsrv", "pcaspy"))
    for n in profile.connect_counts:
        every = "all of " if n == profile.scalars else ""   # the server has no more
        wls.append(Workload(f"connect_{n}", f"connect {every}{n:,} channels", "rate", "ch/s",
                            True, _loaded(_connect(n)), fastest,
                            extra=("server_cpu_pct", "server_wait_pct")))
    for n in profile.connect_all:
        # "connect all N": a server of its own with N scalars (caproto, at ~1,000 ch/s
        # under libca's pacing, would take minutes and is left out)
        wls.append(Workload(f"connect_all_{n}", f"connect all of {n:,} channels", "rate",
                            "ch/s", True, _loaded(_connect(n)), fastest,
                            pvs=PVSet(scalars=n, waveform=0, display=0, controls=False),
                            servers=("iochost", "rsrv", "pcaspy"),
                            extra=("server_cpu_pct", "server_wait_pct")))
    n = profile.outstanding
    wls += [
        Workload("get", f"scalar gets, {n} outstanding", "rate", "gets/s", True,
                 _loaded(_ops("get")), Target(">= 0.5x RSRV (issue 12)", 0.5),
                 extra=("server_cpu_pct", "server_wait_pct")),
        Workload("put", f"puts with completion, {n} outstanding", "rate", "puts/s", True,
                 _loaded(_ops("put")), _stay_ahead(),
                 extra=("server_cpu_pct", "server_wait_pct")),
    ]
    monitor_targets = {
        1: _stay_ahead(", 100 %, final < 10 ms late",
                       (("delivered_pct", ">=", 99.99), ("final_delivered", ">=", 1),
                        ("final_late_ms", "<=", 10.0))),
        10: _stay_ahead(", final always delivered", (("final_delivered", ">=", 1),)),
    }
    for s in profile.subscribers:
        wls.append(Workload(f"monitor_{s}", f"monitor, {s} subscriber{'s' * (s > 1)}, "
                            "server posting flat out", "delivered_per_s", "upd/s", True,
                            _monitor(s), monitor_targets.get(s),
                            extra=("delivered_pct", "final_late_ms", "posted_per_s",
                                   "server_cpu_pct", "server_wait_pct")))
    if 10 in profile.subscribers:
        # The same row with the web page open and streaming FAST (pvws) beside the CA
        # subscribers: the page must cost CA clients no more than 5 % (RESULTS.md).
        wls.append(Workload("monitor_10_web", "monitor, 10 subscribers, web page open and "
                            "streaming", "delivered_per_s", "upd/s", True,
                            _monitor(10, WebBrowser), servers=("iochost",),
                            extra=("delivered_pct", "final_late_ms", "posted_per_s",
                                   "web_updates", "server_cpu_pct", "server_wait_pct")))
    wls.append(Workload("waveform", f"{profile.waveform:,}-double waveform read", "mb_per_s",
                        "MB/s", True, _loaded(_waveform()),
                        _stay_ahead(),
                        extra=("server_cpu_pct", "server_wait_pct")))
    wls.append(Workload("display", f"display load: {profile.display_clients} clients x "
                        f"{profile.display_pvs} PVs at 10 Hz", "delivered_per_s", "upd/s", True,
                        _display, pvs=PVSet(scalars=0, waveform=0, display=profile.display_pvs),
                        target=Target("100 % delivered, none older than 200 ms (issue 12)",
                                      0.0, (("delivered_pct", ">=", 99.99),
                                            ("max_age_ms", "<=", 200.0)), peers=()),
                        extra=("connected", "delivered_pct", "lost", "gaps", "max_age_ms",
                               "stale", "server_cpu_pct", "server_wait_pct")))
    if profile.second_opinion:
        for client in ("pyepics", "caproto"):
            wls.append(Workload(f"connect_1000_{client}", f"connect 1,000 channels [{client}]",
                                "rate", "ch/s", True, _connect(1000, client), client=client,
                                repeats=1))
            wls.append(Workload(f"get_{client}", f"scalar gets, {n} outstanding [{client}]",
                                "rate", "gets/s", True, _ops("get", client), client=client,
                                repeats=1))
        wls.append(Workload("waveform_pyepics", "waveform read [pyepics]", "mb_per_s", "MB/s",
                            True, _waveform("pyepics"), client="pyepics", repeats=1))
    wls += client_workloads(profile)
    # an earlier issue's targets for the bare-channel rows, kept for comparison
    startup_targets = {10_000: Target("earlier issue: <= 0.3 s (RSRV 3.46)", 0.3 / 3.46),
                       100_000: Target("earlier issue: <= 1.5 s / <= 150 MB (RSRV 22.7 s / "
                                       "675 MB)", 1.5 / 22.7,
                                       (("rss_mb", "ratio<=", 150 / 675),))}
    # the headline start-up rows: the IOC as users write it (then the bare-channel ones)
    for count in profile.startup_pvproperties:
        wls.append(Workload(
            f"startup_pvproperty_{count}", f"PVGroup of {count:,} pvproperties: start-up",
            "seconds", "s", False, None,
            Target("<= pcaspy's time (issue 12)" + (", <= 150 MB" if count >= 100_000 else ""),
                   1.0, (("rss_mb", "<=", 150.0),) if count >= 100_000 else (),
                   peers=("pcaspy",)),
            pvs=PVSet(scalars=0, pvproperties=count, waveform=0, display=0, controls=False),
            extra=("rss_mb",)))
    if profile.startup_pvproperties:
        wls.append(Workload(
            "startup_pvproperty_waveform", "1,000 pvproperties + a 1,000,000-double waveform: "
            "start-up", "seconds", "s", False, None,
            Target("idle RSS <= 40 MB (issue 12)", 0.0, (("rss_mb", "<=", 40.0),), peers=()),
            pvs=PVSet(scalars=0, pvproperties=1000, waveform=1_000_000, display=0,
                      controls=False),
            extra=("rss_mb",)))
    for count in profile.startup_scalars:
        wls.append(Workload(f"startup_{count}", f"{count:,} bare scalar PVs: start-up",
                            "seconds", "s", False, None, startup_targets.get(count),
                            pvs=PVSet(scalars=count, waveform=0, display=0, controls=False),
                            extra=("rss_mb",)))
    if profile.startup_ai_records:
        count = profile.startup_ai_records
        wls.append(Workload(f"startup_ai_{count}", f"{count:,} ai records: start-up",
                            "seconds", "s", False, None,
                            pvs=PVSet(scalars=0, ai_records=count, waveform=0, display=0,
                                      controls=False),
                            extra=("rss_mb",)))
    return wls


def measure_startup(key: str, pvs: PVSet, timeout: float, settle: float = 1.0) -> dict:
    """Start a server with `pvs`: seconds from spawn to searchable, and idle RSS after `settle`."""
    server = ServerProcess.start(key, pvs, timeout=timeout)
    try:
        time.sleep(settle)
        return {"seconds": server.searchable_after, "rss_mb": server.rss_bytes() / 1e6}
    finally:
        server.stop()

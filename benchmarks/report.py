"""Results -> a table with iochost's ratio to each peer (caproto, RSRV, pcaspy), and target
verdicts."""
from __future__ import annotations

import math

from benchmarks.profiles import PROFILES
from benchmarks.servers.launch import OPTIONAL, SERVERS
from benchmarks.workloads import CLIENT_JOBS, Target, workloads_for

_UNITS = {"delivered_pct": "%", "final_late_ms": "ms", "posted_per_s": "posted/s",
          "server_cpu_pct": "% of a core", "server_wait_pct": "% of a core",
          "lost": "updates", "gaps": "updates",
          "connected": "channels", "rss_mb": "MB", "web_updates": "pvws updates",
          "max_age_ms": "ms", "stale": "updates > 200 ms old"}


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _value(wres: dict, server: str, metric: str) -> float | None:
    entry = wres["servers"].get(server)
    if not entry or not entry.get("median"):
        return None
    return entry["median"].get(metric)


def _spread(entry: dict | None, metric: str) -> str:
    """' (min-max)' of the runs behind a median, when there are several."""
    values = [r[metric] for r in (entry or {}).get("runs", []) if metric in r]
    if len(values) < 2:
        return ""
    return f" ({_fmt(min(values))}-{_fmt(max(values))})"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or a < 0 or b < 0:
        return None
    return a / b


_LABELS = {"rsrv": "RSRV", "caproto": "caproto", "pcaspy": "pcaspy"}


def baseline_of(previous: dict, profile: str) -> dict | None:
    """The figures a later run's "no regression" targets compare with: iochost's medians
    of a previous results dict (``RESULTS.json``), when it ran the same profile."""
    meta = previous.get("meta", {})
    if meta.get("profile") != profile:
        return None
    figures = {key: dict(median) for key, wres in previous.get("workloads", {}).items()
               if (median := (wres["servers"].get("iochost") or {}).get("median"))}
    return {"date": meta.get("date", "?"), "commit": meta.get("iochost_commit", "?"),
            "figures": figures}


def _baseline_value(results: dict, wkey: str, metric: str) -> float | None:
    return (results.get("baseline") or {}).get("figures", {}).get(wkey, {}).get(metric)


def _regression_bound(max_regression: float, higher_is_better: bool) -> float:
    """The least (or, lower being better, the most) ratio to the previous run allowed."""
    return 1 - max_regression if higher_is_better else 1 + max_regression


def judge(target: Target, wres: dict, metric: str, higher_is_better: bool,
          baseline: float | None = None) -> str:
    """'met', 'MISSED: <what fails>', or '?' when iochost's figure or every peer's of the
    target is missing. The ratio is to the best of the target's peers that were measured;
    `baseline` is iochost's figure in the previous run, for ``target.max_regression``."""
    ours = _value(wres, "iochost", metric)
    if ours is None:
        return "?"
    misses = []
    unknown = ""
    if target.peers:
        measured = {p: v for p in target.peers if (v := _value(wres, p, metric)) is not None}
        if not measured:
            return "?"
        best = (max if higher_is_better else min)(measured, key=measured.__getitem__)
        r = _ratio(ours, measured[best])
        if r is None:
            return "?"
        if (r < target.rsrv_ratio) if higher_is_better else (r > target.rsrv_ratio):
            misses.append(f"{r:.3g}x {_LABELS.get(best, best)}, needs "
                          f"{'>=' if higher_is_better else '<='} {target.rsrv_ratio:.3g}x")
    if target.max_regression is not None:
        floor = _regression_bound(target.max_regression, higher_is_better)
        r = _ratio(ours, baseline)
        if r is None:
            unknown = "? (no previous run of this profile to compare with)"
        elif (r < floor) if higher_is_better else (r > floor):
            misses.append(f"{r:.3g}x the previous run's {_fmt(baseline)}, needs "
                          f"{'>=' if higher_is_better else '<='} {floor:.3g}x")
    for m, op, limit in target.conditions:
        v = _value(wres, "iochost", m)
        if op.startswith("ratio"):
            v, op = _ratio(v, _value(wres, "rsrv", m)), op[5:]
        if v is None or (v < limit if op == ">=" else v > limit):
            misses.append(f"{m} {_fmt(v)} {op} {_fmt(limit)} fails")
    if misses:
        return "MISSED: " + "; ".join(misses)
    return unknown or "met"


def _target_cell(target: Target | None, baseline: float | None,
                 higher_is_better: bool) -> str:
    if target is None:
        return ""
    cell = target.text
    if target.peers:
        cell += f": {target.rsrv_ratio:.3g}x"
    if target.max_regression is not None:
        bound = (f"{'>=' if higher_is_better else '<='} "
                 f"{_regression_bound(target.max_regression, higher_is_better):.3g}x")
        cell += (f"; {bound} the previous run's "
                 f"{_fmt(baseline) if baseline is not None else '(none)'}")
    return cell


def render_table(results: dict) -> str:
    """A markdown table of the medians (with the range over runs), the ratios of the
    medians, and the target verdicts."""
    profile = PROFILES[results["meta"]["profile"]]
    wl_defs = {w.key: w for w in workloads_for(profile)}
    # every server's column (a "-" where it did not run), but an optional one only when it ran
    ran = results["meta"].get("servers", [])
    shown = [s for s in SERVERS if s not in OPTIONAL or s in ran]
    peers = [s for s in shown if s != "iochost"]
    head = ["workload", "unit", *(SERVERS[s][1] for s in shown),
            *(f"iochost/{_LABELS.get(p, p)}" for p in peers), "target (ratio)", "verdict"]
    rows = [head, ["---"] * len(head)]
    for key, wres in results["workloads"].items():
        if key.startswith("client_"):
            continue  # render_client_table
        w = wl_defs.get(key)
        metrics = [wres["metric"]] + list(w.extra if w else ())
        for i, metric in enumerate(metrics):
            vals = {s: _value(wres, s, metric) for s in SERVERS}
            cells = []
            for s in shown:
                entry = wres["servers"].get(s)
                if entry and entry.get("error") and vals[s] is None:
                    cells.append("failed")
                else:
                    cells.append(_fmt(vals[s]) + (_spread(entry, metric) if i == 0 else ""))
            ratios = [_fmt(_ratio(vals["iochost"], vals[p])) + ("x" if _ratio(
                vals["iochost"], vals[p]) is not None else "") for p in peers]
            if i == 0:
                title = wres["title"]
                unit = wres["unit"] + ("" if wres["higher_is_better"] else " (lower is better)")
                target = w.target if w else None
                baseline = _baseline_value(results, key, metric)
                tcell = _target_cell(target, baseline, wres["higher_is_better"])
                verdict = (judge(target, wres, metric, wres["higher_is_better"], baseline)
                           if target else "")
            else:
                title, unit = f"&nbsp;&nbsp;{metric}", _UNITS.get(metric, "")
                tcell = verdict = ""
            rows.append([title, unit, *cells, *ratios, tcell, verdict])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


#: The issue's client targets: iochost's client ahead of these on every row ...
CLIENT_AHEAD_OF = ("aioca", "caproto-asyncio")
#: ... and within this factor of pyepics (libca) on gets.
PYEPICS_GET_FACTOR = 2.0


def client_verdict(job: str, figures: dict[str, float | None]) -> str:
    """'met' or 'MISSED: ...' for iochost's client on one job, or '?' without its figure."""
    ours = figures.get("iochost")
    if ours is None:
        return "?"
    misses = [f"behind {peer} ({_fmt(ours)} < {_fmt(figures[peer])})"
              for peer in CLIENT_AHEAD_OF
              if figures.get(peer) is not None and ours < figures[peer]]  # type: ignore[operator]
    libca = figures.get("pyepics")
    if job == "get" and libca is not None and ours * PYEPICS_GET_FACTOR < libca:
        misses.append(f"{_fmt(libca / ours)}x slower than pyepics (allowed "
                      f"{PYEPICS_GET_FACTOR:g}x)")
    return "met" if not misses else "MISSED: " + "; ".join(misses)


def render_client_table(results: dict) -> str:
    """The client rows (each client against RSRV): one row per job, one column per client,
    iochost's ratio to each, and the verdict (ahead of aioca and caproto's asyncio client;
    gets within 2x of pyepics). Empty when the run had no client rows."""
    clients = list(dict.fromkeys(
        key.split("_", 2)[2] for key in results["workloads"] if key.startswith("client_")))
    if not clients:
        return ""
    peers = [c for c in clients if c != "iochost"]
    head = ["client job (against RSRV)", "unit", *clients,
            *(f"iochost/{p}" for p in peers), "target", "verdict"]
    rows = [head, ["---"] * len(head)]
    for job, title, metric, unit in CLIENT_JOBS:
        figures: dict[str, float | None] = {}
        cells = []
        for client in clients:
            wres = results["workloads"].get(f"client_{job}_{client}")
            entry = (wres or {}).get("servers", {}).get("rsrv")
            figures[client] = _value(wres, "rsrv", metric) if wres else None
            failed = entry and entry.get("error") and figures[client] is None
            cells.append("failed" if failed else
                         _fmt(figures[client]) + _spread(entry, metric))
        ratios = [_fmt(r) + "x" if (r := _ratio(figures.get("iochost"), figures[p]))
                  is not None else "-" for p in peers]
        target = "ahead of aioca and caproto-asyncio" + \
            (f"; within {PYEPICS_GET_FACTOR:g}x of pyepics" if job == "get" else "")
        rows.append([title, unit, *cells, *ratios, target, client_verdict(job, figures)])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def render_errors(results: dict) -> str:
    lines = []
    for key, wres in results["workloads"].items():
        for server, entry in wres["servers"].items():
            if entry.get("error"):
                lines.append(f"- {key} / {server}: {entry['error']}")
    return "\n".join(lines)


def render_meta(results: dict) -> str:
    m = results["meta"]
    base = results.get("baseline")
    previous = (f" - previous run (for the no-regression targets): {base['date']}, iochost "
                f"{base['commit']}" if base else "")
    return (f"{m['date']} - iochost {m.get('iochost_commit', '?')}"
            f" ({m.get('iochost_uncommitted_files', '?')} uncommitted files under iochost/)"
            f" - profile `{m['profile']}` - {m['cpu_count']} cores ({m['cpu_model']})"
            f" - load average {m['load_avg_start'][0]:.2f} at start, "
            f"{m.get('load_avg_end', [float('nan')])[0]:.2f} at end - Python {m['python']}, "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + previous)

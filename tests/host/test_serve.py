"""``iochost serve`` as a real process: the demo config with pyepics, signals, refusals.

The child serves on ``IOCHOST_TEST_SUBPROCESS_PORT`` (clients search it too, see
tests/conftest.py) and is stopped by its PID.
"""
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from iochost.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "hostconfig" / "demo.yaml"
STARTUP_TIMEOUT = 20.0




def serve(args, tmp_path, **env):
    """Start ``iochost serve`` with the subprocess port; output goes to files."""
    child_env = dict(os.environ, EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"],
                     **env)
    out_path, err_path = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:  # the child keeps its copies
        proc = subprocess.Popen([sys.executable, "-m", "iochost.cli", "serve",
                                 *map(str, args)], env=child_env, stdout=out, stderr=err,
                                cwd=ROOT)
    proc.out_path, proc.err_path = out_path, err_path
    return proc


def stop(proc, signum=signal.SIGINT):
    """Signal the child by PID; return its exit status (killed if it hangs)."""
    if proc.poll() is None:
        os.kill(proc.pid, signum)
    try:
        return proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
        raise


@pytest.fixture
def processes():
    started = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_demo_config_serves_every_mount_and_stops_cleanly(pyepics, tmp_path, processes):
    proc = serve([DEMO, "--list-pvs"], tmp_path, XDG_STATE_HOME=str(tmp_path / "state"))
    processes.append(proc)
    caget, caput = pyepics.caget, pyepics.caput
    # search only once it serves: a search made earlier falls into libca's retry back-off
    assert wait_until(lambda: "host 'demo' serving" in proc.err_path.read_text() or
                    proc.poll() is not None, STARTUP_TIMEOUT)
    first = pyepics.PV("DEMO:A:SIMPLE:A")
    assert first.wait_for_connection(5), proc.err_path.read_text()
    # each mount of each example IOC, read and written through EPICS' own client library
    for area in "AB":
        assert caget(f"DEMO:{area}:SIMPLE:B") == 2.0
    assert caput("DEMO:B:SIMPLE:A", 42, wait=True, timeout=5) == 1
    assert caget("DEMO:B:SIMPLE:A", use_monitor=False) == 42
    assert caget("DEMO:A:SIMPLE:A", use_monitor=False) == 1          # the twin is untouched
    for beamline, motor, value in (("BL1", "motor1", 5), ("BL2", "motor7", 9)):
        assert caput(f"DEMO:{beamline}:{motor}.VAL", value, wait=True, timeout=5) == 1
        readback = f"DEMO:{beamline}:{motor}.RBV"
        assert wait_until(lambda pv=readback, v=value: caget(pv, use_monitor=False) == v, 5)
    for speed in ("FAST", "SLOW"):
        assert caput(f"DEMO:DECAY:{speed}:SP", 50.0, wait=True, timeout=5) == 1
        assert caget(f"DEMO:DECAY:{speed}:I") is not None
    for walker in "12":
        assert caput(f"DEMO:WALK:{walker}:dt", 0.5, wait=True, timeout=5) == 1
        assert caget(f"DEMO:WALK:{walker}:dt", use_monitor=False) == 0.5
        assert caget(f"DEMO:WALK:{walker}:x") is not None
    assert caget("DEMO:HOOKS:startup_done", as_string=True) == "On"
    assert caput("DEMO:HOOKS:thing", 7, wait=True, timeout=5) == 1
    assert caget("DEMO:HOOKS:thing", use_monitor=False) == 7
    assert caget("DEMO:BL:current.RTYP") == "ai"                    # records and their fields
    assert caget("DEMO:BL:current.EGU") == "mA"
    assert caput("DEMO:BL:centre.DESC", "pinhole centre", wait=True, timeout=5) == 1
    assert caget("DEMO:BL:centre.DESC", use_monitor=False) == "pinhole centre"
    # the demo-mirror mount: the demo's own PVs again, read in process, puts passed through
    assert wait_until(lambda: caget("DEMO:MIRROR:A:SIMPLE:A", use_monitor=False) == 1, 5)
    assert caput("DEMO:MIRROR:A:SIMPLE:B", 7.5, wait=True, timeout=5) == 1
    assert caget("DEMO:A:SIMPLE:B", use_monitor=False) == 7.5
    assert caget("DEMO:HOST:MOUNTS") == 11    # not the built-in _host, _iocstats, _autosave
    # --list-pvs names what the mounts' IOCs serve, the built-in mounts' too (host status,
    # iocStats, autosave status); a mount's helpers add theirs when serving (STATS:*)
    listed = proc.out_path.read_text().split()
    assert len(listed) == len(set(listed))
    assert {"DEMO:HOST:MOUNT:spare:STATE", "DEMO:IOC:UPTIME", "DEMO:AS:SR_status"} <= set(listed)
    assert caget("DEMO:IOC:CA_CLNT_CNT.HIHI") == 175.0
    assert caget("DEMO:IOC:HEARTBEAT") >= 0
    assert wait_until(lambda: [caget(f"DEMO:AS:SR_{i}_Name", as_string=True, use_monitor=False)
                               for i in (0, 1)] == ["_iocstats/iocstats",  # built-ins first
                                                    "simple-b/auto_settings"], 5)
    assert caget("DEMO:BL:STATS:PV_CNT") > 0 and "DEMO:BL:STATS:PV_CNT" not in listed
    assert caget("DEMO:HOST:PVS") > len(listed)
    assert caget("DEMO:HOST:MOUNT:spare:STATE", as_string=True) == "disabled"

    first.disconnect()
    assert stop(proc, signal.SIGINT) == 0
    log = proc.err_path.read_text()
    assert "shutdown hook of DEMO:HOOKS:thing called (value 7)" in log   # its shutdown hook ran
    # the reporting lines: the server's first line counts no PVs before anything is
    # mounted; the status mount counts what it serves (7 figures + 12 STATE PVs); the
    # shutdown line names the signal
    server_line = next(line for line in log.splitlines() if "CA server on" in line)
    assert "PVs" not in server_line
    assert "[mount _host] iochost-status mounted: 21 PVs under 'DEMO:HOST:'" in log
    assert "SIGINT received: shutting down" in log
    assert "host 'demo' stopped" in log and "Traceback" not in log
    saved = tmp_path / "state" / "iochost" / "demo" / "autosave" / "simple-b" / \
        "auto_settings.sav"
    assert "\nA 42\n" in saved.read_text()           # autosave wrote at the clean shutdown


def test_sigterm_runs_shutdown_hooks_and_exits_0(plugin_site_dir, tmp_path, processes):
    config = tmp_path / "host.yaml"
    config.write_text(
        "host: {name: sig, status_prefix: null}\n"
        "mounts:\n"
        f"  - {{name: a, ioc: test-counter, prefix: 'SIG{os.getpid()}:A:',"
        " options: {start: 4}, helpers: {test-recorder: {tag: h}}}\n")
    events = tmp_path / "events.log"
    proc = serve([config, "--list-pvs"], tmp_path, **plugin_site_dir.env,
                 IOCHOST_TESTGOOD_LOG=str(events), IOCHOST_DISABLE_PLUGINS="broken-import")
    processes.append(proc)
    assert wait_until(lambda: (events.exists() and "host-started 1" in events.read_text()) or
                    proc.poll() is not None, STARTUP_TIMEOUT), proc.err_path.read_text()
    # IOCHOST_WEB_LISTEN=127.0.0.1:0 (the test session's): the log names the port chosen
    url = re.search(r"web page on (http://127\.0\.0\.1:[1-9][0-9]*/)", proc.err_path.read_text())
    assert url is not None
    # the page is built, and iochost_web_routes called, when the first browser connects
    assert "web-routes" not in events.read_text()
    with urllib.request.urlopen(url[1] + "plugins/testgood/hello", timeout=10) as reply:
        assert reply.read() == b"hello from testgood"
    assert stop(proc, signal.SIGTERM) == 0
    prefix = f"SIG{os.getpid()}:A:"
    lines = events.read_text().splitlines()
    started, stopped = lines[:5], lines[5:]
    # the IOC's startup hook runs as a task: its place among the start-up events may vary
    assert set(started[:4]) == {"mounted a", f"ioc-startup {prefix}", "helper-start a h",
                                "host-started 1"}
    assert started.index("helper-start a h") < started.index("mounted a") < \
        started.index("host-started 1")
    assert started[4] == "web-routes"
    assert stopped == ["host-stopping", f"ioc-shutdown {prefix} 4", "helper-stop a h",
                       "unmounted a"]
    assert proc.out_path.read_text().split() == [f"{prefix}COUNT", f"{prefix}STEP",
                                                 f"{prefix}LABEL"]


def test_a_second_stop_signal_lets_the_shutdown_finish(plugin_site_dir, tmp_path, processes):
    """SIGTERM again (or Ctrl-C twice) while the shutdown hooks run: they finish, exit 0.
    Before, the handlers were gone by then: a second SIGTERM killed the process (143, no
    shutdown hook, no last autosave) and a second Ctrl-C skipped the rest with exit 0."""
    config = tmp_path / "host.yaml"
    config.write_text(
        "host: {name: sig2, status_prefix: null}\n"
        "mounts:\n"
        f"  - {{name: a, ioc: test-counter, prefix: 'SIGB{os.getpid()}:A:',"
        " options: {start: 4}}\n")
    events = tmp_path / "events.log"
    proc = serve([config], tmp_path, **plugin_site_dir.env,
                 IOCHOST_TESTGOOD_LOG=str(events), IOCHOST_DISABLE_PLUGINS="broken-import",
                 IOCHOST_TESTGOOD_SHUTDOWN_S="1.0")
    processes.append(proc)
    assert wait_until(lambda: (events.exists() and "host-started 1" in events.read_text()) or
                      proc.poll() is not None, STARTUP_TIMEOUT), proc.err_path.read_text()
    proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: "host-stopping" in events.read_text(), 10)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(20) == 0, proc.err_path.read_text()
    assert f"ioc-shutdown SIGB{os.getpid()}:A: 4" in events.read_text()
    log = proc.err_path.read_text()
    assert "SIGTERM received again while shutting down: finishing the shutdown" in log
    assert "SIGINT received again while shutting down" in log


def test_serve_refuses_a_config_needing_a_broken_plugin(plugin_site_dir, tmp_path):
    config = tmp_path / "host.yaml"
    config.write_text("mounts:\n  - {name: d, ioc: doomed}\n")
    env = dict(os.environ, **plugin_site_dir.env,
               EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    proc = subprocess.run([sys.executable, "-m", "iochost.cli", "serve", str(config)],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert f"{config}:2: mounts[0].ioc: mount 'd': IOC 'doomed' is provided by plugin " \
           "'broken-registration', which failed to load" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


"""EPICS' own Channel Access regression test, ``acctst``, against our server.

acctst (EPICS base, ``modules/ca/src/client``) drives libca against one PV: searches and
connects (blocking, with callbacks, with channels that never connect), gets and puts of
every DBR type, put callbacks, subscriptions created and cleared while updates stream,
exceptions (a read of DBR_PUT_ACKT must fail), arrays, time stamps, priorities, beacons
that keep a quiet circuit's watchdog from expiring, context rundown.  Its source comes from
the epicscorelibs sdist on PyPI -- the EPICS base of the libca the tests already use -- and
is built with gcc into ``build/acctst/``.

Three changes before building, so that it runs unattended and within the suite's time: its
interactive disconnect test (it waits for someone to restart the IOC) is left out, the
four longest loops run fewer rounds, and the accuracy of the client's own ca_pend_event
timer is printed, not asserted (``LEFT_OUT``).  Every check of the server stays.  The full
test passes too (about 200 s; softIoc 170 s).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from softioc_process import free_port

from iochost import PVGroup, pvproperty
from iochost.testing import ServerThread

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="acctst needs gcc")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:   # benchmarks/ is not installed: it runs from the repository root
    sys.path.insert(0, str(REPO))
from benchmarks.cbuild import compile_with_libca  # noqa: E402

SOURCES = ("acctst.c", "acctstMain.c", "caDiagnostics.h")
#: (function, its loop as written, the loop run here)
FEWER_ROUNDS = [
    ("verifyContextRundownFlush", "i < 1000;", "i < 100;"),
    ("channelClearWithEventTrafficTest", "i < 1000;", "i < 100;"),
    ("multiSubscrDestroyNoLateCallbackThread", "i < 10000;", "i < 1000;"),
    ("singleSubscriptionDeleteTest", "i < 1000;", "i < 300;"),
]
#: (line, what it becomes): the interactive disconnect test waits for someone to restart
#: the IOC; pend_event_delay_test's check times the client's own ca_pend_event sleep, which
#: on a loaded machine is 10 % late -- EPICS' assert then suspends acctst for good.
LEFT_OUT = [
    ("    verifyDisconnect ( pName, interestLevel );", "    /* verifyDisconnect: interactive */"),
    ("    verify ( fabs(accuracy) < 10.0 );", "    /* client timer accuracy: printed only */"),
]
#: Bump when _patched changes: the binary is built once per epicscorelibs release and patch.
PATCH = "p2"


def _patched(source: str) -> str:
    for line, comment in LEFT_OUT:
        assert line in source, f"acctst changed: {line.strip()!r} is not where it was"
        source = source.replace(line, comment)
    for function, loop, fewer in FEWER_ROUNDS:
        start = source.index(f"void {function} (")
        at = source.index(loop, start)
        source = source[:at] + fewer + source[at + len(loop):]
    return source


@pytest.fixture(scope="module")
def acctst() -> Path:
    """The acctst binary, built once per epicscorelibs version and PATCH."""
    release = version("epicscorelibs")
    home = REPO / "build" / "acctst" / f"{release}-{PATCH}"
    binary = home / "acctst"
    if binary.exists():
        return binary
    home.mkdir(parents=True, exist_ok=True)
    # The suite's one download, from the package index as an install fetches: neither
    # offline (conftest's PIP_NO_INDEX) nor under the loopback guard (it refuses the index)
    env = {name: value for name, value in os.environ.items()
           if name not in ("PIP_NO_INDEX", "LD_PRELOAD")}
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         f"epicscorelibs=={release}", "-d", str(home)],
        capture_output=True, text=True, timeout=300, check=False, env=env)
    assert download.returncode == 0, f"fetching the EPICS base source failed:\n{download.stderr}"
    (sdist,) = home.glob("epicscorelibs-*.tar.gz")
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if name in SOURCES and "/modules/ca/src/client/" in member.name:
                data = archive.extractfile(member).read().decode()
                if name == "acctst.c":
                    data = _patched(data)
                (home / name).write_text(data)
    compile_with_libca(binary, [home / "acctst.c", home / "acctstMain.c"], home)
    return binary


class Target(PVGroup):
    ao = pvproperty(value=0.0, record="ao", precision=3)
    wf = pvproperty(value=np.zeros(1000), record="waveform", max_length=1000)


def test_acctst_passes_on_a_scalar_and_an_array(acctst, tmp_path):
    """Both runs at once, one server: a scalar ao and a 1,000-element waveform."""
    port = free_port()
    env = {**os.environ, "EPICS_CA_SERVER_PORT": str(port)}
    logs = {field: tmp_path / f"{field}.log" for field in ("ao", "wf")}

    def start(field: str) -> subprocess.Popen:
        with logs[field].open("w") as out:        # the child keeps its own copy
            return subprocess.Popen([str(acctst), f"ACCTST:{field}", "1", "20", "1"], env=env,
                                    stdout=out, stderr=subprocess.STDOUT)

    with ServerThread(Target(prefix="ACCTST:").pvdb, port=port):
        runs = {field: start(field) for field in logs}
        try:
            for field, run in runs.items():
                try:   # about 80 s each, both at once
                    run.wait(timeout=420)
                except subprocess.TimeoutExpired:   # show where it stopped
                    pytest.fail(f"acctst {field} still running after 420 s; its output "
                                f"ends:\n{logs[field].read_text()[-3000:]}")
        finally:
            for run in runs.values():
                if run.poll() is None:
                    run.kill()
    outputs = {field: log.read_text() for field, log in logs.items()}
    for field, output in outputs.items():
        assert runs[field].returncode == 0 and "Test Complete" in output, output[-3000:]
        count = "1000" if field == "wf" else "1"
        assert f"native count was {count}" in output, output[-3000:]

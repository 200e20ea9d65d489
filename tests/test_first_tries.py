"""A new user's first tries: ``python -m iochost``, ``iochost serve --demo`` from any
directory, and every example in the verbs' ``--help`` run as written (from a directory
that is not the source tree)."""
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from iochost.cli import VERBS
from iochost.testing import wait_until

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT = 30.0


def user_env(**extra: str) -> dict[str, str]:
    """The loopback environment, the venv's scripts first on PATH, serving on the port
    this session's subprocess servers use."""
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"], **extra)


def test_python_dash_m_iochost_is_the_iochost_command(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "iochost", "check", "--demo"], cwd=tmp_path,
                          env=user_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(r".*demo\.yaml: OK \(11 of 12 mounts enabled, \d+ PVs\)\n", proc.stdout)
    version = subprocess.run([sys.executable, "-m", "iochost", "--version"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("iochost 0.")


def test_config_or_demo_is_required_exactly_once(tmp_path):
    for args in (["check"], ["check", "--demo", "x.yaml"]):
        proc = subprocess.run([sys.executable, "-m", "iochost", *args], cwd=tmp_path,
                              env=user_env(), capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2
        assert "check: give a CONFIG file or --demo (one of them)" in proc.stderr


def start(command: str, cwd: Path, err_path: Path) -> subprocess.Popen:
    with open(err_path, "w") as err:
        # bash runs a lone simple command by exec, so the signal reaches iochost itself
        return subprocess.Popen(command, shell=True, executable="/bin/bash", cwd=cwd,
                                env=user_env(), stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)


def serving(proc: subprocess.Popen, err_path: Path) -> bool:
    return "serving" in err_path.read_text() or proc.poll() is not None


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)   # our own session: the shell and its iochost
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
        raise


def test_serve_demo_from_anywhere_serves_the_shipped_config(tmp_path, caproto_context):
    err_path = tmp_path / "serve.err"
    proc = start(f"{shlex.quote(sys.executable)} -m iochost serve --demo", tmp_path, err_path)
    try:
        assert wait_until(lambda: serving(proc, err_path), STARTUP_TIMEOUT), \
            err_path.read_text()
        assert proc.poll() is None, err_path.read_text()
        pv, = caproto_context.get_pvs("DEMO:A:SIMPLE:A", timeout=10)
        assert pv.read(timeout=10).data[0] == 1
    finally:
        assert stop(proc) == 0, err_path.read_text()


#: Verbs whose examples read the demo's PVs: tests/client/test_client_verbs.py runs them against
#: a served demo.
CLIENT_VERBS = ("get", "info", "put", "monitor")


def help_examples(verbs=None) -> list[tuple[str, str]]:
    """(verb, command line) of every example in the help of ``verbs`` (default: all but
    the client verbs)."""
    found = []
    for verb, (_, epilog) in VERBS.items():
        if (verb in CLIENT_VERBS) if verbs is None else (verb not in verbs):
            continue
        for line in epilog.splitlines():
            if line.startswith("  ") and "iochost " in line:
                found.append((verb, line.strip()))
    return found


@pytest.mark.parametrize("verb, command", help_examples(),
                         ids=[command for _, command in help_examples()])
def test_every_help_example_works_as_written_from_any_directory(tmp_path, verb, command):
    # A user's own config named in an example: a copy of the demo stands in for it.
    (tmp_path / "site.yaml").write_text((ROOT / "hostconfig" / "demo.yaml").read_text())
    command = command.replace("EPICS_CAS_SERVER_PORT=5070",        # the session's port
                              f"EPICS_CAS_SERVER_PORT={os.environ['IOCHOST_TEST_SUBPROCESS_PORT']}")
    # caproto's autosave file of a user migrating the demo's simple-b mount
    (tmp_path / "autosave.json").write_text('{"DEMO:B:SIMPLE:A": {"value": 5, "fields": {}}}')
    err_path = tmp_path / "err"
    if command.endswith("&"):            # a set-up step for the examples after it
        return
    if verb == "reload":                 # the example's own set-up line serves site.yaml
        setup = next(line for v, line in help_examples() if v == verb and line.endswith("&"))
        proc = start(setup.rstrip("& "), tmp_path, err_path)
        try:
            assert wait_until(lambda: serving(proc, err_path), STARTUP_TIMEOUT), \
                err_path.read_text()
            reload = subprocess.run(command, shell=True, cwd=tmp_path, env=user_env(),
                                    capture_output=True, text=True, timeout=60)
            assert reload.returncode == 0, reload.stderr
            assert wait_until(lambda: "reload of" in err_path.read_text(), 20)
            assert "site.yaml applied: no mount changed" in err_path.read_text()
        finally:
            assert stop(proc) == 0, err_path.read_text()
        return
    if verb == "serve":
        proc = start(command, tmp_path, err_path)
        try:
            assert wait_until(lambda: serving(proc, err_path), STARTUP_TIMEOUT), \
                err_path.read_text()
            assert proc.poll() is None, err_path.read_text()
        finally:
            assert stop(proc) == 0, err_path.read_text()
        return
    proc = subprocess.run(command, shell=True, cwd=tmp_path, env=user_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() or (tmp_path / "hostconfig.schema.json").stat().st_size > 100


#: the one log line format of iochost.logs (text): time, level, logger, message
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) +"
                      r"[\w.]+: .+")


def test_a_standalone_ioc_logs_like_the_host(tmp_path):
    err_path = tmp_path / "ioc.err"
    proc = start(f"{shlex.quote(sys.executable)} -m iochost_examples.simple "
                 f"--prefix FMT{os.getpid()}: --interfaces 127.0.0.1", tmp_path, err_path)
    try:
        assert wait_until(lambda: "CA server on" in err_path.read_text() or
                          proc.poll() is not None, STARTUP_TIMEOUT), err_path.read_text()
    finally:
        assert stop(proc) == 0, err_path.read_text()
    lines = [line for line in err_path.read_text().splitlines() if line.strip()]
    assert lines and all(LOG_LINE.fullmatch(line) for line in lines), lines

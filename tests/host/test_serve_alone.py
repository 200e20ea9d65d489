"""A host never silently shares what it should own: a second CA server on the same port is
detected at start-up (a WARNING by default, a refusal with ``ca.exclusive``), and a config
already served by another iochost process is refused (its lock file); a lock left by a dead
process does not count."""
import os
import signal
import subprocess
import sys

import pytest

from iochost.host.lockfile import ConfigLock, ConfigLocked, lock_path
from iochost.testing import wait_until

STARTUP_TIMEOUT = 30.0


def write_config(tmp_path, name, prefix, exclusive=False):
    path = tmp_path / f"{name}.yaml"
    ca = "ca: {exclusive: true}\n" if exclusive else ""
    path.write_text(f"host: {{name: {name}, status_prefix: null}}\n{ca}"
                    f"mounts:\n  - {{name: s, ioc: simple, prefix: '{prefix}'}}\n")
    return path


@pytest.fixture
def serve(tmp_path):
    """``serve(config, *args) -> Popen`` on this session's subprocess port; stopped after."""
    started = []
    env = dict(os.environ, EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"],
               RUNTIME_DIRECTORY=str(tmp_path / "run"))

    def start(config, *args):
        err = tmp_path / f"{config.stem}-{len(started)}.err"
        with open(err, "w") as stream:
            proc = subprocess.Popen([sys.executable, "-m", "iochost", "serve", str(config),
                                     *args], env=env, stdout=subprocess.DEVNULL, stderr=stream)
        proc.err_path = err
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def serving(proc):
    return " serving " in proc.err_path.read_text() or proc.poll() is not None


def test_a_second_host_on_the_port_warns_what_breaks_and_what_to_do(tmp_path, serve):
    first = serve(write_config(tmp_path, "first", f"ALONE{os.getpid()}:A:"))
    assert wait_until(lambda: serving(first), STARTUP_TIMEOUT), first.err_path.read_text()
    second = serve(write_config(tmp_path, "second", f"ALONE{os.getpid()}:B:"))
    assert wait_until(lambda: serving(second), STARTUP_TIMEOUT), second.err_path.read_text()
    assert second.poll() is None                      # it serves on, warned
    log = second.err_path.read_text()
    warning = next(line for line in log.splitlines() if "another CA server" in line)
    assert "WARNING" in warning
    assert "reaches only one server per host and port" in warning     # what breaks
    assert "EPICS_CAS_SERVER_PORT" in warning and "EPICS_CA_NAME_SERVERS" in warning
    assert "another CA server" not in first.err_path.read_text()


@pytest.mark.parametrize("how", ["config", "flag"])
def test_exclusive_refuses_to_share_the_port_with_one_line(tmp_path, serve, how):
    first = serve(write_config(tmp_path, "first", f"EXCL{os.getpid()}:A:"))
    assert wait_until(lambda: serving(first), STARTUP_TIMEOUT), first.err_path.read_text()
    second = serve(write_config(tmp_path, "second", f"EXCL{os.getpid()}:B:",
                                exclusive=how == "config"),
                   *(["--exclusive"] if how == "flag" else []))
    assert second.wait(STARTUP_TIMEOUT) == 1
    errors = [line for line in second.err_path.read_text().splitlines()
              if line.startswith("error:")]
    assert errors == [f"error: another CA server already serves port "
                      f"{os.environ['IOCHOST_TEST_SUBPROCESS_PORT']} on this machine and "
                      "ca.exclusive is set: not starting (give this host its own "
                      "EPICS_CAS_SERVER_PORT)"]
    assert "Traceback" not in second.err_path.read_text()
    assert first.poll() is None


def test_a_config_already_served_is_refused(tmp_path, serve):
    config = write_config(tmp_path, "twice", f"TWICE{os.getpid()}:")
    first = serve(config)
    assert wait_until(lambda: serving(first), STARTUP_TIMEOUT), first.err_path.read_text()
    second = serve(config)
    assert second.wait(STARTUP_TIMEOUT) == 1
    assert second.err_path.read_text().strip() == (
        f"error: {config} is already served by iochost process {first.pid} (lock "
        f"{lock_path(config, {'RUNTIME_DIRECTORY': str(tmp_path / 'run')})}); stop it "
        "first, or serve a copy under another name")


def test_a_lock_left_by_a_dead_process_is_ignored(tmp_path):
    config = write_config(tmp_path, "stale", "STALE:")
    environ = {"RUNTIME_DIRECTORY": str(tmp_path / "run")}
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path = lock_path(config, environ)
    path.parent.mkdir(parents=True)
    path.write_text(dead.stdout)                      # what a killed host leaves behind
    with ConfigLock(config, environ):
        assert path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(ConfigLocked, match=f"iochost process {os.getpid()} "):
            ConfigLock(config, environ).acquire()
    with ConfigLock(config, environ):                 # released on exit
        pass

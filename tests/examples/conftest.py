"""Fixtures for the example-IOC tests: the framework tests' helpers (mount a PVGroup in the
session's server, a caproto client), and a runner for examples as subprocesses."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "pv"))
from test_group_helpers import TIMEOUT, Client, client, mount, wait_until

__all__ = ["Client", "client", "mount", "wait_until", "TIMEOUT"]


class ExampleProcess:
    """``python -m iochost_examples.<name> ...`` on the subprocess port, stopped by PID."""

    def __init__(self, name: str, *args: str, port: int | None = None):
        self.port = port or int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
        env = dict(os.environ, EPICS_CAS_SERVER_PORT=str(self.port), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"iochost_examples.{name}", *args],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=env, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def wait_for_log(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged; log so far:\n{self.log}")
            time.sleep(0.02)

    def wait_until_serving(self, timeout: float = 20.0) -> None:
        """Return once the IOC has bound its UDP (search) port, which it does last.

        Its TCP port may differ from ours: when that one is busy the server falls back to an
        ephemeral port, as RSRV does, and its search replies say so.
        """
        process = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + timeout
        while not any(conn.laddr and conn.laddr.port == self.port
                      for conn in process.net_connections(kind="udp")):
            if self.proc.poll() is not None:
                raise AssertionError(f"the IOC exited with {self.proc.returncode}:\n{self.log}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the IOC is not serving; log so far:\n{self.log}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code


@pytest.fixture
def run_example():
    """``run_example(name, *args, port=None)``: start an example IOC as a subprocess (on the
    session's subprocess port unless ``port`` is given) and return once it serves (at once
    with ``wait=False``); it is
    killed at teardown, by PID, if the test did not stop it."""
    started: list[ExampleProcess] = []

    def start(name: str, *args: str, port: int | None = None,
              wait: bool = True) -> ExampleProcess:
        process = ExampleProcess(name, *args, port=port)
        started.append(process)
        if wait:
            process.wait_until_serving()
        return process

    yield start
    for process in started:
        process.stop(signal.SIGKILL)

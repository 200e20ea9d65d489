"""Start a server under test as a child process on a private loopback port, and measure it."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks.netenv import ca_env, free_port
from benchmarks.probe import wait_searchable
from benchmarks.pvset import PVSet

REPO = Path(__file__).resolve().parents[2]
LOG_DIR = REPO / "benchmarks" / "build" / "logs"

#: server key -> (module run with ``python -m``, label in tables)
SERVERS: dict[str, tuple[str, str]] = {
    "iochost": ("benchmarks.servers.serve_iochost", "iochost"),
    "caproto": ("benchmarks.servers.serve_caproto", "caproto"),
    "rsrv": ("benchmarks.servers.serve_softioc", "RSRV (softioc)"),
    "pcaspy": ("benchmarks.servers.serve_pcaspy", "pcaspy"),
}
#: servers whose package may be missing (the `bench` extra): left out, said in one line
OPTIONAL = {"pcaspy": "pcaspy"}


def available_servers() -> list[str]:
    """The servers whose packages are installed."""
    import importlib.util

    return [key for key in SERVERS
            if key not in OPTIONAL or importlib.util.find_spec(OPTIONAL[key]) is not None]


class ServerStartError(RuntimeError):
    """The server died or did not answer a search in time; the message says which and why."""


@dataclass
class ServerProcess:
    key: str
    pvs: PVSet
    port: int
    repeater_port: int
    proc: subprocess.Popen
    log_path: Path
    spawned_at: float
    searchable_after: float = float("nan")     # seconds from spawn to first search answer
    _ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self._ps = psutil.Process(self.proc.pid)

    @classmethod
    def start(cls, key: str, pvs: PVSet, timeout: float = 120.0,
              python_args: list[str] | None = None) -> ServerProcess:
        """Spawn server `key` serving `pvs`; return once it answers a search for the last PV.

        `python_args` replaces ``-m <server module>`` (e.g. to run it under cProfile)."""
        module, _ = SERVERS[key]
        port, repeater = free_port(), free_port()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_path = LOG_DIR / f"{key}-{port}.log"
        with open(log_path, "wb") as log:
            spawned = time.monotonic()
            proc = subprocess.Popen([sys.executable, *(python_args or ["-m", module]),
                                     pvs.to_json()], cwd=REPO,
                                    env=ca_env(port, repeater), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)
        server = cls(key, pvs, port, repeater, proc, log_path, spawned)
        deadline = spawned + timeout
        while True:
            answered = wait_searchable(pvs.last_name(), port, timeout=0.5)
            if answered is not None:
                server.searchable_after = answered - spawned
                return server
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                tail = log_path.read_text(errors="replace")[-2000:]
                why = (f"exited with {proc.returncode}" if proc.returncode is not None
                       else f"not searchable after {timeout:.0f} s")
                raise ServerStartError(f"{key} server {why}; log {log_path}:\n{tail}")

    @property
    def label(self) -> str:
        return SERVERS[self.key][1]

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for a client process that must talk to this server only."""
        return ca_env(self.port, self.repeater_port)

    def cpu_seconds(self) -> float:
        """User + system CPU of the whole process, threads that have ended included."""
        t = self._ps.cpu_times()
        return t.user + t.system

    def run_queue_waits(self) -> dict[int, float]:
        """Seconds each live thread has spent runnable but waiting for a CPU (Linux
        ``/proc/<pid>/task/*/schedstat``): tells a server starved by the machine's other
        load from one limited by its own code."""
        waits = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                waits[int(task.name)] = int((task / "schedstat").read_text().split()[1]) / 1e9
            except (OSError, IndexError, ValueError):   # a thread that just ended
                continue
        return waits

    def web_url(self) -> str | None:
        """The web page's URL, when the server printed one (``web URL`` in its log)."""
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("web http://"):
                return line.split()[1]
        return None

    def wait_started(self, timeout: float = 60.0) -> None:
        """Return once the server has finished starting: searchable is not the end of it
        for iochost, whose script (as a host does) imports and starts its web page after
        Channel Access serves -- ~0.3 s of CPU that a workload run at once would share."""
        if self.key != "iochost":
            return
        deadline = time.monotonic() + timeout
        while self.web_url() is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ServerStartError(f"{self.key} server did not start its web page; "
                                       f"log {self.log_path}")
            time.sleep(0.02)

    def rss_bytes(self) -> int:
        return self._ps.memory_info().rss

    def stop(self) -> None:
        """Terminate our child (by its PID), then kill it if it lingers."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

"""A serving process raises its open-file limit: started with a soft limit of 64 (as
systems start processes with 1,024), a standalone IOC still serves 150 client circuits at
once (before, libuv closed the circuits beyond the limit as soon as they came); and one
that cannot raise it warns, with what to do, before it refuses clients."""
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from ca_raw_client import RawCircuit, udp_search
from softioc_process import free_port

from iochost.ca import commands as ca
from iochost.server.process import OPEN_FILES_WANTED

CIRCUITS = 150
SOFT_LIMIT = 64


def _low_soft_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE,
                       (SOFT_LIMIT, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def _standalone_ioc(name: str, limits) -> tuple[subprocess.Popen, int]:
    """A standalone IOC (``iochost.run``) serving ``name`` = 1.5, started with ``limits``
    applied; it prints the soft limit it started with, and is searchable on return."""
    port = free_port()
    env = dict(os.environ, EPICS_CAS_SERVER_PORT=str(port), EPICS_CA_SERVER_PORT=str(port))
    code = ("import resource; from iochost import run; "
            "from iochost.pv.data import ChannelDouble; "
            "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], flush=True); "
            f"run({{{name!r}: ChannelDouble(value=1.5)}}, interfaces=['127.0.0.1'])")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, preexec_fn=limits,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while not udp_search(port, [name], timeout=0.2):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"the IOC did not serve: {proc.communicate()[0]}")
    return proc, port


def test_a_standalone_ioc_serves_more_circuits_than_its_starting_soft_limit(unique_prefix):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard == resource.RLIM_INFINITY or hard > CIRCUITS + 50, "hard limit too low here"
    proc, port = _standalone_ioc(unique_prefix + "X", _low_soft_limit)
    circuits: list[RawCircuit] = []
    try:
        assert int(proc.stdout.readline()) == SOFT_LIMIT  # what it was started with
        for _ in range(CIRCUITS):
            circuits.append(RawCircuit(port, timeout=5))
            sid = circuits[-1].create_channel(unique_prefix + "X")[1].sid
            reply = circuits[-1].read(sid, 6)
            assert isinstance(reply, ca.ReadNotifyResponse) and reply.payload[:8] == \
                b"?\xf8" + bytes(6)   # 1.5
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        limit = int(limits.split("Max open files")[1].split()[0])
        assert limit == (OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY
                         else min(hard, OPEN_FILES_WANTED))
    finally:
        for circuit in circuits:
            circuit.close()
        proc.terminate()
        proc.wait(10)


def _hard_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return apply


def test_nearing_the_open_file_limit_is_logged_with_what_to_do(unique_prefix):
    # a hard limit of 96 that the process cannot raise: libuv refuses the circuits beyond
    # it by closing them at once, without a word; the server warns before that happens
    proc, port = _standalone_ioc(unique_prefix + "X", _hard_limit(96))
    circuits: list[RawCircuit] = []
    try:
        for _ in range(96):
            try:
                circuits.append(RawCircuit(port, timeout=2))
            except OSError:       # refused (closed at once): the limit is reached
                break
        assert len(circuits) < 96
    finally:
        for circuit in circuits:
            circuit.close()
        proc.terminate()
        log = proc.communicate(timeout=10)[0]
    warnings = [line for line in log.splitlines() if "files this process may open" in line]
    assert len(warnings) == 1, log
    assert "of the 96 files" in warnings[0] and "LimitNOFILE=" in warnings[0]

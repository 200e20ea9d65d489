"""A serving process raises its open-file limit: started with a soft limit of 64 (as
systems start processes with 1,024), a standalone IOC still serves 150 client circuits at
once (before, the ~60th waited forever in the listen queue)."""
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


def test_a_standalone_ioc_serves_more_circuits_than_its_starting_soft_limit(unique_prefix):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert hard == resource.RLIM_INFINITY or hard > CIRCUITS + 50, "hard limit too low here"
    port = free_port()
    env = dict(os.environ, EPICS_CAS_SERVER_PORT=str(port), EPICS_CA_SERVER_PORT=str(port))
    code = ("import resource, sys; from iochost import run; "
            "from iochost.pv.data import ChannelDouble; "
            "print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], flush=True); "
            f"run({{{unique_prefix + 'X'!r}: ChannelDouble(value=1.5)}}, "
            "interfaces=['127.0.0.1'])")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, preexec_fn=_low_soft_limit,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    circuits: list[RawCircuit] = []
    try:
        assert int(proc.stdout.readline()) == SOFT_LIMIT  # what it was started with
        deadline = time.monotonic() + 20
        while not udp_search(port, [unique_prefix + "X"], timeout=0.2):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
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

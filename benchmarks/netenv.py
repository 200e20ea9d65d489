"""Loopback-only Channel Access environments and private ports for every process we start.

CA broadcasts by default and other engineers run servers on this machine, so every server
and client process the harness starts gets the loopback variables and a port pair of its
own (never 5064/5065).
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket

# Every server process imports this module (die_with_parent), the peers' too: it must not
# import iochost, whose imports (numpy, asyncio, the server) would be charged to every
# peer's start-up time and RSS. iochost.testing is imported where the environment is built.

#: 1e6 DOUBLEs are 8 MB; libca and RSRV refuse arrays above EPICS_CA_MAX_ARRAY_BYTES.
MAX_ARRAY_BYTES = "20000000"

_handed_out: set[int] = set()


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1, not handed out before by this process."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        if port not in _handed_out and port not in (5064, 5065):
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def loopback_env() -> dict[str, str]:
    """The loopback-only CA variables (one copy: the test suite's)."""
    from iochost.testing import LOOPBACK_ENV

    return dict(LOOPBACK_ENV)


def ca_env(server_port: int, repeater_port: int) -> dict[str, str]:
    """The complete environment for a server or client talking on `server_port`, loopback only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_")}
    env.update(loopback_env())
    env.update({
        "EPICS_CA_ADDR_LIST": f"127.0.0.1:{server_port}",
        "EPICS_CA_SERVER_PORT": str(server_port),
        "EPICS_CAS_SERVER_PORT": str(server_port),
        "EPICS_CA_REPEATER_PORT": str(repeater_port),
        "EPICS_CAS_BEACON_PORT": str(repeater_port),
        "EPICS_CA_MAX_ARRAY_BYTES": MAX_ARRAY_BYTES,
        "PYTHONUNBUFFERED": "1",
    })
    return env


def die_with_parent() -> None:
    """Called first thing by every child process of the harness: have the kernel SIGTERM
    this process when the harness dies, however it dies, so that no server is left
    listening on this shared machine (Linux ``PR_SET_PDEATHSIG``)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass

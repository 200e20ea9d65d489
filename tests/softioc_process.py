"""softioc (EPICS' own IOC: EPICS base with its CA server, RSRV) in a subprocess, on loopback.

The oracle tests compare our server with RSRV. softioc must never be imported into the test
process (see tests/conftest.py), so it runs as a child that loads a database, prints READY,
and serves until its stdin closes::

    with running_softioc('record(ai, "X:AI") { field(VAL, "1.5") }') as port:
        ...  # RSRV answers searches on 127.0.0.1:port (UDP) and circuits via the search reply

Also used by ``tests/records/softioc_reference.py`` run as a script, outside pytest.
"""
from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iochost.testing import LOOPBACK_ENV

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0

# No PV Access server: it would broadcast outside the CA variables' reach. The dispatcher
# runs record callbacks inline, as no asyncio or cothread loop runs in the child.
_IOC_SCRIPT = textwrap.dedent("""
    import sys
    from softioc import imports, softioc
    if len(sys.argv) > 2:  # an access security file, read by iocInit (asDbLib)
        imports.dbCore.asSetFilename(sys.argv[2].encode())
    softioc.dbLoadDatabase(sys.argv[1])
    softioc.iocInit(dispatcher=lambda f, *args: f(*args), enable_pva=False)
    exec(sys.stdin.readline().encode().decode("unicode_escape"))  # running_softioc's setup
    print("READY", flush=True)
    sys.stdin.read()
    softioc.epicsExit(0)
""")


#: ports free_port handed out in this process: two softIocs started at once (from threads)
#: must not be given the same free port (the second would serve on an ephemeral one)
_GIVEN: set[int] = set()
_GIVING = threading.Lock()


def free_port() -> int:
    """A port free for both UDP (searches) and TCP (circuits) on 127.0.0.1 at this moment,
    and not handed out before in this process."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            with _GIVING:
                if port in _GIVEN:
                    continue
                _GIVEN.add(port)
            return port
    raise RuntimeError("no free port on 127.0.0.1")


@contextmanager
def running_softioc(database: str, port: int | None = None,
                    extra_env: dict[str, str] | None = None,
                    acf: str | None = None, setup: str = "") -> Iterator[int]:
    """softioc serving the records of ``database`` (.db text) on 127.0.0.1:``port`` (a free
    one by default) until the block ends, with ``extra_env`` (say
    ``EPICS_CA_AUTO_ARRAY_BYTES``) in its environment and the access security rules
    ``acf`` (ACF text) when given, and ``setup`` (Python code run after iocInit, with
    pythonSoftIOC's ``imports`` at hand) before it serves; yields the port."""
    port = free_port() if port is None else port
    with tempfile.TemporaryDirectory(prefix="softioc-") as workdir:
        db = Path(workdir) / "ioc.db"
        db.write_text(database)
        args = [str(db)]
        if acf is not None:
            rules = Path(workdir) / "ioc.acf"
            rules.write_text(acf, encoding="utf-8")
            args.append(str(rules))
        # LOOPBACK_ENV again: a script (softioc_reference) may not have set it.
        env = dict(os.environ, **LOOPBACK_ENV, EPICS_CAS_SERVER_PORT=str(port),
                   EPICS_CA_SERVER_PORT=str(port), **(extra_env or {}))
        proc = subprocess.Popen([sys.executable, "-c", _IOC_SCRIPT, *args], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        proc.stdin.write(setup.encode("unicode_escape") + b"\n")
        try:
            _wait_ready(proc)
            yield port
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(proc: subprocess.Popen) -> None:
    """Return once the child printed READY (after iocInit's banner); raise with its output
    if it exits first or stays silent for STARTUP_TIMEOUT seconds."""
    fd = proc.stdout.fileno()
    output = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while b"READY\n" not in output:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise RuntimeError(f"softioc printed no READY in {STARTUP_TIMEOUT:.0f} s:\n"
                               + _tail(output))
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"softioc exited (code {proc.wait()}) before READY:\n"
                               + _tail(output))
        output += chunk


def _tail(output: bytes) -> str:
    return output.decode(errors="replace")[-2000:]

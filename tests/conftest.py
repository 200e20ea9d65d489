"""Session-wide test set-up.

Channel Access broadcasts searches and beacons by default.  Before anything imports a CA
library (pyepics/libca, caproto, softioc, or our own server), force every CA peer in this
process -- and every subprocess it starts, which inherits the environment -- onto loopback.

Each pytest session also gets its own ports, so two sessions on one machine never answer
each other:

* ``EPICS_CA_SERVER_PORT`` / ``EPICS_CAS_SERVER_PORT`` (``IOCHOST_TEST_PORT``): servers run
  inside the test process (``iochost.testing.ServerThread``) listen here;
* ``IOCHOST_TEST_SUBPROCESS_PORT``: servers a test starts as a subprocess (``iochost serve``,
  caproto, softioc) listen here -- give the child ``EPICS_CAS_SERVER_PORT`` = this port;
* clients search both, because ``EPICS_CA_ADDR_LIST`` names 127.0.0.1 on each port.

Never import ``softioc`` (or load epicscorelibs' shared libraries) in the test process: its
copy of EPICS base clashes with pyepics' libca and silently breaks pyepics subscriptions for
the rest of the session. Run softioc in a subprocess.
"""
import importlib.util
import os
import random
import socket
import tempfile

from hypothesis import HealthCheck, settings

# Property tests must not flake on a loaded 2-core machine: no per-example deadline, and a
# fixed seed so CI sees the same examples every run.
settings.register_profile("iochost", deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("iochost")


def _free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 at this moment.

    Drawn below Linux's ephemeral range (32768+), so that no client socket of this machine
    is later given the same number as its local port.
    """
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                    socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port on 127.0.0.1")


# Deliberately a copy of iochost.testing.LOOPBACK_ENV: the safety net must not depend on the
# package under test importing cleanly (tests/test_package.py checks the two agree).
LOOPBACK_ENV = {
    "EPICS_CA_AUTO_ADDR_LIST": "NO",
    "EPICS_CA_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
    "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
    "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
}

os.environ.update(LOOPBACK_ENV)
# Autosave's default directory is under $XDG_STATE_HOME: no test (nor a subprocess it
# starts, such as 'iochost serve --demo') may write into the user's own state directory.
if "IOCHOST_TEST_STATE_HOME" not in os.environ:
    os.environ["IOCHOST_TEST_STATE_HOME"] = tempfile.mkdtemp(prefix="iochost-test-state-")
os.environ["XDG_STATE_HOME"] = os.environ["IOCHOST_TEST_STATE_HOME"]
if "IOCHOST_TEST_PORT" not in os.environ:  # inherited by subprocesses and xdist workers
    os.environ["IOCHOST_TEST_PORT"] = str(_free_port())
    os.environ["IOCHOST_TEST_SUBPROCESS_PORT"] = str(_free_port())
    os.environ["IOCHOST_TEST_REPEATER_PORT"] = str(_free_port())
_port = os.environ["IOCHOST_TEST_PORT"]
_subprocess_port = os.environ["IOCHOST_TEST_SUBPROCESS_PORT"]
_repeater = os.environ["IOCHOST_TEST_REPEATER_PORT"]
os.environ.update({
    "EPICS_CA_ADDR_LIST": f"127.0.0.1 127.0.0.1:{_subprocess_port}",
    "EPICS_CA_SERVER_PORT": _port,
    "EPICS_CAS_SERVER_PORT": _port,
    "EPICS_CA_REPEATER_PORT": _repeater,
    "EPICS_CAS_BEACON_PORT": _repeater,
    # 1e6-element DOUBLE arrays are 8 MB; libca's default limit is 16 kB.
    "EPICS_CA_MAX_ARRAY_BYTES": "100000000",
    "EPICS_CA_CONN_TMO": "30",
    # Every host a test starts serves its web page on a free loopback port, never 8080.
    "IOCHOST_WEB_LISTEN": "127.0.0.1:0",
    # Every pip a test runs (a doc's 'pip install -e ...', a new plugin's round trip) stays
    # offline: no index, and the test venv's setuptools builds (pip reads "0" here as
    # "no isolation", i.e. no build backend fetched from an index).
    "PIP_NO_INDEX": "1",
    "PIP_NO_BUILD_ISOLATION": "0",
})


def _pin_pyepics_libca() -> None:
    """Make pyepics always load its own bundled libca.

    Left alone, pyepics loads epicscorelibs' libca instead whenever some earlier test has
    imported ``epicscorelibs`` -- a different EPICS release, chosen by test order.
    """
    spec = importlib.util.find_spec("epics")
    if spec is None or "PYEPICS_LIBCA" in os.environ:
        return
    for folder in spec.submodule_search_locations or ():
        bundled = os.path.join(folder, "clibs", "linux64", "libca.so")
        if os.path.isfile(bundled):
            os.environ["PYEPICS_LIBCA"] = bundled


_pin_pyepics_libca()

# The loopback guard (tests/loopback_guard.py): every process the suite starts, and this one
# (pytest_cmdline_main runs it again with the guard preloaded), sends nothing off loopback.
import loopback_guard  # noqa: E402

_GUARD = loopback_guard.install(os.environ["IOCHOST_TEST_STATE_HOME"])

# Hermetic plugin set: whatever else is installed in this environment (a broken third-party
# plugin, a site's device plugins), every host the tests build -- in process or as a
# subprocess -- loads only the built-ins and the examples; fixtures that install test plugins
# add theirs (tests/host/conftest.py). tests/host/test_hermetic.py runs the plugin tests with
# a deliberately broken plugin installed.
os.environ["IOCHOST_ONLY_PLUGINS"] = "iochost-examples"


# -- Fixtures: a shared in-process CA server and CA clients --------------------------------------
# Everything below imports CA libraries lazily (inside fixtures), after the environment above.
import itertools  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

_prefix_numbers = itertools.count()

# Record which hooks the session calls through a test's plugin (tests/hookcalls.py); the
# check that reads the record runs after every other test.
import hookcalls  # noqa: E402

hookcalls.install()
HOOK_CALL_CHECK = "test_hook_reference.py::test_hook_is_called_through_a_test_plugin"
#: reads what the loopback guard stopped in the whole session: after every other test
GUARD_CHECK = "test_loopback_guard.py::test_the_session_sent_nothing_outside_loopback"


def pytest_collection_modifyitems(items):
    # stable: the rest keep their order
    items.sort(key=lambda item: (HOOK_CALL_CHECK in item.nodeid, GUARD_CHECK in item.nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """Before anything loads libca into this process: preload the guard into it too."""
    if _GUARD is not None and not loopback_guard.loaded(_GUARD):
        loopback_guard.reexec_guarded()


#: The session's CA repeater (see ``ca_repeater``): a process of its own, so that it
#: answers at once however busy the test process's threads keep its interpreter.
_REPEATER_SCRIPT = """
import socket, sys
REGISTER, CONFIRM, BEACON = 24, 17, 13
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    sock.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:   # an outer session's repeater (a test running pytest) serves the port
    print("TAKEN", flush=True)
    sys.exit(0)
print("READY", flush=True)
clients = set()
while True:
    data, source = sock.recvfrom(65536)
    command = int.from_bytes(data[:2], "big") if len(data) >= 16 else None
    if command == REGISTER or not data:   # empty: an old client's registration
        clients.add(source)
        sock.sendto(CONFIRM.to_bytes(2, "big") + bytes(10) + socket.inet_aton(source[0]),
                    source)
    elif command == BEACON:
        if data[12:16] == bytes(4):   # the server's address: where it came from
            data = data[:12] + socket.inet_aton(source[0]) + data[16:]
        for client in list(clients):
            if client != source:
                sock.sendto(data, client)
"""


@pytest.fixture(scope="session", autouse=True)
def ca_repeater():
    """A CA repeater on the session's repeater port (127.0.0.1), as a site runs caRepeater:
    it confirms each client's registration and forwards beacons to the clients.

    Without one, libca (pyepics, softioc's CA links) retries its registration every second
    and, on every other try, sends it to the machine's first non-loopback address (udpiiu's
    alternation for old repeaters): traffic outside 127.0.0.0/8.  Started before any
    fixture that loads a CA client; stopped by its PID at the end.
    """
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _REPEATER_SCRIPT, _repeater],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() in ("READY", "TAKEN")
    yield proc
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def ca_server():
    """One ``iochost.testing.ServerThread`` for the whole session, on ``IOCHOST_TEST_PORT``.

    Tests share it: add PVs under a ``unique_prefix`` (or through ``serve_pvs``, which removes
    them at teardown), never assume the database is empty.
    """
    from iochost.testing import ServerThread

    with ServerThread(port=int(_port)) as server:
        yield server


@pytest.fixture
def unique_prefix(request) -> str:
    """A PV-name prefix no other test in this session uses, e.g. ``T12:test_get:``."""
    # short enough that prefix + a 20-character PV name stays within the 59 characters
    # EPICS 3.14 allows a name (caproto's client refuses longer ones)
    name = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:32]
    return f"T{next(_prefix_numbers)}:{name}:"


@pytest.fixture
def serve_pvs(ca_server, unique_prefix):
    """``serve_pvs({"A": channel, ...}) -> {"A": "<prefix>A", ...}``: serve PVs on the shared
    server under this test's prefix; they are removed when the test ends."""
    added: list[str] = []

    def serve(pvs):
        full = {unique_prefix + name: channel for name, channel in pvs.items()}
        ca_server.add(full)
        added.extend(full)
        return {name: unique_prefix + name for name in pvs}

    yield serve
    if added:
        ca_server.remove(added)


def _mend_pyepics_connect_race(epics) -> None:
    """Give a pyepics ``PV`` its true DBR type once it is connected.

    ``PV.__init__`` reads the type of its channel before the channel connects (-1, promoted
    to 13 for the "time" form) and stores it after.  When libca's connection callback runs
    in between -- a fast server and a busy GIL, the suite's in-process servers -- the stale 13
    overwrites the callback's type for good, and every get of that PV fails with "Get failed;
    unknown type: 13".  pyepics 3.5's own race, not the server's: reproduced against a bare
    ServerThread with one thread spinning.  tests/server/test_server_pyepics.py forces it.
    """
    PV = epics.pv.PV
    if getattr(PV, "_iochost_mended", False):
        return
    wait = PV.wait_for_connection

    def wait_for_connection(self, *args, **kwargs):
        connected = wait(self, *args, **kwargs)
        if connected and epics.ca.field_type(self.chid) >= 0:
            true_type = epics.ca.promote_type(self.chid, use_ctrl=self.form == "ctrl",
                                              use_time=self.form == "time")
            if self.ftype != true_type:
                self.ftype = true_type
                self._args["type"] = self._args["typefull"] = epics.dbr.Name(true_type).lower()
        return connected

    PV.wait_for_connection = wait_for_connection
    PV._iochost_mended = True


@pytest.fixture(scope="session")
def pyepics():
    """The ``epics`` module with libca initialised once for the process (one CA context).

    Callbacks may arrive on libca's threads; tests that use pyepics from another thread
    must call ``epics.ca.use_initial_context()`` there first.
    """
    import epics
    import epics.ca

    epics.ca.PREEMPTIVE_CALLBACK = True
    _mend_pyepics_connect_race(epics)
    epics.ca.initialize_libca()  # a no-op when another fixture or test did it first
    if not epics.ca.current_context():  # this thread may already be attached
        epics.ca.use_initial_context()
    yield epics


class _LiveCaprotoContext:
    """A caproto ``Context`` that is replaced once one of its search threads has died.

    caproto's search thread ends on an uncaught ``ConnectionRefusedError`` when a server
    answers a search and stops before the connect (the session's subprocess servers come
    and go on one port), its retry thread on an EPICS_* variable it cannot parse; every
    later search of that context would then time out.
    """

    def __init__(self):
        self._contexts: list = []

    def _live(self):
        from caproto.threading.client import Context

        if not self._contexts or not self._searching(self._contexts[-1]):
            self._contexts.append(Context(timeout=5.0))
        return self._contexts[-1]

    @staticmethod
    def _searching(context) -> bool:
        retry = context.broadcaster._retry_unanswered_searches_thread   # None until needed
        return context._process_search_results_thread.is_alive() and \
            (retry is None or retry.is_alive())

    def __getattr__(self, name):
        return getattr(self._live(), name)

    def __repr__(self):
        return repr(self._live())

    def disconnect(self):
        for context in self._contexts:
            context.disconnect()


@pytest.fixture(scope="session")
def caproto_context():
    """One ``caproto.threading.client.Context`` shared by the session (a new one if the
    last one's search thread died)."""
    context = _LiveCaprotoContext()
    yield context
    context.disconnect()


@pytest.fixture
def caproto_as():
    """``caproto_as(user, host) -> caproto Context`` that names itself so to the server
    (CLIENT_NAME and HOST_NAME, which access security rules match); disconnected at
    teardown."""
    from caproto.threading.client import Context

    contexts = []

    def make(user, host_name):
        context = Context(timeout=5.0, client_name=user, host_name=host_name)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.disconnect()

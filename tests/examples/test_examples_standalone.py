"""A few examples run as ``python -m iochost_examples.<name>`` (our ``ioc_arg_parser`` and
``run``, which start iochost's server): startup log, ``--list-pvs``, ``--prefix``, macro
options, stdin-fed updates, and a clean exit with shutdown hooks on SIGTERM/SIGINT."""
import signal
import socket

from test_group_helpers import wait_until  # tests/pv, put on sys.path by conftest.py


def test_simple_standalone(run_example, unique_prefix, client):
    ioc = run_example("simple", "--list-pvs", "--prefix", unique_prefix)
    ioc.wait_for_log("Server startup complete")
    assert "Server starting up" in ioc.log
    assert "Listening on 127.0.0.1:" in ioc.log
    for name in "ABC":
        assert f"\n{unique_prefix}{name}" in ioc.log       # the --list-pvs listing
    assert client.write(unique_prefix + "A", 42) == "ECA_NORMAL"
    assert client.value(unique_prefix + "A") == 42
    assert ioc.stop(signal.SIGINT) == 0


def test_macros_as_options(run_example, unique_prefix, client):
    ioc = run_example("macros", "--prefix", unique_prefix, "--beamline", "BL2",
                      "--suffix", "th", "-q")
    name = unique_prefix + "BL2:th"
    assert client.write(name + ".VAL", 8) == "ECA_NORMAL"   # found, so it is serving
    assert client.value(name + ".RBV") == 8
    assert "Server starting up" not in ioc.log               # -q: warnings only
    assert ioc.stop() == 0


def test_io_interrupt_reads_stdin_and_hooks_run_at_exit(run_example, unique_prefix, client):
    ioc = run_example("io_interrupt", "--prefix", unique_prefix)
    ioc.wait_for_log("Server startup complete")
    ioc.proc.stdin.write("first line\n")
    ioc.proc.stdin.flush()
    wait_until(lambda: client.value(unique_prefix + "count") == 1, what="a line read")
    assert client.value(unique_prefix + "keypress") == "first line"
    assert ioc.stop(signal.SIGTERM) == 0
    assert "Server exiting" in ioc.log


def test_startup_and_shutdown_hooks_standalone(run_example, unique_prefix, client):
    ioc = run_example("startup_and_shutdown_hooks", "--prefix", unique_prefix)
    wait_until(lambda: client.value(unique_prefix + "ainit_done") == 1, what="__ainit__")
    assert ioc.stop(signal.SIGTERM) == 0
    assert f"3. shutdown hook of {unique_prefix}thing called" in ioc.log


def _free_port() -> int:
    """A loopback port free for both UDP and TCP right now (servers bind both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free loopback port")


def test_every_example_runs_standalone(run_example, unique_prefix):
    """Each example starts with --list-pvs/--prefix and exits 0 on SIGTERM.  They run at
    once, each on a loopback port of its own (no client talks to them here)."""
    names = ["custom_write", "random_walk", "subgroups", "decay", "no_pvproperty",
             "setpoint_rbv", "skip_write", "worker_thread"]
    iocs = {name: run_example(name, "--list-pvs", "--prefix", f"{unique_prefix}{name}:",
                              port=_free_port(), wait=False) for name in names}
    for name, ioc in iocs.items():
        ioc.wait_until_serving()
        ioc.wait_for_log("PVs available:")
        assert f"\n{unique_prefix}{name}:" in ioc.log, name
    for ioc in iocs.values():
        assert ioc.stop(signal.SIGTERM) == 0, ioc.log

"""Every example IOC over Channel Access: write a value, read it back, see the side effect
the example promises.  In-process (the session's server) for speed; see
test_examples_standalone.py for the ``python -m`` runs."""
import itertools
import logging
import os
import time

import pytest

from test_group_helpers import wait_until  # tests/pv, put on sys.path by conftest.py
from iochost.ca.dbr import DBE_VALUE
from iochost.pv import start_group, stop_group
from iochost_examples import (custom_write, decay, io_interrupt, macros, no_pvproperty,
                              random_walk, rpc_function, setpoint_rbv, simple, skip_write,
                              startup_and_shutdown_hooks, subgroups, worker_thread)


def test_simple(mount, unique_prefix, client):
    ioc = mount(simple.SimpleIOC(prefix=unique_prefix))
    p = ioc.prefix
    assert [client.value(p + n) for n in "ABC"] == [1, 2.0, [1, 2, 3]]
    assert client.write(p + "A", 5) == "ECA_NORMAL"
    assert client.write(p + "B", 3.25) == "ECA_NORMAL"
    assert client.write(p + "C", [4, 5, 6]) == "ECA_NORMAL"
    assert [client.value(p + n) for n in "ABC"] == [5, 3.25, [4, 5, 6]]
    control = client.read(p + "B", data_type="control").metadata
    assert (control.units, control.precision) == (b"mm", 3)


def test_rpc_function(mount, unique_prefix, client):
    ioc = mount(rpc_function.RpcIOC(prefix=unique_prefix))
    call = ioc.prefix + "get_random:"

    def status():  # a CHAR array, as caproto's
        return bytes(client.read(call + "Status").data).rstrip(b"\0").decode()

    assert 1 <= client.value(ioc.prefix + "fixed_random") <= 100
    assert (client.value(call + "low"), client.value(call + "high")) == (100, 1000)
    assert (status(), client.value(call + "Retval")) == ("Init", 0)
    assert client.write(call + "low", 7) == "ECA_NORMAL"
    assert client.write(call + "high", 7) == "ECA_NORMAL"
    assert client.write(call + "Process", 1) == "ECA_NORMAL"
    assert (status(), client.value(call + "Retval")) == ("Success", 7)
    assert client.write(call + "low", 9) == "ECA_NORMAL"
    assert client.write(call + "Process", 1) == "ECA_PUTFAIL"   # the method raised
    assert status() == "ValueError: low (9) is above high (7)"
    assert client.value(call + "Retval") == 7                     # the last result stays
    assert client.write(call + "Retval", 1) == "ECA_NOWTACCESS"


def test_custom_write_writes_files(mount, unique_prefix, client, tmp_path):
    ioc = mount(custom_write.CustomWrite(prefix=unique_prefix))
    p = ioc.prefix
    directory = str(tmp_path).encode() + b"\0"
    assert client.write(p + "directory.$", list(directory)) == "ECA_NORMAL"
    assert ioc.directory.value == str(tmp_path)
    assert client.write(p + "A", 7) == "ECA_NORMAL"
    assert client.write(p + "B", 8) == "ECA_NORMAL"
    assert (tmp_path / "A").read_text() == "7\n"
    assert (tmp_path / "B").read_text() == "8\n"


def test_random_walk_steps_at_the_rate_of_dt(mount, unique_prefix, client, ca_server):
    ioc = mount(random_walk.RandomWalkIOC(prefix=unique_prefix), start=False)
    p = ioc.prefix
    assert client.write(p + "dt", 0.02) == "ECA_NORMAL"     # before the first 3 s sleep
    ca_server.call(start_group(ioc))
    monitor = client.monitor(p + "x", DBE_VALUE)
    values = [event.data[0] for event in monitor.wait_for(5)]
    assert len(set(values)) >= 4
    assert all(abs(b - a) <= 1.0 for a, b in itertools.pairwise(values))
    assert client.write(p + "x", 100.0) == "ECA_NOWTACCESS"


def test_io_interrupt_publishes_lines_from_a_thread(mount, unique_prefix, client):
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd) as stream, os.fdopen(write_fd, "w", buffering=1) as typing:
        ioc = mount(io_interrupt.IOInterruptIOC(prefix=unique_prefix, stream=stream))
        p = ioc.prefix
        monitor = client.monitor(p + "keypress", DBE_VALUE, data_type="native")
        monitor.wait_for(1)
        typing.write("hello\nworld\n")
        events = monitor.wait_for(3)
        assert [bytes(e.data[0]).decode() for e in events[1:]] == ["hello", "world"]
        wait_until(lambda: client.value(p + "count") == 2, what="count == 2")


def test_macros_fill_pv_names(mount, unique_prefix, client):
    ioc = mount(macros.MacroifiedNames(prefix=unique_prefix,
                                       macros={"beamline": "BL9", "suffix": "mtr"}))
    p = ioc.prefix
    assert set(ioc.pvdb) == {p + "BL9:mtr.VAL", p + "BL9:mtr.RBV"}
    assert client.write(p + "BL9:mtr.VAL", 3) == "ECA_NORMAL"
    assert client.value(p + "BL9:mtr.RBV") == 3


def test_subgroups(mount, unique_prefix, client):
    ioc = mount(subgroups.SubgroupsIOC(prefix=unique_prefix))
    p = ioc.prefix
    for name, top in (("group1", 5), ("group2", 20)):
        wait_until(lambda n=name, t=top: client.value(f"{p}{n}:max") == t, what=f"{name} scanned")
        assert 1 <= client.value(f"{p}{name}:random") <= top
    assert client.write(p + "settings:limits:high", 5.0) == "ECA_NORMAL"
    assert ioc.settings.limits.high.value == 5.0
    assert client.value(p + "settings:gain") == 1.0


def test_decay_converges_to_the_setpoint(mount, unique_prefix, client):
    ioc = mount(decay.Decay(prefix=unique_prefix))
    p = ioc.prefix
    assert client.write(p + "K", 0.05) == "ECA_NORMAL"
    assert client.write(p + "Tvar", 5.0) == "ECA_NORMAL"
    assert client.write(p + "SP", 10.0) == "ECA_NORMAL"
    wait_until(lambda: client.value(p + "done") == 1, what="done")
    assert abs(client.value(p + "I") - 10.0) < 0.25
    assert client.write(p + "SP", 50.0) == "ECA_NORMAL"        # a new step: not done
    wait_until(lambda: client.value(p + "done") == 0, what="not done")


def test_startup_and_shutdown_hooks(mount, unique_prefix, client, ca_server, caplog):
    ioc = mount(startup_and_shutdown_hooks.StartupAndShutdown(prefix=unique_prefix))
    p = ioc.prefix
    wait_until(lambda: client.value(p + "ainit_done") == 1, what="__ainit__")
    assert client.value(p + "startup_done") == 1
    with caplog.at_level(logging.WARNING):
        ca_server.call(stop_group(ioc))
    assert "3. shutdown hook of " + p + "thing called" in caplog.text


def test_no_pvproperty(ca_server, unique_prefix, client):
    pvdb = no_pvproperty.make_pvdb(unique_prefix)
    ca_server.add(pvdb)
    try:
        p = unique_prefix
        assert client.write(p + "b", 4.5) == "ECA_NORMAL"
        assert (p + "b", 4.5) in no_pvproperty.WRITES
        assert client.value(p + "c") == [1, 2, 3]
        assert client.value(p + "plain") == 3.5
    finally:
        ca_server.remove(list(pvdb))


def test_setpoint_readback_pairs(mount, unique_prefix, client):
    ioc = mount(setpoint_rbv.PairsIOC(prefix=unique_prefix))
    p = ioc.prefix
    assert client.write(p + "pair", 3) == "ECA_NORMAL"
    assert client.value(p + "pair_RBV") == 3
    assert client.write(p + "pair2", 1.25) == "ECA_NORMAL"
    assert client.value(p + "pair2_RBV") == 2.5
    assert client.write(p + "pair3", 1) == "ECA_NORMAL"
    assert ioc.pair3.readback.value == "Yes"
    assert client.write(p + "pair_RBV", 9) == "ECA_NOWTACCESS"


def test_skip_write(mount, unique_prefix, client):
    ioc = mount(skip_write.SkipWriteIOC(prefix=unique_prefix))
    p = ioc.prefix
    assert client.write(p + "value", 3) == "ECA_NORMAL"
    assert client.value(p + "value") == 85
    assert client.value(p + "rejected") == 1
    assert client.write(p + "value", 85) == "ECA_NORMAL"
    assert client.value(p + "rejected") == 1


def test_worker_thread_put_completion(mount, unique_prefix, client):
    ioc = mount(worker_thread.WorkerThreadIOC(prefix=unique_prefix))
    p = ioc.prefix
    wait_until(lambda: hasattr(ioc, "requests"), what="worker started")
    started = time.monotonic()
    assert client.write(p + "request", 0.25) == "ECA_NORMAL"
    assert time.monotonic() - started >= 0.25
    assert client.value(p + "done") == 1
    assert client.write(p + "request", 0.0) == "ECA_NORMAL"
    assert client.value(p + "done") == 2


@pytest.mark.parametrize("module", [
    custom_write, decay, io_interrupt, macros, no_pvproperty, random_walk, setpoint_rbv,
    simple, skip_write, startup_and_shutdown_hooks, subgroups, worker_thread])
def test_every_example_has_a_main_and_a_docstring(module):
    assert callable(module.main) and module.__doc__


def test_examples_with_pyepics(mount, unique_prefix, pyepics):
    """The same IOCs through EPICS' own C client library (libca via pyepics)."""
    epics = pyepics
    wt = mount(worker_thread.WorkerThreadIOC(prefix=unique_prefix + "wt:"))
    pairs = mount(setpoint_rbv.PairsIOC(prefix=unique_prefix + "sp:"))
    wait_until(lambda: hasattr(wt, "requests"), what="worker started")
    started = time.monotonic()
    assert epics.caput(wt.prefix + "request", 0.2, wait=True, timeout=5) == 1
    assert time.monotonic() - started >= 0.2                # completion waited for the thread
    assert epics.caget(wt.prefix + "done", timeout=5) == 1
    assert epics.caput(pairs.prefix + "pair3", "Yes", wait=True, timeout=5) == 1
    assert epics.caget(pairs.prefix + "pair3_RBV", as_string=True, timeout=5) == "Yes"
    assert epics.caget(pairs.prefix + "pair2_RBV", timeout=5) == 0.0

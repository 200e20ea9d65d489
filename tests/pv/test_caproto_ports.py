"""caproto compatibility: the example IOCs that ship with caproto's server run on iochost
with only their import lines changed, and serve every PV to a CA client.

The examples are read from the installed caproto package at test time (nothing of them is
kept in this repository); only ``from caproto[.server] import`` lines are rewritten.
"""
from __future__ import annotations

import os
import re
import types
from pathlib import Path

import caproto
import pytest

from iochost import PVGroup, pvproperty
from iochost.pv.data import ChannelDouble
from test_group_helpers import client, mount, wait_until  # noqa: F401  (fixtures)

EXAMPLES = Path(caproto.__file__).parent / "ioc_examples"

# caproto's asyncio Context.monitor, when cancelled, calls its coroutine remove_callback
# unawaited (client_monitor_async); the warning comes whenever that coroutine is collected
pytestmark = pytest.mark.filterwarnings(
    "ignore:coroutine 'Subscription.remove_callback' was never awaited")

#: caproto import -> iochost import (``caproto.server`` and ``caproto`` renamed
#: ``iochost``); nothing else in an example is changed
IMPORTS = [
    (r"^from caproto\.server\.(\w+) import", r"from iochost.\1 import"),
    (r"^from caproto\.server import", "from iochost import"),
    (r"^from caproto import", "from iochost import"),
    (r"^import caproto as", "import iochost as"),
]

#: (example module, IOC class, constructor arguments besides prefix, start its hooks)
PORTS = [
    ("simple", "SimpleIOC", {}, True),
    ("custom_write", "CustomWrite", {}, True),
    ("random_walk", "RandomWalkIOC", {}, True),
    ("io_interrupt", "IOInterruptIOC", {}, False),     # its thread reads the terminal
    ("macros", "MacroifiedNames", {"macros": {"beamline": "BL", "suffix": "m1"}}, True),
    ("subgroups", "MyPVGroup", {}, True),
    ("decay", "Decay", {}, True),
    ("startup_and_shutdown_hooks", "StartupAndShutdown", {}, True),
    ("setpoint_rbv_pair", "Group", {}, True),
    ("skip_write", "SkipWriteIOC", {}, True),
    ("worker_thread", "WorkerThreadIOC", {}, True),
    ("scalars_and_arrays", "ArrayIOC", {}, True),
    ("states", "StateIOC", {}, True),
    ("enums", "EnumIOC", {}, True),
    ("scan_rate", "ScanRateIOC", {}, True),
    ("records", "RecordMockingIOC", {}, True),
    ("mini_beamline", "MiniBeamline", {}, True),
    ("rpc_function", "MyPVGroup", {}, True),
    ("autosave", "AutosavedSimpleIOC", {}, True),                 # caproto.server.autosave
    ("fake_motor_record", "FakeMotorIOC", {}, True),
    ("formula_ioc", "FormulaIOC", {}, True),
    ("records_subclass", "RecordMockingIOC", {}, True),
    ("simple_with_type_hints", "SimpleIOC", {}, True),
    ("thermo_sim", "Thermo", {}, True),
    ("chirp", "Chirp", {"ramp_rate": 0.5}, True),
    ("advanced/raw_timestamp", "TimestampIOC", {}, True),
    ("too_clever/dynamic_calc", "DynamicCalc", {}, True),
    ("pathological/reading_counter", "ReadingCounter", {}, True),
    ("big_image_noisy_neighbor", "IOInterruptIOC", {}, False),
]


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch):
    """Examples write files where they run (autosave's ``autosave.sav``, also when the IOC
    stops): an autouse fixture is set up first and torn down last, after the mount's."""
    monkeypatch.chdir(tmp_path)


def ported(name: str, keep: str = "") -> types.ModuleType:
    """caproto's example ``name`` with its imports pointing at iochost (but an import of
    caproto's module ``keep``, e.g. its client, which such an IOC goes on using)."""
    text = (EXAMPLES / f"{name}.py").read_text()
    for pattern, replacement in IMPORTS:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    rest = re.sub(rf"^(from {re.escape(keep)} import|import {re.escape(keep)}$)", "", text,
                  flags=re.MULTILINE) if keep else text
    assert not re.search(r"^\s*(from|import) caproto", rest, flags=re.MULTILINE), \
        f"{name} imports more of caproto than this test rewrites"
    module = types.ModuleType(f"ported_{name}")
    exec(compile(text, f"<caproto example {name}, ported>", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("name, cls, kwargs, start", PORTS, ids=[p[0] for p in PORTS])
def test_caproto_example_runs_with_only_its_imports_changed(mount, client, name, cls, kwargs,
                                                            start):
    # a short prefix: the examples' own names already come near the 59-character limit
    prefix = f"CP{os.getpid() % 10000}:{PORTS.index((name, cls, kwargs, start))}:"
    ioc = getattr(ported(name), cls)(prefix=prefix, **kwargs)
    declared = dict(ioc.pvdb)   # too_clever/dynamic_calc adds PVs to its pvdb as it runs:
    mount(ioc, start=start)     # run() serves those (test_standalone), a mount here does not
    assert declared
    for pvname, channel in declared.items():
        native, count = client.native(pvname)
        assert (native, count) == (channel.native_type.name, channel.max_length), pvname
        assert client.read(pvname).status.name == "ECA_NORMAL", pvname


def test_caproto_states_example_updates_its_state(mount, client):
    """states: the putters run ``async with self.update_state(...)``; the state they set is
    what the getter of ``my_stately_state`` reads, and the sync filters' named state."""
    from iochost.server.filters import STATES

    prefix = f"CPS{os.getpid() % 10000}:"
    ioc = mount(ported("states").StateIOC(prefix=prefix))
    assert client.value(prefix + "my_stately_state") == 0
    assert client.write(prefix + "enable_state", 1) == "ECA_NORMAL"
    assert client.value(prefix + "my_stately_state") == 1
    assert ioc.states == {"my_stately_state": True} and STATES["my_stately_state"] is True
    assert client.write(prefix + "disable_state", 1) == "ECA_NORMAL"
    assert client.value(prefix + "my_stately_state") == 0 and not STATES["my_stately_state"]


def test_states_a_group_declares_are_known_to_sync_filters_from_the_start(mount, client):
    """As caproto primes them (its states example declares ``self.states`` before
    ``super().__init__``): a ``sync`` channel on such a state connects before any
    ``update_state``."""
    from iochost.server.filters import STATES

    state = f"declared_{os.getpid()}"

    class Gated(PVGroup):
        value = pvproperty(value=1.5)

        def __init__(self, *args, **kwargs):
            self.states = {state: True}
            super().__init__(*args, **kwargs)

    ioc = mount(Gated(prefix=f"CPG{os.getpid() % 10000}:"))
    assert STATES[state] is True
    sync = '{"sync":{"m":"while","s":"' + state + '"}}'
    assert client.value(ioc.prefix + "value." + sync) == 1.5


def test_caproto_dynamic_calc_takes_formulas_longer_than_its_initial_text(mount, client):
    """too_clever/dynamic_calc: ``formula = pvproperty(value='', report_as_string=True)``,
    written 'a + b' at startup and longer formulas by clients (a text pvproperty holds more
    than its initial text, as caproto's does)."""
    ioc = mount(ported("too_clever/dynamic_calc").DynamicCalc(
        prefix=f"CPD{os.getpid() % 10000}:"), start=True)
    assert client.value(ioc.prefix + "formula") == "a + b"
    assert client.write(ioc.prefix + "formula", "a + b * c") == "ECA_NORMAL"
    assert client.value(ioc.prefix + "variables")[:3] == ["a", "b", "c"]


def test_caproto_rpc_function_example_calls_on_process(mount, client):
    ioc = mount(ported("rpc_function").MyPVGroup(prefix=f"CPR{os.getpid() % 10000}:"))
    call = ioc.prefix + "get_random:"
    assert client.write(call + "low", 5) == "ECA_NORMAL"
    assert client.write(call + "high", 5) == "ECA_NORMAL"
    assert client.write(call + "Process", 1) == "ECA_NORMAL"
    assert client.value(call + "Retval") == 5


@pytest.mark.parametrize("module, names", [
    ("autosave", ["AutosaveHelper", "autosaved"]),
    ("stats", ["StatusHelper", "BasicStatusHelper", "PeriodicStatusHelper",
               "MemoryTracingHelper"]),
    ("conversion", ["group_to_device"]),
    ("menus", ["menuScan", "menuAlarmSevr", "menuAlarmStat", "menuYesNo", "menuOmsl"]),
])
def test_caproto_server_submodules_have_iochost_namesakes(module, names):
    """``from caproto.server.X import name`` ports to ``from iochost.X import name``, as
    caproto's own examples do (autosave, too_clever/caproto_to_ophyd)."""
    import importlib

    caproto_module = importlib.import_module(f"caproto.server.{module}")
    ours = importlib.import_module(f"iochost.{module}")
    for name in names:
        assert hasattr(caproto_module, name), f"caproto.server.{module} has no {name}"
        assert getattr(ours, name) is not None, f"iochost.{module}.{name}"
    import iochost
    assert getattr(iochost, module) is ours  # ``from iochost import menus`` is the same


def test_group_to_device_from_iochost_conversion():
    from iochost.conversion import group_to_device

    class Pair(PVGroup):
        setpoint = pvproperty(value=1.0, doc="where to go")
        readback = pvproperty(value=1.0, read_only=True)

    lines = list(group_to_device(Pair))
    assert lines[0] == "class PairDevice(ophyd.Device):"
    assert any("setpoint = Cpt(EpicsSignal, 'setpoint'" in line for line in lines), lines
    assert any("readback = Cpt(EpicsSignalRO, 'readback'" in line for line in lines), lines


def test_caproto_raw_timestamp_example_posts_its_exact_epics_timestamp(mount, client):
    """advanced/raw_timestamp (``import caproto as ca`` -> ``import iochost as ca``): its
    putter sets a field of ``ca.TimeStamp.now()`` and writes with it; a client reading
    DBR_TIME sees those nanoseconds."""
    import time

    from caproto import ChannelType

    ioc = mount(ported("advanced/raw_timestamp").TimestampIOC(
        prefix=f"CPT{os.getpid() % 10000}:"))
    before = time.time()
    assert client.write(ioc.prefix + "update", 3) == "ECA_NORMAL"
    reading = client.read(ioc.prefix + "value", data_type=ChannelType.TIME_LONG)
    assert reading.data[0] == 3
    assert reading.metadata.stamp.nanoSeconds == 2 ** 16 - 1
    assert abs(reading.metadata.timestamp - before) < 5


def _black_hole(pvdb):
    """A server of ``pvdb`` on the subprocess port (the clients search it too): these
    examples answer every name, so they never share the port the other tests use."""
    from iochost.testing import ServerThread

    return ServerThread(pvdb, port=int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"]))


def test_caproto_defaultdict_black_hole_serves_any_name_asked_for(client, pyepics,
                                                                   unique_prefix):
    """pathological/defaultdict_server: ``run(ReallyDefaultDict(lambda: ChannelData(...)))``,
    a pvdb that makes a channel for any name it is asked for, as caproto's server does."""
    example = ported("pathological/defaultdict_server")
    pvdb = example.ReallyDefaultDict(lambda: example.ChannelData(value=0))
    first, second = unique_prefix + "ANY:NAME", unique_prefix + "ANOTHER"
    with _black_hole(pvdb):
        assert client.value(first) == 0
        assert client.write(first, 5) == "ECA_NORMAL"
        assert client.value(first) == 5 and client.value(second) == 0
        assert pvdb[first].value == 5   # the mapping's own channel is the one served
        # EPICS' libca too; the bare ChannelData is a LONG, as caproto's
        third = pyepics.PV(unique_prefix + "THIRD")
        assert third.wait_for_connection(timeout=5)
        assert third.get(timeout=5) == 0 and third.type == "time_long"
        third.disconnect()


def test_caproto_spoof_beamline_makes_channels_by_their_names(client, unique_prefix):
    """pathological/spoof_beamline: channels made by name (enums for ImageMode, strings for
    PluginType, doubles otherwise); NAME-SP, NAME-RB and NAME_RBV are NAME itself."""
    from caproto import ChannelType

    ioc = ported("pathological/spoof_beamline").BlackholeIOC(prefix="")
    p = unique_prefix
    with _black_hole(ioc.pvdb):
        assert client.native(p + "cam1:ImageMode")[0] == "ENUM"
        assert client.read(p + "cam1:ImageMode", data_type=ChannelType.STRING).data == [b"Single"]
        assert client.value(p + "image1:PluginType") == "NDPluginStdArrays"
        assert client.write(p + "m1:Pos-SP", 3.5) == "ECA_NORMAL"
        assert client.value(p + "m1:Pos-RB") == 3.5 and client.value(p + "m1:Pos_RBV") == 3.5


@pytest.mark.parametrize("name", ["advanced/type_varieties", "no_pvproperty"])
def test_caproto_bare_pvdb_example_serves_every_pv(serve_pvs, client, name):
    """Examples without a PVGroup: a module-level ``pvdb`` of channel data (every
    ChannelX class, alarms, empty values; a bare ``ChannelData`` holding an integer array)
    or of ``PVSpec(...).create(group=None)``."""
    pvdb = ported(name).pvdb
    served = serve_pvs(pvdb)
    for key, channel in pvdb.items():
        pvname = served[key]
        assert client.native(pvname) == (channel.native_type.name, channel.max_length), key
        assert client.read(pvname).status.name == "ECA_NORMAL", key


def test_caproto_worker_thread_pc_example_put_completes_after_the_worker(mount, client):
    """worker_thread_pc: the putter hands the request to a thread through
    ``async_lib.ThreadsafeQueue`` and awaits an ``async_lib.Event`` the thread sets."""
    import time

    ioc = mount(ported("worker_thread_pc").WorkerThreadIOC(prefix=f"CPW{os.getpid() % 10000}:"))
    started = time.monotonic()
    assert client.write(ioc.prefix + "request", 1) == "ECA_NORMAL"   # the worker sleeps 1 s
    assert time.monotonic() - started >= 0.95
    assert client.value(ioc.prefix + "request") == 1


def test_caproto_dynamic_pvgroups_example_serves_the_groups_it_adds(mount, client):
    """too_clever/dynamic_pvgroups: groups made at run time, their pvdbs merged into the main
    group's with ``ioc.pvdb.update(**group.pvdb)``; a putter of one reaches the main group."""
    prefix = f"CPD{os.getpid() % 10000}:"
    ioc = ported("too_clever/dynamic_pvgroups").create_ioc(
        prefix=prefix, groups_a=["A1", "A2"], groups_b=["B1"])
    mount(ioc)
    assert sorted(ioc.pvdb) == sorted(prefix + name for name in (
        "A1", "A1_RBV", "A2", "A2_RBV", "B1_A", "B1_B"))
    assert client.value(prefix + "B1_B") == 20
    assert client.write(prefix + "A2", 7) == "ECA_NORMAL"
    assert ioc.shared_value == 7 and client.value(prefix + "A2") == 7


def test_caproto_mirror_example_follows_its_target_with_caprotos_own_client(
        ca_server, serve_pvs, mount, client):
    """mirror: an IOC that keeps caproto's asyncio client (``caproto.asyncio.client``) to
    subscribe to another PV -- here one of this server's -- and serves its value, with
    the target's own timestamps."""
    target = serve_pvs({"TARGET": ChannelDouble(value=1.5)})["TARGET"]
    mirror = ported("mirror", keep="caproto.asyncio.client").Mirror(
        prefix=f"CPM{os.getpid() % 10000}:", target=target)
    mount(mirror)
    try:
        wait_until(lambda: client.value(mirror.prefix + "value") == 1.5, what="a first value")
        assert client.write(target, 7.25) == "ECA_NORMAL"
        wait_until(lambda: client.value(mirror.prefix + "value") == 7.25, what="the new value")
        stamp = client.read(target, data_type="time").metadata.timestamp
        assert mirror.value.timestamp == pytest.approx(stamp, abs=1e-6)
    finally:   # the session's server loop runs on: its client must not
        ca_server.call(mirror.client_context.disconnect())


def _mirrors_value_alarm_and_disconnection(ca_server, client, target: str,
                                            mirrored: str) -> None:
    """The checks of the two mirroring examples: the target's value and alarm are mirrored,
    and its going away raises LINK / MAJOR on the mirror."""
    from caproto import ChannelType

    from iochost import AlarmSeverity, AlarmStatus

    wait_until(lambda: client.value(mirrored) == 1.0, what="the first value")
    ca_server.call(ca_server.database[target].write(4.5, status=AlarmStatus.HIHI,
                                                    severity=AlarmSeverity.MAJOR_ALARM))
    wait_until(lambda: client.value(mirrored) == 4.5, what="the new value")
    reading = client.read(mirrored, data_type=ChannelType.TIME_DOUBLE)
    assert (reading.metadata.status, reading.metadata.severity) == (
        AlarmStatus.HIHI, AlarmSeverity.MAJOR_ALARM)
    ca_server.remove([target])     # SERVER_DISCONN: the client reports 'disconnected'
    wait_until(lambda: client.read(mirrored, data_type=ChannelType.TIME_DOUBLE)
               .metadata.status == AlarmStatus.LINK, what="the LINK alarm")


def test_caproto_client_monitor_async_example_mirrors_value_alarm_and_disconnection(
        ca_server, serve_pvs, mount, client):
    """client_monitor_async: ``__ainit__`` (its ``run(startup_hook=...)``) iterates caproto's
    asyncio ``Context.monitor``; each update is written with the target's timestamp, status
    and severity (caproto's own enums), and a disconnection raises LINK / MAJOR."""
    import asyncio

    from iochost.pv.async_lib import AsyncioAsyncLayer

    target = serve_pvs({"TARGET": ChannelDouble(value=1.0)})["TARGET"]
    example = ported("client_monitor_async", keep="caproto.asyncio.client")
    contexts = []

    class Context(example.Context):  # kept, to be disconnected at the end
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            contexts.append(self)

    example.Context = Context
    ioc = mount(example.MirrorClientIOC(target, prefix=f"CPA{os.getpid() % 10000}:"))
    task = ca_server.call(lambda: asyncio.ensure_future(ioc.__ainit__(AsyncioAsyncLayer())))
    try:
        _mirrors_value_alarm_and_disconnection(ca_server, client, target,
                                               ioc.prefix + "mirrored")
    finally:   # the session's server loop runs on: the example's client must not
        ca_server.call(task.cancel)
        for context in contexts:
            ca_server.call(context.disconnect())


def test_caproto_thread_client_monitor_example_mirrors_through_a_threadsafe_queue(
        ca_server, serve_pvs, mount, client):
    """advanced/thread_client_monitor: caproto's threading client calls back on its own
    threads, which put into ``async_lib.ThreadsafeQueue``; a startup hook awaits
    ``async_get()`` and writes each update."""
    target = serve_pvs({"TARGET": ChannelDouble(value=1.0)})["TARGET"]
    example = ported("advanced/thread_client_monitor", keep="caproto.threading.client")
    ioc = mount(example.ThreadClientIOC(target, prefix=f"CPC{os.getpid() % 10000}:"))
    try:
        _mirrors_value_alarm_and_disconnection(ca_server, client, target,
                                               ioc.prefix + "mirrored")
    finally:
        example.get_default_thread_context().disconnect()

"""caproto's helper classes from iochost: the same PV names and types as caproto's own, and a
caproto-style IOC using them (imports changed, nothing else) served and read over CA."""
from __future__ import annotations

import json
import os
import tracemalloc

from caproto.server.stats import MemoryTracingHelper as CaprotoMemoryTracingHelper
from caproto.server.stats import StatusHelper as CaprotoStatusHelper

from iochost import MemoryTracingHelper, StatusHelper
from iochost.helpers.savfile import parse_sav
from iochost.testing import wait_until

from . import test_iocs

TIMEOUT = 5.0


def test_the_pv_names_and_types_are_caprotos():
    for ours, theirs in ((StatusHelper, CaprotoStatusHelper),
                         (MemoryTracingHelper, CaprotoMemoryTracingHelper)):
        mine = {name: channel.native_type for name, channel in ours(prefix="X:").pvdb.items()}
        caprotos = {name: channel.data_type
                    for name, channel in theirs(prefix="X:").pvdb.items()}
        assert set(mine) == set(caprotos), set(mine) ^ set(caprotos)
        assert {name: int(kind) for name, kind in mine.items()} == \
            {name: int(kind) for name, kind in caprotos.items()}


def test_a_caproto_style_ioc_runs_with_the_helpers(start_host, unique_prefix, pyepics,
                                                   caproto_context, tmp_path):
    start_host.caproto = caproto_context
    test_iocs.ChosenFileAutosave.filename = str(tmp_path / "caproto_style.sav")
    (tmp_path / "caproto_style.sav").write_text(
        "# autosave R5.11\tx\nvalue 2.5\nstats:START_CNT 4\n<END>\n", encoding="latin-1")
    host = start_host("""\
        mounts:
          - {name: style, ioc: helper-test-caproto-style, prefix: "$(P)"}
        """, unique_prefix)
    P = unique_prefix + "stats:"
    assert pyepics.caget(P + "PROCESS_ID", timeout=TIMEOUT) == os.getpid()
    assert pyepics.caget(P + "CPU_CNT") == os.cpu_count()
    assert pyepics.caget(P + "UPD_TIME") == 15.0
    beat = pyepics.caget(P + "HEARTBEAT")
    assert wait_until(lambda: pyepics.caget(P + "HEARTBEAT", use_monitor=False) > beat,
                      timeout=TIMEOUT)
    ioc = host.mounts["style"].ioc
    assert wait_until(lambda: pyepics.caget(P + "RECORD_CNT", use_monitor=False)
                      == len(ioc.pvdb), timeout=TIMEOUT)
    assert pyepics.caget(P + "MEM_USED") > 0 and pyepics.caget(P + "FD_MAX") > 0
    # the autosave helper restored the autosaved PVs, START_CNT counted this start
    assert wait_until(lambda: pyepics.caget(unique_prefix + "value", use_monitor=False) == 2.5,
                      timeout=TIMEOUT)
    assert wait_until(lambda: pyepics.caget(P + "START_CNT", use_monitor=False) == 5,
                      timeout=TIMEOUT)
    assert pyepics.caput(unique_prefix + "value", 7.25, wait=True, timeout=TIMEOUT) == 1
    saved = tmp_path / "caproto_style.sav"
    assert wait_until(lambda: parse_sav(saved.read_text(encoding="latin-1"))
                      .values()["value"].value == "7.25", timeout=TIMEOUT)
    # SYSRESET would end the process in caproto: refused here, the host lives on
    reset = start_host.caproto.get_pvs(P + "SYSRESET")[0]
    assert reset.write([1], wait=True, notify=True, timeout=TIMEOUT).status.name == \
        "ECA_PUTFAIL"
    assert host.running
    # memory tracing is off until enabled; one round publishes the top allocations
    M = unique_prefix + "mem:"
    assert pyepics.caget(M + "EnableTracing", as_string=True) == "Disable"
    assert not tracemalloc.is_tracing()
    try:
        assert pyepics.caput(M + "EnableTracing", "Enable", wait=True, timeout=TIMEOUT) == 1
        start_host.call(ioc.mem.trace_once())           # tracing starts: a first snapshot
        ballast = [bytearray(1000) for _ in range(2000)]   # noqa: F841 (allocated, traced)
        start_host.call(ioc.mem.trace_once())
        top = pyepics.caget(M + "TraceTopAllocations", as_string=True, use_monitor=False)
        assert top.startswith("#1: ") and "KiB" in top, top
        diff = pyepics.caget(M + "TraceDiffResults", as_string=True, use_monitor=False)
        assert "test_status_helpers.py" in diff, diff
    finally:
        assert pyepics.caput(M + "EnableTracing", "Disable", wait=True, timeout=TIMEOUT) == 1
        start_host.call(ioc.mem.trace_once())
    assert not tracemalloc.is_tracing()


def test_a_script_moved_from_caproto_finds_its_settings_in_caprotos_json(
        start_host, unique_prefix, pyepics, tmp_path, caplog):
    """caproto's AutosaveHelper wrote autosave.json: imported once into the .sav set when
    there is none yet (the settings were silently lost at the first start)."""
    test_iocs.ChosenFileAutosave.filename = str(tmp_path / "autosave.sav")
    (tmp_path / "autosave.json").write_text(json.dumps(
        {unique_prefix + "value": {"value": 42.5, "fields": {}}}))
    start_host("""\
        mounts:
          - {name: style, ioc: helper-test-caproto-style, prefix: "$(P)"}
        """, unique_prefix)
    assert wait_until(lambda: pyepics.caget(unique_prefix + "value", use_monitor=False)
                      == 42.5, timeout=TIMEOUT)
    assert "\nvalue 42.5\n" in (tmp_path / "autosave.sav").read_text(encoding="latin-1")
    assert "imported 1 values of caproto's" in caplog.text

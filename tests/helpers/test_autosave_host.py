"""The autosave helper attached from the host config, checked over CA (pyepics = libca,
caproto's client) across host restarts on the session's server."""
from __future__ import annotations

import re
import time

import pytest

from iochost.helpers.savfile import parse_sav
from iochost.host import ConfigError
from iochost.testing import wait_until

from . import test_iocs

TIMEOUT = 5.0

MOUNT = """\
mounts:
  - name: settings
    ioc: helper-test-settings
    prefix: "$(P)"
    helpers:
      autosave: {period: 0.2, pvs: [target], pass1: [target]}
"""


def _put(pyepics, name, value):
    assert pyepics.caput(name, value, wait=True, timeout=TIMEOUT) == 1


def test_round_trip_across_a_restart_with_a_changed_prefix(start_host, unique_prefix,
                                                           pyepics, caproto_context, tmp_path):
    first = unique_prefix + "A:"
    host = start_host(MOUNT, first)
    _put(pyepics, first + "gain", 12.5)
    _put(pyepics, first + "count", -7)
    _put(pyepics, first + "mode", 2)
    _put(pyepics, first + "label", 'say "hi"\tthere')
    long_note = "a long string, longer than forty characters: " + "x" * 60
    pyepics.caput(first + "note", long_note, wait=True, timeout=TIMEOUT)
    pyepics.caput(first + "table", [1.5, 2.25, -3e-9, 4e12], wait=True, timeout=TIMEOUT)
    _put(pyepics, first + "offset", 0.125)
    _put(pyepics, first + "speed.EGU", "mm/s")
    _put(pyepics, first + "speed.HIHI", 9.5)
    _put(pyepics, first + "speed", 3.0)
    _put(pyepics, first + "target", 42.0)
    _put(pyepics, first + "unsaved", 99.0)
    start_host.stop(host)           # a clean shutdown always writes

    sav = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    entries = parse_sav(sav.read_text(encoding="latin-1"), str(sav)).values()
    assert entries["gain"].value == "12.5" and entries["mode"].value == "2"
    assert "unsaved" not in entries and not any(name.startswith(first) for name in entries)

    second = unique_prefix + "B:"
    test_iocs.EVENTS.clear()
    start_host(MOUNT, second)
    pv = caproto_context.get_pvs(second + "label")[0]
    assert pv.read(data_type="native").data[0] == b'say "hi"\tthere'
    assert pyepics.caget(second + "gain", timeout=TIMEOUT) == 12.5
    assert pyepics.caget(second + "count") == -7
    assert pyepics.caget(second + "mode", as_string=True) == "Auto"
    assert pyepics.caget(second + "note", as_string=True) == long_note
    assert list(pyepics.caget(second + "table")) == [1.5, 2.25, -3e-9, 4e12]
    assert pyepics.caget(second + "offset") == 0.125
    assert pyepics.caget(second + "speed") == 3.0
    assert pyepics.caget(second + "speed.EGU", as_string=True) == "mm/s"
    assert pyepics.caget(second + "speed.HIHI") == 9.5
    assert pyepics.caget(second + "target") == 42.0
    assert pyepics.caget(second + "unsaved") == 0.0
    # pass 0 did not run the gain putter; pass 1 ran target's
    assert ("putter target", 42.0) in test_iocs.EVENTS
    assert not any(event == "putter gain" for event, _ in test_iocs.EVENTS)


def test_pass0_is_there_before_startup_hooks_and_first_connect(start_host, unique_prefix,
                                                                 pyepics, tmp_path):
    prefix = unique_prefix
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (directory / "auto_settings.sav").write_text(
        "# autosave R5.11\tAutomatically generated - DO NOT MODIFY - 261203-101010\n"
        "gain 60\n<END>\n", encoding="latin-1")
    test_iocs.EVENTS.clear()
    start_host(MOUNT, prefix)
    # the startup hook saw the restored value, with its alarm already computed (HIGH: MINOR)
    assert ("startup saw gain", 60.0) in test_iocs.EVENTS
    assert ("startup saw gain severity", 1) in test_iocs.EVENTS
    # a client that connects first sees it (pyepics' first get, alarm included)
    pv = pyepics.PV(prefix + "gain", form="time", auto_monitor=False)
    assert pv.wait_for_connection(TIMEOUT)
    assert pv.get(timeout=TIMEOUT) == 60.0 and pv.severity == 1


def test_nothing_is_written_when_nothing_changed(start_host, unique_prefix, pyepics, tmp_path):
    host = start_host(MOUNT, unique_prefix)
    _put(pyepics, unique_prefix + "gain", 3.0)
    sav = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    assert wait_until(sav.exists, timeout=TIMEOUT)
    stamp = sav.stat().st_mtime_ns
    _put(pyepics, unique_prefix + "unsaved", 1.0)      # not a saved PV
    start_host.stop(host)
    assert sav.stat().st_mtime_ns == stamp
    assert not (tmp_path / "autosave" / "settings" / "auto_settings.savB").exists()


GOOD = ("# autosave R5.11\tAutomatically generated - DO NOT MODIFY - 261203-101010\n"
        "gain 7.5\ncount 3\n<END>\n")


def test_a_corrupt_latest_file_falls_back_to_savB_and_the_status_pvs_say_so(
        start_host, unique_prefix, pyepics, caproto_context, tmp_path):
    P = unique_prefix.split(":")[0] + ":"    # short: status PV names stay under 60 characters
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (directory / "auto_settings.savB").write_text(GOOD, encoding="latin-1")
    (directory / "auto_settings.sav").write_text(GOOD.replace("count 3\n<END>\n", "cou"),
                                                 encoding="latin-1")   # a torn write
    host = start_host(MOUNT, P + "IOC:", host_keys=f"autosave_prefix: '{P}'")
    assert pyepics.caget(P + "IOC:gain", timeout=TIMEOUT) == 7.5
    assert pyepics.caget(P + "IOC:count") == 3
    bad = list(directory.glob("auto_settings.sav_RBAD_*"))
    assert len(bad) == 1 and bad[0].read_text(encoding="latin-1").endswith("cou")
    assert list(directory.glob("auto_settings.sav_[0-9]*"))      # the dated copy at start
    # at once: synApps sets it while restoring (it read a stale "Ok" for up to 1 s)
    status = caproto_context.get_pvs(P + "SR_rebootStatus")[0]
    reading = status.read(data_type="time")
    assert reading.data[0] == 2
    assert reading.metadata.severity == 1                    # Warning is MINOR
    text = pyepics.caget(P + "SR_rebootStatusStr", as_string=True)
    assert "Bad .sav file" in text and "savB" in text
    assert pyepics.caget(P + "SR_0_Name", as_string=True) == \
        "settings/auto_settings"
    assert pyepics.caget(P + "SR_0_State") == 12      # METHOD_MONITORED
    assert pyepics.caget(P + "SR_0_StateEnum", as_string=True) == "Monitored"
    enum = pyepics.PV(P + "SR_status", form="ctrl")
    assert enum.wait_for_connection(TIMEOUT)
    assert list(enum.get_ctrlvars()["enum_strs"]) == \
        ["No Status", "Failure", "Warning", "Seq Fail", "Ok"]
    # the SAVE trigger writes now; the status then says Ok with the time
    assert pyepics.caput(P + "SAVE", 1, wait=True, timeout=TIMEOUT) == 1
    assert (directory / "auto_settings.sav").read_text(encoding="latin-1").endswith("<END>\n")
    assert wait_until(lambda: pyepics.caget(P + "SR_0_Status",
                                            use_monitor=False) == 4, timeout=TIMEOUT)
    # save_restore.c's TIMEFMT_noY, e.g. "Sat Dec 05 21:30:02"
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d",
                        pyepics.caget(P + "SR_0_Time", as_string=True))
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d",
                        pyepics.caget(P + "SR_rebootTime", as_string=True))
    # the alive PVs synApps' screens show
    assert pyepics.caget(P + "SR_deadIfZero") == 1 and pyepics.caget(P + "SR_i_am_alive") == 1
    assert "_autosave" in host.mounts


def test_sr_disable_suspends_saving_until_enabled_or_timed_out(start_host, unique_prefix,
                                                               pyepics, tmp_path):
    P = unique_prefix.split(":")[0] + ":"
    host = start_host(MOUNT, P + "IOC:", host_keys=f"autosave_prefix: '{P}'")
    sav = tmp_path / "autosave" / "settings" / "auto_settings.sav"

    def saved_gain() -> str | None:
        if not sav.exists():
            return None
        entry = parse_sav(sav.read_text(encoding="latin-1"), str(sav)).values().get("gain")
        return entry.value if entry else None

    _put(pyepics, P + "IOC:gain", 4.5)
    assert wait_until(lambda: saved_gain() == "4.5", timeout=TIMEOUT)
    _put(pyepics, P + "SR_disable", 1)
    _put(pyepics, P + "IOC:gain", 5.5)
    time.sleep(1.0)                                   # five save periods: nothing written
    assert saved_gain() == "4.5"
    _put(pyepics, P + "SR_disable", 0)
    assert wait_until(lambda: saved_gain() == "5.5", timeout=TIMEOUT)

    # with SR_disableMaxSecs, saving comes back by itself and SR_disable reads Enable again
    _put(pyepics, P + "SR_disableMaxSecs", 1)
    _put(pyepics, P + "SR_disable", 1)
    _put(pyepics, P + "IOC:gain", 6.5)
    assert wait_until(lambda: saved_gain() == "6.5", timeout=TIMEOUT)
    assert wait_until(lambda: pyepics.caget(P + "SR_disable", use_monitor=False) == 0,
                      timeout=TIMEOUT)

    # an unmount writes what changed since the last save, at once
    _put(pyepics, P + "SR_disableMaxSecs", 0)
    _put(pyepics, P + "IOC:count", 11)
    start_host.call(host.unmount("settings"))
    assert parse_sav(sav.read_text(encoding="latin-1"), str(sav)).values()["count"].value == "11"


def test_a_restart_with_unchanged_values_reports_the_set_saved(start_host, unique_prefix,
                                                              pyepics, tmp_path):
    P = unique_prefix.split(":")[0] + ":"
    config = MOUNT.replace('"$(P)"', '"$(P)IOC:"')
    host = start_host(config, P, host_keys=f"autosave_prefix: '{P}'")
    _put(pyepics, P + "IOC:gain", 4.0)
    sav = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    start_host.stop(host)
    stamp = sav.stat().st_mtime_ns
    start_host(config, P, host_keys=f"autosave_prefix: '{P}'")
    # synApps writes each set at boot: here the file already holds it, so it says Ok
    assert wait_until(lambda: pyepics.caget(P + "SR_0_Status", use_monitor=False) == 4,
                      timeout=TIMEOUT)
    assert pyepics.caget(P + "SR_0_Time", as_string=True) != "Not yet saved"
    assert sav.stat().st_mtime_ns == stamp                  # and did not write it again


def test_a_request_file_that_cannot_be_read_fails_its_set_but_not_the_mount(
        start_host, unique_prefix, pyepics, tmp_path):
    P = unique_prefix.split(":")[0] + ":"
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (directory / "auto_settings.sav").write_text(GOOD, encoding="latin-1")
    host = start_host(f"""\
        mounts:
          - {{name: settings, ioc: helper-test-settings, prefix: "$(P)IOC:",
             helpers: {{autosave: {{request: auto_settings.req, request_path: ['{tmp_path}'],
                                   period: 0.1}}}}}}
        """, P, host_keys=f"autosave_prefix: '{P}'")
    assert host.mounts["settings"].state == "running"
    assert pyepics.caget(P + "IOC:gain", timeout=TIMEOUT) == 7.5    # still restored
    assert wait_until(lambda: pyepics.caget(P + "SR_0_Status", use_monitor=False) == 1,
                      timeout=TIMEOUT)                                # Failure
    assert "bad request file" in pyepics.caget(P + "SR_0_StatusStr", as_string=True)
    # (auto_settings.req is missing: its set auto_settings.sav restores, never saves)
    _put(pyepics, P + "IOC:gain", 1.0)
    start_host.stop(host)   # never saved: a save would drop what the request file names
    assert (directory / "auto_settings.sav").read_text(encoding="latin-1") == GOOD


def test_a_c_iocs_not_saved_line_is_reported_beside_skipped_values(start_host, unique_prefix,
                                                                   pyepics, tmp_path, caplog):
    """A synApps file's ``! N channel(s) not connected`` line says the C IOC could not
    save some values: logged even when other lines were skipped too (it was only logged
    when nothing else went wrong)."""
    P = unique_prefix.split(":")[0] + ":"
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (directory / "auto_settings.sav").write_text(GOOD.replace(
        "gain 7.5\n", "! 2 channel(s) not connected - or not all gets were successful\n"
        "gain 7.5\nOTHER:thing 1\n"), encoding="latin-1")
    start_host(MOUNT, P + "IOC:", host_keys=f"autosave_prefix: '{P}'")
    assert pyepics.caget(P + "IOC:gain", timeout=TIMEOUT) == 7.5
    assert "says 2 values were not saved" in caplog.text and "OTHER:thing" in caplog.text
    assert pyepics.caget(P + "SR_rebootStatus", as_string=True) == "Warning"


@pytest.mark.parametrize("listed", ["pvs", "request"])
def test_text_in_a_char_array_listed_by_name_is_saved_as_a_long_string(
        start_host, unique_prefix, pyepics, tmp_path, listed):
    """A CHAR-array text PV named in ``pvs:`` or a request file is saved as ``memo$`` (as
    synApps saves a long string), like one declared ``autosave=True``; its empty start
    value made it look like no PV at all (``if channel``: an empty CHAR array is falsy)."""
    (tmp_path / "memo.req").write_text("$(P)memo\n")
    choice = ("pvs: [memo]" if listed == "pvs" else
              f"request: memo.req, request_path: ['{tmp_path}'], name: auto_settings")
    start_host(f"""\
        mounts:
          - {{name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {{autosave: {{{choice}, period: 0.1}}}}}}
        """, unique_prefix)
    _put(pyepics, unique_prefix + "memo", "a note with  spaces")
    sav = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    assert wait_until(lambda: sav.exists() and "memo$ a note with  spaces\n" in
                      sav.read_text(encoding="latin-1"), timeout=TIMEOUT)


def test_a_bad_line_of_a_request_file_is_left_out_and_the_rest_saves(start_host, unique_prefix,
                                                                     pyepics, tmp_path, caplog):
    """As synApps' readReqFile: an undefined macro or a missing include loses its line,
    not the set."""
    P = unique_prefix.split(":")[0] + ":"
    (tmp_path / "auto_settings.req").write_text(
        "$(P)gain\n$(NOT_DEFINED)count\nfile optional_module.req P=$(P) R=x\n")
    host = start_host(f"""\
        mounts:
          - {{name: settings, ioc: helper-test-settings, prefix: "$(P)IOC:",
             helpers: {{autosave: {{request: auto_settings.req, request_path: ['{tmp_path}'],
                                   period: 0.1}}}}}}
        """, P, host_keys=f"autosave_prefix: '{P}'")
    _put(pyepics, P + "IOC:gain", 2.5)
    sav = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    assert wait_until(lambda: sav.exists() and parse_sav(
        sav.read_text(encoding="latin-1")).values()["gain"].value == "2.5", timeout=TIMEOUT)
    assert pyepics.caget(P + "SR_0_Status", use_monitor=False) != 1   # no Failure
    logged = caplog.text
    assert "auto_settings.req:2" in logged and "NOT_DEFINED" in logged and "left out" in logged
    assert "auto_settings.req:3" in logged and "optional_module.req" in logged
    start_host.stop(host)


def test_pass1_names_match_however_the_file_spells_the_value(start_host, unique_prefix,
                                                             tmp_path):
    """A request file's ``$(P)target.VAL`` (synApps' spelling) and a C IOC's file line
    ``P:target 5`` are the item ``target``: ``pass1: [target]`` restores it through its
    putter (it was restored at pass 0, the putter never told)."""
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (tmp_path / "auto_settings.req").write_text("$(P)target.VAL\n")
    for line in ("target.VAL 5", f"{unique_prefix}target 6"):
        (directory / "auto_settings.sav").write_text(
            f"# written by hand\n{line}\n<END>\n")
        test_iocs.EVENTS.clear()
        host = start_host(f"""\
            mounts:
              - {{name: settings, ioc: helper-test-settings, prefix: "$(P)",
                 helpers: {{autosave: {{request: auto_settings.req, request_path: ['{tmp_path}'],
                                       pass1: [target]}}}}}}
            """, unique_prefix)
        value = float(line.rsplit(" ", 1)[1])
        assert wait_until(lambda v=value: ("putter target", v) in test_iocs.EVENTS, TIMEOUT), \
            test_iocs.EVENTS
        assert host.mounts["settings"].ioc.target.value == value
        start_host.stop(host)


def test_the_last_save_holds_what_the_shutdown_hooks_published(start_host, unique_prefix,
                                                               tmp_path):
    host = start_host(MOUNT, unique_prefix)
    sav = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    ioc = host.mounts["settings"].ioc
    assert ioc.parked.value == 0
    start_host.call(ioc.unsaved.write(-1))      # the shutdown hook parks then
    start_host.stop(host)
    assert "\nparked 1\n" in sav.read_text()


def _saved(sav, name):
    """The value text of ``name`` in the .sav file ``sav`` (None: no file or no entry)."""
    if not sav.exists():
        return None
    entry = parse_sav(sav.read_text(encoding="latin-1"), str(sav)).values().get(name)
    return entry.value if entry else None


def test_a_failed_save_is_retried_every_period_until_it_succeeds(start_host, unique_prefix,
                                                                 pyepics, tmp_path):
    """As synApps: while a set's last write failed, it is tried again every period, so a
    value put while the disk was full is on disk soon after space is back -- with no
    further change (a crash would otherwise lose it)."""
    P = unique_prefix.split(":")[0] + ":"
    start_host(MOUNT, P + "IOC:", host_keys=f"autosave_prefix: '{P}'")    # period 0.2 s
    directory = tmp_path / "autosave" / "settings"
    sav = directory / "auto_settings.sav"
    _put(pyepics, P + "IOC:gain", 4.5)
    assert wait_until(lambda: _saved(sav, "gain") == "4.5", timeout=TIMEOUT)

    # a real failure whoever runs the tests (root writes into a 0o500 directory): a
    # regular file where the set's directory is
    aside = directory.rename(tmp_path / "aside")
    directory.write_text("not a directory")
    _put(pyepics, P + "IOC:gain", 5.5)
    assert wait_until(lambda: pyepics.caget(P + "SR_0_Status", use_monitor=False) == 1,
                      timeout=TIMEOUT)                                   # Failure
    assert pyepics.caget(P + "SR_status", use_monitor=False) == 1
    assert pyepics.caget(P + "SR_0_StatusStr", as_string=True,
                         use_monitor=False).startswith("Can't write .sav file")
    time.sleep(0.5)                   # retries while it fails: still failing, nothing lost
    assert _saved(aside / "auto_settings.sav", "gain") == "4.5"

    directory.unlink()                # the condition clears; no put from here on
    aside.rename(directory)
    cleared = time.monotonic()
    assert wait_until(lambda: _saved(sav, "gain") == "5.5", timeout=TIMEOUT,
                      what="the value put while saves failed, on disk")
    assert time.monotonic() - cleared < 1.5     # a few periods of 0.2 s, with slack
    assert wait_until(lambda: pyepics.caget(P + "SR_status", use_monitor=False) == 4,
                      timeout=TIMEOUT)                                   # Ok again
    assert pyepics.caget(P + "SR_0_Status", use_monitor=False) == 4
    assert pyepics.caget(P + "SR_0_StatusStr", as_string=True, use_monitor=False) == "Ok"
    assert pyepics.caget(P + "SR_statusStr", as_string=True, use_monitor=False) == "Ok"


def test_a_value_put_back_while_saves_fail_is_ok_without_a_write(start_host, unique_prefix,
                                                                 pyepics, tmp_path):
    """A set whose values went back to what its file holds, while its writes failed, is
    Ok again: the file holds them (no Failure left for ever, no retries)."""
    P = unique_prefix.split(":")[0] + ":"
    start_host(MOUNT, P + "IOC:", host_keys=f"autosave_prefix: '{P}'")
    directory = tmp_path / "autosave" / "settings"
    _put(pyepics, P + "IOC:gain", 4.5)
    assert wait_until(lambda: _saved(directory / "auto_settings.sav", "gain") == "4.5",
                      timeout=TIMEOUT)
    aside = directory.rename(tmp_path / "aside")
    directory.write_text("not a directory")          # see the test above
    _put(pyepics, P + "IOC:gain", 5.5)
    assert wait_until(lambda: pyepics.caget(P + "SR_0_Status", use_monitor=False) == 1,
                      timeout=TIMEOUT)
    stamp = (aside / "auto_settings.sav").stat().st_mtime_ns
    _put(pyepics, P + "IOC:gain", 4.5)
    assert wait_until(lambda: pyepics.caget(P + "SR_0_Status", use_monitor=False) == 4,
                      timeout=TIMEOUT)
    assert pyepics.caget(P + "SR_status", use_monitor=False) == 4
    assert directory.is_file() and (aside / "auto_settings.sav").stat().st_mtime_ns == stamp


def test_two_sets_of_one_file_are_refused(start_host, unique_prefix, tmp_path):
    """Two mounts given the same directory: would each restore the other's values (the
    entries are relative to their prefixes) and overwrite each other's file. The config
    check refuses it before anything is served; a mount added at run time (which that
    check does not see) fails instead."""
    def entry(name: str) -> str:
        return (f"  - {{name: {name}, ioc: helper-test-settings, prefix: '$(P){name}:',\n"
                f"     helpers: {{autosave: {{directory: '{tmp_path}/shared'}}}}}}\n")

    two = {"name": "two", "ioc": "helper-test-settings", "prefix": unique_prefix + "two:",
           "helpers": {"autosave": {"directory": f"{tmp_path}/shared"}}}
    with pytest.raises(ConfigError) as refused:
        start_host("mounts:\n" + entry("one") + entry("two"), unique_prefix)
    assert [str(problem) for problem in refused.value.problems] == [
        f"helpers-test.yaml:7: mounts[1].helpers.autosave.directory: mount 'two': autosave: "
        f"{tmp_path}/shared/auto_settings.sav is already the save file of mount 'one' "
        "(line 4): give each set its own directory: or name:"]

    host = start_host("mounts:\n" + entry("one"), unique_prefix)
    start_host.call(host.mount(two))
    assert host.mounts["one"].state == "running"
    assert host.mounts["two"].state == "failed"
    assert "is already the save file of one/auto_settings" in host.mounts["two"].error

"""The save set's files on disk: sequence copies, dated copies, the fallback order, and a
directory that cannot be written (Failure on the status PVs, old files untouched)."""
from __future__ import annotations

import errno
import os
import pathlib
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timedelta

from iochost.helpers.savfile import format_sav
from iochost.helpers.savfiles import SaveFileSet
from iochost.testing import wait_until

TIMEOUT = 5.0


def text(value: str) -> str:
    return format_sav([("x", value)], when=datetime(2026, 12, 3, 10, 0, 0))


def test_sequence_files_rotate_and_dated_copies_are_pruned(tmp_path):
    files = SaveFileSet(tmp_path, "set", sequence_files=3, dated_copies=2)
    assert files.write_sequence() is None               # nothing saved yet
    for value in "abcd":
        files.write(text(value))
        files.write_sequence()
    # four copies into three slots: sav0 was overwritten by the fourth
    assert [files.sequence(i).read_text().splitlines()[1] for i in range(3)] == \
        ["x d", "x b", "x c"]
    start = datetime(2026, 12, 3, 10, 0, 0)
    for minute in range(4):
        files.dated_copy(files.sav, start + timedelta(minutes=minute))
    assert [path.name for path in files.dated_files()] == \
        ["set.sav_261203-100200", "set.sav_261203-100300"]


def test_the_newest_good_sequence_file_is_used_when_sav_and_savB_are_bad(tmp_path):
    files = SaveFileSet(tmp_path, "set", sequence_files=3)
    files.sav.write_text(text("a")[:-4])                  # torn
    files.backup.write_text("# autosave R5.11\nx b\n")    # no <END>
    files.sequence(0).write_text(text("old"))
    files.sequence(1).write_text(text("new"))
    os.utime(files.sequence(0), (1_000_000, 1_000_000))
    result = files.load()
    assert result.path == files.sequence(1) and result.fallback
    assert result.sav.values()["x"].value == "new"
    assert len(result.set_aside) == 2 and not files.sav.exists() and not files.backup.exists()
    assert len(list(tmp_path.glob("set.sav_RBAD_*"))) == 1
    assert len(list(tmp_path.glob("set.savB_RBAD_*"))) == 1


def test_an_unwritable_directory_is_a_failure_on_the_status_pvs(start_host, unique_prefix,
                                                                pyepics, tmp_path):
    """A mount added at run time (the config check, which refuses a set directory below a
    file, does not see it; nor a file made after the check) serves regardless."""
    P = unique_prefix.split(":")[0] + ":"
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the save directory should be")
    host = start_host("mounts: []\n", P, host_keys=f"autosave_prefix: '{P}'")
    start_host.call(host.mount({
        "name": "settings", "ioc": "helper-test-settings", "prefix": P + "IOC:",
        "helpers": {"autosave": {"period": 0.1, "directory": f"{blocker}/sub"}}}))
    assert host.mounts["settings"].state == "running"      # the mount serves regardless
    assert pyepics.caput(P + "IOC:gain", 5.0, wait=True, timeout=TIMEOUT) == 1
    assert wait_until(lambda: pyepics.caget(P + "SR_0_Status", use_monitor=False) == 1,
                      timeout=TIMEOUT)                      # Failure
    expected = "Can't write .sav file: Not a directory"
    assert wait_until(lambda: pyepics.caget(P + "SR_0_StatusStr", as_string=True,
                                            use_monitor=False) == expected, timeout=TIMEOUT)
    assert pyepics.caget(P + "SR_status", as_string=True) == "Failure"
    # nothing could be restored: every PV has its default, a failure (not a first boot)
    assert pyepics.caget(P + "SR_rebootStatus", as_string=True) == "Failure"
    assert pyepics.caget(P + "SR_rebootStatusStr", as_string=True) == \
        "Can't use directory: Not a directory"
    assert blocker.read_text() == "a file where the save directory should be"
    assert host.running


def test_a_trigger_pv_saves_at_once(start_host, unique_prefix, pyepics, tmp_path):
    S = unique_prefix.split(":")[0] + ":SR:"    # short: status PV names under 60 characters
    host = start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {autosave: {trigger: unsaved}}}
        """, unique_prefix, host_keys=f"autosave_prefix: '{S}'")
    saveset = host.mounts["settings"].helpers[0].saveset
    assert saveset.period == 30.0                       # a settings set: synApps' 30 s
    saved = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    assert pyepics.caput(unique_prefix + "gain", 9.0, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caput(unique_prefix + "unsaved", 1, wait=True, timeout=TIMEOUT) == 1
    assert wait_until(lambda: saved.exists() and "\ngain 9\n" in saved.read_text(),
                      timeout=TIMEOUT)                  # long before the 30 s period
    # saved on changes and on its trigger: MONITORED (12) | TRIGGERED (2)
    assert wait_until(lambda: pyepics.caget(S + "SR_0_State", use_monitor=False) == 14,
                      timeout=TIMEOUT)
    assert pyepics.caget(S + "SR_0_StateEnum", as_string=True) == "Triggered"


def test_an_empty_sav_is_set_aside_and_savB_restores(tmp_path):
    files = SaveFileSet(tmp_path, "set")
    files.sav.write_text("")                              # a full disk, a bad copy
    files.backup.write_text(text("good"))
    result = files.load()
    assert result.path == files.backup and result.sav.values()["x"].value == "good"
    assert not files.sav.exists() and len(list(tmp_path.glob("set.sav_RBAD_*"))) == 1
    files.write(text("next"))                # the next save keeps the good backup
    assert files.backup.read_text() == text("good")


def test_a_sav_that_cannot_be_read_is_left_in_place_and_savB_restores(tmp_path):
    files = SaveFileSet(tmp_path, "set")
    files.sav.mkdir()                                     # reading it fails: not a file
    files.backup.write_text(text("good"))
    result = files.load()
    assert result.path == files.backup and result.fallback
    assert files.sav.is_dir() and result.problems == ["set.sav cannot be read: Is a directory"]


def test_a_write_that_fails_leaves_no_temporary_file(tmp_path):
    """A full disk (here a file-size limit: EFBIG) fails the save; the partly written
    temporary file is removed, or it would keep the disk full for every later save."""
    script = textwrap.dedent("""\
        import resource, sys
        from iochost.helpers.savfiles import SaveFileSet
        files = SaveFileSet(sys.argv[1], "set")
        files.write("small\\n")
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            files.write("x" * 100_000)
        except OSError as error:
            print(error.strerror)
        """)
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout == "File too large\n", done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["set.sav"]
    assert (tmp_path / "set.sav").read_text() == "small\n"     # the old file untouched


def test_a_stale_temporary_that_cannot_be_removed_does_not_stop_the_restore(
        start_host, unique_prefix, pyepics, tmp_path, monkeypatch):
    """A killed writer's temporary file in a directory that is read-only now: removing it
    fails, and the restore reads the save file all the same (it used to skip it, and the
    defaults were saved over it later)."""
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    (directory / "auto_settings.sav").write_text(
        format_sav([("gain", "22")], when=datetime(2026, 12, 3, 10, 0, 0)))
    (directory / ".auto_settings.tmp-99999-0").write_text("# autosave R5.11\ngai")
    unlink = pathlib.Path.unlink

    def read_only(path, missing_ok=False):
        if path.name.startswith(".auto_settings.tmp-"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(pathlib.Path, "unlink", read_only)
    start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {autosave: {}}}
        """, unique_prefix)
    assert pyepics.caget(unique_prefix + "gain", use_monitor=False) == 22.0


def test_a_set_whose_files_could_not_be_read_never_saves_over_them(
        start_host, unique_prefix, pyepics, tmp_path, monkeypatch):
    directory = tmp_path / "autosave" / "settings"
    directory.mkdir(parents=True)
    sav = directory / "auto_settings.sav"
    sav.write_text(format_sav([("gain", "22")], when=datetime(2026, 12, 3, 10, 0, 0)))

    def unreadable(files):
        raise PermissionError(errno.EACCES, "Permission denied", str(files.directory))

    monkeypatch.setattr(SaveFileSet, "load", unreadable)
    P = unique_prefix.split(":")[0] + ":"
    start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)IOC:",
             helpers: {autosave: {period: 0.1}}}
        """, P, host_keys=f"autosave_prefix: '{P}'")
    assert pyepics.caget(P + "IOC:gain", use_monitor=False) == 1.0     # the default
    assert pyepics.caput(P + "IOC:gain", 5.0, wait=True, timeout=TIMEOUT) == 1
    time.sleep(0.5)                                       # five save periods
    assert "\ngain 22\n" in sav.read_text()                # the settings are still there
    expected = "Can't use directory: Permission denied"   # the status PVs: within 1 s
    assert wait_until(lambda: pyepics.caget(P + "SR_0_StatusStr", as_string=True,
                                            use_monitor=False) == expected, TIMEOUT)

"""SIGKILL at random moments while autosave writes: every restart restores the last or
the previous complete state, never a mix, never nothing (see sigkill_writer.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from iochost.testing import LOOPBACK_ENV

KILLS = 200
WRITER = Path(__file__).with_name("sigkill_writer.py")


def test_sigkill_during_saves_never_loses_or_mixes_a_state(tmp_path):
    log = tmp_path / "log"
    started = time.monotonic()
    subprocess.run([sys.executable, str(WRITER), str(tmp_path / "saves"), str(KILLS), "14",
                    str(log)], check=True, timeout=120, env={**os.environ, **LOOPBACK_ENV})
    elapsed = time.monotonic() - started
    lines = log.read_text().splitlines()
    assert not [line for line in lines if line.startswith("MIX")], lines
    kills = [line for line in lines if line.startswith("killed")]
    assert len(kills) == KILLS and set(kills) == {"killed 9"}
    last_saved: int | None = None
    restarts = saves_between = checked = unconfirmed = 0
    for line in lines:
        word, _, number = line.partition(" ")
        if word == "saved":
            last_saved, saves_between = int(number), saves_between + 1
        elif word in ("restored", "final"):
            restarts += 1
            if last_saved is None:            # no save confirmed before this start
                assert number in ("none", "1"), line
                last_saved = None if number == "none" else 1
                continue
            assert number != "none", f"a restart after save {last_saved} restored nothing"
            # the last save confirmed, or the one being written when the kill came
            assert int(number) in (last_saved, last_saved + 1), (line, last_saved)
            unconfirmed += int(number) == last_saved + 1   # killed between rename and log
            last_saved = int(number)
            checked += 1
    assert restarts == KILLS + 1 and checked >= KILLS - 5
    # every run saved before its kill, and some kills came after a save's rename but
    # before the writer could say so: the kills land inside the saves
    assert saves_between >= KILLS and unconfirmed >= 1, (saves_between, unconfirmed)
    # the writes are atomic: no torn file was ever found and set aside, no temporary left
    files = sorted(path.name for path in (tmp_path / "saves").iterdir())
    assert "worker.sav" in files and "worker.savB" in files
    assert not [name for name in files if "RBAD" in name or ".tmp-" in name], files
    print(f"{KILLS} kills, {saves_between} saves, {unconfirmed} restarts restored a save "
          f"the killed writer had not confirmed, {elapsed:.1f} s")

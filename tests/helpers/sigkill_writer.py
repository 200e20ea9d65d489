"""The SIGKILL loop's worker: restart, restore, save, save, ... until killed.

Run as ``python sigkill_writer.py DIRECTORY RUNS SEED LOG``. This process imports iochost
once, then forks one child per run (a fork is a restart without the import cost; this
process has no threads, so the fork is safe). Each child builds the IOC, restores pass 0
from DIRECTORY exactly as the autosave helper does, appends ``restored K`` to LOG, then
saves states K+1, K+2, ... through ``SaveSet.save`` (the helper's save path: format,
temporary file, fsync, .savB link, rename, directory fsync), appending ``saved K`` after
each save returns; after its first save it tells the parent through a pipe. The parent
kills the child with SIGKILL at a random moment 0-30 ms later (whatever the machine's
load, every run is killed among its saves) and starts the next run.
``tests/helpers/test_autosave_sigkill.py`` checks LOG.
"""
from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time

import numpy as np

from iochost import ChannelType, PVGroup, pvproperty
from iochost.helpers.autosave import declared_items
from iochost.helpers.saveset import SaveSet
from iochost.helpers.savfiles import SaveFileSet

STATES = ("Zero", "One", "Two", "Three")


class Worker(PVGroup):
    """Every PV holds a function of one counter K, so a mixed restore shows (the
    defaults are state 0)."""

    k = pvproperty(value=0, autosave=True)
    half = pvproperty(value=0.0, autosave=True)
    text = pvproperty(value="k=0", dtype=ChannelType.STRING, autosave=True)
    state = pvproperty(value="Zero", dtype=ChannelType.ENUM, enum_strings=STATES,
                       autosave=True)
    wave = pvproperty(value=np.arange(64.0), autosave=True)
    note = pvproperty(value="note 0 ", max_length=300, autosave=True)


def state_of(k: int) -> dict[str, object]:
    return {"k": k, "half": k / 2, "text": f"k={k}", "state": STATES[k % 4],
            "wave": np.arange(64) + k, "note": f"note {k} " + "x" * (k % 200)}


def k_of(ioc: Worker) -> int:
    """K of the restored values; raises AssertionError when they are a mix."""
    k = ioc.k.value
    expected = state_of(k)
    for name, value in expected.items():
        got = getattr(ioc, name).value
        same = np.array_equal(got, value) if isinstance(value, np.ndarray) else got == value
        if not same:
            raise AssertionError(f"mixed state: k={k} but {name}={str(got)[:60]!r}")
    return k


def log(fd: int, line: str) -> None:
    os.write(fd, (line + "\n").encode())      # one small O_APPEND write: whole or absent


async def child(directory: str, fd: int, ready: int | None) -> None:
    ioc = Worker(prefix="K:")
    saveset = SaveSet(ioc.pvdb, "K:", declared_items(ioc.pvdb, "K:"),
                      SaveFileSet(directory, "worker", sequence_files=0, dated_copies=3))
    await saveset.restore(0)
    try:
        k = k_of(ioc)
    except AssertionError as error:
        log(fd, f"MIX {error}")
        os._exit(3)
    log(fd, f"restored {k}" if saveset.loaded.path else "restored none")
    while True:
        k += 1
        for name, value in state_of(k).items():
            await getattr(ioc, name).write(value)
        if await saveset.save():
            log(fd, f"saved {k}")
            if ready is not None:              # the parent's random delay starts now
                os.write(ready, b"s")
                ready = None


def main() -> None:
    directory, runs, seed, log_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        sys.argv[4]
    rng = random.Random(seed)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for _ in range(runs):
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(child(directory, fd, ready_write))
            finally:
                os._exit(1)
        os.close(ready_write)
        os.read(ready_read, 1)                 # restored and saved once: kill it among saves
        os.close(ready_read)
        time.sleep(rng.uniform(0.0, 0.03))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        log(fd, f"killed {os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1}")
    # one last clean restart: what does it restore?
    pid = os.fork()
    if pid == 0:
        asyncio.run(child_restore_only(directory, fd))
        os._exit(0)
    os.waitpid(pid, 0)


async def child_restore_only(directory: str, fd: int) -> None:
    ioc = Worker(prefix="K:")
    saveset = SaveSet(ioc.pvdb, "K:", declared_items(ioc.pvdb, "K:"),
                      SaveFileSet(directory, "worker", sequence_files=0, dated_copies=3))
    await saveset.restore(0)
    log(fd, f"final {k_of(ioc)}")


if __name__ == "__main__":
    main()

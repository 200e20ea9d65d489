"""The suite's loopback guard: a preloaded library that stops traffic leaving 127.0.0.0/8.

The EPICS_CA*/EPICS_CAS* variables keep every CA peer on loopback but one: libca sends its
repeater registration alternately to 127.0.0.1 and to the machine's first non-loopback
address, so each libca context that lives 11 s (pyepics in this process, softIoc's CA links,
a long caget) sends one empty datagram there (udpiiu.cpp, caRepeaterRegistrationMessage).
``loopback_guard.c``, built here with gcc and preloaded (``LD_PRELOAD``) into the test
process and every process it starts, drops such datagrams and refuses such connects, and
logs each to ``IOCHOST_LOOPBACK_GUARD_LOG``; the session's last test reads that log.
Without gcc (or when it fails) the suite runs unguarded, and its guard tests say so as
they skip.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("loopback_guard.c")
BUILD = Path(__file__).resolve().parents[1] / "build" / "loopback-guard"
#: what a loaded guard is recorded under; the library's own path
ACTIVE = "IOCHOST_LOOPBACK_GUARD"
LOG = "IOCHOST_LOOPBACK_GUARD_LOG"
REEXEC = "IOCHOST_LOOPBACK_GUARD_REEXEC"


def build() -> Path | None:
    """The guard library, compiled once per source text; None without gcc."""
    source = SOURCE.read_bytes()
    library = BUILD / f"loopback_guard-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if library.exists():
        return library
    if shutil.which("gcc") is None:
        return None
    BUILD.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD) as scratch:   # renamed in: sessions may race
        built = Path(scratch) / library.name
        gcc = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o",
                              str(built), str(SOURCE), "-ldl"], capture_output=True, text=True)
        if gcc.returncode:
            sys.stderr.write(f"loopback guard: gcc failed, the suite runs unguarded:\n"
                             f"{gcc.stderr}")
            return None
        built.replace(library)
    return library


def loaded(library: Path | str) -> bool:
    """Whether ``library`` is mapped into this process."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        return any(line.rstrip().endswith(str(library)) for line in maps)


def install(log_dir: str) -> Path | None:
    """Preload the guard into every process started from now on; it logs into ``log_dir``
    (an outer session's log, when inherited)."""
    library = build()
    if library is None:
        return None
    os.environ.setdefault(LOG, os.path.join(log_dir, "loopback-guard.log"))
    preload = os.environ.get("LD_PRELOAD", "").split()
    if str(library) not in preload:
        os.environ["LD_PRELOAD"] = " ".join([str(library), *preload])
    os.environ[ACTIVE] = str(library)
    return library


def reexec_guarded() -> None:
    """Run this very command again, now with the guard preloaded: a process's own preloads
    are fixed when it starts.  Once: a system that ignores LD_PRELOAD only gets a warning."""
    if os.environ.get(REEXEC):
        sys.stderr.write(f"loopback guard: LD_PRELOAD={os.environ['LD_PRELOAD']} was not "
                         "loaded: this process runs unguarded\n")
        return
    os.environ[REEXEC] = "1"
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def blocked() -> list[str]:
    """The lines of the guard's log: ``pid call address port size command-line`` each."""
    path = os.environ.get(LOG)
    if not path or not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as log:
        return log.read().splitlines()

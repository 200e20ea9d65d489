"""The event-loop watchdog: names the code that blocks the host's one event loop.

Every mount of a host runs on one event loop. A hook that blocks it -- ``time.sleep``, a
blocking socket or serial read, a long computation -- stalls the CA traffic of every other
mount, while each still shows ``running``. So the loop beats a heartbeat (one timer every
``BEAT`` seconds) and a daemon thread watches it: when the loop has not beaten for
``threshold`` seconds (``host.loop_watchdog``), the thread samples the loop thread's stack
(``sys._current_frames``). When the loop runs again, its late heartbeat logs one WARNING:

    [mount blocker] event loop blocked 0.81 s in read (/site/drv/serial.py:42), called from
    poll (/site/ovens/ioc.py:77); every IOC of this host waited

naming the innermost frame outside Python's standard library (asyncio's own frames say
nothing) and the outermost frame of the mount's code, when that is another one. The mount
is the one whose IOC (or subgroup) is ``self`` in a frame of the stack, else the one whose
IOC class's package holds the frame's module (best effort: names every candidate). Lines
are rate-limited per location (``iochost.pv.faults.LogLimiter``: one, then one per
``LOG_INTERVAL`` seconds with the count suppressed); every block is counted, per host and
per mount. A block that outlasts ``STUCK`` seconds is also logged from the thread at once:
the loop may never come back.

A late heartbeat is not always a block: on a machine short of CPU the loop thread may have
been ready to run and waited for a processor.  Where Linux tells (``/proc/thread-self/
schedstat``: the thread's time waiting on a run queue, read at each heartbeat), a late beat
that waited for a CPU more than half its lateness is logged as the loop *starved of CPU*,
naming no code and counted for no mount (it is still a late beat in ``blocks``).

Cost: one timer callback per ``BEAT`` seconds on the loop (with one read of that file); the
thread sleeps on an Event.  It works alike on asyncio's loop and uvloop's, and ``stop()``
ends the thread.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import FrameType
from typing import Any

from iochost.pv.faults import LOG_INTERVAL, LogLimiter

__all__ = ["BEAT", "STUCK", "LoopWatchdog", "Site"]

log = logging.getLogger("iochost.host")

#: seconds between two heartbeats of the loop
BEAT = 0.1
#: a block longer than this is logged while it lasts (from the watchdog thread)
STUCK = 10.0
#: frames of a sampled stack kept (innermost first)
MAX_DEPTH = 200
#: (file name, function) of the frames in which a loop waits for I/O: a sample whose
#: innermost frame is one of them found no Python code running on the loop
IDLE = {("selectors.py", "select"), ("runners.py", "run"),
        ("base_events.py", "run_forever"), ("base_events.py", "run_until_complete")}


@dataclass(frozen=True)
class Site:
    """One frame of a sampled stack, as the warning names it."""

    function: str
    file: str
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.function} ({self.file}:{self.line})"


@dataclass
class Sample:
    """The loop thread's stack while the loop was blocked after the heartbeat ``beat``."""

    beat: float
    frames: list[FrameType]    #: innermost first (read on the loop thread only)
    sites: list[Site]          #: their lines when sampled


@cache
def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple({os.path.join(paths[key], "") for key in ("stdlib", "platstdlib")})


@cache
def is_stdlib(file: str) -> bool:
    """A file of Python's standard library (not an installed package)."""
    if file.startswith("<"):      # <frozen importlib._bootstrap>, <string>
        return True
    return file.startswith(_stdlib_dirs()) and "-packages" not in file


def _stack(frame: FrameType | None) -> tuple[list[FrameType], list[Site]]:
    frames: list[FrameType] = []
    sites: list[Site] = []
    while frame is not None and len(frames) < MAX_DEPTH:
        code = frame.f_code
        frames.append(frame)
        sites.append(Site(code.co_name, code.co_filename, frame.f_lineno or 0,
                          str(frame.f_globals.get("__name__", ""))))
        frame = frame.f_back
    return frames, sites


def _idle(sites: list[Site]) -> bool:
    """No Python code of the loop's was running: it waited for I/O (or nothing sampled)."""
    if not sites:
        return True
    file, function = sites[0].file, sites[0].function
    return (os.path.basename(file), function) in IDLE and is_stdlib(file)


def _package(module: str) -> str:
    """What a module must start with to be the code of an IOC class defined in
    ``module``: its top-level package, or the module itself for iochost's own IOCs
    (iochost's server and framework code is no IOC's)."""
    top = module.partition(".")[0]
    return module if top == "iochost" else top


def _in(module: str, key: str) -> bool:
    return module == key or module.startswith(key + ".")


class Attribution:
    """Which serving mount's code a frame is: by ``self`` (the IOC or one of its
    subgroups), else by the module of its classes. Built on the loop thread."""

    def __init__(self, mounts: Mapping[str, Any]) -> None:
        self.groups: dict[int, str] = {}
        self.modules: dict[str, set[str]] = {}    # an IOC class's module -> mounts
        self.packages: dict[str, set[str]] = {}   # its package -> mounts
        for name, mount in mounts.items():
            ioc = getattr(mount, "ioc", None)
            if ioc is None or not getattr(mount, "serving", True):
                continue
            for group in (ioc, *getattr(ioc, "groups", {}).values()):
                self.groups[id(group)] = name
                module = type(group).__module__
                self.modules.setdefault(module, set()).add(name)
                self.packages.setdefault(_package(module), set()).add(name)

    def by_self(self, frame: FrameType, module: str) -> str | None:
        """The mount whose group is ``self`` of the frame of an IOC's own code (iochost's
        framework methods take the group as ``self`` too: they are not the IOC's code)."""
        if "self" not in frame.f_code.co_varnames or (
                _in(module, "iochost") and not self.by_module(module)):
            return None
        me = frame.f_locals.get("self")
        return self.groups.get(id(me)) if me is not None else None

    def by_module(self, module: str) -> set[str]:
        """The mounts whose IOC classes are defined in ``module``, else in its package."""
        exact = self.modules.get(module)
        if exact:
            return exact
        return {name for key, names in self.packages.items() if _in(module, key)
                for name in names}


def describe(sample: Sample | None, mounts: Mapping[str, Any],
             ) -> tuple[str, list[str], tuple[Any, ...]]:
    """(where, the mounts it is attributed to, a key of its location for rate limiting)
    of a sampled block; call it on the loop thread (it reads frames' ``self``)."""
    if sample is None:
        return ("where the watchdog could not see: its thread did not run either (was the "
                "process stopped, or starved of CPU?)"), [], ("unseen",)
    sites = sample.sites
    if _idle(sites):
        return ("with no Python code running on the loop (was the process stopped, or "
                "starved of CPU or memory?)", [], ("idle",))
    inner = next((site for site in sites if not is_stdlib(site.file)), sites[0])
    attribution = Attribution(mounts)
    owner_index, owners = None, []
    for index, frame in enumerate(sample.frames):     # innermost first: keep the outermost
        site = sites[index]
        name = None if is_stdlib(site.file) else attribution.by_self(frame, site.module)
        if name is not None:
            owner_index, owners = index, [name]
    if owner_index is None:
        for index, site in enumerate(sites):
            names = attribution.by_module(site.module)
            if names:
                owner_index, owners = index, sorted(names)
    where = f"in {inner}"
    if owner_index is not None:
        outer = sites[owner_index]
        if outer != inner:
            where += f", called from {outer}"
            return where, owners, (inner, outer)
    return where, owners, (inner,)


def _open_run_delay() -> tuple[int, float] | None:
    """The calling thread's schedstat file, open, and its run-queue wait so far (None
    where there is none)."""
    try:
        fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        return None
    waited = _run_delay(fd)
    if waited is None:
        os.close(fd)
        return None
    return fd, waited


def _run_delay(fd: int) -> float | None:
    """Seconds the thread has waited on a run queue (ready, not running), from its open
    schedstat file: "run_ns wait_ns slices"."""
    try:
        return int(os.pread(fd, 64, 0).split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _mount_label(owners: list[str]) -> str:
    if not owners:
        return ""
    if len(owners) == 1:
        return f"[mount {owners[0]}] "
    shown = ", ".join(owners[:4]) + (", ..." if len(owners) > 4 else "")
    return f"[one of mounts {shown}] "


class LoopWatchdog:
    """Watches the event loop it is started on; ``mounts()`` gives the mounts to attribute
    blocks to (name -> Mount). ``blocks``, ``max_block`` and ``last`` (the last warning's
    text) tell what it saw; each block also adds one to the attributed mount's
    ``loop_blocks``."""

    def __init__(self, threshold: float, mounts: Callable[[], Mapping[str, Any]], *,
                 beat: float = BEAT, stuck: float = STUCK,
                 limiter: LogLimiter | None = None) -> None:
        # the heartbeat's own granularity: a shorter threshold would only cost CPU (a
        # thread polling every 0.25 ms is ~10 % of a core) and report jitter
        self.threshold, self.beat, self.stuck = max(threshold, 2 * beat), beat, stuck
        self.mounts = mounts
        self.limiter = limiter or LogLimiter(burst=1, interval=LOG_INTERVAL)
        self.blocks = 0
        self.max_block = 0.0
        self.last: str | None = None
        self._check = min(beat, threshold / 4)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._beat = self._due = 0.0
        self._sample: Sample | None = None
        #: the loop thread's schedstat file and its run-queue wait at the last heartbeat
        self._schedstat: int | None = None
        self._waited = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start watching the running loop (call it on that loop)."""
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        opened = _open_run_delay()
        if opened is not None:
            self._schedstat, self._waited = opened
        self._stopping.clear()
        self._beat = time.monotonic()
        self._schedule(self._beat)
        self._thread = threading.Thread(target=self._watch, name="iochost-loop-watchdog",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the heartbeat and end the thread (it wakes at once)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None:
            thread.join(5.0)
        self._sample = None
        if self._schedstat is not None:
            os.close(self._schedstat)
            self._schedstat = None

    # -- on the loop ---------------------------------------------------------------------------
    def _schedule(self, now: float) -> None:
        assert self._loop is not None
        self._due = now + self.beat
        self._handle = self._loop.call_later(self.beat, self._heartbeat)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        late, previous = now - self._due, self._beat
        self._beat = now
        self._schedule(now)
        waited = None
        if self._schedstat is not None:
            total = _run_delay(self._schedstat)
            if total is not None:
                waited, self._waited = total - self._waited, total
        if late <= self.threshold:
            return
        sample, self._sample = self._sample, None
        if sample is not None and sample.beat != previous:
            sample = None             # taken during an earlier block
        self._report(late, sample, waited)

    def _report(self, seconds: float, sample: Sample | None, waited: float | None = None
                ) -> None:
        """A late heartbeat: ``waited``, the seconds the loop thread waited for a CPU
        since the previous one (None: not known)."""
        mounts = self.mounts()
        owners: list[str]
        if waited is not None and waited > seconds / 2:
            where, owners, key = (f"starved of CPU: it waited {waited:.2f} s for a processor "
                                  f"(the machine is busy; no code of this host held it)",
                                  [], ("starved",))
        else:
            where, owners, key = describe(sample, mounts)
        self.blocks += 1
        self.max_block = max(self.max_block, seconds)
        if len(owners) == 1 and owners[0] in mounts:
            mount = mounts[owners[0]]
            mount.loop_blocks = getattr(mount, "loop_blocks", 0) + 1
        self.last = f"{_mount_label(owners)}event loop blocked {seconds:.2f} s {where}"
        dropped = self.limiter.allow(key)
        if dropped is not None:
            log.warning("%s; every IOC of this host waited%s", self.last,
                        f" ({dropped} similar messages suppressed)" if dropped else "")

    # -- on the watchdog thread ----------------------------------------------------------------
    def _watch(self) -> None:
        sampled = stuck = None
        while not self._stopping.wait(self._check):
            beat = self._beat
            lag = time.monotonic() - beat
            if lag < self.threshold:
                continue
            if sampled != beat:
                frame = sys._current_frames().get(self._loop_thread)
                if frame is None:
                    continue
                frames, sites = _stack(frame)
                del frame
                if self._beat == beat:   # else the loop ran meanwhile: not the block's stack
                    self._sample = Sample(beat, frames, sites)
                    sampled = beat
                del frames
            if lag >= self.stuck and stuck != beat and self._sample is not None:
                stuck = beat
                self._report_stuck(lag, self._sample)

    def _report_stuck(self, seconds: float, sample: Sample) -> None:
        """Logged from the thread, attributed by module only (a frame's locals are the
        loop thread's to read)."""
        sites = sample.sites
        if _idle(sites):
            return
        inner = next((site for site in sites if not is_stdlib(site.file)), sites[0])
        try:
            attribution = Attribution(dict(self.mounts()))
        except RuntimeError:     # the loop changed the mounts while we copied them
            attribution = Attribution({})
        owners: list[str] = []
        for site in sites:                       # the outermost frame of a mount's code
            owners = sorted(attribution.by_module(site.module)) or owners
        log.warning("%sevent loop blocked for %.0f s so far in %s; every IOC of this host "
                    "is waiting", _mount_label(owners), seconds, inner)

"""How an iochost process runs its event loop: one runner for ``iochost serve`` (the host)
and ``iochost.run()`` (one standalone IOC).

* :func:`run_process` runs a coroutine on a new loop -- uvloop's when installed
  (:func:`~iochost.server.server.new_event_loop`) -- with ``asyncio.Runner``, which closes
  the loop cleanly whatever happened; it first raises the open-file limit, as every
  client's circuit takes a file descriptor.
* :class:`StopSignals` turns SIGINT/SIGTERM into a stop request while its ``with`` block
  runs on the loop (plus any extra handlers, e.g. the host's SIGHUP reload) and restores
  the default handling after it.
* :func:`freeze_heap` / :func:`thaw_heap`: what start-up built (every PV, group and
  record: hundreds of thousands of objects in a large host) is left out of the garbage
  collector's full collections while it is served, and given back when some of it may
  become garbage (an unmount); freezing also gives the C heap's free pages back to the
  system, as start-up leaves many behind (the growing tables of large dicts).
* Logging is ``iochost.logs.configure_logging`` for both; the callers configure it, as they
  know the level and format asked for.
"""
from __future__ import annotations

import asyncio
import functools
import gc
import logging
import signal
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, TypeVar

from .server import new_event_loop

__all__ = ["STOP_SIGNALS", "StopSignals", "run_process", "raise_open_file_limit", "freeze_heap",
           "thaw_heap"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: the signals that ask a process to stop cleanly (shutdown hooks run)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_process(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop, then close the loop cleanly (tasks
    left over cancelled, async generators and the default executor shut down).  The
    process's open-file limit is raised first (:func:`raise_open_file_limit`)."""
    raise_open_file_limit()
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


#: the open-file limit a serving process asks for (when its hard limit allows)
OPEN_FILES_WANTED = 65536


def raise_open_file_limit() -> None:
    """Raise the soft limit on open files towards the hard one, up to OPEN_FILES_WANTED.

    Every client circuit is a socket: with the soft limit many systems start processes
    with (1,024, kept low for programs that use ``select()``), one host's server would
    stop accepting clients at about a thousand, without an error a client can see.  The
    event loop polls with epoll, so the limit is only a number here.  Never lowered.
    """
    try:
        import resource
    except ImportError:   # not a Unix
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard,
                                                                          OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (OSError, ValueError) as exc:
            logger.debug("open-file limit stays %d: %s", soft, exc)


#: allocations between two collections of the youngest generation once a process serves
YOUNG_COLLECTION = 10_000


def freeze_heap() -> None:
    """Move every object alive now out of the collector's reach (``gc.freeze``).

    Served PVs live as long as the process: walking them at every full collection only
    costs time on the event loop (with 100,000 PVs, full collections took 0.55 s while a
    client connected to all of them three times).  Objects made later are collected as
    usual.  Frozen objects are still freed by reference counting; only reference cycles
    among them wait for :func:`thaw_heap`.

    Start-up's temporaries (each large dict's smaller tables as it grew, the lists and
    dicts a build goes through) leave free memory in the C heap that ``malloc`` keeps for
    later; glibc's ``malloc_trim`` returns it (11 MB of 165 after 100,000 pvproperties).
    Elsewhere (musl, macOS) there is no such call and nothing more is done.

    The young generation is collected every YOUNG_COLLECTION allocations rather than
    Python's 700: a serving process makes its long-lived objects in bursts (a client
    connecting 100,000 channels makes 100,000), and at 700 each burst cost the collector
    ~10 % of the server's CPU, mostly older generations scanned again and again; a young
    collection of 10,000 objects takes ~1 ms.
    """
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes  # only a process that serves needs it

    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):  # no C library loaded by name here (Windows)
        return None


def thaw_heap() -> None:
    """Give frozen objects back to the collector (``gc.unfreeze``): call it when some may
    have become garbage in cycles (an unmounted IOC's group and channels)."""
    gc.unfreeze()


class StopSignals:
    """SIGINT/SIGTERM as a stop request, in a ``with`` block on the running loop.

    ``on_stop(signum)`` (optional) runs at each stop signal; :meth:`wait` returns the first
    one received.  ``extra`` maps more signals to handlers (called without arguments)."""

    def __init__(self, on_stop: Callable[[signal.Signals], object] | None = None,
                 extra: Mapping[signal.Signals, Callable[[], object]] | None = None) -> None:
        self._on_stop = on_stop
        self._extra = dict(extra or {})
        self._received: asyncio.Future[signal.Signals] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> StopSignals:
        self._loop = loop = asyncio.get_running_loop()
        self._received = loop.create_future()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self._stop, signum)
        for signum, handler in self._extra.items():
            loop.add_signal_handler(signum, handler)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        assert self._loop is not None
        for signum in (*STOP_SIGNALS, *self._extra):
            self._loop.remove_signal_handler(signum)

    def _stop(self, signum: signal.Signals) -> None:
        assert self._received is not None
        if not self._received.done():
            self._received.set_result(signum)
        if self._on_stop is not None:
            self._on_stop(signum)

    async def wait(self) -> signal.Signals:
        """The first stop signal received (waits for one)."""
        assert self._received is not None, "use StopSignals in a 'with' block"
        return await asyncio.shield(self._received)

"""How an iochost process runs its event loop: one runner for ``iochost serve`` (the host)
and ``iochost.run()`` (one standalone IOC).

* :func:`run_process` runs a coroutine on a new loop -- uvloop's when installed
  (:func:`~iochost.server.server.new_event_loop`) -- with ``asyncio.Runner``, which closes
  the loop cleanly whatever happened.
* :class:`StopSignals` turns SIGINT/SIGTERM into a stop request while its ``with`` block
  runs on the loop (plus any extra handlers, e.g. the host's SIGHUP reload) and restores
  the default handling after it.
* Logging is ``iochost.logs.configure_logging`` for both; the callers configure it, as they
  know the level and format asked for.
"""
from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, TypeVar

from .server import new_event_loop

__all__ = ["STOP_SIGNALS", "StopSignals", "run_process"]

T = TypeVar("T")
#: the signals that ask a process to stop cleanly (shutdown hooks run)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_process(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop, then close the loop cleanly (tasks
    left over cancelled, async generators and the default executor shut down)."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)


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

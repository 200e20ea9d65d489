"""The async-library layer handed to IOC hooks as ``async_lib``.

caproto IOCs receive an object that hides which event loop library runs them:
``async_lib.library`` (the module itself), ``async_lib.sleep``, ``async_lib.Event`` and
``async_lib.ThreadsafeQueue``.  iochost runs on asyncio only, so there is one concrete
layer, :class:`AsyncioAsyncLayer`.  Its ``Event`` and ``ThreadsafeQueue`` may be poked from
plain threads, which is how threaded device code (a driver callback, a worker thread)
feeds PVs.
"""
from __future__ import annotations

import abc
import asyncio
import concurrent.futures
from types import ModuleType
from typing import Any, ClassVar

__all__ = ["AsyncLibraryLayer", "AsyncioAsyncLayer", "AsyncioEvent", "AsyncioThreadsafeQueue"]


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class AsyncioEvent(asyncio.Event):
    """An :class:`asyncio.Event` that threads may ``set()`` and whose ``wait`` takes a timeout.

    Create it inside the event loop (e.g. in a hook).  ``set()`` from another thread is
    handed to the loop with ``call_soon_threadsafe`` so the waiter wakes at once.
    """

    def __init__(self) -> None:
        super().__init__()
        self._owner_loop = _running_loop()

    def set(self) -> None:
        loop = self._owner_loop
        if loop is None or _running_loop() is loop or loop.is_closed():
            super().set()
        else:
            loop.call_soon_threadsafe(super().set)

    async def wait(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Wait until set, or at most ``timeout`` seconds; return whether it is set."""
        if timeout is None:
            return await super().wait()
        try:
            await asyncio.wait_for(super().wait(), timeout)
        except TimeoutError:
            pass
        return self.is_set()


class AsyncioThreadsafeQueue:
    """A FIFO between threads and the event loop it was created in.

    From threads: blocking :meth:`put` and :meth:`get`.  From the loop: ``await``
    :meth:`async_put` and :meth:`async_get`.
    """

    def __init__(self, maxsize: int = 0) -> None:
        loop = _running_loop()
        if loop is None:
            raise RuntimeError("create a ThreadsafeQueue inside the event loop (e.g. in a hook)")
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue(maxsize)

    def _in_loop_thread(self) -> bool:
        return _running_loop() is self._loop

    async def async_get(self) -> Any:
        """Wait for and return the next item (from the event loop)."""
        return await self._queue.get()

    async def async_put(self, value: Any) -> None:
        """Queue ``value`` (from the event loop)."""
        await self._queue.put(value)

    def put(self, value: Any) -> None:
        """Queue ``value`` from any thread; blocks while a bounded queue is full."""
        if self._in_loop_thread():
            self._queue.put_nowait(value)
            return
        asyncio.run_coroutine_threadsafe(self._queue.put(value), self._loop).result()

    def get(self, timeout: float | None = None) -> Any:
        """Block the calling (non-loop) thread until an item arrives and return it; raises
        ``TimeoutError`` after ``timeout`` s, and ``SystemExit`` (ending a worker thread
        quietly) when the event loop stops."""
        if self._in_loop_thread():
            raise RuntimeError("ThreadsafeQueue.get() would block the event loop; "
                               "use 'await queue.async_get()' there")
        future = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise
        except concurrent.futures.CancelledError:
            # only the loop's shutdown cancels the wait: the IOC stopped, and its worker
            # thread ends quietly (a thread's SystemExit prints no traceback)
            raise SystemExit(0) from None

    def qsize(self) -> int:
        return self._queue.qsize()


class AsyncLibraryLayer(abc.ABC):
    """What IOC hooks may use without naming the event-loop library."""

    name: ClassVar[str]
    library: ClassVar[ModuleType]
    Event: ClassVar[type]
    ThreadsafeQueue: ClassVar[type]

    @staticmethod
    @abc.abstractmethod
    async def sleep(seconds: float) -> None:
        """Sleep ``seconds`` seconds."""


class AsyncioAsyncLayer(AsyncLibraryLayer):
    """The layer for asyncio (the only loop iochost runs on)."""

    name: ClassVar[str] = "asyncio"
    library: ClassVar[ModuleType] = asyncio
    Event: ClassVar[type] = AsyncioEvent
    ThreadsafeQueue: ClassVar[type] = AsyncioThreadsafeQueue

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

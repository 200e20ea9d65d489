"""The GO / DISPLAY behaviour for servers with the caproto-style async API (iochost, caproto).

Both servers get the same code, written the way an IOC author would: an asyncio task that
awaits ``write(value)`` and yields to the event loop between updates, so the server can send
while the poster posts.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from benchmarks.pvset import MAX_POST_SECONDS

Write = Callable[[float], Awaitable[object]]


class Poster:
    """Runs the flat-out poster and the display updater; at most one of each at a time."""

    def __init__(self, fast: Write, count: Write, display: Sequence[Write], hz: float,
                 fast_value: Callable[[], float]) -> None:
        self._fast, self._count, self._display = fast, count, list(display)
        self._period = 1.0 / hz
        self._fast_value = fast_value
        self._tick = 0.0
        self._tasks: dict[str, asyncio.Task] = {}

    def go(self, seconds: float) -> None:
        """Start posting FAST flat out for `seconds` (ignored while a run is in progress)."""
        self._start("go", self._post_flat_out(min(float(seconds), MAX_POST_SECONDS)))

    def display(self, on: bool) -> None:
        if on:
            self._start("display", self._update_display())
        elif task := self._tasks.pop("display", None):
            task.cancel()

    def _start(self, key: str, coro) -> None:
        if key in self._tasks and not self._tasks[key].done():
            coro.close()
            return
        self._tasks[key] = asyncio.get_running_loop().create_task(coro)

    async def _post_flat_out(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        value = self._fast_value()
        end = loop.time() + seconds
        while loop.time() < end:
            value += 1
            await self._fast(value)
            await asyncio.sleep(0)
        await self._count(value)

    async def _update_display(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            self._tick += 1
            for write in self._display:
                await write(self._tick)
            due += self._period
            await asyncio.sleep(max(0.0, due - loop.time()))

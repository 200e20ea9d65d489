"""Running an IOC's hooks: startup and scan loops as tasks, shutdown hooks at the end.

The server only serves channel data; something must run the hooks of the IOCs it hosts.
That is :class:`HookRunner` (for any PV database) and the two functions the host and
:func:`~iochost.pv.standalone.run` call::

    await start_group(ioc, async_lib)    # ioc.__ainit__ (if any), startup and scan hooks
    ...
    await stop_group(ioc)                # cancel those tasks, then await shutdown hooks

A hook that raises is logged with its PV name and does not affect the others; a startup
hook's failure also puts its PV in an INVALID alarm and on the group's fault board
(:mod:`iochost.pv.faults`), which the host shows as the mount's ``degraded`` state.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable, Iterable, Iterator
from functools import partial

from .async_lib import AsyncioAsyncLayer, AsyncLibraryLayer
from .faults import FaultBoard, board_of, hook_failed
from .types import PvpropertyData

if TYPE_CHECKING:
    from .group import PVGroup

__all__ = ["HookRunner", "start_group", "stop_group"]

log = logging.getLogger(__name__)
_RUNNER_ATTR = "_iochost_hook_runner"


def _channels_with_fields(channels: Iterable[Any]) -> Iterator[PvpropertyData]:
    """Every pvproperty channel, and its record-field channels, once each."""
    seen: set[int] = set()
    pending = deque(channels)  # a list's pop(0) made this quadratic: 0.5 s for 100,000 PVs
    while pending:
        channel = pending.popleft()
        if id(channel) in seen or not isinstance(channel, PvpropertyData):
            continue
        seen.add(id(channel))
        yield channel
        # Only the record fields made so far: those with hooks are made with the record.
        pending.extend(getattr(getattr(channel, "field_inst", None), "created", {}).values())


class HookRunner:
    """Runs the hooks of a set of channels (a PV database's values).

    :meth:`start` creates one task per startup hook and per scan loop (and for an
    optional IOC-level ``startup_hook(async_lib)``, the ``__ainit__`` convention);
    :meth:`stop` cancels them and then awaits every shutdown hook.
    """

    def __init__(self, channels: Iterable[Any], *, logger: logging.Logger | None = None
                 ) -> None:
        self.channels = list(_channels_with_fields(channels))
        self.log = logger or log
        self.tasks: list[asyncio.Task] = []
        self.async_lib: AsyncLibraryLayer | None = None
        #: where hook failures are counted (a PVGroup's board; None: only logged)
        self.board: FaultBoard | None = None

    @property
    def running(self) -> bool:
        return self.async_lib is not None

    async def _guarded(self, what: str, call: Callable[[], Awaitable[Any]],
                       channel: Any = None) -> None:
        try:
            await call()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if channel is not None:      # logged, INVALID alarm, on the group's fault board
                await hook_failed(channel, what, error)
                return
            self.log.exception("%s failed: %s: %s", what, type(error).__name__, error)
            if self.board is not None:
                self.board.record(what, what, task_ended=True, error=error)

    def _spawn(self, what: str, call: Callable[[], Awaitable[Any]], channel: Any = None,
               ) -> None:
        task = asyncio.get_running_loop().create_task(self._guarded(what, call, channel),
                                                      name=what)
        self.tasks.append(task)

    async def start(self, async_lib: AsyncLibraryLayer | None = None, *,
                    startup_hook: Callable[[AsyncLibraryLayer], Awaitable[Any]] | None = None
                    ) -> None:
        """Start the hooks; returns at once (they run as tasks).  Starting twice is an error."""
        if self.running:
            raise RuntimeError("these hooks are already running")
        lib = self.async_lib = async_lib or AsyncioAsyncLayer()
        if startup_hook is not None:
            self._spawn(f"startup hook {getattr(startup_hook, '__qualname__', startup_hook)}",
                        lambda: startup_hook(lib))
        for channel in self.channels:
            for kind in ("startup", "scan"):
                hook = getattr(channel, kind, None)
                if hook is not None:
                    self._spawn(f"{kind} hook", partial(hook, channel, lib), channel)

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel the running hooks, then run the shutdown hooks (each bounded by ``timeout``)."""
        if not self.running:
            return
        lib, self.async_lib = self.async_lib, None
        tasks, self.tasks = self.tasks, []
        for channel in self.channels:      # records a client's SCAN set processing
            periodic = getattr(channel, "_periodic", None)
            if periodic is not None:
                tasks.append(periodic)
                channel._periodic = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        shutdowns = [self._guarded(f"shutdown hook of {channel.pvname}",
                                   partial(_bounded_shutdown, channel, lib, timeout))
                     for channel in self.channels if getattr(channel, "shutdown", None)]
        await asyncio.gather(*shutdowns)


async def start_group(group: PVGroup, async_lib: AsyncLibraryLayer | None = None
                      ) -> HookRunner:
    """Start an IOC's hooks: ``group.__ainit__(async_lib)`` if it has one, then every
    startup hook and scan loop of its PVs (subgroups and record fields included).

    Returns at once; the hooks run as tasks until :func:`stop_group`.
    """
    if getattr(group, _RUNNER_ATTR, None) is not None:
        raise RuntimeError(f"{group!r} is already started")
    runner = HookRunner(group.pvdb.values(), logger=group.log)
    runner.board = board_of(group)
    setattr(group, _RUNNER_ATTR, runner)
    await runner.start(async_lib, startup_hook=getattr(group, "__ainit__", None))
    return runner


async def stop_group(group: PVGroup, timeout: float = 5.0) -> None:
    """Stop what :func:`start_group` started, then await the shutdown hooks.
    Does nothing if the group is not started."""
    runner = group.__dict__.pop(_RUNNER_ATTR, None)
    if runner is not None:
        await runner.stop(timeout)


async def _bounded_shutdown(channel: Any, async_lib: Any, timeout: float) -> None:
    """A channel's shutdown hook, given ``timeout`` seconds."""
    try:
        await asyncio.wait_for(channel.shutdown(channel, async_lib), timeout)
    except TimeoutError:   # say so, rather than a bare TimeoutError from wait_for
        raise TimeoutError(f"did not finish within {timeout:g} s: cancelled") from None

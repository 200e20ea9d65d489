"""``caget`` / ``caput`` / ``camonitor`` as coroutines, for scripts that need one PV once.

Each opens a :class:`Context` for the call unless one is given (pass one to reuse the
circuits across calls)::

    reading = await caget("DEMO:TEMP")
    await caput("DEMO:SETPOINT", 3.5, wait=True)
    async for reading in camonitor("DEMO:TEMP"):
        ...
"""
from __future__ import annotations

from collections.abc import AsyncIterator

from iochost.ca.codes import DBE_ALARM, DBE_VALUE

from .channel import DEFAULT_TIMEOUT, DbrSpec
from .context import Context
from .reading import Reading

__all__ = ["caget", "camonitor", "caput"]


async def caget(name: str, dbr: DbrSpec = "time", count: int | None = None,
                timeout: float = DEFAULT_TIMEOUT, context: Context | None = None) -> Reading:
    """Connect to ``name`` and read it once."""
    if context is not None:
        channel = await context.connect(name, timeout)
        return await channel.get(dbr, count, timeout)
    async with Context() as own:
        return await caget(name, dbr, count, timeout, own)


async def caput(name: str, value: object, *, wait: bool = False,
                timeout: float = DEFAULT_TIMEOUT, context: Context | None = None) -> None:
    """Connect to ``name`` and write ``value`` (``wait``: until the put completed)."""
    if context is not None:
        channel = await context.connect(name, timeout)
        await channel.put(value, wait=wait, timeout=timeout)
        return
    async with Context() as own:
        await caput(name, value, wait=wait, timeout=timeout, context=own)


async def camonitor(name: str, dbr: DbrSpec = "time", count: int | None = None,
                    mask: int = DBE_VALUE | DBE_ALARM, timeout: float = DEFAULT_TIMEOUT,
                    context: Context | None = None) -> AsyncIterator[Reading]:
    """Every update of ``name`` (the current value first) until the caller stops iterating;
    reconnects are handled inside."""
    if context is None:
        async with Context() as own:
            async for reading in camonitor(name, dbr, count, mask, timeout, own):
                yield reading
        return
    channel = await context.connect(name, timeout)
    subscription = channel.subscribe(dbr, count, mask)
    try:
        async for reading in subscription:
            yield reading
    finally:
        subscription.close()

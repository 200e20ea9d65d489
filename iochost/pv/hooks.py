"""IOC hooks: their signatures (checked when an IOC class is defined) and scan loops.

A hook is an ``async def`` method of the PVGroup.  The signatures are fixed by the caproto
API that IOC authors already know:

========  ==========================================  ==================================
hook      signature                                   called
========  ==========================================  ==================================
getter    ``(self, instance)``                        before each read (discouraged)
putter    ``(self, instance, value)``                 on each write; may return a value
startup   ``(self, instance, async_lib)``             once, as a task, when the IOC starts
shutdown  ``(self, instance, async_lib)``             once, when the IOC stops
scan      ``(self, instance, async_lib)``             every ``period`` seconds
========  ==========================================  ==================================

Hooks of a :class:`~iochost.pv.pvspec.PVSpec` used without a group take no ``self``.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any
from collections.abc import Awaitable, Callable, Mapping

from . import faults
from .alarms import AlarmSeverity, AlarmStatus

__all__ = ["HOOK_FIELDS", "HOOK_PARAMETERS", "HookDecorators", "IocDefinitionError",
           "check_hook", "check_hooks", "scan_wrapper"]

Hook = Callable[..., Awaitable[Any]]

#: The parameters each kind of hook is called with (after ``self`` for group methods).
HOOK_PARAMETERS: dict[str, tuple[str, ...]] = {
    "getter": ("instance",),
    "putter": ("instance", "value"),
    "startup": ("instance", "async_lib"),
    "shutdown": ("instance", "async_lib"),
    "scan": ("instance", "async_lib"),
}


#: The PVSpec field (and pvproperty keyword) that holds each kind of hook: the one table of
#: hook kinds; the decorators, PVSpec and record fields all read it.
HOOK_FIELDS: dict[str, str] = {
    "getter": "get",
    "putter": "put",
    "startup": "startup",
    "shutdown": "shutdown",
    "scan": "scan",
}


class IocDefinitionError(TypeError):
    """An IOC class (or PVSpec) is defined wrongly: the message says where and how."""


def _where(func: Callable) -> str:
    try:
        return f"{inspect.getsourcefile(func)}:{inspect.getsourcelines(func)[1]}"
    except (OSError, TypeError):
        return "location unknown"


def check_hook(kind: str, func: Callable | None, *, method: bool = True) -> None:
    """Raise :class:`IocDefinitionError` unless ``func`` is a coroutine function callable
    with the parameters of a ``kind`` hook (plus ``self`` when ``method``)."""
    if func is None:
        return
    params = (("self",) if method else ()) + HOOK_PARAMETERS[kind]
    try:
        inspect.signature(func).bind(*params)
        fits = True
    except (TypeError, ValueError):
        fits = False
    if fits and inspect.iscoroutinefunction(func):
        return
    name = getattr(func, "__qualname__", repr(func))
    raise IocDefinitionError(
        f"{kind} hook {name} ({_where(func)}) must be defined as "
        f"'async def {getattr(func, '__name__', 'hook')}({', '.join(params)})'")


assert set(HOOK_FIELDS) == set(HOOK_PARAMETERS)


def check_hooks(hooks: Mapping[str, Callable[..., Any] | None], *, method: bool = True
                ) -> None:
    """:func:`check_hook` for each ``PVSpec field -> hook`` (None: no hook of that kind)."""
    for kind, field in HOOK_FIELDS.items():
        check_hook(kind, hooks.get(field), method=method)


class HookDecorators:
    """The hook decorators, written once for a pvproperty and for a record field
    (``prop.fields.<FIELD>``).  Each checks the function's signature, then hands it to
    :meth:`_store` (which the class defines) and returns what that returns: the object that
    stays in the class body under the function's name."""

    __slots__ = ()

    def _store(self, kind: str, hook: Hook) -> Any:
        raise NotImplementedError

    def _check_scan(self, period: float | None, use_scan_field: bool) -> None:
        """Refuse scan options that cannot work (a positive period, unless the rate follows
        a ``.SCAN`` field)."""
        if not use_scan_field and (period is None or period <= 0):
            raise IocDefinitionError(f"scan period must be > 0 seconds, not {period!r}")

    def _set_hook(self, kind: str, func: Hook) -> Any:
        check_hook(kind, func)
        return self._store(kind, func)

    def getter(self, get: Hook) -> Any:
        """Decorate ``async def f(self, instance)``, called before each read.

        Discouraged: a getter makes every read wait on Python code; prefer updating the
        value when it changes (a startup hook, a scan, a putter)."""
        return self._set_hook("getter", get)

    def putter(self, put: Hook) -> Any:
        """Decorate ``async def f(self, instance, value)``, called on each write."""
        return self._set_hook("putter", put)

    def startup(self, startup: Hook) -> Any:
        """Decorate ``async def f(self, instance, async_lib)``, run as a task at start."""
        return self._set_hook("startup", startup)

    def shutdown(self, shutdown: Hook) -> Any:
        """Decorate ``async def f(self, instance, async_lib)``, awaited at stop."""
        return self._set_hook("shutdown", shutdown)

    def scan(self, period: float | None, *, subtract_elapsed: bool = True,
             stop_on_error: bool = False,
             failure_severity: AlarmSeverity = AlarmSeverity.MAJOR_ALARM,
             use_scan_field: bool = False) -> Callable[[Hook], Any]:
        """Decorate ``async def f(self, instance, async_lib)`` to run every ``period`` s.

        See :func:`scan_wrapper` for the options.  ``use_scan_field`` needs ``record=``
        (the rate then follows the record's ``.SCAN`` field)."""
        if callable(period):        # written as a bare ``@prop.scan``
            name = getattr(period, "__name__", "prop")
            raise IocDefinitionError(f"scan hook {getattr(period, '__qualname__', name)} needs "
                                     f"its period: write '@{name}.scan(period=seconds)'")
        self._check_scan(period, use_scan_field)

        def wrap(func: Hook) -> Any:
            check_hook("scan", func)
            return self._store("scan", scan_wrapper(
                func, period, subtract_elapsed=subtract_elapsed, stop_on_error=stop_on_error,
                failure_severity=failure_severity, use_scan_field=use_scan_field))
        return wrap


def scan_wrapper(scan_function: Hook, period: float | None, *, subtract_elapsed: bool = True,
                 stop_on_error: bool = False,
                 failure_severity: AlarmSeverity = AlarmSeverity.MAJOR_ALARM,
                 use_scan_field: bool = False) -> Hook:
    """Turn ``scan_function`` into a startup-style hook that calls it periodically.

    ``period`` is in seconds.  With ``subtract_elapsed`` the time the call took is taken
    off the next sleep.  An exception in ``scan_function`` is logged (rate-limited per PV)
    and sets the PV's alarm to (SCAN, ``failure_severity``) and the PV on the group's
    fault board (the mount shows ``degraded``), cleared again by the next successful call;
    with ``stop_on_error`` it also ends the loop.  With ``use_scan_field`` the rate is
    the record's ``.SCAN`` field (``period`` is its initial value), so a client's put to
    ``.SCAN`` changes it; Passive pauses the loop.

    The returned coroutine function takes the same arguments as ``scan_function``:
    ``(group, instance, async_lib)``, or ``(instance, async_lib)`` without a group.
    """
    async def call_once(args: tuple, instance: Any) -> None:
        alarm = instance.alarm
        try:
            await scan_function(*args)
        except Exception as error:
            if stop_on_error:            # the runner logs it once, as the task ends
                await alarm.write(status=AlarmStatus.SCAN, severity=failure_severity)
                raise
            # every period may fail the same way: the log is rate-limited per PV
            faults.log_hook_error(instance.log, instance.pvname, "scan hook", error)
            await alarm.write(status=AlarmStatus.SCAN, severity=failure_severity)
            board = faults.board_of(getattr(instance, "group", None))
            if board is not None and instance.pvname not in board.faulted:
                board.record(instance.pvname, "scan hook", task_ended=False, error=error)
        else:
            if (alarm.status, alarm.severity) == (AlarmStatus.SCAN, failure_severity):
                await alarm.write(status=AlarmStatus.NO_ALARM,
                                  severity=AlarmSeverity.NO_ALARM)
            await faults.hook_recovered(instance)

    async def scan_loop(*args: Any) -> None:
        instance = args[-2]
        if use_scan_field:
            instance.set_scan_period(period, initial=True)
        lock = asyncio.Lock()    # one call at a time, as a record is processed

        async def process_once() -> None:
            async with lock:
                await call_once(args, instance)

        # a record's PROC processes it: its scan hook is its device read (records.behaviour)
        instance._scan_process = process_once
        try:
            while True:
                current = instance.scan_period if use_scan_field else period
                if not current or current <= 0:      # Passive: wait for .SCAN to change
                    await instance.wait_scan_change(None)
                    continue
                started = time.monotonic()
                await process_once()
                delay = current - (time.monotonic() - started) if subtract_elapsed \
                    else current
                if use_scan_field:
                    await instance.wait_scan_change(max(delay, 0.0))
                else:
                    await asyncio.sleep(max(delay, 0.0))
        finally:
            instance._scan_process = None

    scan_loop.__name__ = getattr(scan_function, "__name__", "scan")
    scan_loop.__qualname__ = getattr(scan_function, "__qualname__", "scan")
    scan_loop.__doc__ = scan_function.__doc__
    scan_loop.scan_function = scan_function  # type: ignore[attr-defined]
    scan_loop.period = period  # type: ignore[attr-defined]
    return scan_loop


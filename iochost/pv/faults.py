"""Faults of an IOC's own code, made visible: in the log, on the PV's alarm, to the host.

When IOC code fails -- a putter raising, a startup or scan hook, ``__ainit__`` -- three
things happen, none of which may let a client or a broken device flood anything:

* **the log**: the exception at ERROR with its traceback, tagged with the PV (the group's
  logger adds the mount), at most ``LOG_BURST`` lines per PV and hook kind, then one per
  ``LOG_INTERVAL`` seconds saying how many were suppressed. A deliberate refusal (a
  :class:`~iochost.pv.data_errors.ChannelValueError` such as a limit check, or
  :class:`~iochost.pv.data_errors.SkipWrite`) is one line at WARNING/INFO, no traceback.
* **the alarm**: a failed startup hook or ``__ainit__`` puts the PV in (SOFT, INVALID)
  -- EPICS has no "hook failed" status; SOFT_ALARM is what soft records use for failures
  of their own logic -- until a later successful write or scan of that PV clears it.
  (A failing scan keeps its own SCAN alarm: see ``scan_wrapper``.)
* **the host**: the group's :class:`FaultBoard` lists the PVs whose hooks are failing and
  counts hook tasks that died; the host shows a mount with faults as ``degraded`` and sums
  the dead tasks for ``SUSP_TASK_CNT`` (what iocStats reports for suspended tasks).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..server.writes import CLIENT_PUT
from .alarms import AlarmSeverity, AlarmStatus

__all__ = [
    "LOG_BURST",
    "LOG_INTERVAL",
    "FaultBoard",
    "LogLimiter",
    "board_of",
    "existing_board",
    "hook_failed",
    "hook_recovered",
    "log_put_failure",
    "log_refusal",
]

#: lines logged at once for one PV and kind of fault, then one per LOG_INTERVAL seconds
LOG_BURST = 3
LOG_INTERVAL = 60.0
#: the alarm a PV whose startup hook (or __ainit__) failed is put in
HOOK_FAULT_ALARM = {"status": AlarmStatus.SOFT, "severity": AlarmSeverity.INVALID_ALARM}

module_log = logging.getLogger("iochost.pv")
#: the PVGroup attribute that holds its FaultBoard
BOARD_ATTR = "_fault_board"


class LogLimiter:
    """Per-key log budget: ``LOG_BURST`` lines, then one per ``LOG_INTERVAL`` seconds."""

    def __init__(self, burst: int = LOG_BURST, interval: float = LOG_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.interval, self.clock = burst, interval, clock
        #: key -> [lines allowed in the burst so far, time of the last line, suppressed]
        self._state: dict[Any, list[float]] = {}

    def allow(self, key: Any) -> int | None:
        """None when this line is to be dropped; else how many were dropped before it."""
        now = self.clock()
        state = self._state.get(key)
        if state is None:
            if len(self._state) > 10_000:     # bounded: forget the oldest keys
                self._state.clear()
            self._state[key] = [1, now, 0]
            return 0
        if state[0] < self.burst:
            state[0] += 1
            state[1] = now
            return 0
        if now - state[1] < self.interval:
            state[2] += 1
            return None
        dropped = int(state[2])
        state[1], state[2] = now, 0
        return dropped


_limiter = LogLimiter()


@dataclass
class FaultBoard:
    """The hook faults of one IOC: which PVs' hooks are failing now, and hook tasks that
    ended with an exception. ``listeners`` are called (with the board) on every change."""

    faulted: dict[str, str] = field(default_factory=dict)   # PV name -> what failed
    #: PV name -> the exception of that failure, one line ("RuntimeError: sensor offline")
    reasons: dict[str, str] = field(default_factory=dict)
    dead_tasks: int = 0
    listeners: list[Callable[[FaultBoard], None]] = field(default_factory=list)

    def _changed(self) -> None:
        for listener in self.listeners:
            listener(self)

    def record(self, pvname: str, what: str, task_ended: bool,
               error: BaseException | None = None) -> None:
        self.faulted[pvname] = what
        if error is not None:
            self.reasons[pvname] = f"{type(error).__name__}: {error}"
        self.dead_tasks += task_ended
        self._changed()

    def clear(self, pvname: str) -> None:
        self.reasons.pop(pvname, None)
        if self.faulted.pop(pvname, None) is not None:
            self._changed()


def board_of(group: Any) -> FaultBoard | None:
    """The fault board of a PVGroup (made on first use); None for no group (or an owner,
    such as a record field's, that keeps no attributes)."""
    attributes = getattr(group, "__dict__", None)
    if attributes is None:
        return None
    board = attributes.get(BOARD_ATTR)
    if board is None:
        board = attributes[BOARD_ATTR] = FaultBoard()
    return board


def existing_board(group: Any) -> FaultBoard | None:
    """The group's fault board if a fault was ever recorded (cheap: for the write path)."""
    attributes = getattr(group, "__dict__", None)
    return attributes.get(BOARD_ATTR) if attributes is not None else None


def _logger(channel: Any) -> logging.Logger | logging.LoggerAdapter:
    return getattr(channel, "log", None) or module_log


def _suffix(dropped: int) -> str:
    return f" ({dropped} similar messages suppressed)" if dropped else ""


def log_hook_error(logger: Any, pvname: str, what: str, error: BaseException) -> None:
    """ERROR with traceback, at most LOG_BURST then one per LOG_INTERVAL per (PV, what)."""
    dropped = _limiter.allow((pvname, what))
    if dropped is not None:
        logger.error("%s of %s failed: %s: %s%s", what, pvname, type(error).__name__, error,
                     _suffix(dropped), exc_info=error)


async def hook_failed(channel: Any, what: str, error: BaseException) -> None:
    """A hook task of ``channel`` ended with ``error``: log it, set the INVALID alarm
    (unless a scan set its own SCAN alarm), tell the fault board."""
    pvname = getattr(channel, "pvname", "?")
    log_hook_error(_logger(channel), pvname, what, error)
    alarm = getattr(channel, "alarm", None)
    if alarm is not None and alarm.status != AlarmStatus.SCAN:
        await alarm.write(**HOOK_FAULT_ALARM)
    board = board_of(getattr(channel, "group", None))
    if board is not None:
        board.record(pvname, what, task_ended=True, error=error)


async def hook_recovered(channel: Any) -> None:
    """A write or scan of a faulted PV succeeded: clear the fault and its alarm."""
    board = existing_board(getattr(channel, "group", None))
    if board is None or channel.pvname not in board.faulted:
        return
    board.clear(channel.pvname)
    current = channel.alarm
    if (current.status, current.severity) == tuple(HOOK_FAULT_ALARM.values()):
        await current.write(status=AlarmStatus.NO_ALARM, severity=AlarmSeverity.NO_ALARM)


def _put_target(channel: Any) -> str:
    """The PV name a put to ``channel`` went to: its own, or the client's name for it."""
    name = getattr(channel, "pvname", None)
    if name is None:
        served = CLIENT_PUT.get()
        name = served.name if served is not None and served.data is channel else "?"
    return name


def log_put_failure(channel: Any, error: BaseException) -> None:
    """A putter's own exception (a bug, or a refusal not marked as one)."""
    log_hook_error(_logger(channel), _put_target(channel), "putter", error)


def log_refusal(channel: Any, error: BaseException, level: int = logging.WARNING) -> None:
    """A deliberate refusal of a put: one line, no traceback, rate-limited like faults."""
    pvname = _put_target(channel)
    dropped = _limiter.allow((pvname, "refusal"))
    if dropped is not None:
        _logger(channel).log(level, "put to %s refused: %s%s", pvname,
                             f"{type(error).__name__}: {error}" if str(error)
                             else type(error).__name__, _suffix(dropped))

"""The state of a host's autosave sets, shared by the sets and the ``SR_*`` status PVs.

Every attached autosave helper registers its :class:`SaveSetStatus` in the registry of its
host (``registry_for(host)``; one per host, or one for helpers used without a host). The
status IOC (``iochost.helpers.autosave_ioc``) reads it; the ``SAVE`` and ``SR_disable``
PVs act on it. Status codes and texts are synApps' (``save_restore.h``).
"""
from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "METHOD_MANUAL",
    "METHOD_MONITORED",
    "METHOD_PERIODIC",
    "SR_STATUS_FAIL",
    "SR_STATUS_INIT",
    "SR_STATUS_OK",
    "SR_STATUS_SEQ_WARN",
    "SR_STATUS_WARN",
    "STATUS_STRINGS",
    "AutosaveRegistry",
    "SaveSetStatus",
    "registry_for",
]

# save_restore.h; the mbbo SR_status/SR_rebootStatus states are in this order
SR_STATUS_INIT, SR_STATUS_FAIL, SR_STATUS_WARN, SR_STATUS_SEQ_WARN, SR_STATUS_OK = range(5)
STATUS_STRINGS = ("No Status", "Failure", "Warning", "Seq Fail", "Ok")
#: SR_N_State values (the raw values of SR_N_StateEnum in save_restoreStatus.db)
METHOD_PERIODIC, METHOD_TRIGGERED, METHOD_TIMER, METHOD_MONITORED, METHOD_MANUAL = \
    1, 2, 4, 12, 16
#: the status PVs' times, as save_restore.c's TIMEFMT_noY ("Fri Sep 13 00:00:00"); the
#: C locale's day and month names, whatever the host's locale
STATUS_TIME_FORMAT = "{day} {month} %d %H:%M:%S"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def status_time(when: datetime) -> str:
    """``when`` as the status PVs show a time."""
    return when.strftime(STATUS_TIME_FORMAT.format(day=_DAYS[when.weekday()],
                                                   month=_MONTHS[when.month - 1]))


@dataclass
class SaveSetStatus:
    """One save set's state as the ``SR_N_*`` PVs show it."""

    name: str
    method: int = METHOD_MONITORED
    status: int = SR_STATUS_INIT
    status_str: str = "Status unknown"
    saved_at: datetime | None = None
    restore_status: int = SR_STATUS_INIT
    restore_str: str = "Status unknown"
    #: saves the set now (the SAVE PV, shutdown); set by the helper
    save_now: Callable[[], Awaitable[None]] | None = field(default=None, repr=False)

    @property
    def time_str(self) -> str:
        return status_time(self.saved_at) if self.saved_at else "Not yet saved"


class AutosaveRegistry:
    """The save sets of one host, the disable switch, and the latest message."""

    def __init__(self) -> None:
        self.sets: list[SaveSetStatus] = []
        self.boot_time = datetime.now()
        self.recently = "Status unknown"
        self.disabled_until: float | None = None
        self.changed: Callable[[], None] | None = None   # the status IOC refreshes on this

    def register(self, status: SaveSetStatus) -> None:
        self.sets.append(status)
        self.notify()

    def unregister(self, status: SaveSetStatus) -> None:
        if status in self.sets:
            self.sets.remove(status)
        self.notify()

    def note(self, message: str) -> None:
        """Set SR_recentlyStr."""
        self.recently = message[:39]
        self.notify()

    def notify(self) -> None:
        if self.changed is not None:
            self.changed()

    @property
    def disabled(self) -> bool:
        if self.disabled_until is None:
            return False
        if time.monotonic() >= self.disabled_until:
            self.disabled_until = None
            return False
        return True

    def disable(self, seconds: float | None) -> None:
        """Suspend saving for ``seconds`` (None or <= 0: until enabled again)."""
        self.disabled_until = time.monotonic() + (seconds if seconds and seconds > 0
                                                  else float("inf"))

    def enable(self) -> None:
        self.disabled_until = None

    def overall(self) -> tuple[int, str]:
        """SR_status / SR_statusStr: the worst of the sets (Failure worst, Ok best); the
        set's name is on its SR_N_Name PV (the texts are 39 characters at most)."""
        if not self.sets:
            return SR_STATUS_INIT, "No save sets"
        worst = min(self.sets, key=lambda item: _rank(item.status))
        if worst.status == SR_STATUS_OK:
            return SR_STATUS_OK, "Ok"
        return worst.status, worst.status_str[:39]

    def reboot(self) -> tuple[int, str]:
        """SR_rebootStatus / SR_rebootStatusStr: the worst restore."""
        if not self.sets:
            return SR_STATUS_INIT, "No restore"
        worst = min(self.sets, key=lambda item: _rank(item.restore_status))
        if worst.restore_status == SR_STATUS_OK:
            return SR_STATUS_OK, "Ok"
        return worst.restore_status, worst.restore_str[:39]

    async def save_all(self) -> None:
        for status in list(self.sets):
            if status.save_now is not None:
                await status.save_now()


def _rank(status: int) -> int:
    # Failure < Seq Fail < Warning < No Status < Ok, as panels colour them
    return {SR_STATUS_FAIL: 0, SR_STATUS_SEQ_WARN: 1, SR_STATUS_WARN: 2,
            SR_STATUS_INIT: 3, SR_STATUS_OK: 4}.get(status, 0)


_REGISTRIES: weakref.WeakKeyDictionary[Any, AutosaveRegistry] = weakref.WeakKeyDictionary()


def registry_for(host: Any) -> AutosaveRegistry:
    """The registry of ``host`` (made on first use; a fresh one for ``None``)."""
    if host is None:
        return AutosaveRegistry()
    registry = _REGISTRIES.get(host)
    if registry is None:
        registry = _REGISTRIES[host] = AutosaveRegistry()
    return registry

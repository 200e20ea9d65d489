"""The autosave status PVs: synApps' ``save_restoreStatus.db`` names, types and states.

Mounted by the host under ``host.autosave_prefix`` (``P``) when that is set::

    $(P)SR_heartbeat        bo      toggles every second while the save task is alive
    $(P)SR_i_am_alive, SR_deadIfZero    bo  1, set again at every heartbeat
    $(P)SR_status           mbbo    worst status of the sets: No Status/Failure/Warning/Seq Fail/Ok
    $(P)SR_statusStr        stringout
    $(P)SR_recentlyStr      stringout   the latest event
    $(P)SR_rebootStatus     mbbo    worst pass-0 restore
    $(P)SR_rebootStatusStr  stringout
    $(P)SR_rebootTime       stringout   when the host started (restored)
    $(P)SR_disable          bo      Enable/Disable: 1 suspends saving
    $(P)SR_disableMaxSecs   longout     re-enable after this many seconds (0: never)
    $(P)SR_N_Name, SR_N_State (longout), SR_N_StateEnum (mbbi), SR_N_Status (mbbo),
    $(P)SR_N_StatusStr, SR_N_Time       for the save sets N = 0..7, in mount order
    $(P)SAVE                bo      writing 1 saves every set now

Status severities are the template's: Failure and Seq Fail MAJOR, Warning MINOR.
"""
from __future__ import annotations

import asyncio
from typing import Any

from iochost import ChannelType, PVGroup, SubGroup, pvproperty
from iochost.pv.alarms import AlarmSeverity, AlarmStatus

from .autosave_status import (
    METHOD_MANUAL,
    METHOD_MONITORED,
    METHOD_PERIODIC,
    METHOD_TIMER,
    METHOD_TRIGGERED,
    SR_STATUS_FAIL,
    SR_STATUS_SEQ_WARN,
    SR_STATUS_WARN,
    STATUS_STRINGS,
    AutosaveRegistry,
    status_time,
)

__all__ = ["SAVE_SET_SLOTS", "AutosaveStatusIOC"]

#: save_restoreStatus.db has SR_0 .. SR_7
SAVE_SET_SLOTS = 8
_METHODS = (0, METHOD_PERIODIC, METHOD_TRIGGERED, METHOD_TIMER, METHOD_MONITORED,
            METHOD_MANUAL)
_METHOD_STRINGS = ("None", "Periodic", "Triggered", "Timer", "Monitored", "Manual")
_SEVERITY = {SR_STATUS_FAIL: AlarmSeverity.MAJOR_ALARM, SR_STATUS_WARN: AlarmSeverity.MINOR_ALARM,
             SR_STATUS_SEQ_WARN: AlarmSeverity.MAJOR_ALARM}


def _string(value: str, doc: str, **kwargs: Any) -> pvproperty:
    return pvproperty(value=value, dtype=ChannelType.STRING, record="stringout", doc=doc,
                      **kwargs)


def _status(doc: str) -> pvproperty:
    return pvproperty(value=STATUS_STRINGS[0], dtype=ChannelType.ENUM, record="mbbo",
                      enum_strings=STATUS_STRINGS, doc=doc)


async def _set(channel: Any, value: Any, **metadata: Any) -> None:
    """Write only what changed (a status panel's monitors see real changes only)."""
    if channel.value != value or any(getattr(channel, key) != item
                                     for key, item in metadata.items()):
        await channel.write(value, verify_value=False, **metadata)


async def _set_status(channel: Any, status: int) -> None:
    severity = _SEVERITY.get(status, AlarmSeverity.NO_ALARM)
    alarm = AlarmStatus.STATE if severity else AlarmStatus.NO_ALARM
    await _set(channel, STATUS_STRINGS[status], severity=severity, status=alarm)


def _method_string(method: int) -> str:
    """SR_N_StateEnum's state for save method ``method`` (SR_N_State): a set saved on its
    trigger as well as on changes (MONITORED | TRIGGERED) shows "Triggered"."""
    if method in _METHODS:
        return _METHOD_STRINGS[_METHODS.index(method)]
    return "Triggered" if method & METHOD_TRIGGERED else "None"


class SaveSetStatusGroup(PVGroup):
    """``SR_N_*``: one save set."""

    Name = _string("Not In Use", "Save set name")
    State = pvproperty(value=0, record="longout", doc="Save method")
    StateEnum = pvproperty(value="None", dtype=ChannelType.ENUM, record="mbbi",
                           enum_strings=_METHOD_STRINGS, read_only=True,
                           doc="Save method (enumerated)")
    Status = _status("Save status")
    StatusStr = _string("Status unknown", "Save status text")
    Time = _string("Not yet saved", "Time of the last save")


class AutosaveStatusIOC(PVGroup):
    """synApps' save/restore status PVs for the host's autosave sets."""

    SR_heartbeat = pvproperty(value="0", dtype=ChannelType.ENUM, enum_strings=("0", "1"),
                              record="bo", doc="Toggles while the save task is alive")
    SR_i_am_alive = pvproperty(value="1", dtype=ChannelType.ENUM, enum_strings=("0", "1"),
                               record="bo", read_only=True, doc="1 while the save task runs")
    SR_deadIfZero = pvproperty(value="1", dtype=ChannelType.ENUM, enum_strings=("0", "1"),
                               record="bo", read_only=True,
                               doc="1 while the save task runs (the screens' alive LED)")
    SR_status = _status("Worst status of the save sets")
    SR_statusStr = _string("Status unknown", "Status text")
    SR_recentlyStr = _string("Status unknown", "The latest event")
    SR_rebootStatus = _status("Worst status of the restores at start")
    SR_rebootStatusStr = _string("Status unknown", "Restore status text")
    SR_rebootTime = _string("Not yet saved", "When the host started")
    SR_disable = pvproperty(value="Enable", dtype=ChannelType.ENUM,
                            enum_strings=("Enable", "Disable"), record="bo",
                            doc="Disable suspends saving")
    SR_disableMaxSecs = pvproperty(value=0, record="longout",
                                   doc="Seconds after which saving is enabled again")
    SAVE = pvproperty(value="Done", dtype=ChannelType.ENUM, enum_strings=("Done", "Save"),
                      record="bo", doc="Write 1 to save every set now")

    for _slot in range(SAVE_SET_SLOTS):
        locals()[f"set{_slot}"] = SubGroup(SaveSetStatusGroup, prefix=f"SR_{_slot}_")
    del _slot

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.registry = AutosaveRegistry()
        self._refreshing: asyncio.Task[None] | None = None
        self._dirty = False

    def attach(self, registry: AutosaveRegistry) -> None:
        """Show ``registry`` (the host's), and each change of it as it happens: a restore
        that fell back to a backup must not read "Ok" until the next heartbeat."""
        self.registry = registry
        self._loop = asyncio.get_running_loop()
        registry.changed = self._changed
        self._changed()

    def _changed(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:    # a set's file work runs in a thread
            self._loop.call_soon_threadsafe(self._changed)
            return
        self._dirty = True
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = self._loop.create_task(self._refresh_soon())

    async def _refresh_soon(self) -> None:
        """Refresh until no change came in meanwhile (changes in a row: one refresh)."""
        while self._dirty:
            self._dirty = False
            await asyncio.sleep(0)
            try:
                await self.refresh()
            except Exception:
                self.log.exception("refreshing the autosave status PVs failed")
                return

    @SR_disable.putter
    async def SR_disable(self, instance: Any, value: Any) -> None:
        if value == "Disable":
            self.registry.disable(self.SR_disableMaxSecs.value)
            self.registry.note("saving disabled")
        else:
            self.registry.enable()
            self.registry.note("saving enabled")

    @SAVE.putter
    async def SAVE(self, instance: Any, value: Any) -> str:
        if value == "Save":
            await self.registry.save_all()
            self.registry.note("saved on request")
        return "Done"

    @SR_heartbeat.scan(period=1.0)
    async def SR_heartbeat(self, instance: Any, async_lib: Any) -> None:
        await instance.write("1" if instance.value == "0" else "0", verify_value=False)
        await self.SR_i_am_alive.write("1", verify_value=False)
        await self.SR_deadIfZero.write("1", verify_value=False)
        await self.refresh()

    async def refresh(self) -> None:
        registry = self.registry
        status, text = registry.overall()
        await _set_status(self.SR_status, status)
        await _set(self.SR_statusStr, text[:39])
        await _set(self.SR_recentlyStr, registry.recently[:39])
        reboot, reboot_text = registry.reboot()
        await _set_status(self.SR_rebootStatus, reboot)
        await _set(self.SR_rebootStatusStr, reboot_text[:39])
        await _set(self.SR_rebootTime, status_time(registry.boot_time))
        if not registry.disabled and self.SR_disable.value == "Disable":
            await self.SR_disable.write("Enable", verify_value=False)
        for slot in range(SAVE_SET_SLOTS):
            group = getattr(self, f"set{slot}")
            entry = registry.sets[slot] if slot < len(registry.sets) else None
            await _set(group.Name, entry.name[:39] if entry else "Not In Use")
            method = entry.method if entry else 0
            await _set(group.State, method)
            await _set(group.StateEnum, _method_string(method))
            await _set_status(group.Status, entry.status if entry else 0)
            await _set(group.StatusStr, entry.status_str[:39] if entry else "Status unknown")
            await _set(group.Time, entry.time_str if entry else "Not yet saved")

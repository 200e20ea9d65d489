"""A save set at run time: what it saves, restoring it, and saving it when it changes.

:class:`SaveSet` is the engine behind the ``autosave`` helper (``iochost.helpers.autosave``)
and the in-IOC ``AutosaveHelper`` SubGroup. It knows a channel map (full PV names, a
mount's ``pvdb``), the mount's prefix, the items to save (names relative to the prefix),
and its :class:`~iochost.helpers.savfiles.SaveFileSet`.

* ``restore(pass_)``: pass 0 writes values without putters (``write(verify_value=False)``:
  stored, time-stamped, alarms evaluated from the restored value), pass 1 through the
  normal write path (putter included). Every name in the file that the mount serves is
  restored in the pass its item asks for (pass 0 for names that are not items, as a C
  IOC restores a hand-written file). A value that does not fit is skipped with a warning
  naming file:line; the PV keeps its default.
* ``monitor()``: listens to every item; a change marks the set dirty, and the save task
  writes at most once per ``period``; every change of the ``trigger`` PV saves at once.
  ``save()`` writes only when the text (without its header date) differs from the last
  one written: nothing changed, nothing written.
* A write that fails (read-only or full disk) is a Failure on the status PVs and a log
  line; the old files stay as they were, and the save is tried again every ``period``
  (as synApps does) until one succeeds -- not only at the next change: the value that
  could not be written would otherwise be lost by a crash once space is back.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from iochost.ca.dbr import DBE_LOG, DBE_PROPERTY, DBE_VALUE
from iochost.pv.data import ChannelData

from .autosave_status import (
    METHOD_MONITORED,
    METHOD_TRIGGERED,
    SR_STATUS_FAIL,
    SR_STATUS_INIT,
    SR_STATUS_OK,
    SR_STATUS_WARN,
    AutosaveRegistry,
    SaveSetStatus,
)
from .savfile import SavFile, format_sav
from .savfiles import LoadResult, SaveFileSet
from .savvalues import UnfitValue, resolve, text_of, value_from_entry, value_name

__all__ = ["SaveSet", "SavedItem"]

_CHANGE = DBE_VALUE | DBE_LOG | DBE_PROPERTY


@dataclass(frozen=True)
class SavedItem:
    """One name to save (relative to the prefix) and the restore pass it belongs to."""

    name: str
    restore_pass: int = 0


class SaveSet:
    """See the module docstring."""

    def __init__(self, pvdb: Mapping[str, ChannelData], prefix: str, items: Iterable[SavedItem],
                 files: SaveFileSet, *, period: float = 5.0, sequence_period: float = 60.0,
                 trigger: str | None = None,
                 registry: AutosaveRegistry | None = None, log: Any = None,
                 label: str | None = None) -> None:
        self.pvdb, self.prefix, self.files = pvdb, prefix, files
        self.period, self.sequence_period = period, sequence_period
        self.log = log or logging.getLogger("iochost.autosave")
        self.registry = registry or AutosaveRegistry()
        self.items: dict[str, SavedItem] = {}
        for item in items:
            self.items.setdefault(item.name, item)
        self.trigger = trigger
        self.status = SaveSetStatus(label or files.name, method=METHOD_MONITORED |
                                    (METHOD_TRIGGERED if trigger else 0))
        self.status.save_now = self.save
        self.loaded: LoadResult | None = None
        self.skipped: list[str] = []
        self._channels: dict[str, ChannelData] = {}
        self._last_text: str | None = None
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._trigger_saves: set[asyncio.Task[bool]] = set()
        self._trigger_channel: ChannelData | None = None
        self._listening: list[ChannelData] = []
        self._refused: str | None = None
        #: the last write raised: the save loop tries again every period until one succeeds
        self._write_failed = False
        #: the restore pass of each item, by the name of its value (see _pass_of)
        self._passes = {value_name(item.name): item.restore_pass for item in self.items.values()}
        self._claim = _claim(files, self.status.name)

    def refuse_saving(self, why: str) -> None:
        """Never write this set (its items are not known for sure: a save would drop the
        ones missing from the file); it still restores. A Failure on the status PVs."""
        self._refused = why
        self.log.error("autosave %s: %s; this set is restored but not saved",
                       self.status.name, why)
        self.status.status, self.status.status_str = SR_STATUS_FAIL, why[:39]

    # -- what is saved ---------------------------------------------------------------------------
    def channels(self) -> dict[str, ChannelData]:
        """Item name -> channel, for the items this mount serves (unknown ones are logged
        once and left out)."""
        if not self._channels:
            for name in self.items:
                channel = resolve(self.pvdb, self.prefix, name)
                if channel is None:
                    self.log.warning("autosave %s: %r is not served under %r; not saved",
                                     self.status.name, name, self.prefix)
                else:
                    self._channels[name] = channel
        return self._channels

    def snapshot(self, when: datetime | None = None) -> str:
        """The ``.sav`` text of the items' current values."""
        return _sav_text(self.values(), when or datetime.now())

    def values(self) -> list[tuple[str, ChannelData, Any]]:
        """(item, channel, value) of each item now: the values are immutable (numbers,
        text, read-only arrays), so the text can be made away from the event loop."""
        return [(name, channel, channel.value) for name, channel in self.channels().items()]

    # -- restoring --------------------------------------------------------------------------------
    def load(self) -> LoadResult:
        """Read the newest good file once (setting aside bad ones, making the dated copy)."""
        if self.loaded is None:
            try:
                self.files.ensure_directory()
                for problem in self.files.remove_stale_temporaries():  # never stops a restore
                    self.log.warning("autosave %s: %s", self.status.name, problem)
                self.loaded = result = self.files.load()
            except OSError as error:   # the mount serves all the same, with its defaults
                self.log.error("autosave %s: cannot use %s: %s", self.status.name,
                               self.files.directory, error)
                why = f"Can't use directory: {error.strerror or error}"[:39]
                self.status.status, self.status.status_str = SR_STATUS_FAIL, why
                self._restored(SR_STATUS_FAIL, why)   # every PV keeps its default: a failure
                if self.files.directory.exists():
                    # files may be there that were not read: a save of the defaults would
                    # replace them once the directory can be used again
                    self._refused = why
                self.loaded = result = LoadResult()
                return result
            for bad, aside, why in result.set_aside:
                if aside == bad:
                    self.log.error("autosave %s: %s %s", self.status.name, bad, why)
                else:
                    self.log.error("autosave %s: %s is not a complete save file (%s); set "
                                   "aside as %s", self.status.name, bad, why, aside.name)
            if result.sav is not None:
                for message in result.sav.skipped:
                    self._skip(message)
            if result.path is not None:
                if result.fallback:
                    self.log.warning("autosave %s: restoring from the fallback %s",
                                     self.status.name, result.path)
                try:
                    self.files.dated_copy(result.path)
                except OSError as error:
                    self.log.error("autosave %s: cannot write the dated copy: %s",
                                   self.status.name, error)
        return self.loaded

    async def restore(self, restore_pass: int) -> int:
        """Restore the entries of ``restore_pass``; returns how many were restored."""
        # parsing a large file takes seconds: in a thread (the mounts already serving go on)
        result = self.loaded if self.loaded is not None else await asyncio.to_thread(self.load)
        sav: SavFile | None = result.sav
        if sav is None:
            if restore_pass == 0 and self.status.restore_status != SR_STATUS_FAIL:
                why = ("no good save file: " + "; ".join(result.problems) if result.set_aside
                       else "no save file yet")
                level = SR_STATUS_FAIL if result.set_aside else SR_STATUS_WARN
                self._restored(level, why)
            return 0
        restored = 0
        for name, entry in sav.values().items():
            if self._pass_of(name) != restore_pass:
                continue
            where = f"{result.path}:{entry.line}"
            channel = resolve(self.pvdb, self.prefix, name)
            if channel is None:
                self._skip(f"{where}: {name!r} is not served under {self.prefix!r}; skipped")
                continue
            try:
                value = value_from_entry(channel, entry)
                await channel.write(value, verify_value=restore_pass != 0)
            except UnfitValue as error:
                self._skip(f"{where}: {name!r}: {error}; it keeps its default")
                continue
            except Exception as error:   # the putter refused it (pass 1)
                self._skip(f"{where}: {name!r}: restore failed: {error}")
                continue
            restored += 1
        if restore_pass == 0:
            if sav.not_saved:   # the writer could not get every value: an older one stays
                self.log.warning("autosave %s: %s says %d values were not saved",
                                 self.status.name, result.path, sum(sav.not_saved))
            if result.fallback or result.set_aside:
                why = f"Bad .sav file; used {result.path.name}" if result.path else ""
                self._restored(SR_STATUS_WARN, why)
            elif self.skipped:
                self._restored(SR_STATUS_WARN, f"{len(self.skipped)} values not restored")
            elif sav.not_saved:
                self._restored(SR_STATUS_WARN, ".sav file had an error message")
            else:
                self._restored(SR_STATUS_OK, "Ok")
        return restored

    def _pass_of(self, name: str) -> int:
        """The restore pass of a file's entry, however it spells the item (``target``,
        ``target.VAL``, ``P:target``, ``label$``); 0 for a name that is no item."""
        return self._passes.get(value_name(name.removeprefix(self.prefix)), 0)

    def _skip(self, message: str) -> None:
        self.skipped.append(message)
        self.log.warning("autosave %s: %s", self.status.name, message)

    def _restored(self, status: int, text: str) -> None:
        self.status.restore_status, self.status.restore_str = status, text
        self.registry.note(f"{self.status.name}: restore {text}")

    # -- saving -----------------------------------------------------------------------------------
    async def save(self) -> bool:
        """Write the set now if anything changed since the last write; True if written."""
        async with self._lock:
            if self.registry.disabled or self._refused:
                return False
            now = datetime.now()
            # a 1,000,000-element array takes seconds to format: not on the event loop
            text = await asyncio.to_thread(_sav_text, self.values(), now)
            body = text.split("\n", 1)[1]
            if self._last_text is None and self.loaded and self.loaded.path == self.files.sav \
                    and self.loaded.sav is not None:
                self._last_text = _body_of(self.files.sav)
            if body == self._last_text:
                # the file already holds these: at start, or changed back while failing
                if self._write_failed or self.status.status == SR_STATUS_INIT:
                    self._write_failed = False
                    self.status.status, self.status.status_str = SR_STATUS_OK, "Ok"
                    self.status.saved_at = self.status.saved_at or _modified(self.files.sav)
                    self.registry.notify()
                return False
            try:
                await asyncio.to_thread(self.files.write, text)
            except OSError as error:
                if not self._write_failed:   # once, not at every retry
                    self.log.error("autosave %s: cannot write %s: %s; trying again every "
                                   "%gs", self.status.name, self.files.sav, error, self.period)
                self._write_failed = True
                self._dirty.set()   # the save loop tries again a period later, no change needed
                self.status.status, self.status.status_str = SR_STATUS_FAIL, \
                    f"Can't write .sav file: {error.strerror or error}"[:39]
                self.registry.notify()
                return False
            if self._write_failed:
                self.log.warning("autosave %s: %s written again", self.status.name,
                                 self.files.sav)
            self._last_text, self._write_failed = body, False
            self.status.status, self.status.status_str = SR_STATUS_OK, "Ok"
            self.status.saved_at = now
            self.registry.note(f"{self.status.name} saved")
            return True

    def _changed(self, channel: ChannelData, flags: int) -> None:
        if flags & _CHANGE:
            self._dirty.set()

    def _triggered(self, channel: ChannelData, flags: int) -> None:
        if flags & DBE_VALUE:
            task = asyncio.ensure_future(self.save())
            self._trigger_saves.add(task)            # referenced until it is done
            task.add_done_callback(self._trigger_saves.discard)

    def monitor(self) -> None:
        """Start saving on change (at most every ``period``), on every change of the
        trigger PV, and the sequence copies."""
        for channel in self.channels().values():
            channel.add_listener(self._changed)
            self._listening.append(channel)
        if self.trigger is not None:
            trigger = resolve(self.pvdb, self.prefix, self.trigger)
            if trigger is None:
                self.log.warning("autosave %s: trigger %r is not served under %r",
                                 self.status.name, self.trigger, self.prefix)
            else:
                trigger.add_listener(self._triggered)
                self._trigger_channel = trigger
        self.registry.register(self.status)
        if self.loaded is not None and self.loaded.path == self.files.sav:
            self._dirty.set()   # the file holds these values (status Ok), or a save now
        self._tasks = [asyncio.create_task(self._save_loop(), name="autosave save"),
                       asyncio.create_task(self._sequence_loop(), name="autosave sequence")]

    async def _save_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time() - self.period
        while True:
            await self._dirty.wait()
            wait = last + self.period - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.registry.disabled:   # keep the change: it is saved once saving resumes
                await asyncio.sleep(self.period)
                continue
            self._dirty.clear()
            last = loop.time()
            try:
                await self.save()
            except Exception:   # never let the save task die silently
                self.log.exception("autosave %s: save failed", self.status.name)

    async def _sequence_loop(self) -> None:
        while True:
            await asyncio.sleep(self.sequence_period)
            try:
                await asyncio.to_thread(self.files.write_sequence)
            except OSError as error:
                self.log.error("autosave %s: cannot write a sequence file: %s",
                               self.status.name, error)

    async def close(self) -> None:
        """Stop monitoring and write a last time (if anything changed)."""
        async with self._lock:     # a save in progress finishes first (its thread would)
            for task in self._tasks:
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for channel in self._listening:
            channel.remove_listener(self._changed)
        self._listening = []
        if self._trigger_channel is not None:
            self._trigger_channel.remove_listener(self._triggered)
            self._trigger_channel = None
        try:
            await self.save()
        finally:
            self.registry.unregister(self.status)
            _CLAIMED.pop(self._claim, None)


def _sav_text(values: list[tuple[str, ChannelData, Any]], when: datetime) -> str:
    return format_sav([(name, text_of(channel, value)) for name, channel, value in values],
                      when=when)


#: save file -> the set writing it, in this process: two sets of one file would each
#: restore the other's values (keyed by names relative to their prefixes) and overwrite them
_CLAIMED: dict[Path, str] = {}


def _claim(files: SaveFileSet, owner: str) -> Path:
    path = files.sav.resolve()
    other = _CLAIMED.setdefault(path, owner)
    if other != owner:
        raise ValueError(f"autosave {owner}: {path} is already the save file of {other}: "
                         f"give each set its own directory: or name:")
    return path


def _modified(path: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return None


def _body_of(path: Any) -> str | None:
    try:
        text = path.read_text(encoding="latin-1")
    except OSError:
        return None
    return text.split("\n", 1)[1] if "\n" in text else None

"""caproto's ``AutosaveHelper``: autosave as a SubGroup inside one IOC.

::

    from iochost import AutosaveHelper, PVGroup, SubGroup, autosaved, pvproperty

    class MyIOC(PVGroup):
        setpoint = autosaved(pvproperty(value=1.0))
        autosave_helper = SubGroup(AutosaveHelper)

As in caproto, the class attributes ``filename`` and ``period`` choose the file and the
save period (subclass to change them). The file is a synApps ``.sav`` set (``filename``'s
stem + ``.sav``, ``.savB``, sequence and dated copies; see ``docs/helpers.md``), not
caproto's JSON (``iochost autosave import`` converts one). The helper restores when its
startup hook runs -- the earliest point an IOC's own code has; the host-attached
``autosave`` helper restores earlier, before the PVs are searchable -- without running
putters, then saves on change at most every ``period`` seconds and when the IOC stops.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from iochost import PVGroup, pvproperty

from .autosave import declared_items
from .saveset import SaveSet
from .savfiles import SaveFileSet

__all__ = ["AutosaveHelper"]


class AutosaveHelper(PVGroup):
    """Save and restore the parent IOC's ``autosaved``/``autosave=`` PVs."""

    filename: ClassVar[str] = "autosave.sav"
    period: ClassVar[float] = 30.0

    autosave_hook = pvproperty(value=0, read_only=True, name=":__autosave_hook__",
                               doc="Internal hook which handles autosave functionality")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saveset: SaveSet | None = None
        #: set once the restore is done (PeriodicStatusHelper's START_CNT waits for it)
        self.restored = asyncio.Event()

    def _make_saveset(self) -> SaveSet:
        ioc = self.parent if self.parent is not None else self
        path = Path(self.filename)
        stem = path.name.split(".sav")[0] if ".sav" in path.name else path.stem
        files = SaveFileSet(path.parent if str(path.parent) else ".", stem)
        return SaveSet(ioc.pvdb, ioc.prefix, declared_items(ioc.pvdb, ioc.prefix), files,
                       period=self.period, log=self.log,
                       label=f"{stem} of {ioc.prefix}" if ioc.prefix else stem)

    def _import_caprotos_json(self, saveset: SaveSet) -> None:
        """A script moved from caproto finds its settings in caproto's JSON file
        (``autosave.json``, or ``filename`` itself when it ends in .json): imported once,
        while no .sav file exists yet; the JSON file is kept, never written."""
        path = Path(self.filename)
        source = path if path.suffix == ".json" else path.with_suffix(".json")
        files = saveset.files
        if not source.is_file() or files.sav.exists() or files.backup.exists():
            return
        from .caproto_import import import_caproto_json

        ioc = self.parent if self.parent is not None else self
        try:
            report = import_caproto_json(source, ioc.pvdb, ioc.prefix, files)
        except (ValueError, OSError) as error:
            self.log.error("autosave: caproto's %s was not imported: %s", source, error)
            return
        for line in report.skipped:
            self.log.warning("autosave: importing %s: %s", source, line)
        self.log.warning("autosave: imported %d values of caproto's %s into %s (restored "
                         "from there from now on; the JSON file is no longer read)",
                         len(report.imported), source, report.path)

    @autosave_hook.startup
    async def autosave_hook(self, instance: Any, async_lib: Any) -> None:
        self.saveset = self._make_saveset()
        self._import_caprotos_json(self.saveset)
        try:
            await self.saveset.restore(0)
            await self.saveset.restore(1)
        finally:
            self.restored.set()
        self.saveset.monitor()

    @autosave_hook.shutdown
    async def autosave_hook(self, instance: Any, async_lib: Any) -> None:
        if self.saveset is not None:
            await self.saveset.close()

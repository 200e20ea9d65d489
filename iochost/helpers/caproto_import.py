"""Import a caproto autosave JSON file into a mount's ``.sav`` save set.

caproto's ``AutosaveHelper`` writes ``{"FULL:PV:NAME": {"value": v, "fields": {attr: v}}}``
(full PV names, fields by caproto attribute name such as ``description``). The import keys
each entry relative to the mount's prefix, names fields by their EPICS names, formats
values as synApps does (enums as their index), checks each value against the mount's IOC
as a restore would, and writes ``<autosave dir>/<mount>/<name>.sav`` through the same
atomic path as a save (an existing file becomes ``.savB``). Entries that do not belong to
the mount or do not fit are reported and left out; nothing is written if none fit.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from iochost.pv.data import ChannelData

from .autosave import item_name
from .savfile import SavEntry, format_sav
from .savfiles import SaveFileSet
from .savvalues import UnfitValue, field_name_of, resolve, text_of, value_from_entry

__all__ = ["ImportReport", "import_caproto_json"]


@dataclass
class ImportReport:
    path: Path | None = None
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _text(value: Any) -> str | tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(_text(item)) for item in value)
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.14g}"
    return str(value)


def _converted(channel: ChannelData, name: str, value: Any) -> str | tuple[str, ...]:
    """The value as ``channel`` would save it, after the checks a restore makes."""
    return text_of(channel, value_from_entry(channel, SavEntry(name, _text(value))))


def import_caproto_json(source: str | Path, pvdb: dict[str, ChannelData], prefix: str,
                        files: SaveFileSet) -> ImportReport:
    """Convert caproto's JSON ``source`` for the mount serving ``pvdb`` under ``prefix``."""
    report = ImportReport()
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{source}: not a caproto autosave JSON file: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a JSON object of PV names")
    entries: list[tuple[str, str | tuple[str, ...]]] = []
    for full, info in data.items():
        if not full.startswith(prefix) or not isinstance(info, dict):
            report.skipped.append(f"{full}: not under the mount's prefix {prefix!r}")
            continue
        relative = full[len(prefix):]
        channel = pvdb.get(full)
        if channel is None:
            report.skipped.append(f"{full}: the mount does not serve it")
            continue
        values = [("VAL", info.get("value"))] if "value" in info else []
        values += list((info.get("fields") or {}).items())
        for attr, value in values:
            name = item_name(relative, channel, "VAL" if attr == "VAL"
                             else field_name_of(channel, attr))
            target = resolve(pvdb, prefix, name)
            if target is None:
                report.skipped.append(f"{full}: field {attr!r} is not served")
                continue
            try:
                entries.append((name, _converted(target, name, value)))
            except UnfitValue as error:
                report.skipped.append(f"{full} {attr}: {error}")
                continue
            report.imported.append(name)
    if entries:
        files.write(format_sav(entries, when=datetime.now()))
        report.path = files.sav
    return report

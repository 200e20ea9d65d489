"""The ``autosave`` helper: attach to any mount from the host config.

::

    mounts:
      - name: motors
        ioc: my-motors
        prefix: "BL1:"
        helpers:
          autosave:
            pvs: [m1, m2]            # names relative to the prefix ('m1' is BL1:m1)
            fields: [EGU, HIHI]      # also saved for each name in pvs
            pass1: [m2]              # restored through the putter, after startup hooks
            request: positions.req   # a synApps request file (optional)
            period: 5                # seconds between writes while values change (default:
                                     # 5 for a set named *position*, else 30, as synApps)
            trigger: save_now        # a PV (relative name) whose every change saves now

What is saved: the mount's pvproperties marked ``autosave=...`` (or caproto's
``autosaved(...)``), plus ``pvs``/``fields``, plus the names of the request file
(expanded with the mount's macros and ``P`` = the prefix; the prefix is removed again).
Entries are keyed by the name relative to the prefix, so changing the prefix keeps them.

Files live in ``<autosave dir>/<mount name>/<name>.sav`` (``directory`` overrides the
whole path); the autosave dir is ``host.autosave_dir`` or, by default,
``$XDG_STATE_HOME/iochost/<host name>/autosave`` (``~/.local/state/...``).
``config_problems`` (the ``iochost_config_problems`` hook: ``iochost check``, ``serve``,
reloads) refuses two sets of one file and a set directory below a regular file.

The host calls ``prepare()`` before the mount's PVs are searchable and before its startup
hooks (pass 0: values set without putters), ``start()`` after the startup hooks began
(pass 1 through the putters; saving on change starts), and ``stop()`` on unmount and
clean shutdown (a last save if anything changed).
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iochost.pv.data import ChannelData

from .autosave_status import registry_for
from .reqfile import RequestFileError, read_request_file
from .saveset import SavedItem, SaveSet
from .savfiles import SaveFileSet
from .savvalues import LONG_STRING_MARK, field_name_of, value_name

if TYPE_CHECKING:   # the host is not imported with the helper (caproto-style IOC scripts)
    from iochost.host.hostconfig import HostConfig, MountConfig
    from iochost.host.problems import ConfigProblem

__all__ = ["Autosave", "autosaved", "config_problems", "declared_items", "default_autosave_dir",
           "read_requests", "set_name"]


def default_autosave_dir(host_name: str, environ: Any = None) -> Path:
    """``$XDG_STATE_HOME/iochost/<host>/autosave``, else ``~/.local/state/iochost/...``."""
    environ = os.environ if environ is None else environ
    state = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"),
                                                          ".local", "state")
    return Path(state) / "iochost" / host_name / "autosave"


def autosave_root(host_section: Any) -> Path:
    """``host.autosave_dir`` or the default."""
    configured = getattr(host_section, "autosave_dir", None)
    return Path(configured).expanduser() if configured else default_autosave_dir(
        getattr(host_section, "name", "iochost"))


def mount_directory(host_section: Any, mount_name: str) -> Path:
    """``<host.autosave_dir or the default>/<mount name>``."""
    return autosave_root(host_section) / mount_name


def _is_long_text(channel: ChannelData) -> bool:
    from iochost.ca.dbr import ChannelType
    return channel.native_type == ChannelType.CHAR and isinstance(channel.value, str)


def item_name(relative: str, channel: ChannelData, field: str) -> str:
    """The ``.sav`` name of ``field`` of the PV ``relative`` (``VAL`` is the value; text in
    a CHAR array is saved whole as a long string, ``NAME$``)."""
    if field == "VAL":
        return relative + (LONG_STRING_MARK if _is_long_text(channel) else "")
    return f"{relative}.{field_name_of(channel, field)}"


def _value_item(pvdb: dict[str, ChannelData], prefix: str, relative: str) -> SavedItem:
    """The item of a name listed in ``pvs:`` or a request file: a PV's value is named as
    ``item_name`` names it (``note$`` for text in a CHAR array), anything else as given."""
    channel = pvdb.get(prefix + relative)
    return SavedItem(item_name(relative, channel, "VAL") if channel is not None else relative)


def declared_items(pvdb: dict[str, ChannelData], prefix: str) -> list[SavedItem]:
    """The items the IOC's pvproperties declare with ``autosave=``/``autosaved()``."""
    items: list[SavedItem] = []
    for full, channel in pvdb.items():
        spec = getattr(channel, "pvspec", None)
        fields = getattr(spec, "autosave", None)
        if not fields or not full.startswith(prefix):
            continue
        relative = full[len(prefix):]
        items.extend(SavedItem(item_name(relative, channel, field)) for field in fields)
    return items


def read_requests(config: Any, request: str | Sequence[str] | None,
                  request_path: Sequence[str] = (), macros: dict[str, str] | None = None
                  ) -> tuple[list[str], list[str], list[str]]:
    """The PV names of the request files of a mount (``config``: its MountConfig),
    expanded with its macros, ``P`` = its prefix and ``macros``; why each file that could
    not be read was not; and the lines left out of the others (a missing include, an
    undefined macro: synApps goes on past them)."""
    names: list[str] = []
    broken: list[str] = []
    problems: list[str] = []
    expand = {**config.macros, "P": config.prefix, **(macros or {})}
    for req in [request] if isinstance(request, str) else list(request or ()):
        try:
            names.extend(read_request_file(req, expand, request_path, problems))
        except RequestFileError as error:
            broken.append(str(error))
    return names, broken, problems


def set_name(name: str | None, request: str | Sequence[str] | None) -> str:
    """The save set's name (its file's, without .sav): ``name``, else, as synApps names the
    .sav after its .req, the one request file's (``auto_positions``), else auto_settings."""
    if name is not None:
        return name
    return Path(request).stem if isinstance(request, str) else "auto_settings"


def config_problems(config: HostConfig, mounts: Sequence[MountConfig]) -> list[ConfigProblem]:
    """What ``iochost check`` (and so ``serve`` and ``reload``) finds wrong with the
    autosave sets of ``mounts`` (MountConfigs) together: two sets of one .sav file (each
    would restore the other's values and overwrite its file: ``serve`` would fail the
    second mount), and a set directory below something that is not a directory (the
    mount would serve, but nothing could ever be restored or saved)."""
    from iochost.host.problems import ConfigProblem

    problems: list[ConfigProblem] = []
    owners: dict[Path, MountConfig] = {}
    root = autosave_root(config.host)
    for mount in mounts:
        options = mount.helpers.get("autosave")
        if options is None:
            continue
        directory = options.get("directory")
        path = Path(directory).expanduser() if directory is not None else root / mount.name
        name = set_name(options.get("name"), options.get("request"))
        sav = SaveFileSet(path, name).sav.resolve()    # the path the set claims when serving
        other = owners.setdefault(sav, mount)
        if other is not mount:
            line = other.where("name")[0].line if other.source is mount.source else 0
            keys = [key for key in ("directory", "name") if key in options]
            problems.append(mount.problem(
                f"autosave: {sav} is already the save file of mount {other.name!r}"
                f"{f' (line {line})' if line else ''}: give each set its own directory: "
                "or name:", "helpers", "autosave", *keys[-1:]))
        blocker = _not_a_directory(path)
        if blocker is None:
            continue
        if directory is None and blocker != path:   # in host.autosave_dir: said there, once
            problem = ConfigProblem(
                config.source.location(("host", "autosave_dir")), "host.autosave_dir",
                f"the autosave directory {root} cannot be used: {blocker} is not a directory")
            if problem not in problems:
                problems.append(problem)
        else:
            problems.append(mount.problem(
                f"autosave: the directory {path} cannot be used: {blocker} is not a directory",
                "helpers", "autosave", *(("directory",) if directory is not None else ())))
    return problems


def _not_a_directory(path: Path) -> Path | None:
    """The nearest of ``path`` and its parents that exists, if it is not a directory."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return None if candidate.is_dir() else candidate
        except OSError:      # cannot tell (no permission): serve will say
            return None
    return None


class Autosave:
    """The autosave helper of one mount (see the module docstring)."""

    def __init__(self, mount: Any, *, name: str | None = None,
                 directory: str | None = None, period: float | None = None,
                 trigger: str | None = None,
                 pvs: Sequence[str] = (), fields: Sequence[str] = (),
                 pass1: Sequence[str] = (), request: str | Sequence[str] | None = None,
                 request_path: Sequence[str] = (), macros: dict[str, str] | None = None,
                 sequence_files: int = 3, sequence_period: float = 60.0,
                 dated_copies: int = 10) -> None:
        ioc, prefix = mount.ioc, mount.config.prefix
        name = set_name(name, request)
        host = getattr(mount, "host", None)
        items = declared_items(ioc.pvdb, prefix)
        for pv in pvs:
            items.append(_value_item(ioc.pvdb, prefix, pv))
            items.extend(SavedItem(f"{pv}.{field}") for field in fields)
        requested, broken, problems = read_requests(mount.config, request, request_path,
                                                    macros)
        items.extend(_value_item(ioc.pvdb, prefix, full.removeprefix(prefix))
                     for full in requested)
        later = {value_name(name) for name in pass1}
        items = [SavedItem(item.name, 1 if value_name(item.name) in later else 0)
                 for item in items]
        if directory is None:
            directory = str(mount_directory(getattr(getattr(host, "config", None), "host",
                                                    None), mount.name))
        files = SaveFileSet(directory, name, sequence_files=sequence_files,
                            dated_copies=dated_copies)
        if period is None:   # synApps' habit: positions every 5 s, settings every 30 s
            period = 5.0 if "position" in name else 30.0
        self.saveset = SaveSet(ioc.pvdb, prefix, items, files, period=period, trigger=trigger,
                               sequence_period=sequence_period, registry=registry_for(host),
                               log=getattr(ioc, "log", None), label=f"{mount.name}/{name}")
        if broken:   # as synApps: the file still restores, the set never saves
            self.saveset.refuse_saving(f"bad request file: {'; '.join(broken)}")
        for problem in problems:
            self.saveset.log.warning("autosave %s: %s; left out", self.saveset.status.name,
                                     problem)

    async def prepare(self) -> None:
        """Pass 0: before the PVs are searchable and before the startup hooks."""
        await self.saveset.restore(0)

    async def start(self) -> None:
        """Pass 1 (through the putters), once the startup hooks have begun; then save on
        change."""
        await asyncio.sleep(0)     # let every startup hook run to its first await
        await self.saveset.restore(1)
        self.saveset.monitor()

    async def stop(self) -> None:
        """A last save (if anything changed) and no more monitoring."""
        await self.saveset.close()


def autosaved(prop: Any, fields: Sequence[str] | None = None) -> Any:
    """caproto's spelling of ``pvproperty(..., autosave=...)``: mark ``prop`` as saved
    (its value, plus ``fields`` of a record: EPICS names or caproto's attribute names,
    ``"description"`` being caproto's default) and return it."""
    from iochost.pv.pvspec import normalise_autosave

    names = ("VAL", *(fields if fields is not None else ("description",)))
    if prop.pvspec.record is None:      # no record, no fields to save
        names = ("VAL",)
    prop.pvspec = prop.pvspec._replace(autosave=normalise_autosave(names))
    return prop

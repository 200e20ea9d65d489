"""Plugin discovery: entry points -> pluggy manager -> a catalog of what each plugin provides.

Rules:

* A plugin is an entry point in the ``iochost`` group; its name is the plugin's name.
* The ``iochost`` distribution's own entry points are the built-ins; they load even when
  autoload is off. Other distributions' entry points load unless autoload is disabled
  (``disable_autoload=True`` or ``IOCHOST_NO_AUTOLOAD=1``).
* A plugin named (or whose distribution is named) in ``blocked`` / ``IOCHOST_DISABLE_PLUGINS``
  (comma-separated) is not imported at all.
* ``IOCHOST_ONLY_PLUGINS`` (comma-separated plugin or distribution names), when set, is an
  allow-list: other distributions' entry points are not even listed. Built-ins always load.
  It makes a run hermetic (tests, a site that pins its plugin set) whatever else the
  environment has installed.
* One broken plugin -- import error, hook with a bad signature, unknown ``iochost_*`` hook,
  exception or bad call in a registration hook, a name another plugin already registered --
  is recorded with its reason and unregistered; every other plugin still loads.
* Each plugin's registration hooks run on their own, so a plugin that fails half way leaves
  nothing behind; a plugin is only ever all in or all out.
* A host's reload loads the plugins installed since it started (``load_new_plugins``), by
  the rules it started with; a plugin already loaded is never imported again.
"""
from __future__ import annotations

import importlib
import inspect
import os
import site
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .problems import did_you_mean

ENTRY_POINT_GROUP = "iochost"
BUILTIN_DISTRIBUTION = "iochost"
ENV_DISABLE = "IOCHOST_DISABLE_PLUGINS"
ENV_NO_AUTOLOAD = "IOCHOST_NO_AUTOLOAD"
ENV_ONLY = "IOCHOST_ONLY_PLUGINS"

#: registration hook -> the catalog attribute it fills
REGISTRATION_HOOKS: dict[str, str] = {
    "iochost_register_iocs": "iocs",
    "iochost_register_record_types": "record_types",
    "iochost_register_helpers": "helpers",
}


@dataclass(frozen=True)
class Discovery:
    """How a manager chose its plugins at start: the same rules pick the ones a reload
    finds installed since (``load_new_plugins``)."""

    disable_autoload: bool
    blocked: frozenset[str]
    allowed: set[str] | None


class IochostPluginManager(pluggy.PluginManager):
    """A pluggy manager that also treats unmarked ``iochost_*`` functions as hook
    implementations, so a misspelt hook name fails ``check_pending`` instead of being
    silently ignored."""

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        #: every plugin found, by name, with what it provides or why it failed
        self.plugin_info: dict[str, PluginInfo] = {}
        self.discovery = Discovery(False, frozenset(), None)

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(f"{hookspecs.PROJECT_NAME}_"):
            attr = inspect.getattr_static(plugin, name, None)
            if isinstance(attr, (staticmethod, classmethod)):
                attr = attr.__func__
            if inspect.isfunction(attr):
                return {}
        return opts


@dataclass
class PluginInfo:
    """What ``iochost list-plugins`` reports for one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    entry_point: str | None = None
    builtin: bool = False
    disabled: bool = False
    error: str | None = None
    hooks: list[str] = field(default_factory=list)
    iocs: list[str] = field(default_factory=list)
    record_types: list[str] = field(default_factory=list)
    helpers: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return not self.disabled and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
            "builtin": self.builtin,
            "disabled": self.disabled,
            "loaded": self.loaded,
            "error": self.error,
            "hooks": self.hooks,
            "iocs": self.iocs,
            "record_types": self.record_types,
            "helpers": self.helpers,
        }


@dataclass(frozen=True)
class Registered:
    """One registered IOC class, record type or helper and the plugin it came from."""

    name: str
    obj: Any
    plugin: str


@dataclass
class PluginCatalog:
    """Every plugin found, and the IOCs, record types and helpers the loaded ones provide."""

    manager: IochostPluginManager
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    iocs: dict[str, Registered] = field(default_factory=dict)
    record_types: dict[str, Registered] = field(default_factory=dict)
    helpers: dict[str, Registered] = field(default_factory=dict)

    @property
    def broken(self) -> list[PluginInfo]:
        """Plugins that failed to load, in discovery order."""
        return [info for info in self.plugins.values() if info.error is not None]

    def ioc_class(self, name: str) -> type:
        return self.iocs[name].obj

    def provider_of(self, kind: str, name: str) -> PluginInfo | None:
        """The plugin (loaded or broken) known to provide ``name`` of ``kind``
        (``iocs``, ``record_types`` or ``helpers``), if any."""
        for info in self.plugins.values():
            if name in getattr(info, kind):
                return info
        return None

    def to_json(self) -> list[dict[str, Any]]:
        return [info.to_json() for info in self.plugins.values()]


def disabled_from_env(environ: Mapping[str, str]) -> set[str]:
    """Plugin or distribution names listed in ``IOCHOST_DISABLE_PLUGINS``."""
    return {name.strip() for name in environ.get(ENV_DISABLE, "").split(",") if name.strip()}


def allowed_from_env(environ: Mapping[str, str]) -> set[str] | None:
    """Plugin or distribution names listed in ``IOCHOST_ONLY_PLUGINS``; None when unset."""
    names = {name.strip() for name in environ.get(ENV_ONLY, "").split(",") if name.strip()}
    return names or None


def autoload_disabled_in_env(environ: Mapping[str, str]) -> bool:
    return environ.get(ENV_NO_AUTOLOAD, "").strip().lower() in {"1", "yes", "true", "on"}


def make_plugin_manager(
    disable_autoload: bool | None = None,
    blocked: Iterable[str] = (),
    *,
    extra_plugins: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> IochostPluginManager:
    """Build a plugin manager with the iochost hookspecs and load the entry points.

    ``disable_autoload`` None means "as ``IOCHOST_NO_AUTOLOAD`` says"; ``blocked`` adds to
    ``IOCHOST_DISABLE_PLUGINS``. ``extra_plugins`` (name -> plugin object) are registered
    after the entry points, as if discovered (embedding and tests). The manager's
    ``plugin_info`` says, per plugin name, what was found; broken plugins carry ``error``
    and are not registered. ``check_pending()`` has passed on the returned manager.
    """
    environ = os.environ if environ is None else environ
    if disable_autoload is None:
        disable_autoload = autoload_disabled_in_env(environ)
    blocked = set(blocked) | disabled_from_env(environ)
    allowed = allowed_from_env(environ)

    manager = IochostPluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.discovery = Discovery(disable_autoload, frozenset(blocked), allowed)
    found = manager.plugin_info

    for ep in _entry_points():
        _load_entry_point(manager, ep)

    for name, plugin in (extra_plugins or {}).items():
        info = found.setdefault(name, PluginInfo(name=name, entry_point=repr(plugin)))
        if name in blocked:
            info.disabled = True
            continue
        _register(manager, plugin, info)

    manager.check_pending()
    return manager


def _load_entry_point(manager: IochostPluginManager, ep: metadata.EntryPoint
                      ) -> PluginInfo | None:
    """Import and register the plugin of ``ep`` as ``manager.discovery`` says; its
    ``PluginInfo`` (None when IOCHOST_ONLY_PLUGINS leaves it out)."""
    rules, found = manager.discovery, manager.plugin_info
    dist = getattr(ep, "dist", None)
    dist_name = dist.metadata["Name"] if dist is not None else None
    if not _allowed(ep.name, dist_name, rules.allowed):
        return None
    info = PluginInfo(name=ep.name, distribution=dist_name,
                      version=dist.version if dist is not None else None,
                      entry_point=ep.value,
                      builtin=_canonical(dist_name) == BUILTIN_DISTRIBUTION)
    if ep.name in found:
        info.error = (f"plugin name {ep.name!r} is already used by distribution "
                      f"{found[ep.name].distribution!r}")
        found[f"{ep.name} ({dist_name})"] = info
        return info
    found[ep.name] = info
    if ep.name in rules.blocked or dist_name in rules.blocked or (
            rules.disable_autoload and not info.builtin):
        info.disabled = True
        manager.set_blocked(ep.name)
        return info
    try:
        plugin = ep.load()
    except (Exception, SystemExit) as exc:   # sys.exit() at import (argparse) too
        info.error = f"cannot import {ep.value!r}: {_describe(exc)}"
        return info
    _register(manager, plugin, info)
    return info


def load_plugins(
    disable_autoload: bool | None = None,
    blocked: Iterable[str] = (),
    *,
    extra_plugins: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> PluginCatalog:
    """Discover and load every plugin, then run each one's registration hooks.

    Never raises for a broken plugin: see ``PluginCatalog.broken``.
    """
    manager = make_plugin_manager(
        disable_autoload, blocked, extra_plugins=extra_plugins, environ=environ)
    catalog = PluginCatalog(manager=manager, plugins=manager.plugin_info)
    for info in catalog.plugins.values():
        if info.loaded:
            _collect_registrations(catalog, info)
    return catalog


def installed_since(catalog: PluginCatalog) -> list[str]:
    """Plugins installed after ``catalog`` was read (``name (distribution)``): a running
    host has not imported them; its next reload does (``load_new_plugins``)."""
    importlib.invalidate_caches()   # the path's directory listings, cached at start
    allowed = catalog.manager.discovery.allowed
    return [f"{ep.name} ({dist})" if dist else ep.name for ep in _entry_points()
            if not _known(catalog, ep) and _allowed(ep.name, dist := _dist_name(ep), allowed)]


def _site_dirs() -> list[str]:
    """The directories whose ``.pth`` files Python reads at its start."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return dirs


def _path_files() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for sitedir in _site_dirs():
        try:
            found.update((sitedir, name) for name in os.listdir(sitedir)
                         if name.endswith(".pth"))
        except OSError:
            continue
    return found


#: the .pth files there were when this process started (Python read those)
_PATH_FILES_READ = _path_files()


def _read_new_path_files() -> None:
    """Read the ``.pth`` files written since the start, as Python read the others then: a
    ``pip install -e`` makes its package importable only through one (a path, or an import
    finder), and a reload must find a plugin installed so."""
    for sitedir, name in sorted(_path_files() - _PATH_FILES_READ):
        _PATH_FILES_READ.add((sitedir, name))
        site.addpackage(sitedir, name, None)   # type: ignore[attr-defined]


def load_new_plugins(catalog: PluginCatalog) -> list[PluginInfo]:
    """Load the plugins installed after ``catalog`` was read, by the rules it was read
    with (a host's reload: ``pip install`` a device plugin, then reload to mount its IOC).
    Each is all in or all out, as at start; returns their infos, broken ones included.
    Plugins already loaded are not touched (a new version of one needs a restart)."""
    _read_new_path_files()
    importlib.invalidate_caches()
    added = []
    for ep in _entry_points():
        if _known(catalog, ep):
            continue
        info = _load_entry_point(catalog.manager, ep)
        if info is None:
            continue
        added.append(info)
        if info.loaded:
            _collect_registrations(catalog, info)
    return added


def _known(catalog: PluginCatalog, ep: metadata.EntryPoint) -> bool:
    """Whether ``catalog`` has seen ``ep`` (loaded, broken, disabled, or refused for
    another distribution's use of its name); another distribution's is new."""
    known = catalog.plugins.get(ep.name)
    dist = _dist_name(ep)
    return known is not None and ((known.distribution or "") == dist
                                  or f"{ep.name} ({dist})" in catalog.plugins)


def _allowed(name: str, dist_name: str | None, allowed: Iterable[str] | None) -> bool:
    """Whether IOCHOST_ONLY_PLUGINS (``allowed``, None: unset) lets plugin ``name`` of
    ``dist_name`` load; the built-ins always load."""
    if allowed is None or _canonical(dist_name) == BUILTIN_DISTRIBUTION or name in allowed:
        return True
    return _canonical(dist_name) in {_canonical(item) for item in allowed}


def _entry_points() -> list[metadata.EntryPoint]:
    """The ``iochost`` entry points, built-ins first, then by distribution and name."""
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    unique = {(ep.name, ep.value, _dist_name(ep)): ep for ep in eps}  # a dist seen twice on path
    return sorted(unique.values(), key=lambda ep: (
        _canonical(_dist_name(ep)) != BUILTIN_DISTRIBUTION, _canonical(_dist_name(ep)), ep.name))


def _dist_name(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else ""


def _canonical(name: str | None) -> str:
    return (name or "").lower().replace("_", "-").replace(".", "-")


def _register(manager: pluggy.PluginManager, plugin: object, info: PluginInfo) -> None:
    """Register one plugin; on any validation problem record it and leave no trace."""
    try:
        manager.register(plugin, name=info.name)
    except pluggy.PluginValidationError as exc:
        info.error = _validation_reason(exc)
        return
    except ValueError as exc:  # same object under two names
        info.error = str(exc).splitlines()[0]
        return
    callers = manager.get_hookcallers(plugin) or []
    unknown = sorted(caller.name for caller in callers if not caller.has_spec())
    if unknown:
        manager.unregister(plugin)
        info.error = "; ".join(_unknown_hook_reason(name) for name in unknown)
        return
    info.hooks = sorted(caller.name for caller in callers)


def _validation_reason(exc: pluggy.PluginValidationError) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # pluggy's message: plugin, hook, the offending definition, the problem
    return "bad hook implementation: " + "; ".join(lines[1:] or lines)


def _unknown_hook_reason(name: str) -> str:
    known = [n for n in dir(hookspecs) if n.startswith(f"{hookspecs.PROJECT_NAME}_")]
    return f"unknown hook {name!r}{did_you_mean(name, known)}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _collect_registrations(catalog: PluginCatalog, info: PluginInfo) -> None:
    """Run one plugin's registration hooks; commit everything or, on failure, nothing."""
    staged: dict[str, dict[str, Any]] = {kind: {} for kind in REGISTRATION_HOOKS.values()}
    plugin = catalog.manager.get_plugin(info.name)
    for hook_name, kind in REGISTRATION_HOOKS.items():
        for impl in getattr(catalog.manager.hook, hook_name).get_hookimpls():
            if impl.plugin is not plugin or info.error is not None:
                continue
            register = _stager(catalog, kind, staged[kind], info.name)
            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except RegistrationError as exc:
                info.error = f"{hook_name}: {exc}"
            except (Exception, SystemExit) as exc:
                info.error = f"{hook_name} raised {_describe(exc)}"
    for kind, items in staged.items():
        setattr(info, kind, sorted(items))
    if info.error is None:
        try:
            _install_record_types(staged["record_types"])
        except (TypeError, ValueError) as exc:  # not a field set, or a base type's name
            info.error = f"iochost_register_record_types: {exc}"
    if info.error is not None:
        catalog.manager.unregister(plugin)
        return
    for kind, items in staged.items():
        for name, obj in items.items():
            getattr(catalog, kind)[name] = Registered(name, obj, info.name)


def _install_record_types(items: dict[str, Any]) -> None:
    """Hand one plugin's record types to ``iochost.records``' registry: all or none."""
    if not items:
        return
    from iochost.records import register_record, unregister_record  # only when used

    done: list[str] = []
    try:
        for name, fields in items.items():
            register_record(name, fields)
            done.append(name)
    except (TypeError, ValueError):
        for name in done:
            unregister_record(name)
        raise


NOUNS = {"iocs": "IOC", "record_types": "record type", "helpers": "helper"}


class RegistrationError(Exception):
    """A plugin called its ``register`` callback wrongly."""


def _stager(catalog: PluginCatalog, kind: str, staged: dict[str, Any], plugin: str):
    """The ``register`` callback handed to one plugin for one registration hook."""
    noun = NOUNS[kind]

    def register(name: str, obj: Any) -> None:
        if not isinstance(name, str) or not name:
            raise RegistrationError(f"{noun} name must be a non-empty string, got {name!r}")
        if kind == "iocs" and not inspect.isclass(obj):
            raise RegistrationError(f"IOC {name!r} must be a class, got {obj!r}")
        if name in staged:
            raise RegistrationError(f"{noun} {name!r} registered twice")
        owner = getattr(catalog, kind).get(name)
        if owner is not None:
            raise RegistrationError(
                f"{noun} {name!r} is already registered by plugin {owner.plugin!r}")
        staged[name] = obj

    register.__name__ = f"register_{kind}"
    register.__doc__ = f"Register one {noun} of plugin {plugin!r}."
    return register

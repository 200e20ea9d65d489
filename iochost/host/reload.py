"""Reloading a running host's config (SIGHUP, ``iochost reload``) as a diff.

The new config is read and validated exactly as ``iochost check`` does; a config with
problems changes nothing (each problem is logged with file:line) and the host serves on.
A valid one is applied mount by mount, by name:

* **unchanged** mounts are not touched: their PVs, their clients' channels and
  subscriptions, their hook tasks and their helpers' state (autosave) stay as they are;
* **removed** mounts, and mounts now ``enabled: false``, are unmounted (shutdown hooks run,
  clients see SERVER_DISCONN), and their STATE PVs are withdrawn with them;
* **added** mounts, and mounts turned from ``enabled: false`` to ``true``, are mounted;
* **changed** mounts -- IOC, prefix, own macros, options or helpers differ, or the PV
  names their IOC builds (``_mount_key``, ``_renamed``) -- are unmounted,
  then mounted from the new entry (unmounts all happen before mounts, so a mount may take
  over PV names another gave up). Their PVs stay served until the new IOC's replace them:
  a client channel on a PV that keeps its name, type, count and metadata is handed over
  without a disconnect (``Host._handover``, ``Server._on_removed``).

What cannot change under a running process is reported and not applied: the ``ca``
section (port, interfaces, beacons: the sockets are bound) and the ``host`` section (name,
status prefix, log level, the helpers' directories) and the ``web`` section (the page's
socket is bound too). Installed plugins are re-read first: one installed since the start
is loaded (as at start, all in or all out; a broken one is reported by name), gets
``iochost_host_started``, and its IOCs, helpers and record types serve the new config; a
plugin whose installed version differs from the one loaded is reported as needing a
restart -- its modules are already imported and cannot be swapped safely under running
IOCs, so the old code keeps running and nothing of the new one is half-loaded.

Plugins that keep state derived from the config (access rules...) implement the
``iochost_host_reloaded`` hook, called after a reload was applied.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .hostconfig import HostConfig, MountConfig, is_builtin, read_config
from .plugins import PluginCatalog, load_new_plugins
from .problems import ConfigError
from .validation import validate

if TYPE_CHECKING:
    from .host import Host

log = logging.getLogger("iochost.host")


def _mount_key(mount: MountConfig) -> tuple[Any, ...]:
    """What makes two entries of one mount name the same mount, as far as the config
    says: its own ``macros:``, and the host macros its prefix, options and helpers use
    (expanded in them). Other host macros are not in it -- every mount's macros hold all
    of the host's, so adding one would remount every mount -- and those its IOC's PV names
    use are compared by the reload on the built IOCs (``_renamed``). ``description`` is
    cosmetic: a change of it alone is taken over without a remount."""
    return (mount.ioc, mount.prefix, mount.own_macros, mount.options, mount.helpers)


@dataclass
class ReloadPlan:
    """Which mounts a reload touches, and what it cannot apply."""

    unmount: list[str] = field(default_factory=list)     # removed, disabled or changed
    mount: list[str] = field(default_factory=list)       # added, enabled or changed
    unchanged: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.unmount or self.mount)

    def summary(self) -> str:
        removed = [name for name in self.unmount if name not in self.changed]
        added = [name for name in self.mount if name not in self.changed]
        parts = [f"{label}: {', '.join(names)}" for label, names in (
            ("unmounted", removed), ("mounted", added), ("remounted", self.changed))
            if names]
        return "; ".join(parts) or "no mount changed"


def plan_reload(old: HostConfig, new: HostConfig, serving: set[str]) -> ReloadPlan:
    """Compare two configs; ``serving`` are the names of the mounts serving now."""
    plan = ReloadPlan()
    before = {mount.name: mount for mount in old.mounts}
    after = {mount.name: mount for mount in new.mounts}
    for name in before:
        wanted = after.get(name)
        if name in serving and (wanted is None or not wanted.enabled):
            plan.unmount.append(name)
    for name, mount in after.items():
        if not mount.enabled:
            continue
        previous = before.get(name)
        if name not in serving:
            plan.mount.append(name)
        elif previous is not None and _mount_key(previous) != _mount_key(mount):
            plan.changed.append(name)
            plan.unmount.append(name)
            plan.mount.append(name)
        else:
            plan.unchanged.append(name)
    if old.ca.settings() != new.ca.settings():
        plan.restart_needed.append("the ca section (the server's sockets are bound)")
    if (old.access is None) != (new.access is None) or (
            old.access is not None and new.access is not None
            and old.access.host_match != new.access.host_match):
        plan.restart_needed.append("access security turned on or off, or its host_match "
                                   "(the rules file itself is re-read on every reload)")
    if old.host != new.host:
        plan.restart_needed.append("the host section (name, status prefix, logging, "
                                   "helpers' directories)")
    if old.web != new.web:
        plan.restart_needed.append("the web section (the page's socket is bound)")
    return plan


def upgraded_plugins(catalog: PluginCatalog) -> list[str]:
    """Plugins whose distribution's installed version is not the one loaded."""
    found = []
    for info in catalog.plugins.values():
        if not info.distribution or info.builtin or not info.loaded:
            continue
        try:
            installed = metadata.version(info.distribution)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != info.version:
            found.append(f"{info.name} ({info.distribution} {info.version} loaded, "
                         f"{installed or 'uninstalled'} installed)")
    return found


#: ``report(applied, lines)``: a reload's outcome, for ``iochost reload`` (the first line
#: says what happened, the others why: problems, or changes that need a restart).
ReloadReport = Callable[[bool, list[str]], None]


def _rules_problems(config: HostConfig) -> list[str]:
    """The new access rules file's error, if any: a config whose rules file ``check``
    refuses is refused whole (applying its mounts with the old rules could leave a new
    mount in a group the old file does not have: DEFAULT)."""
    from iochost.access import AcfError, read_rules_file

    if config.access is None:
        return []
    try:
        read_rules_file(config.access.file, config.access.scope.expand)
    except AcfError as exc:
        return [f"access rules: {exc}"]
    return []


def _emptied(host: Host, config: HostConfig, path: str) -> list[str]:
    """A file without a ``mounts:`` key (empty, truncated by an editor or a full disk)
    would unmount every IOC: refused. ``mounts: []`` says so on purpose."""
    serving = [name for name, mount in host.mounts.items()
               if mount.serving and not is_builtin(name)]
    if config.mounts or not serving:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    if re.search(r"^mounts\s*:", text, re.MULTILINE):
        return []
    return [f"{path}: no 'mounts:' key (an empty or truncated file?): it would unmount "
            f"{', '.join(serving)}; write 'mounts: []' to unmount every IOC"]


def _served_twice(host: Host, plan: ReloadPlan, built: dict[str, Any]) -> list[str]:
    """Mounts the reload would add whose PVs what stays served already serves: the new
    config was checked against itself, but PVs outside it stay (status PVs of a prefix
    whose change needs a restart, PVs an IOC added at run time)."""
    owner = {pv: name for name, mount in host.mounts.items() if mount.serving
             for pv in mount.pvnames}
    leaving = {pv for name in plan.unmount if name in host.mounts
               for pv in host.mounts[name].pvnames}
    problems = []
    for name in plan.mount:
        taken = [pv for pv in getattr(built.get(name), "pvdb", ())
                 if pv in host.database and pv not in leaving]
        if taken:
            problems.append(f"mount {name!r}: {len(taken)} PV(s) already served, e.g. "
                            f"{taken[0]} (by {owner.get(taken[0], 'the host')})")
    return problems


def _renamed(host: Host, plan: ReloadPlan, built: dict[str, Any]) -> None:
    """Remount the mounts whose entries did not change but whose PV names did (a host
    macro their IOC's PV names use, ``{NAME}``, changed)."""
    for name in list(plan.unchanged):
        new = built.get(name)
        if new is not None and set(new.pvdb) != host.mounts[name].ioc_pvnames:
            plan.unchanged.remove(name)
            plan.changed.append(name)
            plan.unmount.append(name)
            plan.mount.append(name)


def _refused(path: str, reasons: list[str]) -> tuple[None, list[str]]:
    for reason in reasons:
        log.error("reload refused: %s", reason)
    headline = (f"reload of {path} refused: {len(reasons)} problem(s); nothing changed, "
                "still serving")
    log.error("%s", headline)
    return None, [headline, *reasons]


def _load_new_plugins(host: Host) -> tuple[list[str], list[str]]:
    """Load the plugins installed since the host started (``pip install`` a device plugin,
    then reload to mount its IOC): a line on each (logged), and the names of those loaded."""
    lines = []
    infos = load_new_plugins(host.catalog)
    for info in infos:
        name = f"plugin {info.name} ({info.distribution or '?'} {info.version or ''})".rstrip()
        if info.error is not None:
            line = f"{name} installed since the start failed to load: {info.error}"
        elif info.disabled:
            line = f"{name} installed since the start is disabled, not loaded"
        else:
            provides = "; ".join(f"{kind.replace('_', ' ')}: {', '.join(names)}" for kind in
                                 ("iocs", "record_types", "helpers")
                                 if (names := getattr(info, kind)))
            line = f"{name} installed since the start, loaded" + (
                f" ({provides})" if provides else "")
        log.log(logging.ERROR if info.error else logging.INFO, "reload: %s", line)
        lines.append(line)
    return lines, [info.name for info in infos if info.loaded]


async def reload_host(host: Host, path: str | None = None,
                      report: ReloadReport | None = None) -> ReloadPlan | None:
    """Re-read ``path`` (default: the file the host was started from), validate it, and
    apply it to ``host`` as a diff. Returns the plan applied, or None when the new config
    has problems (logged, nothing changed); ``report`` hears the outcome either way.
    Plugins installed since the start are loaded first (their IOCs may be in the new
    config) and started last, once the host serves what the config says, as at start."""
    path = path or host.config.path
    log.info("reloading %s", path)
    plugins, loaded = _load_new_plugins(host)
    plan, lines = await _reload(host, path)
    for line in await host.start_plugins(loaded):
        log.warning("reload: %s", line)
        plugins.append(line)
    if report is not None:
        report(plan is not None, [*lines, *plugins])
    return plan


async def _reload(host: Host, path: str) -> tuple[ReloadPlan | None, list[str]]:
    """Read, validate and apply the config: the plan applied (None: refused) and the lines
    that say so (the first one the headline), logged."""
    try:
        new, problems = read_config(path)
        warnings: list[str] = []
        built = validate(new, host.catalog, problems, warnings=warnings)
        for warning in warnings:
            log.warning("reload: %s", warning)
        reasons = _rules_problems(new) + _emptied(host, new, path)
    except ConfigError as exc:
        reasons = [str(problem) for problem in exc.problems]
    except Exception as exc:   # a defect in reading it: refused all the same, with the traceback
        headline = f"reload of {path} refused: reading it failed; nothing changed, still serving"
        log.exception("%s", headline)
        return None, [headline, f"{type(exc).__name__}: {exc}"]
    if reasons:     # as 'iochost check' refuses it: all of it, the mounts too
        return _refused(path, reasons)
    plan = plan_reload(host.config, new, {name for name, mount in host.mounts.items()
                                          if mount.serving})
    _renamed(host, plan, built)
    reasons = _served_twice(host, plan, built)
    if reasons:
        return _refused(path, reasons)
    not_applied = [f"{what} changed: restart iochost to apply it (not applied)"
                   for what in plan.restart_needed]
    not_applied += [f"plugin {what}: restart iochost to use the new version (the loaded one "
                    f"keeps running)" for what in upgraded_plugins(host.catalog)]
    for line in not_applied:
        log.warning("reload: %s", line)
    await host.apply_reload(new, plan, built)
    headline = f"reload of {path} applied: {plan.summary()}"
    log.info("%s", headline)
    return plan, [headline, *not_applied]

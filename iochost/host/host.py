"""The Host: one CA server, many mounted IOCs, their lifecycles, and the plugins' hooks.

Mounting an IOC (at start-up or at run time)::

    build IOC -> attach helpers -> helpers' prepare() -> PVs into the server's database
    (searchable at once) -> start its hooks (``iochost.pv.lifecycle.start_group``) -> helpers'
    start()
    -> iochost_ioc_mounted

Unmounting reverses it: helpers' stop() -> ``stop_group`` (scan loops cancelled, shutdown
hooks awaited while the PVs are still served) -> PVs removed (clients get SERVER_DISCONN)
-> iochost_ioc_unmounted. A reload's remount keeps the old PVs served until the new IOC's
replace them, so clients of PVs that look the same stay connected.
A failure in one mount -- its IOC, a hook, a helper -- is logged with the mount's name; the
other mounts keep serving.

The server and the lifecycle functions are imported where a host first needs them, so
``from iochost.host import hookimpl`` (plugins) and ``iochost check`` stay light.
"""
from __future__ import annotations

import asyncio
import dataclasses
import gc
import inspect
import logging
import time
from collections.abc import Mapping
from functools import partial
from dataclasses import dataclass, field
from typing import Any

import iochost.records  # noqa: F401  (installs record support for every mounted IOC)
from iochost.server.process import freeze_heap, thaw_heap

from .hostconfig import HostConfig, MountConfig, is_builtin, parse_mount
from .plugins import PluginCatalog
from .problems import ConfigError, ConfigProblem, Location
from .validation import (
    ALREADY_SERVED,
    build_mounts,
    host_mounts,
    plugin_problems,
    validate,
)
from .webview import start_web
from .yamlsource import SourceMap

log = logging.getLogger("iochost.host")

#: the states a mount is in (also the values of its STATE status PV): ``degraded`` serves
#: on while a hook of its IOC has failed (a startup hook, ``__ainit__``, a scan hook that
#: keeps raising; see iochost.pv.faults); ``failed`` means its start raised and its PVs
#: were withdrawn
#: seconds a plugin a reload loaded has for its iochost_host_started
PLUGIN_START_TIMEOUT = 10.0

RUNNING, DEGRADED, FAILED, UNMOUNTED, DISABLED = (
    "running", "degraded", "failed", "unmounted", "disabled")
#: the states in which a mount's PVs are served
SERVING = (RUNNING, DEGRADED)


class PortInUse(OSError):
    """Another CA server has this host's port and ``ca.exclusive`` forbids sharing it."""


class MountLog(logging.LoggerAdapter):
    """An IOC's logger that prefixes its mount's name and counts the errors it logs."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter, mount: Mount) -> None:
        super().__init__(logger, {"mount": mount.name})
        self.mount = mount

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return f"[mount {self.mount.name}] {msg}", kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if level >= logging.ERROR:
            self.mount.errors += 1
        super().log(level, msg, *args, **kwargs)


@dataclass
class Mount:
    """One mounted (or configured but not running) IOC."""

    name: str
    config: MountConfig
    ioc: Any = None
    state: str = DISABLED
    helpers: list[Any] = field(default_factory=list)
    pvnames: list[str] = field(default_factory=list)
    #: the PV names its IOC built (without those of its helpers): a reload compares them
    ioc_pvnames: frozenset[str] = frozenset()
    errors: int = 0
    started_at: float | None = None
    #: the Host serving this mount (helpers read its config and share state through it)
    host: Host | None = field(default=None, repr=False)
    #: the fault boards of its IOC and subgroups (iochost.pv.faults)
    boards: list[Any] = field(default_factory=list)
    #: why the mount failed (the exception, one line), shown on the web page
    error: str | None = None
    #: event-loop blocks the watchdog attributed to this mount's code
    loop_blocks: int = 0

    @property
    def faults(self) -> dict[str, str]:
        """PV name (or ``__ainit__``...) -> the hook of it that is failing now."""
        return {pv: what for board in self.boards for pv, what in board.faulted.items()}

    def problem(self) -> str | None:
        """Why the mount is not simply running: its start's error, else its failing hooks
        with their exceptions ("scan hook of X:Y: RuntimeError: sensor offline")."""
        if self.error is not None:
            return self.error
        failing = [(pv, what, board.reasons.get(pv)) for board in self.boards
                   for pv, what in board.faulted.items()]
        return "; ".join((what if what == pv else f"{what} of {pv}") +
                         (f": {reason}" if reason else "")
                         for pv, what, reason in failing) or None

    @property
    def dead_tasks(self) -> int:
        """Hook tasks of this mount that ended with an exception."""
        return sum(board.dead_tasks for board in self.boards)

    @property
    def serving(self) -> bool:
        return self.state in SERVING

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ioc": self.config.ioc, "prefix": self.config.prefix,
                "state": self.state, "pvs": len(self.pvnames), "errors": self.errors,
                "faults": self.faults, "dead_tasks": self.dead_tasks,
                "error": self.problem(), "loop_blocks": self.loop_blocks,
                "description": self.config.description}


def _consumed(built: Mapping[str, Any]) -> None:
    """Forget the IOCs a validation built, once mounted: the caller's dict lives on (the
    serve verb's frame), and an IOC it holds -- a reload builds every mount's, and mounts
    the changed ones only -- would outlive its unmount, and be frozen with the heap."""
    if isinstance(built, dict):
        built.clear()


class Host:
    """Serves the mounts of a host config from one CA server.

    ``Host(config, catalog)``; ``await host.start()`` validates (unless ``built`` IOCs from
    ``validate`` are given), starts the server and mounts every enabled IOC;
    ``await host.stop()`` unmounts everything (shutdown hooks run) and stops the server.
    ``await host.mount(...)`` / ``await host.unmount(name)`` change the mounts at run time.
    """

    def __init__(self, config: HostConfig, catalog: PluginCatalog, *,
                 server_config: Any = None, environ: Mapping[str, str] | None = None,
                 server: Any = None) -> None:
        """``server_config`` (a ServerConfig) replaces the one built from the config's ``ca``
        section and the environment. ``server``: mount into this already running
        ``iochost.server.Server`` instead of owning one (embedding, tests); the host then
        neither starts nor stops it, and must run on that server's event loop."""
        from iochost.server import PVDatabase

        self.config = config
        self.catalog = catalog
        self.environ = environ
        self.server_config = server_config
        self.server: Any = server
        self._owns_server = server is None
        self.database = PVDatabase() if server is None else server.database
        self.mounts: dict[str, Mount] = {}
        #: access security (HostAccess), when the config has an ``access:`` section
        self.access: Any = None
        self.started_at: float | None = None
        self.web: Any = None             # the iochost.web.WebServer, when the page is on
        self._running = False
        self._tasks: set[asyncio.Task[None]] = set()   # state-change hooks run from tasks
        #: the LoopWatchdog (iochost.host.watchdog) while serving, unless host.loop_watchdog
        #: is 0
        self.watchdog: Any = None
        #: PVs of IOCs being remounted by a reload, until their successors are served:
        #: name -> the old channel data (see ``apply_reload``)
        self._handover: dict[str, Any] = {}

    # -- properties -------------------------------------------------------------------------------
    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at if self.started_at is not None else 0.0

    @property
    def running(self) -> bool:
        return self._running

    @property
    def loop_blocks(self) -> int:
        """Times the event loop was blocked longer than ``host.loop_watchdog``."""
        return self.watchdog.blocks if self.watchdog is not None else 0

    @property
    def loop_max_block(self) -> float:
        """The longest of those blocks, seconds."""
        return self.watchdog.max_block if self.watchdog is not None else 0.0

    @property
    def suspended_tasks(self) -> int:
        """Hook tasks of the serving mounts that died with an exception: iocStats'
        SUSP_TASK_CNT (a helper's status PV reads it here)."""
        return sum(mount.dead_tasks for mount in self.mounts.values() if mount.serving)

    def to_json(self) -> dict[str, Any]:
        """Status for the web page / API."""
        stats = self.server.stats() if self.server is not None else {}
        return {"name": self.config.host.name, "uptime": self.uptime, "pvs": len(self.database),
                "clients": stats.get("clients", 0), "channels": stats.get("channels", 0),
                "loop_blocks": self.loop_blocks, "loop_max_block": self.loop_max_block,
                "mounts": [mount.to_json() for mount in self.mounts.values()]}

    # -- start / stop ---------------------------------------------------------------------------
    async def start(self, built: Mapping[str, Any] | None = None) -> None:
        """Validate, start the server, mount every enabled IOC, call iochost_host_started.

        Raises ConfigError (nothing started) if the config has problems, and the server's
        errors if it cannot bind.
        """
        from iochost.server import Server

        from .ca_section import server_config

        if built is None:
            warnings: list[str] = []
            built = validate(self.config, self.catalog, warnings=warnings)
            for warning in warnings:
                log.warning("%s", warning)
        builtin_mounts, _ = host_mounts(self.config, self.catalog)  # validate reported
        if self.config.access is not None:
            from .access import HostAccess

            self.access = HostAccess(self.config.access, self._report_trapwrite)
            self.access.load()  # raises ConfigError: never serve without the rules
        if self._owns_server:
            config = self.server_config or server_config(self.config.ca, self.environ)
            if self.access is not None:
                config = config.replace(**self.access.server_settings())
            self.server = Server(self.database, config)
            await self.server.start()
            await self._check_port_alone(config.port)
        elif self.access is not None and self.server.config.use_host_names != \
                self.access.server_settings()["use_host_names"]:
            # the server a caller gave decides whose host name counts: rules compiled for
            # the other way would be spoofable (host_match: address) or never match
            await self.access.close()
            self.access = None
            match = self.config.access.host_match  # type: ignore[union-attr]
            raise ConfigError([ConfigProblem(
                self.config.source.location(("access", "host_match")), "access.host_match",
                f"{match!r}, but the server this Host was given has use_host_names="
                f"{self.server.config.use_host_names}: give it a server started with "
                f"use_host_names={match == 'name'}, or let the Host start its own")])
        self.started_at = time.monotonic()
        self._running = True
        if not self.config.mounts:
            log.warning("host config %s has no mounts: only the host status PVs are served",
                        self.config.path)
        for mount_config in [*builtin_mounts, *self.config.mounts]:
            mount = self.mounts[mount_config.name] = Mount(mount_config.name, mount_config,
                                                           host=self)
            if mount_config.name in built:
                await self._activate(mount, built[mount_config.name])
            else:
                await self._call_hook("iochost_mount_state_changed", host=self, mount=mount)
        _consumed(built)
        if self.access is not None:
            self.access.attach(self.server)
        log.info("host %r serving %d PVs of %d mounts on port %d", self.config.host.name,
                 len(self.database), sum(m.serving for m in self.mounts.values()),
                 self.server.tcp_port)
        self.web = await start_web(self, self._call_hook)
        await self._call_hook("iochost_host_started", host=self)
        freeze_heap()  # what is served now lives as long as the host
        self._start_watchdog()   # after start-up: building many PVs may take a while

    def _start_watchdog(self) -> None:
        """Watch the event loop for code that blocks it (iochost.host.watchdog)."""
        threshold = self.config.host.loop_watchdog
        if threshold <= 0:
            return
        if self.watchdog is None:
            from .watchdog import LoopWatchdog

            self.watchdog = LoopWatchdog(threshold, lambda: self.mounts)
        self.watchdog.start()

    async def _check_port_alone(self, port: int) -> None:
        """RSRV's rule, which we follow, is to take an ephemeral TCP port when the configured
        one is busy and to share the UDP search port. Broadcast searches still reach every
        server, but a unicast search (an address list naming this machine, a gateway, a
        name server) is delivered to one process only, so two servers on one port hide each
        other's PVs from such clients. Warn, or with ``ca.exclusive`` refuse."""
        if not port or self.server.tcp_port == port:
            return
        if self.config.ca.exclusive:
            await self.server.stop()
            raise PortInUse(
                f"another CA server already serves port {port} on this machine and "
                "ca.exclusive is set: not starting (give this host its own "
                "EPICS_CAS_SERVER_PORT)")
        log.warning(
            "another CA server already serves port %d on this machine: this host took TCP "
            "port %d and shares UDP port %d with it. Broadcast searches reach both, but a "
            "unicast search (EPICS_CA_ADDR_LIST naming this machine, a CA gateway) reaches "
            "only one server per host and port, so some clients will not find this "
            "host's PVs, and others the other server's. "
            "Give each host its own port (ca.port / EPICS_CAS_SERVER_PORT) or use a name "
            "server (EPICS_CA_NAME_SERVERS); ca.exclusive: true refuses to start instead.",
            port, self.server.tcp_port, self.server.udp_port)

    async def stop(self) -> None:
        """Call iochost_host_stopping, unmount every mount (last first), stop the server."""
        if not self._running:
            return
        self._running = False
        if self.watchdog is not None:   # shutting down: clients are going away anyway
            self.watchdog.stop()
        await self._call_hook("iochost_host_stopping", host=self)
        if self.web is not None:
            await self.web.stop()
            self.web = None
        for mount in reversed(list(self.mounts.values())):
            if mount.serving:
                await self._deactivate(mount)
        if self._owns_server and self.server is not None:
            await self.server.stop()
        if self.access is not None:
            await self.access.close()
        log.info("host %r stopped", self.config.host.name)

    async def start_plugins(self, names: list[str]) -> list[str]:
        """Plugins loaded while serving (a reload found them installed): each gets
        ``iochost_host_started`` now, as the others had at start, given
        PLUGIN_START_TIMEOUT seconds (a reload must not hang on one). Returns what went
        wrong, and what of them only a restart would use: web routes once the page is
        built."""
        problems, timeout = [], PLUGIN_START_TIMEOUT
        for impl in self.catalog.manager.hook.iochost_host_started.get_hookimpls():
            if impl.plugin_name not in names:
                continue
            try:
                result = impl.function(host=self)
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, timeout)
            except TimeoutError:
                problems.append(f"plugin {impl.plugin_name}: iochost_host_started did not "
                                f"finish within {timeout:g} s: cancelled")
            except Exception as exc:
                log.exception("plugin %r: iochost_host_started failed", impl.plugin_name)
                problems.append(f"plugin {impl.plugin_name}: iochost_host_started failed: "
                                f"{type(exc).__name__}: {exc}")
        if self.web is not None and self.web.built:   # else built later, with every route
            problems += [f"plugin {name}: restart iochost to serve its web routes (the page "
                         f"is already built)" for name in names
                         if "iochost_web_routes" in self.catalog.plugins[name].hooks]
        return problems

    # -- access security ---------------------------------------------------------------------------
    async def reload_access(self) -> bool:
        """Read the access rules file again (SIGHUP, the READACF PV, the web API): True
        when the new rules are in force; a bad file keeps the old ones (logged with
        file:line). False too when the config has no ``access:`` section."""
        if self.access is None:
            log.warning("access security reload asked, but the config has no access: section")
            return False
        return await self.access.reload()

    async def _report_trapwrite(self, event: Any) -> None:
        await self._call_hook("iochost_trapwrite", host=self, event=event)

    # -- run-time mount / unmount ---------------------------------------------------------------
    async def mount(self, spec: MountConfig | Mapping[str, Any] | str) -> Mount:
        """Mount an IOC while serving: a MountConfig, a mapping written like a config's mount
        entry (macros of the host apply), or the name of a configured mount that is
        disabled or unmounted. Raises ConfigError (with every problem) if it cannot."""
        mount_config = self._mount_config(spec)
        existing = self.mounts.get(mount_config.name)
        if existing is not None and existing.serving:
            raise ConfigError([mount_config.problem("is already mounted", "name")])
        problems = plugin_problems(mount_config, self.catalog)
        if not problems:
            taken = dict.fromkeys(self.database, ALREADY_SERVED)
            taken.update({pv: m.name for m in self.mounts.values() for pv in m.pvnames})
            built, problems = build_mounts([mount_config], self.catalog, taken)
        if problems:
            raise ConfigError(problems)
        mount = Mount(mount_config.name, mount_config, host=self)
        self.mounts[mount.name] = mount
        await self._activate(mount, built[mount.name])
        return mount

    async def unmount(self, name: str) -> Mount:
        """Remove a mount's PVs (clients see a disconnect) and run its shutdown hooks."""
        mount = self.mounts.get(name)
        if mount is None or not mount.serving:
            raise KeyError(f"no mount named {name!r} is mounted")
        if is_builtin(name):
            raise ValueError(f"{name!r} is a plugin's built-in mount and cannot be unmounted "
                             "(the host config's setting that adds it can switch it off)")
        await self._deactivate(mount)
        return mount

    async def apply_reload(self, new: HostConfig, plan: Any, built: Mapping[str, Any]
                           ) -> None:
        """Apply a validated config as ``plan`` (an ``iochost.host.reload.ReloadPlan``)
        says: unmount, then mount from ``built``; mounts in neither list are untouched.
        A mount that ``Host.mount()`` added and the new config does not name is unmounted:
        after a reload the host serves what its config says.
        The sections in use that need a restart stay in ``self.config`` (``ca``, ``host``,
        ``web``; ``access`` turned on or off, its ``host_match``), so that the next reload
        still reports them."""
        before = set(self.mounts)
        try:
            await self._apply_mounts(new, plan, built, before)
        finally:
            self._withdraw_handover()
            _consumed(built)
        if self.access is not None:
            # a mount's asg: may have changed without a remount; then the rules file is
            # read again (SIGHUP re-reads the ACF too, as the only reload signal)
            for mount in self.mounts.values():
                if mount.serving and mount.ioc is not None:
                    self.access.assign(mount.ioc.pvdb.values(), mount.config.asg)
            await self.access.reconfigure(new.access)
        await self._call_hook("iochost_host_reloaded", host=self)
        # Collect everything the last freeze took before freezing again: objects alive then
        # and dead since in reference cycles (a browser's socket, an exception's traceback,
        # importlib's path caches, the unmounted IOCs) are freed only by a collection that
        # sees them; a reload that unmounts nothing (SIGHUP for the access rules) kept them.
        thaw_heap()
        gc.collect()
        freeze_heap()

    async def _apply_mounts(self, new: HostConfig, plan: Any, built: Mapping[str, Any],
                            before: set[str]) -> None:
        for name in plan.unmount:
            # a changed mount's PVs stay served until its new IOC's replace them, so that
            # clients of a PV that looks the same stay connected (``Server`` rebinds them)
            await self._deactivate(self.mounts[name], keep_pvs=name in plan.changed)
        wanted = {mount.name for mount in new.mounts}
        for name in [name for name in self.mounts
                     if not is_builtin(name) and name not in wanted]:
            if name not in plan.unmount and self.mounts[name].serving:
                await self._deactivate(self.mounts[name])   # mounted by Host.mount()
            del self.mounts[name]
        old = self.config
        new.ca, new.host, new.web = old.ca, old.host, old.web
        if old.access is None or new.access is None:
            new.access = old.access
        else:
            new.access = dataclasses.replace(new.access, host_match=old.access.host_match)
        self.config = new
        mounts = {name: mount for name, mount in self.mounts.items() if is_builtin(name)}
        for mount_config in new.mounts:
            mount = self.mounts.get(mount_config.name)
            if mount_config.name in plan.mount or mount is None:
                mount = Mount(mount_config.name, mount_config, host=self)
            mount.config = mount_config      # a new description is taken over as is
            mounts[mount.name] = mount
        self.mounts = mounts
        for name in plan.mount:
            await self._activate(self.mounts[name], built[name])
        for mount_config in host_mounts(new, self.catalog)[0]:  # of plugins loaded just now
            if mount_config.name not in self.mounts and mount_config.name in built:
                mount = self.mounts[mount_config.name] = Mount(mount_config.name,
                                                               mount_config, host=self)
                await self._activate(mount, built[mount_config.name])
        for mount in self.mounts.values():
            # disabled by this reload (unmounted just now), or added disabled: as a mount
            # disabled at start (its STATE PV says "disabled")
            if not mount.config.enabled and (mount.state != DISABLED or
                                             mount.name not in before):
                await self._set_state(mount, DISABLED)

    def _withdraw_handover(self) -> None:
        """Withdraw the remounted IOCs' PVs that no new PV replaced (clients disconnect)."""
        handover, self._handover = self._handover, {}
        database = self.database
        database.remove_many([name for name, data in handover.items()
                              if name in database and database[name] is data])

    def add_pvs(self, ioc: Any, pvdb: Mapping[str, Any]) -> None:
        """Serve more PVs for the mounted IOC ``ioc`` (a PVGroup): they get its mount's
        access group and are withdrawn with it. Raises ValueError if ``ioc`` is not
        serving or a name is already served."""
        mount = self._mount_of(ioc)
        database, handover = self.database, self._handover
        taken = [name for name in pvdb if name in database
                 and database[name] is not handover.get(name)]  # a remount's: replaced
        if taken:
            raise ValueError(f"[mount {mount.name}] PVs already served: {', '.join(taken)}")
        if self.access is not None:
            self.access.assign(pvdb.values(), mount.config.asg)
        mount.pvnames.extend(pvdb)
        self.database.update(pvdb)

    def remove_pvs(self, ioc: Any, names: list[str]) -> None:
        """Withdraw PVs that ``add_pvs`` added for ``ioc`` (clients see a disconnect)."""
        mount = self._mount_of(ioc)
        gone = set(names)
        mount.pvnames = [name for name in mount.pvnames if name not in gone]
        self.database.remove_many(names)

    def _mount_of(self, ioc: Any) -> Mount:
        for mount in self.mounts.values():
            if mount.ioc is ioc and mount.serving:
                return mount
        raise ValueError(f"{ioc!r} is not the IOC of a serving mount")

    def _mount_config(self, spec: MountConfig | Mapping[str, Any] | str) -> MountConfig:
        if isinstance(spec, MountConfig):
            return spec
        if isinstance(spec, str):
            mount = self.mounts.get(spec)
            if mount is None:
                raise ConfigError([ConfigProblem(Location("<runtime>"), spec,
                                                 f"no configured mount named {spec!r}")])
            return mount.config
        problems: list[ConfigProblem] = []
        source = SourceMap("<runtime>")
        mount_config = parse_mount(dict(spec), self.config.scope, source, (), problems)
        if problems or mount_config is None:
            raise ConfigError(problems)
        return mount_config

    # -- the steps ------------------------------------------------------------------------------
    async def _activate(self, mount: Mount, ioc: Any) -> None:
        from iochost.pv.faults import board_of
        from iochost.pv.lifecycle import start_group

        mount.ioc, mount.errors, mount.started_at = ioc, 0, time.monotonic()
        mount.ioc_pvnames = frozenset(ioc.pvdb)   # before its helpers add theirs
        mount.boards = []
        mount.error = None
        for group in (ioc, *getattr(ioc, "groups", {}).values()):  # hooks log through these
            if isinstance(getattr(group, "log", None), logging.Logger):
                group.log = MountLog(group.log, mount)
            board = board_of(group)
            if board is not None:
                board.listeners.append(partial(self._board_changed, mount))
                mount.boards.append(board)
        try:
            mount.helpers = [self._make_helper(mount, name, options)
                             for name, options in mount.config.helpers.items()]
            for helper in mount.helpers:       # e.g. autosave's pass 0 restore
                if hasattr(helper, "prepare"):
                    await helper.prepare()
            mount.pvnames = list(ioc.pvdb)
            if self.access is not None:  # before the PVs are searchable: never unguarded
                self.access.assign(ioc.pvdb.values(), mount.config.asg)
            self.database.update(ioc.pvdb)
            await start_group(ioc)
            for helper in mount.helpers:
                if hasattr(helper, "start"):
                    await helper.start()
        except Exception as exc:  # plugin code: this mount fails, the host carries on
            log.exception("[mount %s] failed to start; its PVs are withdrawn", mount.name)
            mount.errors += 1
            mount.error = f"{type(exc).__name__}: {exc}"
            await self._teardown(mount)
            await self._set_state(mount, FAILED)
            return
        # a hook may have failed during the helpers' start
        await self._set_state(mount, self._fault_state(mount))
        log.info("[mount %s] %s mounted: %d PVs under %r", mount.name, mount.config.ioc,
                 len(mount.pvnames), mount.config.prefix)
        await self._call_hook("iochost_ioc_mounted", host=self, mount=mount)

    def _board_changed(self, mount: Mount, _board: object) -> None:
        self._faults_changed(mount)

    def _faults_changed(self, mount: Mount) -> None:
        """A hook of the mount failed or recovered: ``degraded`` while any is failing."""
        if mount.state in SERVING and mount.state != (state := self._fault_state(mount)):
            mount.state = state
            task = asyncio.get_running_loop().create_task(self._call_hook(
                "iochost_mount_state_changed", host=self, mount=mount))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _fault_state(mount: Mount) -> str:
        """``running``, or ``degraded`` (logged) while a hook of a serving mount fails."""
        if not mount.faults:
            if mount.state == DEGRADED:
                log.warning("[mount %s] running: no hook failing", mount.name)
            return RUNNING
        if mount.state != DEGRADED:
            log.warning("[mount %s] degraded: %s", mount.name, ", ".join(
                what if what == pv else f"{what} of {pv}"   # a group's hook has no PV
                for pv, what in mount.faults.items()))
        return DEGRADED

    async def _set_state(self, mount: Mount, state: str) -> None:
        mount.state = state
        await self._call_hook("iochost_mount_state_changed", host=self, mount=mount)

    def _make_helper(self, mount: Mount, name: str, options: dict[str, Any]) -> Any:
        return self.catalog.helpers[name].obj(mount, **options)

    async def _deactivate(self, mount: Mount, keep_pvs: bool = False) -> None:
        """Unmount; with ``keep_pvs`` (a remount) its PVs stay served, in ``_handover``."""
        thaw_heap()  # the IOC's group and channels reference each other: let them go
        await self._teardown(mount, withdraw=not keep_pvs)
        await self._set_state(mount, UNMOUNTED)
        log.info("[mount %s] unmounted", mount.name)
        await self._call_hook("iochost_ioc_unmounted", host=self, mount=mount)
        mount.ioc = None

    async def _teardown(self, mount: Mount, withdraw: bool = True) -> None:
        """The IOC's shutdown hooks (its PVs still served, so they may publish a final
        state), helpers' stop() (autosave's last save: it holds that final state, and what
        clients wrote meanwhile), then its PVs out of the database (clients disconnect) --
        or, without ``withdraw``, into ``_handover`` for the IOC that replaces it."""
        from iochost.pv.lifecycle import stop_group

        await self._guarded(mount, "shutdown", lambda: stop_group(mount.ioc))
        for helper in reversed(mount.helpers):
            if hasattr(helper, "stop"):
                await self._guarded(mount, f"helper {type(helper).__name__} stop", helper.stop)
        if withdraw:
            self.database.remove_many(mount.pvnames)
        else:
            database = self.database
            self._handover.update((name, database[name]) for name in mount.pvnames
                                  if name in database)
        mount.helpers, mount.pvnames = [], []

    async def _guarded(self, mount: Mount, what: str, call: Any) -> None:
        try:
            await call()
        except Exception:
            log.exception("[mount %s] %s failed", mount.name, what)
            mount.errors += 1

    async def _call_hook(self, hook: str, **kwargs: Any) -> None:
        """Call every plugin's implementation on its own; await awaitables; log failures
        with the plugin's name."""
        for impl in getattr(self.catalog.manager.hook, hook).get_hookimpls():
            try:
                result = impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("plugin %r: %s failed", impl.plugin_name, hook)

"""The host's side of access security: config -> rules, groups -> channels, changes -> server.

Contract: a host config with an ``access:`` section gets one :class:`HostAccess`.  It

* loads the rules before the server starts (:meth:`HostAccess.load`): a file that cannot
  be used raises ConfigError naming ``file:line:column`` -- the host refuses to start --
  unless ``on_error: read-only``, which serves every PV read-only until a good reload;
* sets the server's ``use_host_names`` from ``host_match``;
* gives every channel of a mount the member object of its group (:meth:`assign`): the
  pvproperty's ``asg=`` if any, else the mount's ``asg:``, else DEFAULT (record fields
  follow their record);
* watches the CALC inputs among the host's own PVs, connects late ones when a mount
  adds them and marks them bad when a mount removes them; inputs no mount serves are
  watched over CA with the host's own client (``iochost.client``), as base's asCa does;
* re-evaluates the open channels of affected groups when the rules change (reload, CALC
  result): the server sends ACCESS_RIGHTS only where rights changed;
* reports TRAPWRITE puts to the ``iochost_trapwrite`` hook.

:meth:`HostAccess.reload` is the one entry point for SIGHUP, the iocStats READACF PV and
the web API (``Host.reload_access``).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from iochost.access import AccessSecurity, AccessSettings, AcfError, HostMatch, OnError, TrapWrite

from .hostconfig import AccessSection
from .problems import ConfigError, ConfigProblem, Location

if TYPE_CHECKING:  # pragma: no cover
    from iochost.client import Context
    from iochost.server import Server

__all__ = ["HostAccess"]

log = logging.getLogger("iochost.access")

#: ``report(event)``: hand a trapped write to the plugins (the host's hook caller).
TrapReporter = Callable[[TrapWrite], Coroutine[Any, Any, None]]


class HostAccess:
    """Access security for one host."""

    def __init__(self, section: AccessSection, report_trap: TrapReporter):
        self.section = section
        self.security = AccessSecurity(
            AccessSettings(section.file, section.macros, HostMatch(section.host_match),
                           OnError(section.on_error)),
            expand=section.scope.expand)
        self._report_trap = report_trap
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._client: Context | None = None      # made when a remote input is watched

    # -- start-up ---------------------------------------------------------------------------
    def load(self) -> None:
        """The first load; raises ConfigError when the host must not start."""
        try:
            self.security.load()
        except AcfError as exc:
            raise ConfigError([ConfigProblem(Location(exc.source, exc.line), "access.file",
                                             f"{exc.message} (column {exc.column}); the "
                                             f"host does not start without its access "
                                             f"rules (or set access.on_error: read-only)")]
                              ) from None

    def server_settings(self) -> dict[str, Any]:
        """ServerConfig keywords this section sets."""
        return {"use_host_names": self.section.host_match == "name"}

    def attach(self, server: Server) -> None:
        """Start re-evaluating ``server``'s channels on changes and watching inputs."""
        self._server = server
        self.security.add_change_listener(self._rules_changed)
        self.security.add_trap_listener(self._trapped)
        server.database.add_removal_listener(self.security.inputs_removed)
        server.database.add_addition_listener(self.security.inputs_added)
        self.security.attach_inputs(server.database.resolve, self._watch_remote)

    def _watch_remote(self, pv: str, on_value: Callable[[float | None], None]
                      ) -> Callable[[], None]:
        """Watch ``pv`` on another server: its value as DBR_STS_DOUBLE, None while it is
        disconnected or INVALID (``iochost.access.RemoteWatch``)."""
        from iochost.ca.alarm_codes import AlarmSeverity
        from iochost.ca.dbr import ChannelType
        from iochost.client import Context, Reading

        if self._client is None:
            self._client = Context()
        channel = self._client.channel(pv)
        subscription = channel.subscribe(ChannelType.STS_DOUBLE)

        def reading(update: Reading) -> None:
            data = update.data          # DBR_STS_DOUBLE: a float array
            on_value(None if update.severity >= AlarmSeverity.INVALID_ALARM or not len(data)
                     else float(data[0]))

        def connection(_channel: Any, connected: bool) -> None:
            if not connected:
                on_value(None)

        subscription.add_callback(reading)
        channel.add_connection_callback(connection)

        def stop() -> None:
            subscription.close()
            channel.remove_connection_callback(connection)
            if not channel.subscriptions:     # no other input watches this PV
                channel.close()
        return stop

    def assign(self, channels: Iterable[Any], mount_asg: str) -> None:
        """Give each channel the member of its group (channel data without an access gate
        slot, e.g. a plain mapping's values, are left alone)."""
        member = self.security.member
        for channel in channels:
            if not hasattr(channel, "access_gate"):
                continue
            pvspec = getattr(channel, "pvspec", None)
            own = getattr(pvspec, "asg", None)
            channel.access_gate = member(own or mount_asg or None)

    async def close(self) -> None:
        server = self._server
        if server is not None:
            server.database.remove_addition_listener(self.security.inputs_added)
            server.database.remove_removal_listener(self.security.inputs_removed)
        self.security.remove_change_listener(self._rules_changed)
        self.security.close()
        for task in self._tasks:
            task.cancel()
        if self._client is not None:
            await self._client.close()

    # -- run time ----------------------------------------------------------------------------
    async def reload(self) -> bool:
        """Read the rules file again (SIGHUP, READACF, the web API); True when the new
        rules are in force, False when the file was bad and the old ones stay."""
        return await self.security.reload()

    async def reconfigure(self, section: AccessSection | None) -> bool:
        """A reloaded host config: take its ``access:`` section (file, macros, on_error)
        and read the rules again. ``host_match`` cannot change under bound circuits, and
        a removed section does not turn access security off: both need a restart
        (``iochost.host.reload.plan_reload`` reports them)."""
        if section is not None:
            self.section = dataclasses.replace(section, host_match=self.section.host_match)
            self.security.reconfigure(
                AccessSettings(section.file, section.macros,
                               HostMatch(self.section.host_match), OnError(section.on_error)),
                section.scope.expand)
        return await self.reload()

    def _rules_changed(self, groups: frozenset[str] | None) -> None:
        server = self._server
        if server is None:
            return
        if groups is None:
            changed = server.refresh_access()
        else:
            in_force = self.security.group_in_force

            def select(data: Any) -> bool:
                group = getattr(data, "access_group", None)
                return group is None or in_force(group) in groups

            changed = server.refresh_access(select)
        if changed:
            log.info("access security: rights changed on %d open channel(s)", changed)

    def _trapped(self, event: TrapWrite) -> None:
        task = asyncio.get_running_loop().create_task(self._report_trap(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

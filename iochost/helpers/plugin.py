"""iochost's own helpers, registered through the same hooks an outside plugin uses.

Named by the ``iochost-helpers`` entry point of the ``iochost`` distribution:

* helpers a mount attaches (``helpers: {autosave: {...}, stats: {}}``): ``autosave``,
  ``stats`` (the mount's own figures as PVs);
* IOCs: ``autosave-status`` (synApps' ``SR_*`` PVs), ``iocstats`` (devIocStats' PVs),
  ``mirror`` (PVs of another CA server served again, :mod:`iochost.helpers.mirror`; handed
  the host's PV database when mounted);
* at host start, the host-wide PVs the config asks for: iocStats under
  ``host.stats_prefix`` (mounted as ``_iocstats``, with autosave attached) and the
  autosave status PVs under ``host.autosave_prefix`` (mounted as ``_autosave``).

``--disable-plugin iochost-helpers`` turns all of it off like any other plugin.
"""
from __future__ import annotations

from typing import Any

from iochost.host.hookspecs import RegisterHelper, RegisterIoc, hookimpl

AUTOSAVE_STATUS_IOC = "autosave-status"
AUTOSAVE_STATUS_MOUNT = "_autosave"
IOCSTATS_IOC = "iocstats"
IOCSTATS_MOUNT = "_iocstats"


@hookimpl
def iochost_register_helpers(register: RegisterHelper) -> None:
    from .autosave import Autosave
    from .mountstats import MountStats

    register("autosave", Autosave)
    register("stats", MountStats)


@hookimpl
def iochost_register_iocs(register: RegisterIoc) -> None:
    from .autosave_ioc import AutosaveStatusIOC
    from .iocstats import IocStatsIOC
    from .mirror import MIRROR_IOC, MirrorIOC

    register(AUTOSAVE_STATUS_IOC, AutosaveStatusIOC)
    register(IOCSTATS_IOC, IocStatsIOC)
    register(MIRROR_IOC, MirrorIOC)


@hookimpl
def iochost_ioc_mounted(host: Any, mount: Any) -> None:
    from .mirror import MirrorIOC

    if isinstance(mount.ioc, MirrorIOC):  # it serves from, and reads local PVs in, this
        mount.ioc.attach(host.database)


@hookimpl
async def iochost_host_started(host: Any) -> None:
    from iochost.host.hostconfig import MountConfig

    from .autosave_status import registry_for

    section = host.config.host
    if section.stats_prefix is not None:
        # ACCESS and START_CNT are autosaved, as the template's info() tags ask
        mount = await host.mount(MountConfig(
            name=IOCSTATS_MOUNT, ioc=IOCSTATS_IOC, prefix=f"{section.stats_prefix}:",
            description="iocStats", helpers={"autosave": {"name": "iocstats"}}))
        if mount.ioc is not None:
            await mount.ioc.attach(host)
    if section.autosave_prefix is not None:
        mount = await host.mount(MountConfig(name=AUTOSAVE_STATUS_MOUNT, ioc=AUTOSAVE_STATUS_IOC,
                                             prefix=section.autosave_prefix,
                                             description="autosave status"))
        if mount.ioc is not None:
            mount.ioc.attach(registry_for(host))

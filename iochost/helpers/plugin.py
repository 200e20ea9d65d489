"""iochost's own helpers, registered through the same hooks an outside plugin uses.

Named by the ``iochost-helpers`` entry point of the ``iochost`` distribution:

* helpers a mount attaches (``helpers: {autosave: {...}, stats: {}}``): ``autosave``,
  ``stats`` (the mount's own figures as PVs);
* IOCs: ``autosave-status`` (synApps' ``SR_*`` PVs), ``iocstats`` (devIocStats' PVs),
  ``mirror`` (PVs of another CA server served again, :mod:`iochost.helpers.mirror`; handed
  the host's PV database when mounted);
* built-in mounts (``iochost_host_mounts``), the host-wide PVs the config asks for:
  iocStats under ``host.stats_prefix`` (``_iocstats``, with autosave attached) and the
  autosave status PVs under ``host.autosave_prefix`` (``_autosave``);
* the config checks of autosave across mounts (``iochost_config_problems``): two sets of
  one file, a set directory below a file.

``--disable-plugin iochost-helpers`` turns all of it off like any other plugin.
"""
from __future__ import annotations

from typing import Any

from iochost.host.hookspecs import RegisterHelper, RegisterIoc, hookimpl
from iochost.host.hostconfig import HostConfig, MountConfig
from iochost.host.problems import ConfigProblem

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
def iochost_host_mounts(config: HostConfig) -> list[MountConfig]:
    section, mounts = config.host, []
    if section.stats_prefix is not None:
        # ACCESS, START_CNT and the alarm limits are autosaved, as the template's info()
        # tags ask
        mounts.append(MountConfig(
            name=IOCSTATS_MOUNT, ioc=IOCSTATS_IOC, prefix=f"{section.stats_prefix}:",
            description="iocStats", helpers={"autosave": {"name": "iocstats"}},
            source=config.source, path=("host", "stats_prefix")))
    if section.autosave_prefix is not None:
        mounts.append(MountConfig(
            name=AUTOSAVE_STATUS_MOUNT, ioc=AUTOSAVE_STATUS_IOC, prefix=section.autosave_prefix,
            description="autosave status", source=config.source,
            path=("host", "autosave_prefix")))
    return mounts


@hookimpl
def iochost_config_problems(config: HostConfig, mounts: list[MountConfig]
                            ) -> list[ConfigProblem]:
    from .autosave import config_problems

    return config_problems(config, mounts)


@hookimpl
async def iochost_ioc_mounted(host: Any, mount: Any) -> None:
    from .autosave_status import registry_for
    from .mirror import MirrorIOC

    if isinstance(mount.ioc, MirrorIOC):  # it serves from, and reads local PVs in, this
        # database; the server re-sends its clients' rights when its sources' change
        mount.ioc.attach(host.database, host.server)
    elif mount.name == IOCSTATS_MOUNT:
        await mount.ioc.attach(host)
    elif mount.name == AUTOSAVE_STATUS_MOUNT:
        mount.ioc.attach(registry_for(host))


@hookimpl
async def iochost_host_started(host: Any) -> None:
    stats = host.mounts.get(IOCSTATS_MOUNT)
    if stats is not None and stats.serving:  # mounted first: count the others' PVs now
        await stats.ioc.refresh(force=True)
    autosave = host.mounts.get(AUTOSAVE_STATUS_MOUNT)
    if autosave is not None and autosave.serving:  # the restores' outcome before READY=1
        await autosave.ioc.refresh()

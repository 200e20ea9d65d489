"""iochost's own plugin: the host status PVs, served through the same hooks as any plugin.

Named by the ``iochost-builtins`` entry point of the ``iochost`` distribution, so it loads
even with autoload off; ``--disable-plugin iochost-builtins`` turns it off like any other.
It registers the ``iochost-status`` IOC, adds it as the built-in mount ``_host`` under
``host.status_prefix`` (``iochost_host_mounts``), and keeps one STATE PV per configured
mount current from ``iochost_mount_state_changed``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .hookspecs import RegisterIoc, hookimpl
from .hostconfig import HostConfig, MountConfig

if TYPE_CHECKING:
    from .host import Host, Mount
    from .status import HostStatusIOC

#: the built-in IOC that serves the host status PVs, and the mount name it gets
HOST_STATUS_IOC = "iochost-status"
HOST_STATUS_MOUNT = "_host"


@hookimpl
def iochost_register_iocs(register: RegisterIoc) -> None:
    from .status import HostStatusIOC

    register(HOST_STATUS_IOC, HostStatusIOC)


@hookimpl
def iochost_host_mounts(config: HostConfig) -> list[MountConfig]:
    if config.host.status_prefix is None:
        return []
    return [MountConfig(name=HOST_STATUS_MOUNT, ioc=HOST_STATUS_IOC,
                        prefix=config.host.status_prefix, description="host status",
                        options={"mounts": [mount.name for mount in config.mounts]},
                        source=config.source, path=("host",))]


def _status(host: Host) -> HostStatusIOC | None:
    mount = host.mounts.get(HOST_STATUS_MOUNT)
    return mount.ioc if mount is not None and mount.serving else None


@hookimpl
def iochost_ioc_mounted(host: Host, mount: Mount) -> None:
    if mount.name == HOST_STATUS_MOUNT:
        mount.ioc.attach(host)


@hookimpl
async def iochost_mount_state_changed(host: Host, mount: Mount) -> None:
    status = _status(host)
    if status is not None:
        await status.show_state(mount)
        await status.refresh()


@hookimpl
async def iochost_host_reloaded(host: Host) -> None:
    status = _status(host)
    if status is not None:
        status.withdraw_states()
        await status.refresh()


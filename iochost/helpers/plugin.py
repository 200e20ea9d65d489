"""iochost's own helpers, registered through the same hooks an outside plugin uses.

Named by the ``iochost-helpers`` entry point of the ``iochost`` distribution:

* helpers a mount attaches (``helpers: {autosave: {...}, stats: {}}``): ``autosave``;
* IOCs: ``autosave-status`` (synApps' ``SR_*`` PVs);
* at host start, the host-wide PVs the config asks for: the autosave status PVs under
  ``host.autosave_prefix``, mounted as ``_autosave``.

``--disable-plugin iochost-helpers`` turns all of it off like any other plugin.
"""
from __future__ import annotations

from typing import Any

from iochost.host.hookspecs import RegisterHelper, RegisterIoc, hookimpl

AUTOSAVE_STATUS_IOC = "autosave-status"
AUTOSAVE_STATUS_MOUNT = "_autosave"


@hookimpl
def iochost_register_helpers(register: RegisterHelper) -> None:
    from .autosave import Autosave

    register("autosave", Autosave)


@hookimpl
def iochost_register_iocs(register: RegisterIoc) -> None:
    from .autosave_ioc import AutosaveStatusIOC

    register(AUTOSAVE_STATUS_IOC, AutosaveStatusIOC)


@hookimpl
async def iochost_host_started(host: Any) -> None:
    from iochost.host.config import MountConfig

    from .autosave_status import registry_for

    prefix = host.config.host.autosave_prefix
    if prefix is not None:
        mount = await host.mount(MountConfig(name=AUTOSAVE_STATUS_MOUNT, ioc=AUTOSAVE_STATUS_IOC,
                                             prefix=prefix, description="autosave status"))
        if mount.ioc is not None:
            mount.ioc.attach(registry_for(host))

"""iochost's own plugin: built-in IOCs, registered through the same hooks as any plugin.

Named by the ``iochost-builtins`` entry point of the ``iochost`` distribution, so it loads
even with autoload off; ``--disable-plugin iochost-builtins`` turns it off like any other.
"""
from __future__ import annotations

from .hookspecs import RegisterIoc, hookimpl
from .validation import HOST_STATUS_IOC


@hookimpl
def iochost_register_iocs(register: RegisterIoc) -> None:
    from .status import HostStatusIOC

    register(HOST_STATUS_IOC, HostStatusIOC)

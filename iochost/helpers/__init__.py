"""iochost's helpers: autosave and iocStats, shipped in the core, registered as a plugin.

Mount-attached helpers (``helpers:`` in the host config) and host-wide status IOCs are
registered by :mod:`iochost.helpers.plugin` through the public hooks. IOC authors import
the markers and caproto's helper classes from here (the status helpers also from
``iochost``)::

    from iochost.helpers import autosaved
    from iochost import StatusHelper, SubGroup

Names load on first use.
"""
from importlib import import_module

_HOME = {
    "autosaved": "autosave",
    "Autosave": "autosave",
    "AutosaveHelper": "autosave_group",
    "StatusHelper": "status_helpers",
    "BasicStatusHelper": "status_helpers",
    "PeriodicStatusHelper": "status_helpers",
    "MemoryTracingHelper": "status_helpers",
}

__all__ = list(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

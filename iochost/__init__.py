"""iochost: many Python EPICS IOCs in one host process behind one Channel Access server.

IOC authors import the framework from here (caproto's server API)::

    from iochost import PVGroup, pvproperty, ioc_arg_parser, run
    from iochost import StatusHelper, autosaved          # caproto's helpers (iochost.helpers)

The framework names load on first use, so ``import iochost`` stays cheap for the protocol
core and the command line; the first one used also installs record support
(``iochost.records``), so ``record=`` works for everyone who imports from here.
"""
__version__ = "0.1.0"

from . import pv as _pv

#: caproto's helper names, served by iochost.helpers
_HELPERS = ("StatusHelper", "BasicStatusHelper", "PeriodicStatusHelper",
            "MemoryTracingHelper", "AutosaveHelper", "autosaved")

#: caproto's modules under their caproto names (``from iochost import menus``)
_MODULES = {"menus": "iochost.records.menu_enums", "conversion": "iochost.pv.conversion"}

__all__ = ["__version__", *_pv.__all__, *_HELPERS]


def __getattr__(name: str):
    if name in _pv.__all__:
        import iochost.records  # noqa: F401  (installs record support in iochost.pv)

        value = getattr(_pv, name)
        globals()[name] = value
        return value
    if name in _MODULES:
        from importlib import import_module
        module = import_module(_MODULES[name])
        globals()[name] = module
        return module
    if name in _HELPERS:
        from . import helpers
        value = getattr(helpers, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'iochost' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

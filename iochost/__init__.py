"""iochost: many Python EPICS IOCs in one host process behind one Channel Access server.

IOC authors import the framework from here (caproto's server API)::

    from iochost import PVGroup, pvproperty, ioc_arg_parser, run
    from iochost import StatusHelper, autosaved          # caproto's helpers (iochost.helpers)

The framework names load on first use, so ``import iochost`` stays cheap for the protocol
core and the command line; the first one used also installs record support, so
``record=`` works for everyone who imports from here. ``iochost.records`` itself is
imported when the first record PV is made: an IOC without records never pays for it.
"""
__version__ = "0.1.0"

from . import pv as _pv

#: caproto's helper names, served by iochost.helpers
_HELPERS = ("StatusHelper", "BasicStatusHelper", "PeriodicStatusHelper",
            "MemoryTracingHelper", "AutosaveHelper", "autosaved")

#: caproto's server modules under their caproto names: ``iochost.menus`` as
#: ``caproto.server.menus`` (``from iochost import menus`` or ``from iochost.menus import``)
_MODULES = {name: f"iochost.{name}" for name in ("menus", "conversion", "autosave", "stats")}

__all__ = ["__version__", *_pv.__all__, *_HELPERS]


class _RecordSupportOnDemand:
    """Record support that imports ``iochost.records`` (which installs the real one in its
    place) the first time a record PV needs it."""

    @staticmethod
    def _real():  # type: ignore[no-untyped-def]
        import iochost.records  # noqa: F401  (installs itself)

        from .pv.types import record_support
        return record_support()

    def create_fields(self, instance):  # type: ignore[no-untyped-def]
        return self._real().create_fields(instance)

    def field_spec(self, prop):  # type: ignore[no-untyped-def]
        return self._real().field_spec(prop)

    def served_dtype(self, record, dtype, enum_strings):  # type: ignore[no-untyped-def]
        return self._real().served_dtype(record, dtype, enum_strings)

    def record_states(self, record):  # type: ignore[no-untyped-def]
        return self._real().record_states(record)

    def value_read_only(self, record):  # type: ignore[no-untyped-def]
        return self._real().value_read_only(record)


def _install_record_support() -> None:
    """Record support for ``record=`` PVs, unless some is installed (``iochost.records``
    loads when the first record PV is made)."""
    from .pv.types import record_support, set_record_support

    if record_support() is None:
        set_record_support(_RecordSupportOnDemand())


def __getattr__(name: str):
    if name in _pv.__all__:
        _install_record_support()
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

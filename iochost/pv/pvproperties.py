"""pvproperty: the descriptor that declares one PV of a PVGroup.

::

    class Motor(PVGroup):
        position = pvproperty(value=0.0, doc="Where we are", units="mm")

        @position.putter
        async def position(self, instance, value):
            ...                # return a new value, None to keep ``value``, or raise SkipWrite

On a group instance, ``group.position`` is the channel data (read ``.value``,
``await .write(v)``); on the class it is this descriptor.
"""
from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from .hooks import HOOK_FIELDS, Hook, HookDecorators, IocDefinitionError, check_hooks
from .pvspec import PVSpec

if TYPE_CHECKING:
    from .group import PVGroup

__all__ = ["pvproperty"]

T_Data = TypeVar("T_Data")


class SharedKwargs(dict):  # type: ignore[type-arg]
    """The channel-data keywords of a pvproperty, shared by every pvproperty declared with
    the same ones (a large IOC declares thousands of PVs with one set of units and
    precision): read-only, so that changing one PV's cannot change the others'."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a pvproperty's cls_kwargs are shared with others declared alike: "
                        "change a copy (dict(spec.cls_kwargs)) and PVSpec._replace it")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return SharedKwargs, (dict(self),)

    def __copy__(self) -> SharedKwargs:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedKwargs:
        return self


#: distinct keyword sets shared so far, and how many at most
_SHARED_KWARGS: dict[tuple[tuple[str, Any], ...], SharedKwargs] = {}
_MAX_SHARED_KWARGS = 4096
_NO_KWARGS = SharedKwargs()


def _shared_kwargs(kwargs: dict[str, Any]) -> Mapping[str, Any]:
    """``kwargs``, as the same read-only object for equal keyword sets."""
    if not kwargs:
        return _NO_KWARGS
    try:
        key = tuple(sorted(kwargs.items()))
        shared = _SHARED_KWARGS.get(key)
    except TypeError:          # an unhashable value (enum_strings as a list...): its own
        return SharedKwargs(kwargs)
    if shared is None:
        shared = SharedKwargs(kwargs)
        if len(_SHARED_KWARGS) < _MAX_SHARED_KWARGS:
            _SHARED_KWARGS[key] = shared
    return shared


class _PvpropertyDoc:
    """``__doc__`` of pvproperty classes: the class's docstring on the class, the PV's
    ``doc`` (its spec's) on an instance, which has no ``__dict__`` to hold one."""

    def __init__(self, class_doc: str | None) -> None:
        self.class_doc = class_doc

    def __get__(self, instance: pvproperty | None, owner: Any = None) -> str | None:
        return self.class_doc if instance is None else instance.pvspec.doc

    def __set__(self, instance: pvproperty, doc: str | None) -> None:
        instance.pvspec = instance.pvspec._replace(doc=doc)


class pvproperty(HookDecorators, Generic[T_Data]):
    """Declare a PV in a :class:`~iochost.pv.group.PVGroup`.

    Parameters: ``value`` and/or ``dtype`` (inferred from each other: str -> CHAR array
    string, bytes -> byte array, int -> LONG, float -> DOUBLE, bool -> ENUM Off/On,
    IntEnum -> ENUM of its names, ``ChannelType.X`` or a channel-data class as given);
    ``name`` (default: the attribute name; may contain ``{macros}``); ``doc``;
    ``alarm_group`` (PVs of one group share an alarm unless this separates them);
    ``max_length``; ``record`` (record type reported as RTYP/CLASS_NAME), or
    ``field_spec`` (another record pvproperty's ``.field_spec``: same record type and field
    hooks); ``read_only``;
    hooks ``get``, ``put``, ``startup``, ``shutdown``, ``scan`` (or the decorators of the
    same names); ``autosave`` (True, or field names such as ``("VAL", "EGU")``: what
    an attached autosave helper saves); ``asg`` (its access security group, as a
    record's ASG field names one; see docs/access.md); any other keyword goes to the
    channel-data class (``units``, ``precision``, ``enum_strings``, ``report_as_string``,
    ``string_encoding``, limits...).
    """

    # slots: a large IOC declares one per PV
    __slots__ = ("attr_name", "_field_spec", "pvspec")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.__doc__ = _PvpropertyDoc(cls.__dict__.get("__doc__"))  # type: ignore[assignment]

    def __init__(self, get: Hook | None = None, put: Hook | None = None,
                 startup: Hook | None = None, shutdown: Hook | None = None, *,
                 scan: Hook | None = None, name: str | None = None, dtype: Any = None,
                 value: Any = None, max_length: int | None = None,
                 alarm_group: str | None = None, doc: str | None = None,
                 read_only: bool | None = None, fields: Any = None, record: Any = None,
                 field_spec: Any = None, autosave: Any = None, asg: str | None = None,
                 **cls_kwargs: Any) -> None:
        if get or put or startup or shutdown or scan:   # most PVs have none: skip the walk
            check_hooks({"get": get, "put": put, "startup": startup, "shutdown": shutdown,
                         "scan": scan})
        if doc is None and get is not None:
            doc = get.__doc__
        if dtype is not None and typing.get_origin(dtype) is not None:  # PvpropertyDouble[AiFields]
            dtype, (record_from_type, *_) = typing.get_origin(dtype), typing.get_args(dtype)
            record = record if record is not None else record_from_type
        if field_spec is not None and record is None:   # reuse another PV's record fields
            record, fields = field_spec.field_class, fields or field_spec
        self.attr_name: str | None = None
        self._field_spec: Any = None
        # positional, in PVSpec's field order (attr is set by __set_name__): as keywords,
        # the 17 arguments cost ~0.9 us more a call, and a large IOC declares 100,000
        self.pvspec = PVSpec(get, put, startup, shutdown, None, name, dtype, value, max_length,
                             alarm_group, read_only, doc, fields, scan, record,
                             _shared_kwargs(cls_kwargs), autosave, asg)

    @classmethod
    def from_pvspec(cls, pvspec: PVSpec, **kwargs: Any) -> pvproperty:
        """A pvproperty for an existing :class:`PVSpec`."""
        prop = cls(**kwargs)
        prop.pvspec = pvspec
        return prop

    @property
    def record_type(self) -> Any:
        """The record type given with ``record=`` (None if not a record)."""
        return self.pvspec.record

    # -- descriptor protocol -------------------------------------------------------------
    def __set_name__(self, owner: type, name: str) -> None:
        if self.attr_name is not None:  # the same object bound twice keeps its first name
            return
        self.attr_name = name
        pvname = name if self.pvspec.name is None else self.pvspec.name
        self.pvspec = self.pvspec.new_names(attr=name, name=pvname)
        if name in SHADOWED_BY_GROUP:
            self.__class__ = _GroupAttributePvproperty

    @overload
    def __get__(self, instance: None, owner: Any) -> pvproperty[T_Data]: ...
    @overload
    def __get__(self, instance: PVGroup, owner: Any) -> T_Data: ...

    def __get__(self, instance, owner):
        if instance is None:
            return self
        return instance.attr_pvdb[self.attr_name]

    def __set__(self, instance: PVGroup, value: Any) -> None:
        raise AttributeError(
            f"{type(instance).__name__}.{self.attr_name} is a PV: use "
            f"'await self.{self.attr_name}.write(value)' to change its value")

    # -- hook decorators (HookDecorators: getter, putter, startup, shutdown, scan) ---------
    def _store(self, kind: str, hook: Hook) -> Any:
        if kind == "putter" and self.pvspec.read_only:
            raise IocDefinitionError(f"putter {hook.__qualname__}: PV {self.attr_name!r} is "
                                     f"read-only and cannot have a putter")
        self.pvspec = self.pvspec._replace(**{HOOK_FIELDS[kind]: hook})
        return self._decorated()

    def _decorated(self) -> Any:
        """What a hook decorator returns: the object that stays in the class body."""
        return self

    def _check_scan(self, period: float | None, use_scan_field: bool) -> None:
        if use_scan_field and self.pvspec.record is None:
            raise IocDefinitionError(
                f"scan of {self.attr_name or 'pvproperty'}: use_scan_field=True needs "
                f"record='...' on the pvproperty")
        super()._check_scan(period, use_scan_field)

    def __call__(self, get: Hook, put: Hook | None = None, startup: Hook | None = None,
                 shutdown: Hook | None = None, scan: Hook | None = None) -> pvproperty:
        """``pvproperty(**spec)(getter, putter, ...)``: set several hooks at once."""
        given = {"get": get, "put": put, "startup": startup, "shutdown": shutdown, "scan": scan}
        for kind, field in HOOK_FIELDS.items():
            if given[field] is not None:
                self._set_hook(kind, given[field])
        if self.__doc__ is None and get.__doc__:
            self.__doc__ = get.__doc__
        return self

    # -- record fields -------------------------------------------------------------------
    @property
    def fields(self) -> Any:
        """Record-field hooks, e.g. ``@prop.fields.SCAN.putter`` (needs ``record=``)."""
        from .types import require_record_support
        if self.pvspec.record is None:
            raise AttributeError(f"pvproperty {self.attr_name!r} has no record fields "
                                 f"(give it record='...')")
        support = require_record_support(f"pvproperty {self.attr_name!r}")
        if self._field_spec is None:
            self._field_spec = support.field_spec(self)
        return self._field_spec

    @property
    def field_spec(self) -> Any:
        """caproto's name for :attr:`fields`: None without ``record=``, so that another
        pvproperty can take it as ``field_spec=``."""
        return self.fields if self.pvspec.record is not None else None

    def __repr__(self) -> str:
        return f"<pvproperty {self.attr_name or '?'} name={self.pvspec.name!r}>"


pvproperty.__doc__ = _PvpropertyDoc(pvproperty.__dict__["__doc__"])  # type: ignore[assignment]


class NestedPvproperty(pvproperty):
    """A pvproperty of a dict-defined SubGroup: its decorators return the SubGroup, so
    ``@pair.setpoint.putter`` in the outer class body leaves ``pair`` in place."""

    parent: Any = None

    def _decorated(self) -> Any:
        return self.parent

    @classmethod
    def from_pvspec(cls, pvspec: PVSpec, parent: Any = None) -> NestedPvproperty:
        prop = super().from_pvspec(pvspec)
        prop.parent = parent
        return prop


#: Attributes every PVGroup sets on itself that caproto lets a PV share: the attribute
#: stays the group's (``self.name`` is the group's name), the PV is ``self.attr_pvdb[...]``
SHADOWED_BY_GROUP = frozenset(("name", "groups", "log"))


class _GroupAttributePvproperty(pvproperty):  # type: ignore[type-arg]
    """A pvproperty named as one of :data:`SHADOWED_BY_GROUP`."""

    __slots__ = ()

    def __get__(self, instance, owner):  # type: ignore[no-untyped-def]
        if instance is None:
            return self
        return instance.__dict__[self.attr_name]

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.attr_name] = value

"""PVSpec: everything needed to create one PV's channel data, as an immutable tuple.

:class:`~iochost.pv.pvproperties.pvproperty` keeps one of these and PVGroup turns it into
channel data; IOCs without a PVGroup can use it directly::

    spec = PVSpec(name="a", value=1, put=my_putter)      # async def my_putter(instance, value)
    pvdb = {"PREFIX:a": spec.create()}
"""
from __future__ import annotations

import enum
import inspect
import logging
from collections import namedtuple
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..ca.dbr import ChannelType
from ..ca.errors import CaStatusError
from .data_errors import ChannelValueError
from .data_numeric import ChannelByte
from .hooks import HOOK_FIELDS, IocDefinitionError, check_hooks

if TYPE_CHECKING:
    from .group import PVGroup
    from .types import PvpropertyData

__all__ = ["PVSpec", "channeldata_from_pvspec", "data_class_from_pvspec", "expand_macros",
           "infer_dtype", "normalise_autosave"]

logger = logging.getLogger(__name__)

# The CA type a client would put a Python scalar as (bool before int: bool is an int).
_PUT_TYPES: tuple[tuple[type, ChannelType], ...] = (
    (str, ChannelType.STRING), (bytes, ChannelType.STRING),
    (bool, ChannelType.LONG), (np.bool_, ChannelType.LONG),
    (int, ChannelType.LONG), (np.integer, ChannelType.LONG),
    (float, ChannelType.DOUBLE), (np.floating, ChannelType.DOUBLE),
)
_NUMERIC = frozenset((ChannelType.CHAR, ChannelType.INT, ChannelType.LONG, ChannelType.FLOAT,
                      ChannelType.DOUBLE))


def _created_by_put_conversion(cls: type[PvpropertyData], kwargs: dict[str, Any]
                               ) -> PvpropertyData | None:
    """The channel data created with ``kwargs["value"]`` converted as a CA put of that value
    would be, or None when no conversion exists (a bool PV takes a number's truth, as a bo
    record does).  A number its numeric type cannot hold has none: the put's cast would
    make another number of it (2**40 as a LONG is 0)."""
    value = kwargs["value"]
    source = next((ca for base, ca in _PUT_TYPES if isinstance(value, base)), None)
    if source is None:
        return None
    probe = cls(**{**kwargs, "value": None})
    if source is not ChannelType.STRING:
        if getattr(cls, "numbers_by_truth", False):
            value = bool(value)
        elif probe.native_type in _NUMERIC:
            return None
    wire = [value.encode(probe.string_encoding) if isinstance(value, str) else value]
    try:
        converted = probe._value_from_wire(probe._convert_put(wire, source))
        return cls(**{**kwargs, "value": converted})
    except (CaStatusError, ChannelValueError):
        return None

# (base class, dtype key) pairs, most specific first: bool before int, numpy scalars too.
_VALUE_KINDS: tuple[tuple[type, Any], ...] = (
    (bool, bool), (np.bool_, bool),
    (enum.IntEnum, enum.IntEnum),
    (int, int), (np.integer, int),
    (float, float), (np.floating, float),
    (str, str), (bytes, bytes),
)


#: the common exact types, looked up before walking _VALUE_KINDS
_EXACT_KINDS = {bool: bool, int: int, float: float, str: str, bytes: bytes}


def _scalar_dtype(value: Any) -> Any:
    key = _EXACT_KINDS.get(type(value))
    if key is not None:
        return key
    for base, key in _VALUE_KINDS:
        if isinstance(value, base):
            return type(value) if key is enum.IntEnum else key
    return type(value)


def _array_dtype(array: np.ndarray) -> Any:
    # As RSRV serves the field types: CA has no unsigned or 64-bit type, so a uint16 array
    # (USHORT) is LONG and a uint32 or 64-bit one (ULONG, INT64) DOUBLE, exact to 2**53;
    # as SHORT or LONG their values would wrap (40000 read -25536, 2**40 read 0).
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "f":
        return ChannelType.FLOAT if size == 4 else float
    if kind in "iu":
        if size == 1:
            return bytes
        if kind == "u":
            size *= 2  # the signed type that holds it
        return ChannelType.INT if size == 2 else int if size == 4 else float
    if kind == "b":
        return bool
    return ChannelType.STRING


def _types() -> Any:
    """``iochost.pv.types`` (which imports this module): looked up once, then kept."""
    global _TYPES
    if _TYPES is None:
        from . import types as _TYPES
    return _TYPES


_TYPES: Any = None


def infer_dtype(value: Any) -> Any:
    """The dtype key (a Python type, IntEnum class or ChannelType) a value implies."""
    if value is None:
        return PVSpec.default_dtype
    if isinstance(value, np.ndarray):
        return _array_dtype(value)
    if isinstance(value, (list, tuple)):
        if not len(value):
            return PVSpec.default_dtype
        if isinstance(value[0], str):  # a list of strings is a STRING array, not a char array
            return ChannelType.STRING
        return _scalar_dtype(value[0])
    return _scalar_dtype(value)


def expand_macros(text: str, macros: Mapping[str, str]) -> str:
    """Expand ``{name}`` macros in a PV name; a missing macro is a clear error."""
    if "{" not in text and "}" not in text:   # most names: nothing to expand
        return text
    try:
        return text.format(**macros)
    except KeyError as ex:
        known = ", ".join(sorted(macros)) or "none"
        raise IocDefinitionError(
            f"PV name {text!r} uses macro {{{ex.args[0]}}}, which is not defined "
            f"(macros given: {known})") from None
    except (IndexError, ValueError) as ex:
        raise IocDefinitionError(f"PV name {text!r} is not a valid macro pattern: {ex}") from None


def normalise_autosave(marker: Any) -> tuple[str, ...] | None:
    """A pvproperty's ``autosave=`` marker as the field names to save (``"VAL"`` is the
    value): None/False -> None, True -> ("VAL",), a string -> (it,), names -> a tuple."""
    if marker is None or marker is False:
        return None
    if marker is True:
        return ("VAL",)
    if isinstance(marker, str):
        return (marker,)
    try:
        names = tuple(str(name) for name in marker)
    except TypeError:
        raise IocDefinitionError(f"autosave= takes True or field names like ('VAL', 'EGU'), "
                                 f"not {marker!r}") from None
    return names or None


_FIELDS = ("get put startup shutdown attr name dtype value max_length alarm_group read_only "
           "doc fields scan record cls_kwargs autosave asg")

_ATTR, _NAME = _FIELDS.split().index("attr"), _FIELDS.split().index("name")


class PVSpec(namedtuple("PVSpec", _FIELDS)):
    """An immutable description of one PV.

    Fields: ``get, put, startup, shutdown, scan`` (hooks), ``attr`` (attribute name in a
    group), ``name`` (PV name, may contain ``{macros}``), ``dtype`` (Python type, IntEnum
    class, ChannelType or channel-data class), ``value``, ``max_length``, ``alarm_group``,
    ``read_only``, ``doc``, ``fields`` (record-field hooks), ``record`` (record type) and
    ``cls_kwargs`` (passed to the channel-data class), ``autosave`` (what an attached
    autosave helper saves: None, True for the value, or a tuple of field names, ``"VAL"``
    for the value), ``asg`` (the access security group; None: the mount's, else DEFAULT).
    ``dtype`` is inferred from ``value`` when not given.
    """

    __slots__ = ()
    default_dtype: ClassVar[type] = int

    def __new__(cls, get=None, put=None, startup=None, shutdown=None, attr=None, name=None,
                dtype=None, value=None, max_length=None, alarm_group=None, read_only=None,
                doc=None, fields=None, scan=None, record=None, cls_kwargs=None,
                autosave=None, asg=None) -> PVSpec:
        if dtype is None:
            dtype = infer_dtype(value)
        if put is not None and read_only:
            raise IocDefinitionError(f"PV {name or attr!r} is read-only and cannot have a putter")
        if record is not None and name and "." in name:
            raise IocDefinitionError(f"PV {name!r} has a '.' in its name and cannot be a record")
        # tuple.__new__ itself: the namedtuple's __new__ would be a second Python call
        # (a large IOC declares 100,000 of these)
        return tuple.__new__(cls, (get, put, startup, shutdown, attr, name, dtype, value,
                                   max_length, alarm_group, read_only, doc, fields, scan,
                                   record, cls_kwargs, normalise_autosave(autosave), asg))

    def new_names(self, attr: str | None = None, name: str | None = None) -> PVSpec:
        """A copy with another attribute and/or PV name."""
        values = list(self)  # (_replace costs a few Python calls more: once per pvproperty)
        if attr is not None:
            values[_ATTR] = attr
        if name is not None:
            values[_NAME] = name
        return tuple.__new__(type(self), values)

    def get_data_class(self, group: PVGroup | None = None) -> type[PvpropertyData]:
        """The channel-data class for this spec (from the group's type maps, if given)."""
        return self._data_class(self._served_dtype(), group)

    def _served_dtype(self) -> Any:
        """``dtype``, or the one the record support serves a record's value as."""
        if self.record is None:
            return self.dtype
        types = _types()
        support = types.record_support()
        if support is None:      # the channel data refuses record= with the full PV name
            return self.dtype
        strings = (self.cls_kwargs or {}).get("enum_strings") or ()
        return support.served_dtype(types._record_name(self.record) or "", self.dtype, strings)

    def _value_read_only(self) -> bool:
        """A record whose value clients may not write (the record support decides)."""
        if self.record is None:
            return False
        types = _types()
        support = types.record_support()
        return support is not None and support.value_read_only(types._record_name(self.record)
                                                               or "")

    def _data_class(self, dtype: Any, group: PVGroup | None) -> type[PvpropertyData]:
        types = _types()
        if group is None:
            maps = (types.TYPE_MAP, types.TYPE_MAP_READ_ONLY)
        else:
            maps = (group.type_map, group.type_map_read_only)
        type_map = maps[1] if self.read_only or self._value_read_only() else maps[0]
        if inspect.isclass(dtype) and issubclass(dtype, enum.IntEnum) \
                and dtype is not enum.IntEnum:
            dtype = enum.IntEnum
        try:
            return type_map[dtype]
        except (KeyError, TypeError):
            pass
        if inspect.isclass(dtype) and issubclass(dtype, types.ChannelData):
            return types.pvproperty_class_for(dtype)
        raise IocDefinitionError(
            f"PV {self.name or self.attr!r}: unsupported dtype {dtype!r}; use a Python type "
            f"(int, float, str, bytes, bool), an IntEnum, a ChannelType or a channel-data class")

    def _default_value(self, group: PVGroup | None) -> Any:
        """The initial value: ``value``, else the group's default for the dtype (None
        lets the channel-data class choose)."""
        if self.value is not None:
            return self.value
        dtype = self.dtype
        if inspect.isclass(dtype) and issubclass(dtype, enum.IntEnum):
            return next(iter(dtype))
        if group is None:
            return None
        try:
            return group.default_values.get(dtype)
        except TypeError:  # an unhashable dtype has no default
            return None

    def _full_name(self, group: PVGroup) -> str:
        """The PV's name in ``group``: its prefix and the name with macros expanded."""
        return group.prefix + expand_macros(self.name, group.macros)

    def get_instantiation_info(self, group: PVGroup | None = None
                               ) -> tuple[type[PvpropertyData], dict[str, Any]]:
        """The class to instantiate and its keyword arguments."""
        if group is None:
            pvname = self.name
            alarm = self.alarm_group  # without a group this is a ChannelAlarm (or None)
            if self.value is None:
                raise IocDefinitionError(f"PVSpec {pvname!r} used without a group needs a value")
        else:
            pvname = self._full_name(group)
            # A record owns its alarm (as every EPICS record does) unless it names an
            # alarm group; plain pvproperties share the group's default one (caproto's).
            alarm = None if self.record is not None and self.alarm_group is None \
                else group.alarms[self.alarm_group]
        if alarm is not None and isinstance(alarm, str):
            raise IocDefinitionError(f"PV {pvname!r}: alarm_group needs a group; pass a "
                                     f"ChannelAlarm as alarm_group instead")
        dtype = self._served_dtype()
        cls = self._data_class(dtype, group)
        kwargs = dict(group=group, pvspec=self, value=self._default_value(group),
                      max_length=self.max_length, alarm=alarm, pvname=pvname,
                      record=self.record, doc=self.doc)
        if self.record is not None and issubclass(cls, ChannelByte):
            kwargs["strip_null_terminator"] = False  # a record's byte array keeps every byte
        kwargs.update(self.cls_kwargs or {})
        if dtype is not self.dtype:    # served as another type (record_support.served_dtype)
            kwargs.pop("enum_strings", None)
            value = kwargs["value"]
            if dtype == ChannelType.LONG:  # an mbbo without states: its value is the number
                kwargs["value"] = int(value) if str(value).strip().isdigit() else 0
        return cls, kwargs

    def create(self, group: PVGroup | None = None,
               alike: dict[Any, PvpropertyData] | None = None) -> PvpropertyData:
        """Create the channel data for this spec (in ``group``, or standalone).

        ``alike``: a dict that ``group`` keeps while it creates its PVs; the channel data
        of specs declared alike (same dtype, value object, keywords, length, access and
        alarm group; no getter, no record) are then copied from the first one made
        (``types.copy_alike``) instead of being validated and built again."""
        if group is None:
            check_hooks({field: getattr(self, field) for field in HOOK_FIELDS.values()},
                        method=False)
            alike = None
        key = None
        if alike is not None and self.get is None and self.record is None \
                and self.fields is None:
            key = (self.dtype, self.read_only, self.max_length, self.alarm_group,
                   id(self.value), id(self.cls_kwargs))  # the first one's spec keeps both
            try:
                template = alike.get(key)
            except TypeError:  # an unhashable dtype or alarm group
                key = template = None
            if template is not None:
                return _types().copy_alike(template, self._full_name(group), self)  # type: ignore[arg-type]
        cls, kwargs = self.get_instantiation_info(group)
        try:
            try:
                data = cls(**kwargs)
                if key is not None and _types().can_copy_alike(data):
                    alike[key] = data  # type: ignore[index]
                return data
            except ChannelValueError as refused:
                # caproto stores such initial values as given; we convert them as a CA put of
                # the same value would be converted (5 -> '5', '1.5' -> 1.5, 0.0 -> state 0).
                data = _created_by_put_conversion(cls, kwargs)
                if data is None:
                    raise refused from None
                logger.warning("PV %r%s: initial value %r converted to %r for %s",
                               kwargs["pvname"], self._where(group), kwargs["value"],
                               data.value, cls.__name__)
                return data
        except IocDefinitionError:
            raise
        except Exception as ex:
            hint = ("; give an initial value of the PV's type, or the dtype that fits the "
                    "value" if isinstance(ex, (ChannelValueError, TypeError)) else "")
            raise IocDefinitionError(f"cannot create PV {kwargs['pvname']!r}"
                                     f"{self._where(group)} as {cls.__name__}: {ex}{hint}") \
                from ex


    def _where(self, group: PVGroup | None) -> str:
        return f" (attribute {self.attr!r} of {type(group).__name__})" if group else ""


def data_class_from_pvspec(group: PVGroup, pvspec: PVSpec) -> type[PvpropertyData]:
    """The channel-data class ``pvspec`` makes in ``group`` (caproto's function)."""
    return pvspec.get_data_class(group)


def channeldata_from_pvspec(group: PVGroup, pvspec: PVSpec) -> tuple[str, PvpropertyData]:
    """``(pvname, channel data)`` of ``pvspec`` created in ``group`` (caproto's function)."""
    data = pvspec.create(group)
    return data.pvname, data

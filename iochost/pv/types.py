"""The channel-data classes of pvproperties (``PvpropertyDouble`` ...), and the type maps.

Each class is the data engineer's channel-data class (``ChannelDouble`` ...) plus the
:class:`PvpropertyData` mixin, which ties it to its PVGroup: ``verify_value`` runs the
group's putter (so client writes and ``await group.pv.write(v)`` share one path), the
hooks are bound to the group, and ``record=`` is kept for record support.

Record support (fields such as ``.DESC``, ``.SCAN``) is plugged in from above: this layer
never imports ``iochost.records``.  Importing ``iochost.records`` installs it through
:func:`set_record_support` (the facade ``iochost``, the host and ``iochost.testing`` import
it); a ``record=`` PV made without it raises :class:`~iochost.pv.hooks.IocDefinitionError`.
"""
from __future__ import annotations

import asyncio
import copy
import enum
import logging
from types import GenericAlias, MappingProxyType, MethodType
from typing import TYPE_CHECKING, Any, Protocol
from collections.abc import Awaitable, Callable, Mapping, Sequence

import numpy as np

from ..ca.dbr import ChannelType
from .data import (ChannelByte, ChannelChar, ChannelData, ChannelDouble, ChannelEnum,
                   ChannelFloat, ChannelInteger, ChannelShort, ChannelString, RecordStates)

if TYPE_CHECKING:
    from .alarms import AlarmSeverity, AlarmStatus
    from .group import PVGroup
    from .pvproperties import pvproperty
    from .pvspec import PVSpec

__all__ = [
    "PvpropertyData", "PvpropertyReadOnlyData", "PVPROPERTY_SLOTS", "RecordSupport",
    "set_record_support", "RecordFields", "RecordFieldHooks", "require_record_support",
    "record_support", "TYPE_MAP", "TYPE_MAP_READ_ONLY", "pvproperty_class_for",
    "PvpropertyChar", "PvpropertyByte", "PvpropertyShort", "PvpropertyInteger",
    "PvpropertyFloat", "PvpropertyDouble", "PvpropertyString", "PvpropertyEnum",
    "PvpropertyBoolEnum", "PvpropertyCharRO", "PvpropertyByteRO", "PvpropertyShortRO",
    "PvpropertyIntegerRO", "PvpropertyFloatRO", "PvpropertyDoubleRO", "PvpropertyStringRO",
    "PvpropertyEnumRO", "PvpropertyBoolEnumRO",
]

module_log = logging.getLogger("iochost.pv")


class RecordFields(Protocol):
    """The fields of one record-typed PV (``instance.field_inst``), made by record support.

    Every call the channel data makes into record support goes through this object."""

    @property
    def pvdb(self) -> Mapping[str, ChannelData]:
        """Field name (``DESC``, without the PV name) -> channel data, each made when first
        asked for (fields with hooks are made at once)."""

    @property
    def created(self) -> Mapping[str, ChannelData]:
        """The field channels made so far: what the hook runner walks."""

    async def value_write_hook(self, instance: PvpropertyData, value: Any) -> None:
        """The record's value changed: let the fields follow (``update_fields``)."""

    async def process(self, instance: PvpropertyData, value: Any) -> Any:
        """A write to the record: the DISA gate, limits, then the putter; returns the value
        to store (raise ``SkipWrite`` to keep the old one)."""

    def evaluate_alarm(self, instance: PvpropertyData, value: Any
                       ) -> tuple[AlarmStatus, AlarmSeverity] | None:
        """The record's limit/state alarm for ``value`` (its HHSV... fields, HYST)."""

    def record_metadata(self, instance: PvpropertyData, properties: dict[str, Any]) -> None:
        """Adjust the record's GR/CTRL metadata in place (e.g. ai's HOPR/LOPR limits)."""


class RecordFieldHooks(Protocol):
    """``prop.fields``: ``prop.fields.<FIELD>`` has the hook decorators of that field."""

    def __getattr__(self, field: str) -> Any: ...


class RecordSupport(Protocol):
    """What ``iochost.records`` installs to make pvproperties look like EPICS records."""

    def create_fields(self, instance: PvpropertyData) -> RecordFields:
        """The field set of a record-typed ``instance``."""

    def field_spec(self, prop: pvproperty[Any]) -> RecordFieldHooks:
        """The ``prop.fields`` helper, for ``@prop.fields.<FIELD>.putter`` and friends."""

    def served_dtype(self, record: str, dtype: Any, enum_strings: Sequence[str]) -> Any:
        """The dtype a record's value is served as, given the one the IOC declared: the
        same, except where EPICS' record decides (mbbo: LONG while no state is named;
        int64in/int64out: DOUBLE, CA having no 64-bit integer)."""

    def record_states(self, record: str) -> RecordStates | None:
        """How the record's ENUM value takes an index past its states and text
        (``ChannelEnum.record_states``), or None for caproto's rule (refused)."""

    def value_read_only(self, record: str) -> bool:
        """Whether clients may not write the record's value (its VAL is SPC_NOMOD: sel)."""


_record_support: RecordSupport | None = None


def set_record_support(support: RecordSupport | None) -> None:
    """Install (or remove, with None) the record support; called by ``iochost.records``."""
    global _record_support
    _record_support = support


def record_support() -> RecordSupport | None:
    """The installed record support, or None when nothing installed it."""
    return _record_support


def require_record_support(what: str) -> RecordSupport:
    """The installed record support; ``what`` (the PV asking) is named when there is none."""
    if _record_support is None:
        from .hooks import IocDefinitionError

        raise IocDefinitionError(
            f"{what}: record= needs record support, which is not installed: import the "
            f"framework from the iochost package (from iochost import pvproperty), or "
            f"import iochost.records once before defining record PVs")
    return _record_support


def _record_name(record: Any) -> str | None:
    if record is None or isinstance(record, str):
        return record
    return getattr(record, "_record_type", None) or getattr(record, "__name__", str(record))


#: Per-instance state of a pvproperty's channel data.  The concrete classes declare these
#: slots (PvpropertyData itself cannot: it is mixed with slotted channel-data classes);
#: what most PVs leave at its default is a class attribute of PvpropertyData, set in the
#: instance's ``__dict__`` (ChannelData's, made on first use) when it differs.  caproto
#: IOCs hang their own attributes there too (``instance.ev = ...``).  ``field_inst``,
#: read three times a write, stays a slot (faster to read than a class default).
PVPROPERTY_SLOTS = ("pvname", "pvspec", "group", "field_inst")
_NO_FIELDS: Mapping[str, ChannelData] = MappingProxyType({})


class PvpropertyData(ChannelData):
    """Mixin for channel data that belongs to a pvproperty (put it first in the bases).

    Attributes: ``pvname`` (full PV name), ``pvspec``, ``group`` (None without one),
    ``name`` (``Group.attr``), ``doc``, ``log``, the hooks bound to the group
    ``getter``, ``putter``, ``startup``, ``shutdown``, ``scan`` (None when absent),
    ``record_type``, ``field_inst`` / ``fields`` (record fields, when record support is
    installed).
    """

    __slots__ = ()
    read_only_default = False
    record_type: str | None = None
    _logger: logging.Logger | None = None
    _scan_period: float | None = None
    _scan_changed: asyncio.Event | None = None
    #: one call of its scan hook, while that runs (a record's PROC makes it)
    _scan_process: Callable[[], Awaitable[None]] | None = None
    #: a record without a scan hook processing itself at its SCAN period
    #: (records.behaviour.scan_periodically); cancelled with the IOC's hooks
    _periodic: asyncio.Task[None] | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> PvpropertyData:
        """A copy detached from its group (``group`` is None), as caproto's copy is:
        copying the group would copy the whole IOC."""
        memo[id(self.group)] = None
        make, args, state = self.__reduce_ex__(4)[:3]
        new = make(*args)
        memo[id(self)] = new
        state = copy.deepcopy(state, memo)
        attributes, slots = state if isinstance(state, tuple) else (state, None)
        new.__dict__.update(attributes or {})
        for name, value in (slots or {}).items():
            setattr(new, name, value)
        return new

    def __class_getitem__(cls, record: Any) -> Any:
        """``PvpropertyDouble[AiFields]``: a dtype that also names the record type."""
        return GenericAlias(cls, (record,))

    def __init__(self, *, pvname: str, group: PVGroup | None, pvspec: PVSpec,
                 doc: str | None = None, record: Any = None,
                 logger: logging.Logger | None = None, **kwargs: Any) -> None:
        self.pvname = pvname
        self.pvspec = pvspec if doc is None or doc == pvspec.doc else pvspec._replace(doc=doc)
        self.group = group
        if logger is not None:
            self._logger = logger
        if record is not None:
            self.record_type = _record_name(record)
        if self.getter is not None:
            self.needs_async_read = True
        read_only = kwargs.pop("read_only", None)
        if read_only is None:
            read_only = bool(pvspec.read_only) or self.read_only_default
        if self.record_type is not None:
            kwargs["reported_record_type"] = self.record_type
        super().__init__(read_only=read_only, **kwargs)
        self.field_inst: RecordFields | None = None
        if self.record_type is not None:
            support = require_record_support(f"PV {pvname!r}")
            if isinstance(self, ChannelEnum):  # before anything is read: metadata is cached
                self.record_states = support.record_states(self.record_type)
            self.field_inst = support.create_fields(self)

    def trap_name(self) -> str:
        return self.pvname

    @property
    def access_group(self) -> str:
        """The access security group: the one in force, else the one the pvproperty
        names ('' when none)."""
        gate = self.gate_in_force()
        return gate.group if gate is not None else (self.pvspec.asg or "")

    @property
    def fields(self) -> Mapping[str, ChannelData]:
        """Record fields, name -> channel (record support makes each on first access)."""
        field_inst = self.field_inst
        return _NO_FIELDS if field_inst is None else field_inst.pvdb

    # -- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """``Group.attribute`` (or the PV name without a group)."""
        if self.group is None:
            return self.pvspec.attr or self.pvspec.name or self.pvname
        return f"{self.group.name}.{self.pvspec.attr}"

    @property
    def doc(self) -> str | None:
        return self.pvspec.doc

    @property
    def log(self) -> logging.Logger:
        if self.group is not None:
            return self.group.log
        return self._logger or module_log

    # -- hooks, bound to the group on access ---------------------------------------------
    def _bound(self, hook: Any) -> Any:
        if hook is None or self.group is None:
            return hook
        return MethodType(hook, self.group)

    @property
    def putter(self) -> Any:
        """``putter(instance, value)``: the pvproperty's, else the group's ``group_write``."""
        if self.pvspec.put is None and self.group is not None:
            return self.group.group_write
        return self._bound(self.pvspec.put)

    @property
    def getter(self) -> Any:
        """``getter(instance)``: the pvproperty's, else the group's ``group_read`` if the
        group overrides it (a getter makes every read wait on Python code)."""
        group = self.group
        if self.pvspec.get is None and group is not None and not getattr(
                type(group).group_read, "is_default_hook", False):
            return group.group_read
        return self._bound(self.pvspec.get)

    @property
    def startup(self) -> Any:
        return self._bound(self.pvspec.startup)

    @property
    def shutdown(self) -> Any:
        return self._bound(self.pvspec.shutdown)

    @property
    def scan(self) -> Any:
        return self._bound(self.pvspec.scan)

    # -- the write path ------------------------------------------------------------------
    async def verify_value(self, value: Any) -> Any:
        """Validate (channel-data rules), then run the putter, whose return value (if not
        None) replaces ``value``.  ``SkipWrite`` keeps the old value silently; any other
        exception fails the write (and ``write_failed`` raises the WRITE/MAJOR alarm)."""
        value = await super().verify_value(value)
        if self.field_inst is not None:  # record support runs the putter (DISA/DISV gate it)
            return await self.field_inst.process(self, value)
        put, group = self.pvspec.put, self.group
        if group is None:
            return value if put is None else await put(self, value)
        if put is None:
            return await group.group_write(self, value)
        return await put(group, self, value)      # the unbound hook: no bound method per write

    def check_limits(self, value: Any) -> None:
        """Control limits; a record's are applied by its record support, in ``process``
        (EPICS' output records clamp to DRVH/DRVL instead of refusing)."""
        if self.field_inst is None:
            super().check_limits(value)

    def _metadata_properties(self) -> dict[str, Any]:
        properties = super()._metadata_properties()
        if self.field_inst is not None:  # e.g. an ai record's control limits are HOPR/LOPR
            self.field_inst.record_metadata(self, properties)
        return properties

    def evaluate_alarm(self, value: Any) -> Any:
        """Limit alarms; a record's follow its severity fields (HHSV...) and HYST."""
        if self.field_inst is not None:
            return self.field_inst.evaluate_alarm(self, value)
        return super().evaluate_alarm(value)

    async def update_fields(self, value: Any) -> None:
        """Let the record fields follow a new value (record support only)."""
        if self.field_inst is not None:
            await self.field_inst.value_write_hook(self, value)

    # -- getters (discouraged) ----------------------------------------------------------
    async def aread_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        """Run the getter; a value it returns is written (and published) before reading."""
        if self.getter is None:
            return self.read_dbr(dbr_type, count)
        value = await self.getter(self)
        if value is not None:
            await self.write(value)
        return self.read_dbr(dbr_type, count)

    # -- record fields -------------------------------------------------------------------
    def field_channel(self, field: str) -> ChannelData | None:
        """``NAME.FIELD``: the record field's channel (None if there is no such field)."""
        return self.fields.get(field)

    # -- scan rate from the record's .SCAN field -----------------------------------------
    @property
    def scan_period(self) -> float | None:
        """The period a ``use_scan_field`` scan runs at (None: Passive)."""
        return self._scan_period

    def set_scan_period(self, period: float | None, *, initial: bool = False) -> None:
        """Change the scan period (record support calls this on a put to ``.SCAN``);
        ``initial`` only fills in a period not set yet."""
        if initial and self._scan_period is not None:
            return
        self._scan_period = period
        if self._scan_changed is not None:
            self._scan_changed.set()

    async def wait_scan_change(self, timeout: float | None) -> None:
        """Sleep ``timeout`` seconds (forever if None), waking early if the period changes."""
        if self._scan_changed is None:
            self._scan_changed = asyncio.Event()
        try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel
            async with asyncio.timeout(timeout):
                await self._scan_changed.wait()
        except TimeoutError:
            pass
        self._scan_changed.clear()


class PvpropertyReadOnlyData(PvpropertyData):
    """Mixin: read-only over Channel Access (code in the IOC still writes)."""

    __slots__ = ()
    read_only_default = read_only = True


def _enum_strings_of(enum_class: type[enum.IntEnum]) -> list[str]:
    """State strings of an IntEnum: member names by value, gaps named by their number."""
    names = {int(member): member.name for member in enum_class}
    return [names.get(index, str(index)) for index in range(max(names) + 1)]


class _EnumFromIntEnum:
    """Accepts an IntEnum member as ``value`` (its class gives the enum strings)."""

    __slots__ = ()

    def __init__(self, *, enum_strings: Any = None, value: Any = None, **kwargs: Any) -> None:
        if isinstance(value, enum.IntEnum):
            if enum_strings is not None:
                raise ValueError("give either an IntEnum value or enum_strings, not both")
            enum_strings = _enum_strings_of(type(value))
            value = value.name
        super().__init__(enum_strings=enum_strings, value=value, **kwargs)


class _BoolEnum:
    """ENUM with Off/On (unless ``enum_strings`` says otherwise); bools select a state."""

    __slots__ = ()
    numbers_by_truth = True  # an initial value of 5 means On, as a bo record reads it

    def __init__(self, *, enum_strings: Any = None, **kwargs: Any) -> None:
        super().__init__(enum_strings=list(enum_strings or ("Off", "On")), **kwargs)

    def preprocess_value(self, value: Any) -> Any:
        if isinstance(value, (bool, np.bool_)):
            value = int(value)
        return super().preprocess_value(value)


# The pvproperty classes, one read-write and one read-only per channel-data class; written
# out (not generated) so that grep, IDEs and type checkers find them.


class PvpropertyChar(PvpropertyData, ChannelChar):
    """Read-write CHAR array holding a string (string_encoding)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyCharRO(PvpropertyReadOnlyData, ChannelChar):
    """Read-only (over Channel Access) CHAR array holding a string (string_encoding)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyByte(PvpropertyData, ChannelByte):
    """Read-write CHAR array holding bytes."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyByteRO(PvpropertyReadOnlyData, ChannelByte):
    """Read-only (over Channel Access) CHAR array holding bytes."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyShort(PvpropertyData, ChannelShort):
    """Read-write 16-bit integer (DBR_SHORT/INT)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyShortRO(PvpropertyReadOnlyData, ChannelShort):
    """Read-only (over Channel Access) 16-bit integer (DBR_SHORT/INT)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyInteger(PvpropertyData, ChannelInteger):
    """Read-write 32-bit integer (DBR_LONG)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyIntegerRO(PvpropertyReadOnlyData, ChannelInteger):
    """Read-only (over Channel Access) 32-bit integer (DBR_LONG)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyFloat(PvpropertyData, ChannelFloat):
    """Read-write 32-bit float (DBR_FLOAT)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyFloatRO(PvpropertyReadOnlyData, ChannelFloat):
    """Read-only (over Channel Access) 32-bit float (DBR_FLOAT)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyDouble(PvpropertyData, ChannelDouble):
    """Read-write 64-bit float (DBR_DOUBLE)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyDoubleRO(PvpropertyReadOnlyData, ChannelDouble):
    """Read-only (over Channel Access) 64-bit float (DBR_DOUBLE)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyString(PvpropertyData, ChannelString):
    """Read-write 40-character STRING."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyStringRO(PvpropertyReadOnlyData, ChannelString):
    """Read-only (over Channel Access) 40-character STRING."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyEnum(_EnumFromIntEnum, PvpropertyData, ChannelEnum):
    """Read-write ENUM (enum_strings, or an IntEnum value)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyEnumRO(_EnumFromIntEnum, PvpropertyReadOnlyData, ChannelEnum):
    """Read-only (over Channel Access) ENUM (enum_strings, or an IntEnum value)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyBoolEnum(_BoolEnum, PvpropertyData, ChannelEnum):
    """Read-write ENUM with Off/On states (bool values)."""

    __slots__ = PVPROPERTY_SLOTS


class PvpropertyBoolEnumRO(_BoolEnum, PvpropertyReadOnlyData, ChannelEnum):
    """Read-only (over Channel Access) ENUM with Off/On states (bool values)."""

    __slots__ = PVPROPERTY_SLOTS


_READ_ONLY_TWIN: dict[type, type[PvpropertyData]] = {  # read-write class -> read-only twin
    PvpropertyChar: PvpropertyCharRO,
    PvpropertyByte: PvpropertyByteRO,
    PvpropertyShort: PvpropertyShortRO,
    PvpropertyInteger: PvpropertyIntegerRO,
    PvpropertyFloat: PvpropertyFloatRO,
    PvpropertyDouble: PvpropertyDoubleRO,
    PvpropertyString: PvpropertyStringRO,
    PvpropertyEnum: PvpropertyEnumRO,
    PvpropertyBoolEnum: PvpropertyBoolEnumRO,
}

#: dtype (Python type, ``enum.IntEnum`` for any IntEnum, or ChannelType) -> class.
TYPE_MAP: dict[Any, type[PvpropertyData]] = {
    str: PvpropertyChar, bytes: PvpropertyByte, int: PvpropertyInteger,
    float: PvpropertyDouble, bool: PvpropertyBoolEnum, enum.IntEnum: PvpropertyEnum,
    ChannelType.STRING: PvpropertyString, ChannelType.INT: PvpropertyShort,
    ChannelType.LONG: PvpropertyInteger, ChannelType.DOUBLE: PvpropertyDouble,
    ChannelType.FLOAT: PvpropertyFloat, ChannelType.ENUM: PvpropertyEnum,
    ChannelType.CHAR: PvpropertyChar,
}
TYPE_MAP_READ_ONLY: dict[Any, type[PvpropertyData]] = {
    dtype: _READ_ONLY_TWIN[cls] for dtype, cls in TYPE_MAP.items()}

# Plain channel-data classes given as dtype= map to their pvproperty counterparts.
_BY_CHANNEL_CLASS = {
    ChannelChar: PvpropertyChar, ChannelByte: PvpropertyByte, ChannelShort: PvpropertyShort,
    ChannelInteger: PvpropertyInteger, ChannelFloat: PvpropertyFloat,
    ChannelDouble: PvpropertyDouble, ChannelString: PvpropertyString,
    ChannelEnum: PvpropertyEnum,
}


def pvproperty_class_for(channel_class: type) -> type[PvpropertyData]:
    """The class to use for a channel-data class given as ``dtype=``: itself if it is a
    pvproperty class, else its pvproperty counterpart (a user's subclass of, say,
    ChannelDouble gets :class:`PvpropertyData` mixed in)."""
    if issubclass(channel_class, PvpropertyData):
        return channel_class
    if channel_class in _BY_CHANNEL_CLASS:
        return _BY_CHANNEL_CLASS[channel_class]
    return type(f"Pvproperty{channel_class.__name__}", (PvpropertyData, channel_class),
                {"__module__": channel_class.__module__, "__slots__": PVPROPERTY_SLOTS})


# -- pvproperties declared alike -------------------------------------------------------------
# A large IOC declares thousands of PVs the same way (``pvproperty(value=0.0, units="mm",
# precision=3)``).  Their channel data differ only in name and spec, so PVSpec.create makes
# the first with __init__ (which validates the value against the keywords) and copies the
# others from it: about a third of the time per PV.  Only for the classes above, whose
# __init__ stores what it is given or immutables made from it; a subclass may do more.
_COPYABLE = frozenset(TYPE_MAP.values()) | frozenset(TYPE_MAP_READ_ONLY.values())
_IMMUTABLE = frozenset({type(None), bool, int, float, complex, str, bytes})
#: class -> (its slot names, a function copying them from one instance to another)
_COPIERS: dict[type, tuple[tuple[str, ...], Any]] = {}


def _copier(cls: type) -> tuple[tuple[str, ...], Any]:
    found = _COPIERS.get(cls)
    if found is None:
        slots: set[str] = set()
        for klass in cls.__mro__:
            declared = klass.__dict__.get("__slots__", ())
            slots.update((declared,) if isinstance(declared, str) else declared)
        names = tuple(sorted(slots - {"__dict__", "__weakref__"}))
        # one function of plain attribute copies: a setattr loop costs ten times more
        namespace: dict[str, Any] = {}
        exec("def copy(src, dst):\n"  # the names: this class's slots
             + "".join(f"    dst.{name} = src.{name}\n" for name in names), namespace)
        found = _COPIERS[cls] = (names, namespace["copy"])
    return found


def _shareable(value: Any, data: PvpropertyData) -> bool:
    if type(value) in _IMMUTABLE or isinstance(value, (enum.Enum, type)):
        return True
    if type(value) in (tuple, frozenset):
        return all(_shareable(item, data) for item in value)
    return value is data.group or value is data._alarm or value is data.pvspec


def can_copy_alike(data: PvpropertyData) -> bool:
    """Whether ``data`` (just made by its class) may be copied for PVs declared alike:
    a class of this module, only immutable state besides its group, alarm and spec (no
    array value, no list of enum strings), in its slots and its ``__dict__``."""
    if type(data) not in _COPYABLE:
        return False
    names, _ = _copier(type(data))
    try:
        return (all(_shareable(getattr(data, name), data) for name in names)
                and all(_shareable(value, data) for value in data.__dict__.values()))
    except AttributeError:  # a slot left unset: copying would fail
        return False


def copy_alike(template: PvpropertyData, pvname: str, pvspec: PVSpec) -> PvpropertyData:
    """A channel data like ``template`` (see :func:`can_copy_alike`) for another PV."""
    cls = type(template)
    data = object.__new__(cls)
    _copier(cls)[1](template, data)
    if template.__dict__:  # what it set differently from its class (read_only, encoding)
        data.__dict__.update(template.__dict__)
    data.pvname = pvname
    data.pvspec = pvspec
    data._alarm.connect(data)
    return data

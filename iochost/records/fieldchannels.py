"""The channel of one record field (``NAME.DESC``), made the first time a client touches it.

A field channel is a pvproperty channel of the record's field set (its hooks are bound to
the field set, as caproto's ``@prop.fields.X.putter`` hooks expect), reads the record's
alarm (RSRV answers every field's STS/TIME read with the record's STAT/SEVR), never
evaluates or raises alarms of its own, posts a write only when it changes the value, and
answers GR/CTRL reads with the record's units, precision and limits (``fieldmeta``).

Stored fields hold their value (the dbd initial value until written).  Linked fields
(``links.LINKS``) are views: reads ask the record, writes change it.
"""
from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..ca.dbr import (DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, AccessRights, ChannelType,
                      encode_dbr, native_type)
from ..ca.dbr_convert import convert_values
from ..ca.eca import ECA_NOCONVERT
from ..ca.errors import CaStatusError
from ..calc import CalcError
from ..pv.accessgate import AccessGate
from ..pv.data import ChannelAlarm, ChannelValueError
from ..pv.data_core import gated_rights
from ..pv.pvspec import PVSpec
from ..pv.types import (
    PvpropertyByte,
    PvpropertyData,
    PvpropertyDouble,
    PvpropertyEnum,
    PvpropertyFloat,
    PvpropertyInteger,
    PvpropertyShort,
    PvpropertyString,
)
from . import behaviour, fieldmeta
from .links import Link, link_of
from .tables import (
    DbfType,
    FieldDef,
    announces_write_access,
    buffer_of,
    dbr_type_of,
    device_choices,
    field_of,
    has_field,
    initial_value,
    is_served,
    menu,
)

if TYPE_CHECKING:  # pragma: no cover
    from .fieldsets import RecordFieldGroup

__all__ = ["FieldChannel", "LinkedField", "field_data_class", "make_field_channel"]

_POST = DBE_VALUE | DBE_LOG
#: Integer field types CA carries as DBR_DOUBLE (it has no unsigned 32-bit or 64-bit type)
_DOUBLE_INTEGERS = frozenset((DbfType.ULONG, DbfType.INT64, DbfType.UINT64))
_INTEGER_READS = frozenset((ChannelType.INT, ChannelType.ENUM, ChannelType.CHAR,
                            ChannelType.LONG))
_LINK_READS = (ChannelType.STRING, ChannelType.CHAR)
_SCRATCH_ALARM = ChannelAlarm()  # joined and left at once by each new field channel
#: Fields a record's init_record sets: a sel's inputs NaN (until a link or put sets one),
#: a calcout's link states "Constant" (no link is a constant one)
_INITIAL = {**{("sel", name): math.nan for name in "ABCDEFGHIJKL"},
            **{("calcout", f"IN{name}V"): 3 for name in "ABCDEFGHIJKLMNOPQRSTU"},
            ("calcout", "OUTV"): 3}
#: Fields a record bounds by its buffer when it processes (subArray's readValue).
_BOUNDED = {("subArray", "NELM"): lambda record: record.max_length,
            ("subArray", "INDX"): lambda record: record.max_length - 1}


async def posting_put(channel: Any, put: Any, *args: Any) -> None:
    """A client's put (``put(*args)``), posted even when the value stayed, as dbPut posts
    what it wrote (a changed value has posted already)."""
    before = channel._value
    await put(*args)
    if channel._value == before:
        channel.notify(_POST)


def casting_reads(dbf: object) -> bool:
    """Whether a field of type ``dbf`` is read through ``cast_read``."""
    return dbf in _DOUBLE_INTEGERS


def cast_read(data: Any, encode: Callable[[int, int], tuple[bytes, int]], dbr_type: int,
              count: int) -> tuple[bytes, int]:
    """``data._encode`` of an integer field served as DBR_DOUBLE (``casting_reads``): read
    as an integer DBR type its value is cast as dbGet's C cast does -- the low 32 bits (an
    ULONG's 4294967295 reads -1, an INT64's 2**40 + 1 reads 1), then the type's own low
    bits -- not saturated as a double is; any other read is ``encode``'s."""
    if dbr_type > ChannelType.CTRL_DOUBLE or native_type(dbr_type) not in _INTEGER_READS:
        return encode(dbr_type, count)
    values = np.asarray(data._wire_values(), dtype=np.float64)
    # UINT64 values beyond the int64 range: the same low bits, as a negative number
    values = np.where(values >= 2.0**63, values - 2.0**64, values)
    low = np.trunc(np.nan_to_num(values)).astype(np.int64).astype(np.int32)
    return encode_dbr(dbr_type, ChannelType.DOUBLE, low.astype(np.float64), data._metadata(),
                      count)


def parsing_text(data: Any, convert: Callable[[Any, ChannelType], Any], dbf: DbfType,
                 values: Any, source: ChannelType) -> Any:
    """``data._convert_put`` of a scalar of field type ``dbf`` (in INTEGER_CASTS): a text put
    is parsed for ``dbf``, as dbPut does, not for the type CA serves it as; any other put
    is ``convert``'s."""
    if source is not ChannelType.STRING or len(values) != 1:
        return convert(values, source)
    try:
        number = behaviour.text_put(dbf, values[0], data.value)
    except ValueError as exc:
        raise CaStatusError(ECA_NOCONVERT, f"no conversion: {exc}") from None
    wire = ChannelType.LONG if -(1 << 31) <= number < 1 << 31 else ChannelType.DOUBLE
    return convert_values([number], wire, data.native_type)


class FieldChannel:
    """Mixin of every field channel (put it first in the bases)."""

    __slots__ = ()
    _linked = False  # a linked field's value is the record's: it posts what the record does

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        # No cache: the record's alarm (in every STS/TIME read) changes without telling
        # its fields, and field reads are rare.
        return self._encode(dbr_type, count)

    def _metadata(self) -> Any:
        # every field of a record carries the record's TIME (dbGetField, and monitor
        # events of any field): a STAT update is stamped when the alarm changed
        meta = super()._metadata()  # type: ignore[misc]
        record = self.group.parent
        stamp = record.epics_timestamp
        meta.secs, meta.nsecs = stamp.secondsSinceEpoch, stamp.nanoSeconds
        # and its DBR_CLASS_NAME is the record's type, as RSRV's for any field
        meta.class_name = record.reported_record_type.encode(record.string_encoding)
        return meta

    def evaluate_alarm(self, value: Any) -> None:
        return None  # the record's alarm is the record's business

    @property
    def puts_disabled(self) -> bool:
        """The record's DISP refuses client puts to every field but DISP itself."""
        return self.group.parent.puts_disabled and self.pvspec.name != "DISP"

    # While anyone monitors the field, it hears the record: a property change of the
    # record reaches the monitors of every field, as dbPut's db_post_events(precord, NULL,
    # DBE_PROPERTY) does.
    def add_listener(self, fn: Any) -> None:
        if not self._listeners:
            self.group.parent.add_listener(self._on_record)
        super().add_listener(fn)  # type: ignore[misc]

    def remove_listener(self, fn: Any) -> None:
        super().remove_listener(fn)  # type: ignore[misc]
        if not self._listeners:
            self.group.parent.remove_listener(self._on_record)

    def _on_record(self, record: Any, flags: int) -> None:
        if flags & DBE_PROPERTY:
            self.notify(DBE_PROPERTY)

    def gate_in_force(self) -> AccessGate | None:
        # A field answers to its record's access security group (as dbCommon's ASG is
        # the record's), at the field's own level (the dbd's ASL).
        return self.group.parent.gate_in_force()

    def check_access(self, host: str, user: str) -> AccessRights:
        gate = self.gate_in_force()
        if gate is None or self.access_check is not None:
            return super().check_access(host, user)
        return gated_rights(gate, self.access_level(), self.read_only, host, user)

    def access_level(self) -> int:
        try:
            return field_of(self.group._table_type, self.pvspec.name).asl
        except KeyError:  # a field a record class declares beyond the dbd: ASL1's default
            return 1

    async def write_failed(self, error: Exception) -> None:
        pass  # a refused field put fails the put; EPICS raises no alarm for it

    def check_limits(self, value: Any) -> None:
        pass  # the limits a field shows (HIHI's are DRVL..DRVH) bound no put: dbPut's way

    async def write_dbr(self, *args: Any) -> None:
        # ``_commit`` skips an unchanged value's post, as a record's processing posts a
        # field only when it changed; a client's put posts it (a linked field: the record)
        if self._max_length == 1 and not self._linked:
            await posting_put(self, super().write_dbr, *args)
        else:
            await super().write_dbr(*args)
        if self.group._table_type in behaviour.CALCULATED and \
                self.pvspec.name in behaviour.CALC_PROCESSING:
            await behaviour.process(self.group.parent)  # the inputs and CALC are pp TRUE

    def preprocess_value(self, value: Any) -> Any:
        if self._max_length == 1:
            value = behaviour.cast_put(self._dbf, value)  # some are served as DOUBLE
            bound = _BOUNDED.get((self.group._table_type, self.pvspec.name))
            if bound is not None and isinstance(value, numbers.Real) and math.isfinite(value):
                value = min(value, bound(self.group.parent))
        return super().preprocess_value(value)

    def _convert_put(self, values: Any, source: ChannelType) -> Any:
        dbf = self._dbf
        if dbf in behaviour.INTEGER_CASTS and self._max_length == 1:
            return parsing_text(self, super()._convert_put, dbf, values, source)
        return super()._convert_put(values, source)

    def _change_flags(self, value: Any) -> int:
        return _POST

    def _encode(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        if native_type(dbr_type) not in _LINK_READS and \
                self._dbf in (DbfType.INLINK, DbfType.OUTLINK, DbfType.FWDLINK):
            # RSRV reads a link as text (or its characters): a number from it fails
            raise CaStatusError(ECA_NOCONVERT, f"{self.pvspec.name} is a link: read it as text")
        if hasattr(self, "_units"):  # numeric: units, precision, limits from the record
            fields = self.group
            display = fieldmeta.field_display(fields._table_type, self.pvspec.name,
                                              fields.parent, fields)
            if display is not None:
                for name, value in display.items():
                    setattr(self, "_" + name, value)
                self._static_meta = None
        if casting_reads(self._dbf):
            return cast_read(self, super()._encode, dbr_type, count)
        return super()._encode(dbr_type, count)

    @property
    def _dbf(self) -> DbfType | None:
        try:
            return field_of(self.group._table_type, self.pvspec.name).dbf
        except KeyError:  # a field a record class declares beyond the dbd
            return None

    def _metadata_properties(self) -> dict[str, Any]:
        # A field arms no alarm limit: RSRV gives NaN for every field but VAL.
        return {**super()._metadata_properties(), **behaviour.ALARM_LIMITS_NAN}

    def _commit(self, value: Any, flags: int, metadata: dict[str, Any]) -> None:
        # A field posts only when its value changes (EPICS records post a field when
        # it changed: MLST/MDEL 0); the time stamp is the record's business.
        if not flags and not metadata and not self._linked and self._max_length == 1 \
                and self._store_form(value) == self._value:
            return
        super()._commit(value, flags, metadata)
        if self.pvspec.name in behaviour.ALARM_FIELDS:
            behaviour.reevaluate_alarm(self.group.parent)
        if self.pvspec.name in behaviour.LIMIT_SEVERITIES:
            behaviour.severity_changed(self.group.parent)


class FieldString:
    """DBF_STRING fields hold up to their dbd size: a longer put is cut to size - 1 bytes
    (and its NUL), as dbPut's strncpy cuts it; the long-string view ``NAME.EGU$`` has
    that size too.  A number put is printed with the record's PREC where its support
    gives that to every field (dbPut asks get_precision; 6 without one)."""

    __slots__ = ()

    def _convert_put(self, values: Any, source: ChannelType) -> Any:
        rtyp = self.group._table_type
        if source in (ChannelType.FLOAT, ChannelType.DOUBLE) and has_field(rtyp, "PREC") \
                and rtyp != "histogram":  # (histogram's: for its value fields only)
            return convert_values(values, source, ChannelType.STRING,
                                  precision=getattr(self.group.parent, "precision", 6))
        return super()._convert_put(values, source)

    def preprocess_value(self, value: Any) -> Any:
        value = super().preprocess_value(value)
        if isinstance(value, str):
            size, raw = self._long_string_max_length, value.encode(self.string_encoding)
            if len(raw) >= size:
                value = raw[:size - 1].decode(self.string_encoding, errors="ignore")
            if self.pvspec.name == "CALC" and self.group._table_type in behaviour.CALCULATED:
                try:
                    behaviour.calc_program(value)
                except CalcError as exc:  # EPICS stores it, then fails the put
                    raise ChannelValueError(f"CALC {value!r}: {exc}") from None
        return value


class FieldEnum:
    """Menu fields: an index past the 16 strings a DBR can carry is still a valid state
    (menuAlarmStat has 22), read as DBR_STRING it gives its choice string; one past the
    menu is stored too (EPICS stores it) and reads as its number."""

    __slots__ = ()

    def preprocess_value(self, value: Any) -> Any:
        if not isinstance(value, (str, bytes)):
            try:
                index = operator.index(value)
            except TypeError:
                pass
            else:
                if 0 <= index <= 0xFFFF:
                    return index
        return super().preprocess_value(value)

    def _store_form(self, value: Any) -> int:
        return value if isinstance(value, int) else super()._store_form(value)

    def _convert_put(self, values: Any, source: ChannelType) -> Any:
        # RSRV's putStringMenu: a number put as text must be the whole text
        return convert_values(values, source, ChannelType.ENUM,
                              enum_strings=self._encoded_strings(), whole_numbers=True)

    def _encode(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        choices, index = self._menu, self._value
        if native_type(dbr_type) is ChannelType.STRING and len(self.enum_strings) <= index:
            # a choice past the 16 a DBR carries, or an index past the menu: its number
            text = choices[index] if index < len(choices) else str(index)
            return encode_dbr(dbr_type, ChannelType.STRING, [text.encode(self.string_encoding)],
                              self._metadata(), count)
        return super()._encode(dbr_type, count)


class LinkedField:
    """Mixin of linked fields: a view of the record through ``self._link``."""

    __slots__ = ()
    _linked = True

    @property
    def _record(self) -> PvpropertyData:
        return self.group.parent

    def _sync(self) -> None:
        try:
            self._value = self._store_form(self.preprocess_value(self._link.get(self._record)))
        except (ChannelValueError, TypeError, ValueError):
            pass  # the record holds something this field cannot show: keep the last value

    @property
    def value(self) -> Any:
        self._sync()
        return super().value

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        self._sync()
        return self._encode(dbr_type, count)

    def _long_string_bytes(self) -> bytes:  # 'NAME.DESC$'
        self._sync()
        return super()._long_string_bytes()

    async def update_fields(self, value: Any) -> None:
        link = self._link
        if link.set is None or (link.putter_replaces and self.pvspec.put is not None):
            return
        self._value = self._store_form(value)  # the record's post below is no change then
        await link.set(self._record, value)

    # A monitor on the field follows the record (FieldChannel.add_listener).
    def _on_record(self, record: Any, flags: int) -> None:
        link = self._link
        post = flags & DBE_PROPERTY
        if flags & link.mask:
            old = self._value
            self._sync()
            if self._value != old:
                post |= link.changed_post
            if flags & DBE_ALARM:
                post |= link.alarm_post
        if post:
            self.notify(post)


_BY_DBR: dict[ChannelType, type[PvpropertyData]] = {
    ChannelType.STRING: PvpropertyString, ChannelType.INT: PvpropertyShort,
    ChannelType.FLOAT: PvpropertyFloat, ChannelType.ENUM: PvpropertyEnum,
    ChannelType.CHAR: PvpropertyByte, ChannelType.LONG: PvpropertyInteger,
    ChannelType.DOUBLE: PvpropertyDouble,
}


_TYPE_MIXINS: dict[ChannelType, tuple[type, ...]] = {
    ChannelType.STRING: (FieldString,), ChannelType.ENUM: (FieldEnum,)}


@cache
def field_data_class(dbr: ChannelType, linked: bool = False) -> type[PvpropertyData]:
    """The channel-data class of a field served as ``dbr`` (stored or linked)."""
    base = _BY_DBR[dbr]
    mixins: tuple[type, ...] = (FieldChannel,) + _TYPE_MIXINS.get(dbr, ())
    name = f"{'Linked' if linked else ''}Field{base.__name__.removeprefix('Pvproperty')}"
    slots = (("_link",) if linked else ()) + (("_menu",) if dbr is ChannelType.ENUM else ())
    return type(name, ((LinkedField,) if linked else ()) + (*mixins, base),
                {"__slots__": slots, "__module__": __name__})


def _served_as(rtyp: str, field: FieldDef) -> tuple[FieldDef, int]:
    """The field as served by a fresh record (buffers get their element type) and its
    element count."""
    buffer = buffer_of(rtyp, field.name)
    if buffer is None:
        return field, 1
    dbf = buffer.type_from
    if isinstance(dbf, str):  # the menuFtype field naming the element type
        dbf = DbfType[menu("menuFtype")[initial_value(field_of(rtyp, dbf))]]
    count = int(initial_value(field_of(rtyp, buffer.count_from))) if buffer.count_from else 1
    return field._replace(dbf=dbf, special=""), max(count, 1)


def _initial(field: FieldDef, dbr: ChannelType) -> Any:
    """The value a fresh field channel starts with."""
    if field.name in behaviour.DEFAULT_SEVERITIES:
        return int(behaviour.DEFAULT_SEVERITIES[field.name])
    if field.name == "UDF":
        return 0  # a pvproperty always holds a defined value
    value = initial_value(field)
    if dbr is ChannelType.STRING:
        return str(value)
    if dbr is ChannelType.CHAR:
        return int(value) & 0xFF
    if dbr is ChannelType.ENUM and isinstance(value, str):
        return 0
    return value


def _enum_strings(rtyp: str, field: FieldDef) -> tuple[str, ...]:
    """Every choice of a menu or device field (a DBR carries the first 16)."""
    if field.dbf is DbfType.MENU:
        return menu(field.menu)
    if field.dbf is DbfType.DEVICE:
        return device_choices(rtyp)
    return ()


class FieldMaker(NamedTuple):
    """What every channel of one field of one record type is made from (made once)."""

    spec: PVSpec
    cls: type[PvpropertyData]
    kwargs: dict[str, Any]
    menu: tuple[str, ...]  # all choices of a menu field (the DBR carries 16)
    link: Link | None


def field_maker(rtyp: str, field: FieldDef, hooks: dict[str, Any] | None) -> FieldMaker:
    """How to make the channel of ``field`` of ``rtyp``, with the field hooks ``hooks``."""
    served, count = _served_as(rtyp, field)
    dbr = dbr_type_of(served)
    link = link_of(rtyp, field.name)
    cls = field_data_class(dbr, link is not None)
    kwargs: dict[str, Any] = {"max_length": count}
    choices = _enum_strings(rtyp, served) if dbr is ChannelType.ENUM else ()
    if dbr is ChannelType.STRING:   # links (size 0) get room for a long link text
        kwargs["long_string_max_length"] = field.size or 256
    elif dbr is ChannelType.ENUM:
        kwargs["enum_strings"] = choices[:16]
    elif dbr is ChannelType.CHAR:
        kwargs["strip_null_terminator"] = False
    # NOMOD fields announce no write access; RTYP does, then refuses (its link's set).
    read_only = not announces_write_access(field) or (link is not None and link.set is None)
    value = _INITIAL.get((rtyp, field.name), _initial(served, dbr))
    if count > 1:
        value = [value] * count
    spec = PVSpec(attr=field.name, name=field.name, dtype=cls, value=value,
                  read_only=read_only, doc=field.prompt, **(hooks or {}))
    return FieldMaker(spec, cls, kwargs, choices, link)


def make_field_channel(fields: RecordFieldGroup, maker: FieldMaker) -> PvpropertyData:
    """Create one field channel of ``fields``."""
    record, spec = fields.parent, maker.spec
    channel = maker.cls(pvname=f"{record.pvname}.{spec.name}", group=fields, pvspec=spec,
                        value=spec.value, alarm=_SCRATCH_ALARM, read_only=spec.read_only,
                        string_encoding=record.string_encoding, **maker.kwargs)
    # Read the record's alarm without joining it: a group's PVs may share one alarm, and
    # its fan-out (and connect) would then grow with every field of every record.
    _SCRATCH_ALARM.disconnect(channel)
    channel._alarm = record.alarm
    if channel.native_type is ChannelType.ENUM:
        channel._menu = maker.menu
    if maker.link is not None:
        channel._link = maker.link
        channel._sync()
    return channel


def is_field_served(rtyp: str, field: FieldDef) -> bool:
    """Whether ``NAME.<field>`` connects (VAL is the record itself, served elsewhere)."""
    return is_served(field) and field.name != "VAL"

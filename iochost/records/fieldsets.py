"""Field sets: the fields of one record, made lazily (``AiFields``, ``MotorFields``...).

A pvproperty with ``record='ai'`` gets an ``AiFields`` instance as ``instance.field_inst``;
``instance.fields`` is its ``pvdb``, a mapping of every field name to its channel.  A
field channel is created the first time it is asked for (``NAME.DESC`` searched by a
client, ``fields['DESC']``, ``field_inst.description``), so an untouched record costs one
small object, however many fields its type has; listing the names (``list(fields)``,
``dir(field_inst)``) creates nothing, and ``field_inst.created`` holds the channels made
so far.

Field sets are classes built from the dbd tables by :func:`field_set_class`; subclass one
to add or override fields with pvproperties (their ``name=`` is the field name) and
register it with :func:`iochost.records.register_record`.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any, ClassVar

from ..ca.dbr import DBE_LOG, DBE_VALUE, ChannelType
from ..pv.alarms import ChannelAlarm
from ..pv.data import ChannelString
from ..pv.hooks import HOOK_FIELDS, HookDecorators, IocDefinitionError
from ..pv.pvproperties import pvproperty
from ..pv.types import PvpropertyData
from . import behaviour, fieldmeta
from .fieldchannels import (
    cast_read,
    casting_reads,
    field_maker,
    is_field_served,
    make_field_channel,
    parsing_text,
    posting_put,
)
from .tables import RTYP, DbfType, buffer_of, fields_of, value_field

__all__ = [
    "FieldChannels",
    "FieldSpec",
    "RecordFieldGroup",
    "class_name_of",
    "field_set_class",
]

log = logging.getLogger("iochost.records")

# caproto's attribute names for fields whose prompt says something else; every other
# field is also reachable by its prompt in snake case, and always by its EPICS name.
_ALIASES = {
    "description": "DESC", "scan_rate": "SCAN", "process_record": "PROC",
    "disable_value": "DISV", "disable": "DISA", "disable_alarm_severity": "DISS",
    "alarm_status": "STAT", "alarm_severity": "SEVR", "record_type": "RTYP",
    "engineering_units": "EGU", "display_precision": "PREC",
    "high_operating_range": "HOPR", "low_operating_range": "LOPR",
    "hihi_alarm_limit": "HIHI", "high_alarm_limit": "HIGH", "low_alarm_limit": "LOW",
    "lolo_alarm_limit": "LOLO", "hihi_severity": "HHSV", "high_severity": "HSV",
    "low_severity": "LSV", "lolo_severity": "LLSV", "alarm_deadband": "HYST",
    "monitor_deadband": "MDEL", "archive_deadband": "ADEL",
    "drive_high_limit": "DRVH", "drive_low_limit": "DRVL",
    "zero_name": "ZNAM", "one_name": "ONAM", "max_elements": "NELM",
    "alarm_acknowledge_severity": "ACKS", "alarm_acknowledge_transient": "ACKT",
    "current_alarm_severity": "SEVR", "undefined_alarm_severity": "UDFS",
    "forward_link": "FLNK", "desired_output_loc": "DOL", "compressed_array_inx": "INX",
    "hw_limit_violation_svr": "HLSV", "monitor_mask_more": "NMAP",
    "num_elements_in_ovlh": "ONVH",
}
_EAGER_KINDS = ("startup", "scan", "shutdown")  # the hook runner must see these fields
#: Value types whose records post a value only when it changed (bo, mbbo, stringout...).
_POSTED_ON_CHANGE = (ChannelType.ENUM, ChannelType.STRING)
#: records whose text posts on change, with MPST/APST menus that add posts ("Always", 1,
#: in stringinPOST, stringoutPOST and menuPost; the default, 0, is "On Change")
_TEXT_POST_MENUS = frozenset({"stringin", "stringout", "lsi", "lso"})
_POST_ALWAYS = 1


def _string_value_size(rtyp: str) -> int:
    """The dbd size of the record type's VAL when it is a DBF_STRING (stringin, stringout,
    event...: 40), else 0."""
    value = value_field(rtyp)
    return value.size if value is not None and value.dbf is DbfType.STRING else 0


def _value_type(rtyp: str, dbf: DbfType) -> DbfType | str:
    """The type VAL's elements have: its dbd type, or a buffer's fixed one (histogram's
    ULONG; a menu field's name where FTVL chooses)."""
    buffer = buffer_of(rtyp, "VAL")
    return dbf if buffer is None else buffer.type_from


def class_name_of(rtyp: str) -> str:
    """caproto's class name of a record type's field set: ``ai`` -> ``AiFields``."""
    return rtyp[:1].upper() + rtyp[1:] + "Fields"


def _snake(prompt: str) -> str:
    words = re.sub(r"\([^)]*(\)|$)", " ", prompt)  # "(EGU/s)", and "(EGU" cut short
    return "_".join(re.findall(r"[a-z0-9]+", words.lower()))


_NOTHING_MADE: dict[str, Any] = {}  # ``created`` of a record none of whose fields exist


class FieldChannels(Mapping):
    """``instance.fields``: every field name -> its channel, created on first access.

    Iterating, ``len()`` and ``in`` see every field (caproto's ``fields`` dict lists them
    all) without creating any; reading a value (``[name]``, ``get``, ``values()``,
    ``items()``) creates that channel.  A view: it holds nothing but its record's fields.
    """

    __slots__ = ("owner",)

    def __init__(self, owner: RecordFieldGroup) -> None:
        self.owner = owner

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        channel = self.owner.created.get(name)
        if channel is None:
            channel = self.owner._create(name)
        return default if channel is None else channel

    def __getitem__(self, name: str) -> Any:
        channel = self.get(name)
        if channel is None:
            raise KeyError(f"record type {self.owner._record_type!r} has no field {name!r}")
        return channel

    def __iter__(self) -> Iterator[str]:
        return iter(type(self.owner).ordered_field_names())

    def __len__(self) -> int:
        return len(type(self.owner).field_names())

    def __contains__(self, name: object) -> bool:
        return name in type(self.owner).field_names()

    def __repr__(self) -> str:
        return f"<fields of {self.owner.parent.pvname}: {len(self)}, " \
               f"{len(self.owner.created)} created>"


class _AttrChannels:
    """``attr_pvdb`` of a field set: attribute name -> channel (for declared pvproperties)."""

    __slots__ = ("owner",)

    def __init__(self, owner: RecordFieldGroup) -> None:
        self.owner = owner

    def __getitem__(self, attr: str) -> Any:
        return self.owner.pvdb[type(self.owner).field_name(attr)]


_NONE_WRITTEN: frozenset[str] = frozenset()


class RecordFieldGroup:
    """The fields of one record (caproto's ``RecordFieldGroup``).

    ``parent`` is the record's channel (``parent.group`` the IOC), ``pvdb`` every field
    (name -> channel, made on first access), ``created`` the channels made so far.  Fields are
    attributes under their
    EPICS names (``fields.DESC``) and caproto's long names (``fields.description``).
    """

    _record_type: ClassVar[str | None] = None  # the name RTYP reports
    _table_type: ClassVar[str | None] = None   # the dbd table the fields come from
    _declared_: ClassVar[dict[str, pvproperty]] = {}

    __slots__ = ("__weakref__", "_made", "_value_write_hook", "alarm_fields",
                 "alarm_memory", "limits_written", "parent", "posted")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, pvproperty] = {}
        for base in reversed(cls.__mro__):
            for attr, value in vars(base).items():
                if isinstance(value, pvproperty):
                    declared[value.pvspec.name or attr] = value
        cls._declared_ = declared
        for cached in ("_served_", "_names_", "_order_", "_attrs_", "_specs_"):
            if cached in cls.__dict__:
                delattr(cls, cached)

    def __init__(self, parent: PvpropertyData) -> None:
        self.parent = parent
        self._made: dict[str, Any] | None = None  # field name -> channel, once one exists
        # the limit last alarmed, for HYST (EPICS' LALM), or the last state (bi/mbbi...)
        self.alarm_memory: Any = None
        self.alarm_fields = False  # True once a field the alarm evaluation reads exists
        #: alarm limits written through their fields, each armed by itself
        self.limits_written: frozenset[str] = _NONE_WRITTEN
        if (parent.data_type in _POSTED_ON_CHANGE and parent.max_length == 1) or \
                self._table_type in _TEXT_POST_MENUS:
            #: the state or text last posted (MLST of bo, mbbo...; OVAL of stringout...)
            self.posted: Any = parent._value
            parent._change_flags = self._post_if_changed  # (the class's posts every write)
        value = value_field(self._table_type)
        if parent.max_length == 1 and value is not None:
            if not value.pp:
                # a put to a VAL that does not process the record (calc, aSub...) posts it
                parent.write_dbr = partial(posting_put, parent, parent.write_dbr)
            if value.dbf in behaviour.INTEGER_CASTS:
                # text put to VAL: parsed for its field type (int64's, permissive's USHORT)
                parent._convert_put = partial(parsing_text, parent, parent._convert_put,
                                              value.dbf)
        if value is not None and casting_reads(_value_type(self._table_type, value.dbf)):
            # int64in's VAL, a histogram's counts: read as an integer type, C-cast
            parent._encode = partial(cast_read, parent, parent._encode)
        if isinstance(parent, ChannelString) and parent.max_length == 1 and \
                (size := _string_value_size(self._table_type)):
            parent._long_string_max_length = size  # NAME.VAL$ holds what VAL holds
        self._value_write_hook: Any = None
        for name in self._eager_names(parent):
            self.pvdb.get(name)

    @property
    def pvdb(self) -> FieldChannels:
        """Every field: name -> channel (a view; channels are made on first access)."""
        return FieldChannels(self)

    @property
    def created(self) -> dict[str, Any]:
        """The field channels made so far (name -> channel); do not modify."""
        made = self._made
        return _NOTHING_MADE if made is None else made

    # -- the tables of the class, built on first use ------------------------------------
    @classmethod
    def _table(cls, attr: str, build: Any) -> Any:
        table = cls.__dict__.get(attr)
        if table is None:
            table = build()
            setattr(cls, attr, table)
        return table

    @classmethod
    def served_fields(cls) -> dict[str, Any]:
        """Field name -> FieldDef of every field a client can connect to (VAL excluded)."""
        def build() -> dict[str, Any]:
            rtyp = cls._table_type
            served = {f.name: f for f in fields_of(rtyp) if is_field_served(rtyp, f)}
            served["RTYP"] = RTYP
            return served
        return cls._table("_served_", build)

    @classmethod
    def field_names(cls) -> frozenset[str]:
        """Every field name of this record type (declared pvproperties included)."""
        return cls._table("_names_", lambda: frozenset(cls.served_fields()) |
                          frozenset(cls._declared_))

    @classmethod
    def ordered_field_names(cls) -> tuple[str, ...]:
        """Every field name in dbd order (RTYP, then declared fields not in the dbd)."""
        return cls._table("_order_", lambda: tuple(dict.fromkeys(
            [*cls.served_fields(), *cls._declared_])))

    @classmethod
    def _attribute_table(cls) -> dict[str, str]:
        """caproto's attribute name -> EPICS field name (aliases for other types too)."""
        def build() -> dict[str, str]:
            attrs: dict[str, str] = {}
            for name, field in cls.served_fields().items():
                attrs.setdefault(_snake(field.prompt), name)
            attrs.update(_ALIASES)
            for name, prop in cls._declared_.items():
                attrs[prop.attr_name or name] = name
            return attrs
        return cls._table("_attrs_", build)

    @classmethod
    def attribute_names(cls) -> list[str]:
        """caproto's attribute names of this record type's fields."""
        names = cls.field_names()
        return [attr for attr, name in cls._attribute_table().items() if name in names]

    @classmethod
    def field_name(cls, attr: str) -> str:
        """The EPICS field name of attribute ``attr`` (its EPICS or caproto name)."""
        if attr in cls.field_names():
            return attr
        name = cls._attribute_table().get(attr)
        if name is None or name not in cls.field_names():
            raise AttributeError(f"record type {cls._record_type!r} has no field {attr!r}")
        return name

    def _eager_names(self, parent: PvpropertyData) -> list[str]:
        names = [name for name, prop in self._declared_.items()
                 if any(getattr(prop.pvspec, kind) for kind in _EAGER_KINDS)]
        spec = getattr(parent.pvspec, "fields", None)
        if isinstance(spec, FieldSpec):
            names += [name for name, hooks in spec.hooks.items()
                      if any(kind in hooks for kind in _EAGER_KINDS)]
        return names

    # -- field channels -----------------------------------------------------------------
    def _create(self, name: str) -> Any:
        cls = type(self)
        hooks = self._hooks_of(name)
        prop = cls._declared_.get(name)
        if prop is not None:
            channel = self._create_declared(name, prop, hooks)
        else:
            field = cls.served_fields().get(name)
            if field is None:
                return None
            key = (name, tuple(sorted(hooks.items())))
            specs = cls._table("_specs_", dict)
            maker = specs.get(key)
            if maker is None:
                maker = specs[key] = field_maker(cls._table_type, field, hooks)
            channel = make_field_channel(self, maker)
        if self._made is None:
            self._made = {}
        self._made[name] = channel
        if name in behaviour.ALARM_FIELDS:
            self.alarm_fields = True
        return channel

    def _hooks_of(self, name: str) -> dict[str, Any]:
        spec = getattr(self.parent.pvspec, "fields", None)
        if isinstance(spec, FieldSpec):
            return spec.hooks.get(name, {})
        return {}

    def _create_declared(self, name: str, prop: pvproperty, hooks: dict[str, Any]) -> Any:
        spec = prop.pvspec._replace(**hooks) if hooks else prop.pvspec
        data_class = spec.get_data_class(None)
        return data_class(pvname=f"{self.parent.pvname}.{name}", group=self, pvspec=spec,
                          value=spec._default_value(None), max_length=spec.max_length,
                          alarm=ChannelAlarm(), **(spec.cls_kwargs or {}))

    def stored(self, name: str, default: Any) -> Any:
        """The value of a stored field, or ``default`` while it was never touched."""
        made = self._made
        channel = None if made is None else made.get(name)
        if channel is None:
            return default
        return getattr(channel, "raw_value", channel.value)

    @property
    def attr_pvdb(self) -> _AttrChannels:
        return _AttrChannels(self)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_") or attr == "parent":  # unset slots: no recursion
            raise AttributeError(attr)
        return self.pvdb[type(self).field_name(attr)]

    def __dir__(self) -> list[str]:
        """Attributes, every field's EPICS name and caproto's names (nothing is made)."""
        return sorted({*super().__dir__(), *type(self).field_names(),
                       *type(self).attribute_names()})

    # -- what the framework and hooks expect of a group ----------------------------------
    @property
    def group(self) -> Any:
        """The IOC the record belongs to."""
        return self.parent.group

    @property
    def name(self) -> str:
        return f"{self.parent.name}.fields"

    @property
    def log(self) -> logging.Logger:
        return self.parent.log

    async def group_read(self, instance: Any) -> Any:
        """No getter for fields that define none."""

    group_read.is_default_hook = True  # type: ignore[attr-defined]

    async def group_write(self, instance: Any, value: Any) -> Any:
        """Fields without a putter accept the value."""
        return value

    # -- record behaviour (called by the record's channel) --------------------------------
    @property
    def value_write_hook(self) -> Any:
        """``async hook(instance, value)`` run on every write of the record's value
        (assignable, as in caproto)."""
        return self._value_write_hook or self._no_value_hook

    @value_write_hook.setter
    def value_write_hook(self, hook: Any) -> None:
        self._value_write_hook = hook

    async def _no_value_hook(self, instance: Any, value: Any) -> None:
        pass

    async def process(self, instance: PvpropertyData, value: Any) -> Any:
        """A write of the record: DISA/DISV gate, control limits (output records clamp),
        then the putter."""
        return await behaviour.process_put(self, instance, value)

    def record_metadata(self, instance: PvpropertyData, properties: dict[str, Any]) -> None:
        """The record's GR/CTRL metadata as RSRV serves it (``fieldmeta.value_display``;
        alarm limits of NO_ALARM severity as NaN)."""
        fieldmeta.value_display(self._table_type, instance, properties)
        behaviour.unarmed_limits_as_nan(self, instance, properties)

    def _post_if_changed(self, value: Any) -> int:
        """A state or text posts only when it changed, as EPICS' bo, mbbo, stringout...
        (``monitor()``: MLST != VAL); numbers follow their deadbands (MDEL, ADEL).  A
        stringin/stringout/lsi/lso whose MPST is "Always" posts DBE_VALUE every write,
        and APST "Always" DBE_LOG."""
        stored = self.parent._value
        flags = 0
        if stored != self.posted:
            self.posted = stored
            flags = DBE_VALUE | DBE_LOG
        made = self._made
        if made is not None and ("MPST" in made or "APST" in made) and \
                self._table_type in _TEXT_POST_MENUS:
            if self.stored("MPST", 0) == _POST_ALWAYS:
                flags |= DBE_VALUE
            if self.stored("APST", 0) == _POST_ALWAYS:
                flags |= DBE_LOG
        return flags

    def evaluate_alarm(self, instance: PvpropertyData, value: Any) -> Any:
        """The record's limit alarm (severity fields and HYST included)."""
        return behaviour.evaluate_alarm(self, instance, value)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} of {getattr(self.parent, 'pvname', '?')}: "
                f"{len(self.created)} fields created>")


def field_set_class(rtyp: str) -> type[RecordFieldGroup]:
    """A new field-set class for the dbd record type ``rtyp`` (KeyError if unknown)."""
    fields_of(rtyp)  # KeyError naming the known types
    return type(class_name_of(rtyp), (RecordFieldGroup,),
                {"_record_type": rtyp, "_table_type": rtyp, "__slots__": (),
                 "__module__": "iochost.records",
                 "__doc__": f"The fields of an EPICS {rtyp} record."})


class FieldHooks(HookDecorators):
    """``prop.fields.<FIELD>``: the hook decorators (``HookDecorators``) of that field (first
    parameter: the field set, then caproto's hook parameters).

    Like caproto's, each decorator returns the record's pvproperty, not the function, so a
    hook named after its PV (``@x.fields.SCAN.putter`` on ``async def x(...)``) keeps ``x``.
    """

    def __init__(self, spec: FieldSpec, name: str) -> None:
        self._spec, self._name = spec, name

    def _store(self, kind: str, hook: Any) -> Any:
        self._spec.hooks.setdefault(self._name, {})[HOOK_FIELDS[kind]] = hook
        return self._spec.prop or hook


class FieldSpec:
    """``prop.fields``: the field hooks an IOC class declares for one record pvproperty."""

    def __init__(self, field_class: type[RecordFieldGroup], prop: Any = None) -> None:
        self.field_class = field_class
        self.prop = prop  # the record's pvproperty, returned by the hook decorators
        self.hooks: dict[str, dict[str, Any]] = {}

    def __getattr__(self, attr: str) -> FieldHooks:
        if attr.startswith("_"):
            raise AttributeError(attr)
        try:
            return FieldHooks(self, self.field_class.field_name(attr))
        except AttributeError as error:
            raise IocDefinitionError(str(error)) from None

    def __repr__(self) -> str:
        return f"<FieldSpec {self.field_class.__name__} hooks={self.hooks}>"



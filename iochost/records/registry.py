"""The record-type registry, and the record support the IOC framework calls.

``record='ai'`` (or ``record=AiFields``, or ``dtype=PvpropertyDouble[AiFields]``) names a
field-set class: every EPICS base record type and the motor record are known from the
tables; :func:`register_record` adds more (a subclass of a field set, under its
``_record_type``), as does an installed plugin through the
``iochost_register_record_types(register)`` hook.
"""
from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO, overload

from ..ca.dbr import ChannelType
from ..pv.data import RecordStates
from ..pv.types import PvpropertyData, set_record_support
from . import behaviour
from .fieldsets import FieldSpec, RecordFieldGroup, class_name_of, field_set_class
from .tables import fields_of, is_read_only, record_types, value_field

__all__ = [
    "SUPPORT",
    "RecordSupport",
    "builtin_field_set",
    "get_record_registry",
    "record_class",
    "records",
    "register_record",
    "registered_records",
    "summarize",
    "unregister_record",
]

_BUILTIN: dict[str, type[RecordFieldGroup]] = {}
_REGISTERED: dict[str, type[RecordFieldGroup]] = {}


def builtin_field_set(rtyp: str) -> type[RecordFieldGroup]:
    """The field set of a record type from the tables (one class per type, made on use)."""
    cls = _BUILTIN.get(rtyp)
    if cls is None:
        cls = _BUILTIN[rtyp] = field_set_class(rtyp)
    return cls


@overload
def register_record(cls: type[RecordFieldGroup], /) -> type[RecordFieldGroup]: ...
@overload
def register_record(name: str, cls: type[RecordFieldGroup], /, *,
                    replace: bool = False) -> type[RecordFieldGroup]: ...


def register_record(name_or_cls: Any, cls: Any = None, /, *, replace: bool = False) -> Any:
    """Make a field set usable as ``record='<name>'``.

    ``@register_record`` on a class registers it under its ``_record_type`` (caproto's
    form); ``register_record(name, cls)`` under ``name``.  Registering another class
    under a name already taken (a base record type included) raises ValueError unless
    ``replace=True``; registering the same class again is a no-op.  Returns the class.
    """
    if cls is None:
        cls, name = name_or_cls, getattr(name_or_cls, "_record_type", None)
    else:
        name = name_or_cls
    if not (isinstance(cls, type) and issubclass(cls, RecordFieldGroup)):
        raise TypeError(f"record type {name!r}: {cls!r} is not a field-set class "
                        f"(subclass one of iochost.records' *Fields classes)")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__name__}: a record type name must be a non-empty string "
                         f"(set _record_type or pass the name)")
    current = _REGISTERED.get(name) or (builtin_field_set(name) if name in record_types()
                                        else None)
    if current is not None and current is not cls and not replace:
        raise ValueError(f"record type {name!r} is already defined by {current.__name__}; "
                         f"pass replace=True to override it")
    _REGISTERED[name] = cls
    return cls


def unregister_record(name: str) -> None:
    """Forget a registered record type (base record types fall back to their tables)."""
    _REGISTERED.pop(name, None)


def registered_records() -> dict[str, type[RecordFieldGroup]]:
    """Every record type name usable as ``record=`` -> its field set (classes of base
    types are listed by name only once used)."""
    return {**_BUILTIN, **_REGISTERED}


class _RecordTypes(Mapping[str, type[RecordFieldGroup]]):
    """Every record type name -> its field set: caproto's ``records`` dict, kept current
    (base types' classes are made on first lookup)."""

    def __getitem__(self, name: str) -> type[RecordFieldGroup]:
        if name not in self:
            raise KeyError(name)
        return record_class(name)

    def __contains__(self, name: object) -> bool:
        return name in _REGISTERED or name in record_types()

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*record_types(), *_REGISTERED}))

    def __len__(self) -> int:
        return len({*record_types(), *_REGISTERED})


records: Mapping[str, type[RecordFieldGroup]] = _RecordTypes()


def get_record_registry() -> dict[str, type[RecordFieldGroup]]:
    """A copy of the registry, every record type -> its field set (caproto's function)."""
    return dict(records.items())


def summarize(file: TextIO | None = None) -> None:
    """Print every record type, its field-set classes and its fields (name, DBF type,
    prompt) to ``file`` (standard output), as caproto's ``summarize`` does."""
    out = file or sys.stdout
    for name, cls in records.items():
        print(name, *(base.__name__ for base in cls.__mro__[:-1]), sep="\t", file=out)
        for field in fields_of(cls._table_type or name):
            print("", field.name, field.dbf.name, field.prompt, sep="\t", file=out)
        print(file=out)


def record_class(record: Any) -> type[RecordFieldGroup]:
    """The field set for a ``record=`` argument: a name or a field-set class.

    KeyError (naming the known types) for an unknown name, TypeError for anything else.
    """
    if isinstance(record, type) and issubclass(record, RecordFieldGroup):
        return record
    if isinstance(record, str):
        cls = _REGISTERED.get(record)
        if cls is not None:
            return cls
        if record in record_types():
            return builtin_field_set(record)
        known = sorted({*record_types(), *_REGISTERED})
        raise KeyError(f"unknown record type {record!r}; known: {', '.join(known)}")
    raise TypeError(f"record= takes a record type name or a field-set class, not {record!r}")


class RecordSupport:
    """What ``iochost.pv.types.set_record_support`` installs (see docs/internals.md)."""

    def create_fields(self, instance: PvpropertyData) -> RecordFieldGroup:
        return record_class(instance.pvspec.record or instance.record_type)(instance)

    def served_dtype(self, record: str, dtype: Any, enum_strings: Sequence[str]) -> Any:
        # mbbo VAL is DBF_ENUM with SPC_DBADDR: RSRV serves it as DBR_LONG (the raw
        # number) unless one of ZRST..FFST names a state; mbbi VAL stays ENUM
        if record == "mbbo" and dtype == ChannelType.ENUM and not any(enum_strings):
            return ChannelType.LONG
        # int64in/int64out VAL is DBF_INT64, which CA carries as DBR_DOUBLE (as RSRV does)
        if record in behaviour.INT64_VALUE and dtype in (int, ChannelType.LONG):
            return ChannelType.DOUBLE
        return dtype

    def value_read_only(self, record: str) -> bool:
        return _nomod_value(record)

    def record_states(self, record: str) -> RecordStates | None:
        return _RECORD_STATES.get(record)

    def field_spec(self, prop: Any) -> FieldSpec:
        spec = prop.pvspec.fields
        if not isinstance(spec, FieldSpec):
            spec = FieldSpec(record_class(prop.pvspec.record), prop)
            prop.pvspec = prop.pvspec._replace(fields=spec)
        return spec


def _nomod_value(record: str) -> bool:
    """RSRV announces no write access to an SPC_NOMOD VAL (of the base types, sel's)."""
    value = value_field(record)
    return value is not None and is_read_only(value)


# Their VAL holds any index, as softioc's (dbPut stores it). get_enum_str: mbbx prints
# ZRST..FFST ("" when unset) and "Illegal Value" past 15, bi/bo ZNAM/ONAM and
# "Illegal_Value" past 1. A state number put as text must be the whole text, but an
# mbbo's takes the number the text starts with ("1.5", "1abc": 1; measured on softioc);
# mbbx's put_enum_str matches "" to the first state without a string.
_RECORD_STATES = {
    "mbbi": RecordStates((16, b"Illegal Value"), whole_numbers=True, empty_state=True),
    "mbbo": RecordStates((16, b"Illegal Value"), whole_numbers=False, empty_state=True),
    "bi": RecordStates((2, b"Illegal_Value"), whole_numbers=True),
    "bo": RecordStates((2, b"Illegal_Value"), whole_numbers=True),
}
SUPPORT = RecordSupport()
set_record_support(SUPPORT)


def field_set_by_class_name(name: str) -> type[RecordFieldGroup] | None:
    """``AiFields`` -> the ai field set (None if no record type has that class name)."""
    for rtyp in record_types():
        if class_name_of(rtyp) == name:
            return builtin_field_set(rtyp)
    return None

"""EPICS record types: record fields on pvproperties, from EPICS base's dbd files.

``pvproperty(..., record='ai')`` (or ``record=AiFields``) makes the PV answer ``NAME.DESC``,
``NAME.SCAN``... Importing this package installs the record support in the framework.
The field-set classes (``AiFields``, ``MotorFields``... one per record type, named as in
caproto) are made on first use; ``register_record`` adds new record types.
"""
from .busy import BusyFields
from .fieldsets import FieldSpec, RecordFieldGroup, class_name_of
from .registry import (
    builtin_field_set,
    get_record_registry,
    record_class,
    records,
    register_record,
    registered_records,
    summarize,
    unregister_record,
)
from .registry import field_set_by_class_name as _by_class_name
from .tables import (
    BUFFERS,
    DBF_TO_DBR,
    RTYP,
    Buffer,
    DbfType,
    FieldDef,
    announces_write_access,
    buffer_of,
    common_fields,
    dbr_type_of,
    device_choices,
    field_of,
    fields_of,
    initial_value,
    is_read_only,
    is_served,
    menu,
    menus,
    record_types,
)

register_record(BusyFields)

__all__ = [
    "BUFFERS",
    "BusyFields",
    "MotorRecord",
    "SimMotor",
    "DBF_TO_DBR",
    "RTYP",
    "Buffer",
    "DbfType",
    "FieldDef",
    "FieldSpec",
    "RecordFieldGroup",
    "announces_write_access",
    "buffer_of",
    "builtin_field_set",
    "class_name_of",
    "common_fields",
    "dbr_type_of",
    "device_choices",
    "field_of",
    "fields_of",
    "get_record_registry",
    "initial_value",
    "is_read_only",
    "is_served",
    "menu",
    "menus",
    "record_class",
    "record_types",
    "records",
    "register_record",
    "registered_records",
    "summarize",
    "unregister_record",
]


def __getattr__(name: str):
    """``AiFields``, ``MotorFields``...: the field set of each record type, made on use;
    ``MotorRecord``/``SimMotor`` (the motor record's behaviour, ``motor.py``)."""
    if name in ("MotorRecord", "SimMotor"):
        from . import motor
        globals()[name] = value = getattr(motor, name)
        return value
    cls = _by_class_name(name) if name.endswith("Fields") else None
    if cls is None:
        raise AttributeError(f"module 'iochost.records' has no attribute {name!r}")
    globals()[name] = cls
    return cls


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *(class_name_of(r) for r in record_types())})

"""EPICS record types: field tables generated from EPICS base's dbd files.

Phase 1 exposes the tables (see ``tables``); the field sets that put record fields on
pvproperties build on them.
"""
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

__all__ = [
    "BUFFERS",
    "DBF_TO_DBR",
    "RTYP",
    "Buffer",
    "DbfType",
    "FieldDef",
    "announces_write_access",
    "buffer_of",
    "common_fields",
    "dbr_type_of",
    "device_choices",
    "field_of",
    "fields_of",
    "initial_value",
    "is_read_only",
    "is_served",
    "menu",
    "menus",
    "record_types",
]

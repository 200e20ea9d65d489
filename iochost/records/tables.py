"""Read API over the record field tables.

The tables come from EPICS base's dbd files (``_fields.py``, generated) plus the motor
record, written by hand (``motor_fields.py``). Every ``FieldDef`` is built once at import
and shared: a record type's field tuple is dbCommon's defs followed by its own, so the
common defs exist once however many record types (or records) refer to them.
"""
from __future__ import annotations

from enum import IntEnum
from functools import cache
from typing import NamedTuple

from ..ca.dbr import ChannelType
from . import _fields, motor_fields


class DbfType(IntEnum):
    """EPICS database field types, numbered as in EPICS base's ``dbFldTypes.h``."""

    STRING = 0
    CHAR = 1
    UCHAR = 2
    SHORT = 3
    USHORT = 4
    LONG = 5
    ULONG = 6
    INT64 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    ENUM = 11
    MENU = 12
    DEVICE = 13
    INLINK = 14
    OUTLINK = 15
    FWDLINK = 16
    NOACCESS = 17


class FieldDef(NamedTuple):
    """One field of a record type, as its dbd ``field(...)`` definition states it."""

    name: str
    dbf: DbfType
    prompt: str = ""
    promptgroup: str = ""
    special: str = ""  # SPC_ name without the prefix: 'NOMOD', 'MOD', 'DBADDR', ...
    interest: int = 0
    menu: str = ""  # menu name for DBF_MENU fields
    size: int = 0  # storage size of DBF_STRING fields, terminating NUL included
    initial: str = ""  # initial value as the dbd writes it ('' = zero/empty)
    pp: bool = False  # a put processes the record
    prop: bool = False  # a put posts DBE_PROPERTY on the record's value
    asl: int = 1  # access security level


# The native DBR type of each DBF type, as EPICS' database access presents fields over CA
# (db_access.c's DBF -> DBR map; checked for every type against softioc by tests/records).
# CA has no unsigned or 64-bit type, so RSRV widens: USHORT -> LONG, ULONG/INT64/UINT64 ->
# DOUBLE. Links are served as their text; NOACCESS fields are not served.
DBF_TO_DBR: dict[DbfType, ChannelType | None] = {
    DbfType.STRING: ChannelType.STRING,
    DbfType.CHAR: ChannelType.CHAR,
    DbfType.UCHAR: ChannelType.CHAR,
    DbfType.SHORT: ChannelType.INT,
    DbfType.USHORT: ChannelType.LONG,
    DbfType.LONG: ChannelType.LONG,
    DbfType.ULONG: ChannelType.DOUBLE,
    DbfType.INT64: ChannelType.DOUBLE,
    DbfType.UINT64: ChannelType.DOUBLE,
    DbfType.FLOAT: ChannelType.FLOAT,
    DbfType.DOUBLE: ChannelType.DOUBLE,
    DbfType.ENUM: ChannelType.ENUM,
    DbfType.MENU: ChannelType.ENUM,
    DbfType.DEVICE: ChannelType.ENUM,
    DbfType.INLINK: ChannelType.STRING,
    DbfType.OUTLINK: ChannelType.STRING,
    DbfType.FWDLINK: ChannelType.STRING,
    DbfType.NOACCESS: None,
}


class Buffer(NamedTuple):
    """A DBF_NOACCESS + SPC_DBADDR field: its type and length come from the record instance.

    ``type_from`` is the menuFtype field that picks the element type (FTVL, FTA...) or
    the fixed DBF type; ``count_from`` the field holding the served element count (None:
    one element). Read-only buffers are refused by the record's cvt_dbaddr, not the dbd.
    """

    type_from: str | DbfType
    count_from: str | None = None
    read_only: bool = False


def _asub_buffers() -> dict[tuple[str, str], Buffer]:
    letters = "ABCDEFGHIJKLMNOPQRSTU"
    inputs = {("aSub", x): Buffer(f"FT{x}", f"NO{x}") for x in letters}
    outputs = {("aSub", f"VAL{x}"): Buffer(f"FTV{x}", f"NOV{x}") for x in letters}
    return inputs | outputs


# Written from EPICS base's record sources (cvt_dbaddr) and checked field by field against
# softioc by tests/records. lsi/lso/printf strings are served as DBR_STRING; their full
# length is the CHAR view 'NAME.VAL$'.
BUFFERS: dict[tuple[str, str], Buffer] = {
    ("waveform", "VAL"): Buffer("FTVL", "NELM"),
    ("aai", "VAL"): Buffer("FTVL", "NELM"),
    ("aao", "VAL"): Buffer("FTVL", "NELM"),
    ("subArray", "VAL"): Buffer("FTVL", "MALM"),
    ("compress", "VAL"): Buffer(DbfType.DOUBLE, "NSAM"),
    ("histogram", "VAL"): Buffer(DbfType.ULONG, "NELM"),
    ("lsi", "VAL"): Buffer(DbfType.STRING),
    ("lsi", "OVAL"): Buffer(DbfType.STRING, read_only=True),
    ("lso", "VAL"): Buffer(DbfType.STRING),
    ("lso", "OVAL"): Buffer(DbfType.STRING, read_only=True),
    ("printf", "VAL"): Buffer(DbfType.STRING),
    **_asub_buffers(),
}


def _defs(rows: tuple[tuple, ...]) -> tuple[FieldDef, ...]:
    return tuple(FieldDef(row[0], DbfType[row[1]], *row[2:]) for row in rows)


_COMMON = _defs(_fields.COMMON)
# Rows become FieldDefs on first use of a record type: a host serving ai records only
# never builds the other 34 tables.
_ROWS: dict[str, tuple[tuple, ...]] = {**_fields.RECORDS, "motor": motor_fields.FIELDS}


@cache
def _record(rtyp: str) -> tuple[tuple[FieldDef, ...], dict[str, FieldDef]]:
    if rtyp not in _ROWS:
        raise KeyError(f"unknown record type {rtyp!r}; known: {', '.join(sorted(_ROWS))}")
    defs = _COMMON + _defs(_ROWS[rtyp])
    return defs, {f.name: f for f in defs}
_MENUS: dict[str, tuple[str, ...]] = {**_fields.MENUS, **motor_fields.MENUS}

# RTYP is no dbd field: database access answers it for every record with the record type
# name (special SPC_ATTRIBUTE: RSRV announces write access, but every put fails).
RTYP = FieldDef("RTYP", DbfType.STRING, "Record Type", special="ATTRIBUTE", size=40)


def record_types() -> tuple[str, ...]:
    """Every record type with a field table, in dbd order (the motor record last)."""
    return tuple(_ROWS)


def fields_of(rtyp: str) -> tuple[FieldDef, ...]:
    """The fields of record type ``rtyp`` in definition order (dbCommon's first)."""
    return _record(rtyp)[0]


def field_of(rtyp: str, name: str) -> FieldDef:
    """The field ``name`` of record type ``rtyp`` (also the RTYP pseudo-field).

    KeyError names both when unknown.
    """
    by_name = _record(rtyp)[1]
    if name == "RTYP":
        return RTYP
    try:
        return by_name[name]
    except KeyError:
        raise KeyError(f"record type {rtyp!r} has no field {name!r}") from None


def has_field(rtyp: str, name: str) -> bool:
    """Whether record type ``rtyp`` has a field ``name`` in its dbd (False for a type
    without a dbd table)."""
    return rtyp in _ROWS and name in _record(rtyp)[1]


@cache
def value_field(rtyp: str) -> FieldDef | None:
    """The VAL field of record type ``rtyp`` (None without one, or without a dbd table)."""
    return _record(rtyp)[1].get("VAL") if rtyp in _ROWS else None


def common_fields() -> tuple[FieldDef, ...]:
    """The dbCommon fields every record type starts with (the same objects)."""
    return _COMMON


def menus() -> tuple[str, ...]:
    """Names of every known menu."""
    return tuple(_MENUS)


def menu(name: str) -> tuple[str, ...]:
    """The choice strings of menu ``name``, in index order."""
    try:
        return _MENUS[name]
    except KeyError:
        raise KeyError(f"unknown menu {name!r}") from None


def device_choices(rtyp: str) -> tuple[str, ...]:
    """The DTYP choices EPICS base's soft device support gives ``rtyp`` (may be empty)."""
    _record(rtyp)  # KeyError for an unknown type
    return _fields.DEVICES.get(rtyp, ())


def is_served(field: FieldDef) -> bool:
    """Whether CA clients can connect to the field at all.

    DBF_NOACCESS fields are private, except those with SPC_DBADDR: the record points
    them at its data buffer, whose type (FTVL, SIZV...) the record chooses.
    """
    return field.dbf is not DbfType.NOACCESS or field.special == "DBADDR"


def dbr_type_of(field: FieldDef) -> ChannelType | None:
    """The native DBR type RSRV serves the field as.

    None for a field that is not served, and for the record-typed buffers (DBF_NOACCESS +
    SPC_DBADDR: waveform/aai/aao/subArray/compress/histogram VAL, aSub A..U, VALA..VALU,
    lsi/lso OVAL), whose type the record instance decides: see ``buffer_of``.

    One more field is record-typed although its dbd type is plain: mbbo VAL (DBF_ENUM,
    SPC_DBADDR) is served as DBR_ENUM only while one of ZRST..FFST is set; without state
    strings RSRV serves it as DBR_LONG (a raw USHORT).
    """
    return DBF_TO_DBR[field.dbf]


def buffer_of(rtyp: str, name: str) -> Buffer | None:
    """How a record-typed buffer field of ``rtyp`` is served; None for ordinary fields."""
    return BUFFERS.get((rtyp, name))


_READ_ONLY_BUFFERS = frozenset(name for (_, name), buf in BUFFERS.items() if buf.read_only)


def _nomod(field: FieldDef) -> bool:
    return field.special == "NOMOD" or (
        field.special == "DBADDR" and field.name in _READ_ONLY_BUFFERS)


def is_read_only(field: FieldDef) -> bool:
    """Whether puts to the field are refused (dbPut fails with S_db_noMod).

    SPC_NOMOD fields, read-only buffers (lsi/lso OVAL) and RTYP. RSRV announces no write
    access for the first two, but does for RTYP (see ``announces_write_access``).
    """
    return _nomod(field) or field.special == "ATTRIBUTE"


def announces_write_access(field: FieldDef) -> bool:
    """Whether RSRV's ACCESS_RIGHTS reply grants write access to the field (no ACF rules)."""
    return not _nomod(field)


def initial_value(field: FieldDef) -> str | int | float:
    """The value a new record holds in ``field`` before anything writes it.

    Numbers for numeric fields, a choice index for menus (the dbd may name the choice or
    give its index; menuScan's 65535 means "unset"), text otherwise; zero or '' when the
    dbd gives no initial value.
    """
    text = field.initial
    if field.dbf in (DbfType.FLOAT, DbfType.DOUBLE):
        return float(text or 0)
    if field.dbf is DbfType.MENU:
        choices = _MENUS[field.menu]
        return choices.index(text) if text in choices else int(text or 0)
    if DbfType.CHAR <= field.dbf <= DbfType.UINT64 or field.dbf in (DbfType.ENUM,
                                                                     DbfType.DEVICE):
        return int(text or "0", 0)
    return text

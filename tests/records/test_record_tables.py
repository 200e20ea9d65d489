"""The read API over the record field tables (iochost.records)."""
import types

import pytest

from iochost import records
from iochost.ca.dbr import ChannelType
from iochost.records import (
    DBF_TO_DBR,
    RTYP,
    DbfType,
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
from iochost.records.tables import _fields

ISSUE_RECORD_TYPES = [
    "ai", "ao", "bi", "bo", "mbbi", "mbbo", "longin", "longout", "int64in", "int64out",
    "stringin", "stringout", "lsi", "lso", "waveform", "aai", "aao", "calc", "calcout", "motor",
]


def test_public_names_match_all():
    # Submodules aside; the *Fields classes and the motor record's classes join the
    # namespace as they are first used.
    lazy = {"MotorRecord", "SimMotor"}
    public = {name for name, value in vars(records).items() if not name.startswith("_")
              and not isinstance(value, types.ModuleType) and not name.endswith("Fields")}
    assert set(records.__all__) - lazy - {"BusyFields"} == public - lazy
    assert all(getattr(records, name) for name in lazy)


def test_every_record_type_the_issue_names_has_a_table():
    assert set(ISSUE_RECORD_TYPES) <= set(record_types())
    assert record_types()[-1] == "motor"


@pytest.mark.parametrize("rtyp", record_types())
def test_fields_start_with_the_shared_dbcommon_defs(rtyp):
    fields = fields_of(rtyp)
    common = common_fields()
    assert all(a is b for a, b in zip(fields, common, strict=False))
    names = [f.name for f in fields]
    assert len(names) == len(set(names)), "duplicate field names"


@pytest.mark.parametrize("rtyp", record_types())
def test_every_menu_field_names_a_known_menu_and_only_menu_fields_do(rtyp):
    for field in fields_of(rtyp):
        assert (field.dbf is DbfType.MENU) == bool(field.menu), field.name
        if field.menu:
            assert menu(field.menu), field.name


@pytest.mark.parametrize("rtyp, name, dbf, size", [
    ("ai", "NAME", DbfType.STRING, 61),
    ("ai", "DESC", DbfType.STRING, 41),
    ("ai", "EGU", DbfType.STRING, 16),
    ("ai", "VAL", DbfType.DOUBLE, 0),
    ("ai", "SCAN", DbfType.MENU, 0),
    ("ai", "DTYP", DbfType.DEVICE, 0),
    ("ai", "INP", DbfType.INLINK, 0),
    ("bo", "ZNAM", DbfType.STRING, 26),
    ("mbbi", "ZRST", DbfType.STRING, 26),
    ("longin", "VAL", DbfType.LONG, 0),
    ("int64in", "VAL", DbfType.INT64, 0),
    ("stringin", "VAL", DbfType.STRING, 40),
    ("calc", "CALC", DbfType.STRING, 160),
    ("waveform", "VAL", DbfType.NOACCESS, 0),
    ("waveform", "NELM", DbfType.ULONG, 0),
    ("motor", "RBV", DbfType.DOUBLE, 0),
    ("motor", "MSTA", DbfType.ULONG, 0),
    ("motor", "EGU", DbfType.STRING, 16),
])
def test_field_types_and_string_sizes_follow_the_dbd(rtyp, name, dbf, size):
    field = field_of(rtyp, name)
    assert (field.dbf, field.size) == (dbf, size)


@pytest.mark.parametrize("name, first, last, count", [
    ("menuScan", "Passive", ".1 second", 10),
    ("menuAlarmSevr", "NO_ALARM", "INVALID", 4),
    ("menuAlarmStat", "NO_ALARM", "WRITE_ACCESS", 22),
    ("menuYesNo", "NO", "YES", 2),
    ("menuFtype", "STRING", "ENUM", 12),
    ("motorSPMG", "Stop", "Go", 4),
])
def test_menus_hold_epics_choice_strings_in_index_order(name, first, last, count):
    choices = menu(name)
    assert (choices[0], choices[-1], len(choices)) == (first, last, count)
    assert name in menus()


@pytest.mark.parametrize("rtyp, name, read_only", [
    ("ai", "NAME", True),
    ("ai", "RTYP", True),
    ("ai", "STAT", True),
    ("ai", "SEVR", True),
    ("ai", "UDF", False),
    ("ai", "DESC", False),
    ("ai", "VAL", False),
    ("ai", "HIHI", False),
    ("lsi", "OVAL", True),
    ("lsi", "VAL", False),
    ("motor", "RBV", True),
    ("motor", "DMOV", True),
    ("motor", "VAL", False),
])
def test_read_only_fields(rtyp, name, read_only):
    assert is_read_only(field_of(rtyp, name)) is read_only


@pytest.mark.parametrize("rtyp, name, dbr", [
    ("ai", "VAL", 6), ("ai", "PREC", 1), ("ai", "SCAN", 3), ("ai", "INP", 0),
    ("ai", "NAME", 0), ("ai", "RTYP", 0), ("ai", "DISP", 4), ("longin", "VAL", 5),
    ("waveform", "NELM", 6), ("mbbi", "MASK", 6), ("mbbi", "NOBT", 5), ("ai", "PHAS", 1),
    ("int64in", "VAL", 6), ("calc", "LALM", 6), ("motor", "MIP", 5),
    ("ai", "MLOK", None), ("waveform", "VAL", None),
])
def test_dbr_type_of(rtyp, name, dbr):
    got = dbr_type_of(field_of(rtyp, name))
    assert got == dbr
    assert got is None or isinstance(got, ChannelType)


def test_private_fields_are_not_served_but_record_buffers_are():
    assert not is_served(field_of("ai", "DPVT"))
    assert is_served(field_of("waveform", "VAL"))
    assert is_served(RTYP)


def test_dbf_to_dbr_covers_every_dbf_type():
    assert set(DBF_TO_DBR) == set(DbfType)


def test_device_choices_come_from_base_soft_device_support():
    assert device_choices("ai")[:2] == ("Soft Channel", "Raw Soft Channel")
    assert device_choices("calc") == ()


@pytest.mark.parametrize("call, message", [
    (lambda: fields_of("nope"), "unknown record type 'nope'; known: aSub, aai"),
    (lambda: field_of("ai", "NOPE"), "record type 'ai' has no field 'NOPE'"),
    (lambda: menu("menuNope"), "unknown menu 'menuNope'"),
    (lambda: device_choices("nope"), "unknown record type 'nope'"),
])
def test_unknown_names_give_one_clear_message(call, message):
    with pytest.raises(KeyError) as info:
        call()
    assert message in str(info.value)


def test_field_defs_are_shared_not_copied_per_record_type():
    distinct = {id(f) for rtyp in record_types() for f in fields_of(rtyp)}
    own = sum(len(rows) for rows in _fields.RECORDS.values())
    motor_own = len(fields_of("motor")) - len(common_fields())
    assert len(distinct) == len(common_fields()) + own + motor_own


def test_motor_table_does_not_repeat_dbcommon_fields():
    common = {f.name for f in common_fields()}
    own = [f.name for f in fields_of("motor")[len(common):]]
    assert not common & set(own)


def test_motor_table_agrees_with_caprotos_independent_one():
    # No motorRecord.dbd is installed; caproto's motor field group (generated from the
    # motor module's dbd) is the independent check for names and read-only flags. Its
    # table leaves out dbCommon's private fields, and caproto serves types its own way
    # (strings as CHAR, unsigned as signed), so types are checked against softioc only.
    from caproto.server.records.base import MotorFields

    theirs = {prop.pvspec.name: bool(prop.pvspec.read_only)
              for prop in MotorFields._pvs_.values()}
    ours = {f.name: is_read_only(f) for f in fields_of("motor") if is_served(f)}
    newer = {"AMSG", "NAMSG", "UTAG", "RSTM"}  # base 7 dbCommon / motor R7 additions
    assert {n: v for n, v in ours.items() if n not in newer} == theirs | {"VAL": False}


@pytest.mark.parametrize("rtyp, name, value", [
    ("ai", "DISV", 1),
    ("ai", "SSCN", 65535),        # menuScan's "unset"
    ("aSub", "FTA", 10),          # named choice 'DOUBLE' -> its index in menuFtype
    ("ai", "STAT", 17),           # 'UDF'
    ("ai", "HHSV", 0),            # no initial: zero
    ("ai", "HOPR", 0.0),
    ("ai", "DESC", ""),
    ("calc", "CALC", "0"),
    ("lsi", "SIZV", 41),
    ("motor", "ACCL", 0.2),
])
def test_initial_value(rtyp, name, value):
    got = initial_value(field_of(rtyp, name))
    assert (got, type(got)) == (value, type(value))


@pytest.mark.parametrize("rtyp", record_types())
def test_initial_value_of_every_field_has_its_type(rtyp):
    # Integer fields without a dbd initial start at 0 (a regression: int('' or 0, 0) raised).
    for field in fields_of(rtyp):
        value = initial_value(field)
        if field.dbf in (DbfType.STRING, DbfType.INLINK, DbfType.OUTLINK, DbfType.FWDLINK,
                         DbfType.NOACCESS):
            assert isinstance(value, str), field
        elif field.dbf in (DbfType.FLOAT, DbfType.DOUBLE):
            assert isinstance(value, float), field
        else:
            assert isinstance(value, int), field

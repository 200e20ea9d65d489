"""Display metadata of record fields and of the record's value, as RSRV serves them.

EPICS record support answers a GR/CTRL read of any field through its ``get_units``,
``get_precision``, ``get_graphic_double`` and ``get_control_double`` (checked against
softIoc, ``tests/records/test_record_field_metadata.py``):

* **units**: the record's EGU for the fields of its value's kind (DOUBLE/FLOAT fields of
  ai, ao, calc...; LONG fields of longin/longout...), except conversion coefficients
  (ASLO, AOFF, SMOO); every field of a motor record (VELO... in EGU/sec, ACCL in sec).
  Records without EGU (bi, bo, mbbi, stringin...) give none.
* **precision**: the record's PREC for every floating-point field (integer DBRs carry none;
  an integer field served as DOUBLE -- ULONG, INT64, UINT64 -- has 0, so it prints whole).
* **display and control limits**: fields that hold a value of the record's VAL (VAL,
  HIHI..LOLO, LALM, ALST, MLST, SVAL, OVAL, PVAL, IVOV) show HOPR/LOPR as display limits
  and, as control limits, DRVH/DRVL on records that have them (ao, longout, int64out),
  else HOPR/LOPR again; motor VAL/RBV show HLM/LLM, DVAL/DRBV DHLM/DLLM, RVAL/RRBV the
  raw ones, VELO VMAX/VBAS; a bo's VAL has the control limits 0..65535 (its ENUM type's
  range).  Every other field gives the range of its database type (+-1e300 for DOUBLE,
  the integer type's range, as ``recGblGetGraphicDouble`` does).
* **alarm limits**: NaN for every field (``recGblGetAlarmDouble``); a record's own are on
  VAL only (``behaviour.unarmed_limits_as_nan``).
"""
from __future__ import annotations

from functools import cache
from typing import Any

from .tables import DbfType, field_of, fields_of

__all__ = ["field_display", "input_limits", "value_display"]

#: Fields holding a value of the record's VAL (EPICS' get_graphic/control_double lists).
VALUE_LIKE = frozenset(("VAL", "HIHI", "HIGH", "LOW", "LOLO", "LALM", "ALST", "MLST",
                        "SVAL", "OVAL", "PVAL", "IVOV"))
#: Conversion coefficients: no units (ai/ao get_units).
_NO_UNITS = frozenset(("ASLO", "AOFF", "SMOO"))
_FLOATING = (DbfType.DOUBLE, DbfType.FLOAT)
_INTEGER_VALUE = (DbfType.LONG, DbfType.INT64)
# recGblGetGraphicDouble's ranges of database types (RSRV serves +-1e300 for DOUBLE).
_TYPE_RANGE: dict[DbfType, tuple[float, float]] = {
    DbfType.DOUBLE: (-1e300, 1e300), DbfType.FLOAT: (-1e300, 1e300),
    DbfType.CHAR: (-128, 127), DbfType.UCHAR: (0, 255),
    DbfType.SHORT: (-32768, 32767), DbfType.USHORT: (0, 65535),
    DbfType.LONG: (-2147483648, 2147483647), DbfType.ULONG: (0, 4294967295),
    DbfType.INT64: (-2.0**63, 2.0**63), DbfType.UINT64: (0, 2.0**64),
}
#: Records whose ``get_control_double`` gives their DBF_ENUM VAL the type's range (bo).
_ENUM_CONTROL_RANGE = frozenset(("bo",))
_MOTOR_UNITS = {"VELO": "{}/sec", "VMAX": "{}/sec", "BVEL": "{}/sec", "VBAS": "{}/sec",
                "JVEL": "{}/sec", "HVEL": "{}/sec", "JAR": "{}/s/s", "UREV": "{}/rev",
                "ACCL": "sec", "BACC": "sec", "S": "rev/sec", "SBAS": "rev/sec",
                "SBAK": "rev/sec", "SREV": "steps/rev"}
_MOTOR_PRECISION = {"RRBV": 0, "RMP": 0, "REP": 0, "VERS": 2}


@cache
def _kind(rtyp: str) -> tuple[bool, bool, tuple[DbfType, ...]]:
    """(has EGU, has DRVH, the field types that carry EGU) of a record type."""
    names = {f.name: f for f in fields_of(rtyp)}
    value = names.get("VAL")
    if "EGU" not in names:
        return False, "DRVH" in names, ()
    unit_types = _INTEGER_VALUE if value is not None and value.dbf in _INTEGER_VALUE \
        else _FLOATING
    return True, "DRVH" in names, unit_types


def input_limits(record: Any) -> tuple[Any, Any]:
    """(LOPR, HOPR) of a record without drive limits: its display limits, or its control
    limits when only those were given (RSRV serves HOPR/LOPR as both)."""
    low, high = record.lower_disp_limit, record.upper_disp_limit
    if not low < high:
        control = record.lower_ctrl_limit, record.upper_ctrl_limit
        if control[0] < control[1]:
            return control
    return low, high


def value_display(rtyp: str, record: Any, properties: dict[str, Any]) -> None:
    """Adjust the record's own GR/CTRL metadata (``properties``, Metadata names) to RSRV's:
    a record without DRVH/DRVL shows HOPR/LOPR as its control limits too."""
    if rtyp in _ENUM_CONTROL_RANGE:
        properties["lower_ctrl_limit"], properties["upper_ctrl_limit"] = \
            _TYPE_RANGE[DbfType.USHORT]
        return
    if rtyp == "motor" or _kind(rtyp)[1] or not hasattr(record, "upper_disp_limit"):
        return
    low, high = input_limits(record)
    as_wire = type(properties["upper_disp_limit"])
    for name in ("lower_disp_limit", "lower_ctrl_limit"):
        properties[name] = as_wire(low)
    for name in ("upper_disp_limit", "upper_ctrl_limit"):
        properties[name] = as_wire(high)


def field_display(rtyp: str, name: str, record: Any, fields: Any
                  ) -> dict[str, Any] | None:
    """units, precision and display/control limits of field ``name`` of a record (its
    channel-data keywords), or None when the field is not numeric."""
    dbf = field_of(rtyp, name).dbf
    if dbf not in _TYPE_RANGE:
        return None
    units = getattr(record, "units", "")
    precision = getattr(record, "precision", 0)
    low, high = _TYPE_RANGE[dbf]
    ctrl = (low, high)
    if rtyp == "motor":
        units = _MOTOR_UNITS.get(name, "{}").format(units)
        precision = _MOTOR_PRECISION.get(name, precision)
        limits = _motor_limits(name, record, fields)
        if limits is not None:
            low, high = ctrl = limits
    else:
        has_egu, has_drive, unit_types = _kind(rtyp)
        if not has_egu or dbf not in unit_types or name in _NO_UNITS:
            units = ""
        if name in VALUE_LIKE and hasattr(record, "upper_disp_limit"):
            if has_drive:
                low, high = record.lower_disp_limit, record.upper_disp_limit
                ctrl = (record.lower_ctrl_limit, record.upper_ctrl_limit)
            else:
                low, high = ctrl = input_limits(record)
    if dbf not in _FLOATING:  # an integer field served as DOUBLE (ULONG, INT64...)
        precision = 0
    return {"units": units, "precision": precision, "lower_disp_limit": low,
            "upper_disp_limit": high, "lower_ctrl_limit": ctrl[0],
            "upper_ctrl_limit": ctrl[1]}


def _motor_limits(name: str, record: Any, fields: Any) -> tuple[float, float] | None:
    """The motor record's get_graphic/control_double for the fields it names."""
    if name in ("VAL", "RBV"):
        return record.lower_ctrl_limit, record.upper_ctrl_limit
    dllm, dhlm = fields.stored("DLLM", 0.0), fields.stored("DHLM", 0.0)
    if name in ("DVAL", "DRBV"):
        return dllm, dhlm
    if name in ("RVAL", "RRBV"):
        mres = fields.stored("MRES", 0.0) or 1.0
        raw = sorted((dllm / mres, dhlm / mres))
        return raw[0], raw[1]
    if name == "VELO":
        return fields.stored("VBAS", 0.0), fields.stored("VMAX", 0.0)
    return None

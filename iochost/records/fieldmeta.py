"""Display metadata of record fields and of the record's value, as RSRV serves them.

EPICS record support answers a GR/CTRL read of any field through its ``get_units``,
``get_precision``, ``get_graphic_double`` and ``get_control_double`` (checked against
softIoc, ``tests/records/test_record_field_metadata.py``):

* **units**: the record's EGU for the fields of its value's kind (DOUBLE/FLOAT fields of
  ai, ao, calc...; LONG fields of longin/longout...), except conversion coefficients
  (ASLO, AOFF, SMOO) and a calc's or sub's inputs (their links' units: none); an array
  record's on VAL, HOPR and LOPR only; every field of a motor record (VELO... in EGU/sec,
  ACCL in sec); delays in seconds (seq DLYn, calcout ODLY, bo HIGH, histogram SDEL).
  Records without EGU (bi, bo, mbbi, stringin...) give none.
* **precision**: the record's PREC for every floating-point field (integer DBRs carry none;
  an integer field served as DOUBLE -- ULONG, INT64, UINT64 -- has 0, so it prints whole);
  delays 2; a histogram's PREC on its value fields only.  A PREC below 0 or above 15 is
  15 on fields but an ao's OVAL/PVAL, a histogram's value fields and a calc's inputs
  (``recGblGetPrec``; VAL keeps it as it is).
* **display and control limits**: the fields each record support lists (``_OPR``: VAL,
  HIHI..LOLO, LALM, ALST, MLST and a few more, per record type) show HOPR/LOPR as
  display limits and, as control limits, DRVH/DRVL on records that have them (ao,
  longout, int64out), else HOPR/LOPR again; some fields have limits of their own
  (``_OWN``: an array's NORD 0..NELM, a delay's 0..1e5...); motor VAL/RBV show HLM/LLM,
  DVAL/DRBV DHLM/DLLM, RVAL/RRBV the raw ones, VELO VMAX/VBAS; a bo's VAL has the
  control limits 0..65535 (its ENUM type's range).  Every other field gives the range
  of its database type (+-1e300 for DOUBLE, the integer type's range, as
  ``recGblGetGraphicDouble`` does), as does the VAL of a record without HOPR/LOPR (seq;
  aSub's control limits); a calc's or sub's inputs show their links' display limits:
  0.  Record support without ``get_graphic_double`` (bi, bo, mbbi, stringin... and
  aSub, whose own one sets only its links') leaves every field's display limits 0, and
  without ``get_control_double`` its control limits too.  Checked field by field against
  softIoc: ``tests/records/test_field_limits_rsrv.py``.
* **alarm limits**: NaN for every field (``recGblGetAlarmDouble``); a record's own are on
  VAL only (``behaviour.unarmed_limits_as_nan``).
"""
from __future__ import annotations

from functools import cache
from typing import Any

from .tables import DbfType, field_of, fields_of, has_field

__all__ = ["field_display", "input_limits", "value_display"]

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
#: Record support without ``get_graphic_double`` (or, aSub, one for its links only) and
#: without ``get_control_double``: dbAccess leaves those limits 0 for every field.
_NO_GRAPHIC = frozenset(("aSub", "bi", "bo", "event", "fanout", "lsi", "lso", "mbbi",
                         "mbbiDirect", "mbbo", "mbboDirect", "permissive", "printf", "state",
                         "stringin", "stringout"))
_NO_CONTROL = _NO_GRAPHIC - {"aSub", "bo"}
_ALARM_VALUES = ("VAL", "HIHI", "HIGH", "LOW", "LOLO", "LALM", "ALST", "MLST")
_INPUTS = tuple("ABCDEFGHIJKLMNOPQRSTU") + tuple(f"L{c}" for c in "ABCDEFGHIJKLMNOPQRSTU")
#: Inputs whose limits and units a record support takes from their links (none here: 0, "")
_LINKED_INPUTS = frozenset((rtyp, name) for rtyp in ("calc", "calcout", "sub")
                           for name in _INPUTS)
#: (fields with HOPR/LOPR as display limits, fields with DRVH/DRVL or HOPR/LOPR as control
#: limits) of each record support's get_graphic_double / get_control_double.
_OPR: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
for _types, _graphic, _control in (
        (("ai", "longin", "int64in"), (*_ALARM_VALUES, "SVAL"), (*_ALARM_VALUES, "SVAL")),
        (("longout", "int64out", "calc", "calcout", "sub"), _ALARM_VALUES, _ALARM_VALUES),
        (("ao",), (*_ALARM_VALUES, "OVAL", "PVAL", "IVOV"), (*_ALARM_VALUES, "OVAL", "PVAL")),
        (("dfanout",), _ALARM_VALUES, ("VAL", "LALM", "ALST", "MLST")),
        (("sel",), (*_ALARM_VALUES, *_INPUTS[:12], *_INPUTS[21:33]),
         (*_ALARM_VALUES, *_INPUTS[:12], *_INPUTS[21:33])),
        (("aai", "aao", "waveform", "subArray", "histogram"), ("VAL",), ("VAL",)),
        (("compress",), ("VAL", "IHIL", "ILIL"), ("VAL", "IHIL", "ILIL"))):
    _OPR.update(dict.fromkeys(_types, (frozenset(_graphic), frozenset(_control))))
_ZERO = (0, 0)
_DELAY = ((10, 0), (0, 1e5))   # EPICS' seq sets the display low limit twice, never the high
#: Fields whose record support sets limits of their own: (rtyp, name) -> (record, fields)
#: -> (display, control); None for the database type's range.
_OWN: dict[tuple[str, str], Any] = {
    **{(r, "NORD"): (lambda rec, f: ((0, rec.max_length),) * 2)
       for r in ("aai", "aao", "waveform")},
    **{(r, "BUSY"): (lambda rec, f: ((0, 1),) * 2) for r in ("waveform", "subArray")},
    ("subArray", "INDX"): lambda rec, f: ((0, rec.max_length - 1),) * 2,
    ("subArray", "NELM"): lambda rec, f: ((0, rec.max_length), (1, rec.max_length)),
    ("subArray", "NORD"): lambda rec, f: ((0, rec.max_length),) * 2,
    ("histogram", "WDTH"): lambda rec, f: (
        (0, f.stored("ULIM", 0.0) - f.stored("LLIM", 0.0)),) * 2,
    ("calcout", "ODLY"): lambda rec, f: ((0, 1e300), (0, 1e5)),
    ("bo", "HIGH"): lambda rec, f: (_ZERO, (0, 1e5)),
    **{("seq", f"DLY{i:X}"): (lambda rec, f: _DELAY) for i in range(16)},
    **{("seq", f"DO{i:X}"): (lambda rec, f: (_ZERO, None)) for i in range(16)},
    **{key: (lambda rec, f: (_ZERO, None)) for key in _LINKED_INPUTS},
}
#: Fields in seconds, shown with 2 decimals (seqDLYprecision, calcoutODLYprecision...).
_DELAYS = frozenset((("calcout", "ODLY"), ("bo", "HIGH"), ("histogram", "SDEL"),
                     *(("seq", f"DLY{i:X}") for i in range(16))))
#: Record types whose get_units gives EGU to VAL, HOPR and LOPR only.
_ARRAY_UNITS = frozenset(("aai", "aao", "waveform", "subArray"))
_HISTOGRAM_PRECISION = frozenset(("ULIM", "LLIM", "SGNL", "SVAL", "WDTH"))
#: Fields whose get_precision gives PREC as it is; every other floating-point field's goes
#: through recGblGetPrec, which makes a PREC below 0 or above 15 15 (a calc's inputs keep
#: it: their constant links have no precision of their own)
_PRECISION_AS_IS = frozenset((("ao", "OVAL"), ("ao", "PVAL"), *_LINKED_INPUTS,
                              *(("histogram", name) for name in _HISTOGRAM_PRECISION)))
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
    a record without DRVH/DRVL shows HOPR/LOPR as its control limits too, one without
    HOPR/LOPR its VAL type's range, and record support without the functions 0."""
    if rtyp in _ENUM_CONTROL_RANGE:
        properties["lower_ctrl_limit"], properties["upper_ctrl_limit"] = \
            _TYPE_RANGE[DbfType.USHORT]
        return
    if rtyp == "motor" or _kind(rtyp)[1] or not hasattr(record, "upper_disp_limit"):
        return
    if has_field(rtyp, "HOPR"):
        display = control = input_limits(record)
    else:  # seq, aSub: the record support's fallback, the VAL type's range
        display = control = _TYPE_RANGE.get(field_of(rtyp, "VAL").dbf, (0, 0))
    display = (0, 0) if rtyp in _NO_GRAPHIC else display
    control = (0, 0) if rtyp in _NO_CONTROL else control
    as_wire = type(properties["upper_disp_limit"])
    properties["lower_disp_limit"], properties["upper_disp_limit"] = map(as_wire, display)
    properties["lower_ctrl_limit"], properties["upper_ctrl_limit"] = map(as_wire, control)


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
        units, precision, (low, high), ctrl = _record_display(rtyp, name, dbf, record,
                                                              fields, units, precision)
    if dbf not in _FLOATING:  # an integer field served as DOUBLE (ULONG, INT64...)
        precision = 0
    return {"units": units, "precision": precision, "lower_disp_limit": low,
            "upper_disp_limit": high, "lower_ctrl_limit": ctrl[0],
            "upper_ctrl_limit": ctrl[1]}


def _record_display(rtyp: str, name: str, dbf: DbfType, record: Any, fields: Any,
                    units: str, precision: int) -> tuple[str, int, Any, Any]:
    """(units, precision, display, control limits) of a field of a base record type."""
    has_egu, has_drive, unit_types = _kind(rtyp)
    if not has_egu or dbf not in unit_types or name in _NO_UNITS or (
            rtyp in _ARRAY_UNITS and name not in ("VAL", "HOPR", "LOPR")) or (
            (rtyp, name) in _LINKED_INPUTS):
        units = ""
    if (rtyp, name) in _DELAYS:
        units, precision = "s", 2
    elif rtyp == "histogram" and name not in _HISTOGRAM_PRECISION:
        precision = 0
    elif (rtyp, name) not in _PRECISION_AS_IS and not 0 <= precision <= 15:
        precision = 15
    display = control = _TYPE_RANGE[dbf]
    graphic_opr, control_opr = _OPR.get(rtyp, (frozenset(), frozenset()))
    if hasattr(record, "upper_disp_limit"):
        if name in graphic_opr:
            display = input_limits(record) if not has_drive else \
                (record.lower_disp_limit, record.upper_disp_limit)
        if name in control_opr:
            control = (record.lower_ctrl_limit, record.upper_ctrl_limit) if has_drive \
                else input_limits(record)
    own = _OWN.get((rtyp, name))
    if own is not None:
        own_display, own_control = own(record, fields)
        display, control = own_display, own_control or control
    if rtyp in _NO_GRAPHIC:
        display = _ZERO
    if rtyp in _NO_CONTROL:
        control = _ZERO
    return units, precision, display, control


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

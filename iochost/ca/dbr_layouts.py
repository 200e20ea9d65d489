"""The byte layouts of the 39 DBR types, built once at import from one table.

``_TABLE`` below is db_access.h transcribed: for each family and native type, the fields
that precede the value, in wire order, with the explicit ``RISC_pad`` members the C
structs declare.  Every field is big-endian on the wire.  Field codes:

``name:h`` / ``name:H`` / ``name:I``  int16 / uint16 / uint32 (``struct`` codes)
``units``  char[8]; ``no_str strs``  int16 + char[16][26] (GR/CTRL ENUM)
``GR`` / ``CTRL``  the 6 / 8 limits, each of the value's own type
``padN``  N bytes of RISC_pad

From each row we derive a :class:`Layout`: a precompiled ``struct.Struct`` for the fields
before the limits, the limit count, the padding after them, and the value's wire dtype.
``GR_STRING`` and ``CTRL_STRING`` are not implemented by EPICS and go out as
``dbr_sts_string``, exactly as RSRV sends them.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .dbr_types import (MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE,
                        MAX_UNITS_SIZE, ChannelType)

__all__ = ["Layout", "LAYOUTS", "GR_LIMITS", "CTRL_LIMITS", "WIRE_DTYPES"]

GR_LIMITS: tuple[str, ...] = (
    "upper_disp_limit", "lower_disp_limit", "upper_alarm_limit",
    "upper_warning_limit", "lower_warning_limit", "lower_alarm_limit",
)
CTRL_LIMITS: tuple[str, ...] = GR_LIMITS + ("upper_ctrl_limit", "lower_ctrl_limit")

#: Big-endian wire dtype of each native type's value (STRING: one 40-byte field).
WIRE_DTYPES: dict[ChannelType, np.dtype] = {
    ChannelType.STRING: np.dtype(f"S{MAX_STRING_SIZE}"),
    ChannelType.INT: np.dtype(">i2"),
    ChannelType.FLOAT: np.dtype(">f4"),
    ChannelType.ENUM: np.dtype(">u2"),
    ChannelType.CHAR: np.dtype("u1"),
    ChannelType.LONG: np.dtype(">i4"),
    ChannelType.DOUBLE: np.dtype(">f8"),
}

_STS = "status:h severity:h"
_TIME = "status:h severity:h secs:I nsecs:I"
_UNITS = "status:h severity:h units"
_PREC = "status:h severity:h precision:h pad2 units"
_ENUM = "status:h severity:h no_str strs"

# family, native types, fields before the value (db_access.h order)
_TABLE: tuple[tuple[str, str, str], ...] = (
    ("native", "STRING INT FLOAT ENUM CHAR LONG DOUBLE", ""),
    ("sts", "STRING INT FLOAT ENUM LONG", _STS),
    ("sts", "CHAR", f"{_STS} pad1"),
    ("sts", "DOUBLE", f"{_STS} pad4"),
    ("time", "STRING FLOAT LONG", _TIME),
    ("time", "INT ENUM", f"{_TIME} pad2"),
    ("time", "CHAR", f"{_TIME} pad3"),
    ("time", "DOUBLE", f"{_TIME} pad4"),
    ("gr", "STRING", _STS),
    ("gr", "INT LONG", f"{_UNITS} GR"),
    ("gr", "CHAR", f"{_UNITS} GR pad1"),
    ("gr", "FLOAT DOUBLE", f"{_PREC} GR"),
    ("gr", "ENUM", _ENUM),
    ("ctrl", "STRING", _STS),
    ("ctrl", "INT LONG", f"{_UNITS} CTRL"),
    ("ctrl", "CHAR", f"{_UNITS} CTRL pad1"),
    ("ctrl", "FLOAT DOUBLE", f"{_PREC} CTRL"),
    ("ctrl", "ENUM", _ENUM),
)

# type, value's wire type, fields before the value
_SPECIAL: tuple[tuple[ChannelType, str, str], ...] = (
    (ChannelType.PUT_ACKT, ">u2", ""),
    (ChannelType.PUT_ACKS, ">u2", ""),
    (ChannelType.STSACK_STRING, f"S{MAX_STRING_SIZE}", "status:H severity:H ackt:H acks:H"),
    (ChannelType.CLASS_NAME, f"S{MAX_STRING_SIZE}", ""),
)

_FIXED_FIELDS = {
    "units": f"{MAX_UNITS_SIZE}s",
    "no_str": "h",
    "strs": f"{MAX_ENUM_STATES * MAX_ENUM_STRING_SIZE}s",
}
_FAMILY_OFFSET = {"native": 0, "sts": 7, "time": 14, "gr": 21, "ctrl": 28}


@dataclass(frozen=True, slots=True)
class Layout:
    """How one DBR type is laid out: ``head`` fields, then limits, then padding, then values."""

    dbr_type: ChannelType
    value_type: ChannelType          # the native type of the values (PUT_ACK*: INT)
    value_dtype: np.dtype            # big-endian wire dtype of one element
    head: struct.Struct              # fields before the limits (pads included)
    head_fields: tuple[str, ...]     # metadata attribute per packed head field
    limits: tuple[str, ...]          # GR_LIMITS, CTRL_LIMITS or ()
    tail_pad: int                    # RISC_pad bytes after the limits
    prefix_size: int                 # bytes before the first value

    @property
    def value_size(self) -> int:
        return self.value_dtype.itemsize


def _build(dbr_type: ChannelType, value_type: ChannelType, value_dtype: np.dtype,
           spec: str) -> Layout:
    fmt: list[str] = [">"]
    names: list[str] = []
    limits: tuple[str, ...] = ()
    tail_pad = 0
    for token in spec.split():
        if token in ("GR", "CTRL"):
            limits = GR_LIMITS if token == "GR" else CTRL_LIMITS
        elif token.startswith("pad"):
            if limits:
                tail_pad = int(token[3:])
            else:
                fmt.append(f"{token[3:]}x")
        elif ":" in token:
            name, code = token.split(":")
            fmt.append(code)
            names.append(name)
        else:
            fmt.append(_FIXED_FIELDS[token])
            names.append(token)
    head = struct.Struct("".join(fmt))
    prefix = head.size + len(limits) * value_dtype.itemsize + tail_pad
    return Layout(dbr_type, value_type, value_dtype, head, tuple(names), limits, tail_pad,
                  prefix)


def _build_all() -> tuple[Layout, ...]:
    layouts: dict[int, Layout] = {}
    for family, natives, spec in _TABLE:
        for native_name in natives.split():
            native = ChannelType[native_name]
            dbr_type = ChannelType(_FAMILY_OFFSET[family] + native)
            layouts[dbr_type] = _build(dbr_type, native, WIRE_DTYPES[native], spec)
    for dbr_type, wire, spec in _SPECIAL:
        value_type = ChannelType.INT if wire == ">u2" else ChannelType.STRING
        layouts[dbr_type] = _build(dbr_type, value_type, np.dtype(wire), spec)
    assert sorted(layouts) == list(range(len(layouts))) == list(range(39))
    return tuple(layouts[i] for i in range(39))


#: ``LAYOUTS[dbr_type]``: the layout of every DBR type, indexed by its number.
LAYOUTS: tuple[Layout, ...] = _build_all()

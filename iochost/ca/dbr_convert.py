"""Value conversions between the seven native types, as an EPICS IOC (RSRV + dbConvert) does.

Values are 1-D numpy arrays for the numeric types (INT int16, FLOAT float32, ENUM uint16,
CHAR uint8, LONG int32, DOUBLE float64) and ``list[bytes]`` for STRING.

The rules, and why:

* **integer -> integer** wraps to the target width (a C cast, as dbConvert's ``GET``/``PUT``
  macros do): LONG 70000 read as INT is 4464.
* **floating -> integer** is the C cast compiled for x86-64, where every IOC in practice
  runs: truncate toward zero to an int32 (``cvttsd2si``; NaN and anything outside the
  int32 range become -2**31), then keep the target's low bits.  Done explicitly so the
  result does not depend on the machine or on numpy's undefined-cast warnings.
* **DOUBLE -> FLOAT** follows ``epicsConvertDoubleToFloat``: finite values beyond the
  float range clamp to +-FLT_MAX, non-zero values below FLT_MIN become +-FLT_MIN, zero
  and non-finite values pass through.
* **number -> STRING** prints FLOAT/DOUBLE as ``cvtFloatToString``/``cvtDoubleToString``
  do, with the channel's ``precision`` (dbConvert uses 6 when a field has none); see
  :func:`iochost.ca.dbr_text.format_number`.  Integers print in decimal.  ENUM prints
  its state string, like an mbbo measured in softioc: an index beyond the states but
  below 16 prints "", from 16 on "Illegal Value"; with no states at all the index
  prints in decimal.
* **STRING -> number** reads the longest number at the start of the text, as RSRV does
  (``strtol`` base 0 / ``strtod``; "0x10" is 16, "010" is 8 for integers, "5 mm" is 5,
  "" is 0); see :mod:`iochost.ca.dbr_text` for the measured table.  Text with no
  number, or a number that does not fit the target, raises
  ``CaStatusError(ECA_NOCONVERT)`` naming the text (a CHAR holds 0..255 from a put, but
  a read of text as CHAR -- ``reading=True`` -- takes a signed byte, -128..127, as
  RSRV's getStringChar does).  RSRV itself answers ECA_PUTFAIL
  for such a write and ECA_GETFAIL for such a read; the layer that knows the direction
  maps the code (``eca.put_refusal`` / ``eca.get_refusal``: the server, the web page's
  puts and the client's local PVs).
* **STRING -> ENUM** takes the index of an exactly matching state string; otherwise a
  number (as above, but "" or blanks are none) that is a valid index
  (``< len(enum_strings)``); otherwise ECA_NOCONVERT (RSRV: S_db_badChoice, answered as
  ECA_PUTFAIL).  A menu field (``whole_numbers``) takes only a number that is the whole
  text ("2.0" and "2 s" are refused, as RSRV's ``putStringMenu`` refuses them).
* **CHAR <-> STRING** is numeric per element by default (dbConvert: a uchar array read
  as DBR_STRING gives "72", "105", ...).  With ``long_string=True`` a CHAR array is text
  instead: the bytes up to the first NUL make one string (at most 39 bytes), and a
  string becomes its bytes plus a NUL -- the ``NAME.$`` long-string view.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import isfinite
from typing import Any

import numpy as np

from .dbr_text import format_number, parse_float, parse_integer
from .dbr_types import FLT_MAX, FLT_MIN, MAX_ENUM_STATES, MAX_STRING_SIZE, ChannelType
from .eca import ECA_NOCONVERT
from .errors import CaStatusError, LocalProtocolError

__all__ = ["NATIVE_DTYPES", "convert_values", "as_native_array", "cast_numeric"]

_S, _I, _F, _E, _C, _L, _D = (ChannelType(i) for i in range(7))
_INVALID = ChannelType.CLASS_NAME  # stands for "not a type at all" (above _D: refused)
#: What a conversion returns: a 1-D array (numeric targets) or the strings (STRING).
WireValues = np.ndarray | list[bytes]

#: The numpy dtype (native byte order) each native numeric type is held in.
NATIVE_DTYPES: dict[ChannelType, np.dtype] = {
    _I: np.dtype(np.int16),
    _F: np.dtype(np.float32),
    _E: np.dtype(np.uint16),
    _C: np.dtype(np.uint8),
    _L: np.dtype(np.int32),
    _D: np.dtype(np.float64),
}
_FLOATING = frozenset((_F, _D))

_INT32_MIN = -(2**31)
_MAX_TEXT = MAX_STRING_SIZE - 1


def _noconvert(detail: str) -> CaStatusError:
    return CaStatusError(ECA_NOCONVERT, f"no conversion: {detail}")


def as_native_array(values: Any, native: ChannelType) -> np.ndarray:
    """``values`` as a 1-D array of ``native``'s dtype (any byte order kept when it matches)."""
    dtype = NATIVE_DTYPES[native]
    try:
        arr = values if isinstance(values, np.ndarray) else np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise LocalProtocolError(f"not numeric {native.name} data: {values!r}") from exc
    if arr.dtype.kind not in "biuf":
        raise LocalProtocolError(f"not numeric {native.name} data: {values!r}")
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.dtype.kind == dtype.kind and arr.dtype.itemsize == dtype.itemsize:
        return arr
    if arr.dtype.kind == "f" and dtype.kind == "f":
        # Python floats given for a FLOAT channel are its values, not DOUBLE data to
        # convert: no epicsConvertDoubleToFloat clamping here.
        return arr.astype(dtype)
    return _numeric_to_numeric(arr, dtype)


def cast_numeric(arr: np.ndarray, target: ChannelType) -> np.ndarray:
    """A numeric array converted to ``target`` by the IOC's rules (module docstring)."""
    return _numeric_to_numeric(arr, NATIVE_DTYPES[target])


#: Arrays up to this size are checked element by element in Python (cheaper than numpy's
#: whole-array passes for a scalar value or a DBR's eight limits).
_FEW = 8


def _float_to_int(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if arr.size <= _FEW:
        values = arr.tolist()
        if all(_INT32_MIN <= v < 2**31 for v in values):  # (NaN is not)
            return np.array([int(v) for v in values], np.int64).astype(dtype)
    truncated = np.trunc(arr.astype(np.float64))
    out_of_range = ~((truncated >= _INT32_MIN) & (truncated < 2**31))  # NaN included
    if out_of_range.any():
        truncated[out_of_range] = _INT32_MIN
    return truncated.astype(np.int64).astype(dtype)


def _double_to_float(arr: np.ndarray) -> np.ndarray:
    # a scalar, or limits: checked in Python, several times faster than numpy's passes
    if arr.size <= _FEW and all(not v or FLT_MIN < abs(v) < FLT_MAX or not isfinite(v)
                                for v in arr.tolist()):
        return arr.astype(np.float32)
    mag = np.abs(arr)
    finite_nonzero = np.isfinite(arr) & (arr != 0)
    if not (finite_nonzero & ((mag >= FLT_MAX) | (mag <= FLT_MIN))).any():
        return arr.astype(np.float32)
    out = np.where(finite_nonzero & (mag >= FLT_MAX), np.copysign(FLT_MAX, arr), arr)
    out = np.where(finite_nonzero & (mag <= FLT_MIN), np.copysign(FLT_MIN, arr), out)
    return out.astype(np.float32)


def _numeric_to_numeric(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if arr.dtype.kind != "f":
        return arr.astype(dtype)
    with np.errstate(invalid="ignore"):  # a signalling NaN a client sent: quietly a NaN
        if dtype.kind in "iu":
            return _float_to_int(arr, dtype)
        if dtype.itemsize == 4 and arr.dtype.itemsize == 8:
            return _double_to_float(arr)
        return arr.astype(dtype)


# ---------------------------------------------------------------- number -> text

def _numbers_to_strings(arr: np.ndarray, native: ChannelType, precision: int) -> list[bytes]:
    if native in _FLOATING:
        single = native is _F
        return [format_number(v, precision, single).encode()[:_MAX_TEXT] for v in arr.tolist()]
    return [str(v).encode() for v in arr.tolist()]


#: an index past the states of an ENUM that has some: as mbbi's get_enum_str prints it
_MBB_UNNAMED = (MAX_ENUM_STATES, b"Illegal Value")


def _enum_to_strings(arr: np.ndarray, enum_strings: Sequence[bytes],
                     unnamed: tuple[int, bytes] | None) -> list[bytes]:
    n = len(enum_strings)
    if unnamed is None:
        if not n:
            return [str(i).encode() for i in arr.tolist()]
        unnamed = _MBB_UNNAMED
    limit, illegal = unnamed
    return [enum_strings[i] if i < n else b"" if i < limit else illegal
            for i in arr.tolist()]


# ---------------------------------------------------------------- text -> number

_INT_RANGES = {t: (int(np.iinfo(NATIVE_DTYPES[t]).min), int(np.iinfo(NATIVE_DTYPES[t]).max))
               for t in (_I, _E, _C, _L)}


# RSRV's getStringChar: text read as DBR_CHAR is parsed as a signed byte
_SIGNED_CHAR = (-128, 127)


def _parse_string(raw: bytes, target: ChannelType, reading: bool = False,
                  array: bool = False) -> int | float:
    try:
        if array and not raw.strip():  # RSRV's array converters (epicsParse*) need a number
            raise ValueError("no number in empty text")
        if target in _FLOATING:
            return parse_float(raw, single=target is _F)
        if target is _C and reading:
            return parse_integer(raw, *_SIGNED_CHAR) & 0xFF
        return parse_integer(raw, *_INT_RANGES[target])
    except ValueError as exc:
        raise _noconvert(f"{exc} for {target.name}") from None


def _strings_to_numbers(values: Sequence[bytes], target: ChannelType,
                        reading: bool = False, array: bool = False) -> np.ndarray:
    parsed = [_parse_string(v, target, reading, array) for v in values]
    return np.array(parsed, dtype=NATIVE_DTYPES[target]) if parsed else \
        np.zeros(0, NATIVE_DTYPES[target])


def _strings_to_enum(values: Sequence[bytes], enum_strings: Sequence[bytes],
                     whole: bool) -> np.ndarray:
    indices = []
    for raw in values:
        if raw in enum_strings:
            indices.append(list(enum_strings).index(raw))
            continue
        try:
            if not raw.strip():
                raise ValueError("no number")
            number = parse_integer(raw, 0, len(enum_strings) - 1, whole=whole)
        except ValueError:
            raise _noconvert(
                f"{raw!r} is not one of the {len(enum_strings)} enum states") from None
        indices.append(number)
    return np.array(indices, dtype=np.uint16)


# ---------------------------------------------------------------- long strings

def _chars_to_text(arr: np.ndarray) -> list[bytes]:
    return [arr.astype(np.uint8, copy=False).tobytes().split(b"\0", 1)[0][:_MAX_TEXT]]


def _text_to_chars(values: Sequence[bytes]) -> np.ndarray:
    text = values[0] if len(values) else b""
    return np.frombuffer(text + b"\0", dtype=np.uint8)


# ---------------------------------------------------------------- dispatch

def _as_strings(values: bytes | Iterable[bytes]) -> list[bytes]:
    if isinstance(values, bytes):
        return [values]
    strings = list(values)
    for s in strings:
        if not isinstance(s, bytes):
            raise LocalProtocolError(f"STRING data must be bytes, got {s!r}")
    return strings


def convert_values(values: Any, from_type: int, to_type: int,
                   enum_strings: Sequence[bytes] = (), *, precision: int = 6,
                   long_string: bool = False,
                   unnamed_states: tuple[int, bytes] | None = None,
                   whole_numbers: bool = False, reading: bool = False,
                   array: bool = False) -> WireValues:
    """Convert ``values`` of native type ``from_type`` to native type ``to_type``.

    Returns a 1-D array (numeric targets, native byte order) or ``list[bytes]`` (STRING).
    ``enum_strings`` are the states of an ENUM channel; ``precision`` is used to print
    FLOAT/DOUBLE as STRING; ``long_string`` treats CHAR arrays as text; ``unnamed_states``
    is how an index without a state string reads (``Metadata.unnamed_states``);
    ``whole_numbers``: a STRING -> ENUM number must be the whole text (menu fields);
    ``reading``: for a client's read, where text read as CHAR is a signed byte; ``array``:
    a put to an array, where empty text is no number (a scalar's is 0, as in RSRV).  See the
    module docstring for the rules.  Raises ``CaStatusError(ECA_NOCONVERT)`` for values that do
    not convert and ``LocalProtocolError`` when called with non-native types.
    """
    try:
        src, dst = ChannelType(from_type), ChannelType(to_type)
    except ValueError:
        src = dst = _INVALID
    if src > _D or dst > _D:
        raise LocalProtocolError(
            f"convert_values takes native types (0..6), got {from_type!r} -> {to_type!r}")

    if src is _S:
        strings = _as_strings(values)
        if dst is _S:
            return strings
        if dst is _E:
            return _strings_to_enum(strings, enum_strings, whole_numbers)
        if dst is _C and long_string:
            return _text_to_chars(strings)
        return _strings_to_numbers(strings, dst, reading, array)

    arr = as_native_array(values, src)
    if dst is _S:
        if src is _E:
            return _enum_to_strings(arr, enum_strings, unnamed_states)
        if src is _C and long_string:
            return _chars_to_text(arr)
        return _numbers_to_strings(arr, src, precision)
    if src is dst:
        return arr
    return _numeric_to_numeric(arr, NATIVE_DTYPES[dst])

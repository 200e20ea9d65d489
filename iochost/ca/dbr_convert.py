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
  :func:`format_number`.  Integers print in decimal.  ENUM prints its state string; an index with no
  string prints in decimal (an mbbi would print its empty state string or
  "Illegal_Value"; a number is more useful and round-trips).
* **STRING -> number** parses like ``epicsParse*`` with EPICS 7's default
  ``dbConvertBase`` 0: leading/trailing white space is ignored; integers accept
  ``0x`` hex and C octal (``010`` is 8); an integer target also accepts a float
  literal ("1e3", "2.7") which is then cast as above (dbConvert's "convert via double"
  fallback); FLOAT/DOUBLE accept what ``strtod`` does, including hex.  The empty string
  is 0 (dbConvert's ``*psrc == 0`` case).  A value that does not parse, or does not fit
  the target type, raises ``CaStatusError(ECA_NOCONVERT)`` naming the value.  RSRV
  reports such failures as ECA_PUTFAIL on a write and ECA_GETFAIL on a read; the server
  layer, which knows the direction, maps the code.
* **STRING -> ENUM** takes the index of an exactly matching state string; otherwise a
  number that parses and is a valid index (``< len(enum_strings)``); otherwise
  ECA_NOCONVERT (dbPut's ``putStringEnum``: S_db_badChoice).
* **CHAR <-> STRING** is numeric per element by default (dbConvert: a uchar array read
  as DBR_STRING gives "72", "105", ...).  With ``long_string=True`` a CHAR array is text
  instead: the bytes up to the first NUL make one string (at most 39 bytes), and a
  string becomes its bytes plus a NUL -- the ``NAME.$`` long-string view.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .dbr_types import MAX_STRING_SIZE, ChannelType
from .eca import ECA_NOCONVERT
from .errors import CaStatusError, LocalProtocolError

__all__ = ["NATIVE_DTYPES", "convert_values", "as_native_array", "format_number"]

_S, _I, _F, _E, _C, _L, _D = (ChannelType(i) for i in range(7))

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

_FLT_MAX = float(np.finfo(np.float32).max)
_FLT_MIN = float(np.finfo(np.float32).tiny)
_INT32_MIN = -(2**31)
_MAX_TEXT = MAX_STRING_SIZE - 1


def _noconvert(detail: str) -> CaStatusError:
    return CaStatusError(ECA_NOCONVERT, f"no conversion: {detail}")


def as_native_array(values, native: ChannelType) -> np.ndarray:
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
    return _numeric_to_numeric(arr, dtype)


def _float_to_int(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    truncated = np.trunc(arr.astype(np.float64))
    out_of_range = ~((truncated >= _INT32_MIN) & (truncated < 2**31))  # NaN included
    if out_of_range.any():
        truncated[out_of_range] = _INT32_MIN
    return truncated.astype(np.int64).astype(dtype)


def _double_to_float(arr: np.ndarray) -> np.ndarray:
    mag = np.abs(arr)
    finite_nonzero = np.isfinite(arr) & (arr != 0)
    if not (finite_nonzero & ((mag >= _FLT_MAX) | (mag <= _FLT_MIN))).any():
        return arr.astype(np.float32)
    out = np.where(finite_nonzero & (mag >= _FLT_MAX), np.copysign(_FLT_MAX, arr), arr)
    out = np.where(finite_nonzero & (mag <= _FLT_MIN), np.copysign(_FLT_MIN, arr), out)
    return out.astype(np.float32)


def _numeric_to_numeric(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if arr.dtype.kind == "f" and dtype.kind in "iu":
        return _float_to_int(arr, dtype)
    if arr.dtype.kind == "f" and dtype.itemsize == 4 and arr.dtype.itemsize == 8:
        return _double_to_float(arr)
    return arr.astype(dtype)


# ---------------------------------------------------------------- number -> text

def format_number(value: float, precision: int, single: bool = False) -> str:
    """How an IOC prints a DOUBLE (``cvtDoubleToString``) or FLOAT (``single``) as text.

    Up to 1e7 with at most 8 decimals: fixed point, rounding the truncated next digit
    half up, exactly as cvtFast.c computes it (in float32 arithmetic for FLOAT).  Beyond
    that (or NaN): ``%.{min(p,3)}f``; beyond 1e16 (FLOAT: 1e8) or p > 8: ``%e`` with
    width p+7 (FLOAT: p+6) and at most 17 (12) decimals.
    """
    p = max(int(precision), 0)
    if value != value or p > 8 or not -1e7 <= value <= 1e7:
        exp_limit, max_p, width = (1e8, 12, 6) if single else (1e16, 17, 7)
        big = value >= exp_limit or value <= -exp_limit if single else \
            value > exp_limit or value < -exp_limit
        if p > 8 or big:
            p = min(p, max_p)
            return "%*.*e" % (p + width, p, value)
        return "%.*f" % (min(p, 3), value)
    return _fixed_point(value, p, np.float32 if single else float)


def _fixed_point(value: float, p: int, real) -> str:
    sign = "-" if value < 0 else ""
    value = real(-value if value < 0 else value)
    whole = int(value)
    fplace = 10 ** p
    fraction = int(real(value - real(whole)) * real(fplace) * real(10))
    fraction = (fraction + 5) // 10
    if fraction >= fplace:
        whole, fraction = whole + 1, fraction - fplace
    return f"{sign}{whole}.{fraction:0{p}d}" if p else f"{sign}{whole}"


def _numbers_to_strings(arr: np.ndarray, native: ChannelType, precision: int) -> list[bytes]:
    if native in _FLOATING:
        single = native is _F
        return [format_number(v, precision, single).encode()[:_MAX_TEXT] for v in arr.tolist()]
    return [str(v).encode() for v in arr.tolist()]


def _enum_to_strings(arr: np.ndarray, enum_strings: Sequence[bytes]) -> list[bytes]:
    n = len(enum_strings)
    return [enum_strings[i] if i < n else str(i).encode() for i in arr.tolist()]


# ---------------------------------------------------------------- text -> number

_C_INTEGER = re.compile(rb"[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
# What strtod accepts: decimal or hex floats, inf/infinity, nan.  Python's float() would
# also accept "1_000", which C does not.
_C_FLOAT = re.compile(
    rb"[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
    rb"([pP][+-]?\d+)?|inf(inity)?|nan)",
    re.IGNORECASE,
)


def _parse_int(text: bytes) -> int | None:
    if _C_INTEGER.fullmatch(text) is None:
        return None
    sign = -1 if text[:1] == b"-" else 1
    digits = text.lstrip(b"+-")
    if digits[:2] in (b"0x", b"0X"):
        return sign * int(digits[2:], 16)
    if len(digits) > 1 and digits[:1] == b"0":
        return sign * int(digits, 8)
    return sign * int(digits)


def _parse_float(text: bytes) -> float | None:
    if _C_FLOAT.fullmatch(text) is None:
        return None
    body = text.lstrip(b"+-")
    if body[:2] in (b"0x", b"0X"):
        magnitude = float.fromhex(body.decode())
        return -magnitude if text[:1] == b"-" else magnitude
    return float(text)


def _parse_string(raw: bytes, target: ChannelType) -> int | float:
    if raw == b"":
        return 0
    text = raw.strip()
    if target in _FLOATING:
        value = _parse_float(text)
        if value is None:
            raise _noconvert(f"{raw!r} is not a number")
        if target is _F and value == value and abs(value) != float("inf") \
                and abs(value) >= _FLT_MAX:
            raise _noconvert(f"{raw!r} does not fit a FLOAT")
        return value
    value = _parse_int(text)
    if value is None:
        as_float = _parse_float(text)
        if as_float is None or as_float != as_float or abs(as_float) == float("inf"):
            raise _noconvert(f"{raw!r} is not a number")
        value = int(as_float)
    info = np.iinfo(NATIVE_DTYPES[target])
    if not info.min <= value <= info.max:
        raise _noconvert(f"{raw!r} does not fit {target.name}")
    return value


def _strings_to_numbers(values: Sequence[bytes], target: ChannelType) -> np.ndarray:
    parsed = [_parse_string(v, target) for v in values]
    return np.array(parsed, dtype=NATIVE_DTYPES[target]) if parsed else \
        np.zeros(0, NATIVE_DTYPES[target])


def _strings_to_enum(values: Sequence[bytes], enum_strings: Sequence[bytes]) -> np.ndarray:
    indices = []
    for raw in values:
        if raw in enum_strings:
            indices.append(list(enum_strings).index(raw))
            continue
        number = _parse_int(raw.strip())
        if number is None or not 0 <= number < len(enum_strings):
            raise _noconvert(f"{raw!r} is not one of the {len(enum_strings)} enum states")
        indices.append(number)
    return np.array(indices, dtype=np.uint16)


# ---------------------------------------------------------------- long strings

def _chars_to_text(arr: np.ndarray) -> list[bytes]:
    return [arr.astype(np.uint8, copy=False).tobytes().split(b"\0", 1)[0][:_MAX_TEXT]]


def _text_to_chars(values: Sequence[bytes]) -> np.ndarray:
    text = values[0] if len(values) else b""
    return np.frombuffer(text + b"\0", dtype=np.uint8)


# ---------------------------------------------------------------- dispatch

def _as_strings(values) -> list[bytes]:
    if isinstance(values, bytes):
        return [values]
    strings = list(values)
    for s in strings:
        if not isinstance(s, bytes):
            raise LocalProtocolError(f"STRING data must be bytes, got {s!r}")
    return strings


def convert_values(values, from_type: int, to_type: int, enum_strings: Sequence[bytes] = (),
                   *, precision: int = 6, long_string: bool = False):
    """Convert ``values`` of native type ``from_type`` to native type ``to_type``.

    Returns a 1-D array (numeric targets, native byte order) or ``list[bytes]`` (STRING).
    ``enum_strings`` are the states of an ENUM channel; ``precision`` is used to print
    FLOAT/DOUBLE as STRING; ``long_string`` treats CHAR arrays as text.  See the module
    docstring for the rules.  Raises ``CaStatusError(ECA_NOCONVERT)`` for values that do
    not convert and ``LocalProtocolError`` when called with non-native types.
    """
    try:
        src, dst = ChannelType(from_type), ChannelType(to_type)
    except ValueError:
        src = dst = None
    if src is None or src > _D or dst > _D:
        raise LocalProtocolError(
            f"convert_values takes native types (0..6), got {from_type!r} -> {to_type!r}")

    if src is _S:
        strings = _as_strings(values)
        if dst is _S:
            return strings
        if dst is _E:
            return _strings_to_enum(strings, enum_strings)
        if dst is _C and long_string:
            return _text_to_chars(strings)
        return _strings_to_numbers(strings, dst)

    arr = as_native_array(values, src)
    if dst is _S:
        if src is _E:
            return _enum_to_strings(arr, enum_strings)
        if src is _C and long_string:
            return _chars_to_text(arr)
        return _numbers_to_strings(arr, src, precision)
    if src is dst:
        return arr
    return _numeric_to_numeric(arr, NATIVE_DTYPES[dst])

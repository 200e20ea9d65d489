"""Numbers as text the way an EPICS IOC prints and parses them (cvtFast.c, epicsStdlib.c).

Printing (:func:`format_number`) follows ``cvtDoubleToString`` / ``cvtFloatToString``.

Parsing (:func:`parse_number`) follows what RSRV does with a DBR_STRING put to a numeric
field, measured against softioc (EPICS 7): the C library's ``strtol`` (base 0, EPICS 7's
default ``dbConvertBase``) or ``strtod`` reads the longest number at the start of the
text and the rest is ignored, because dbConvert passes a "units" pointer:

=============  ==========  ============  =========================================
text           LONG        DOUBLE        why
=============  ==========  ============  =========================================
``"0x10"``     16          16.0          hex with base 0 / strtod
``"010"``      8           10.0          C octal for integers only
``"2.9"``      2           2.9           strtol stops at "."
``"1e3"``      1           1000.0        no "via double" fallback in RSRV's put
``"12abc"``    12          12.0          trailing text ignored ("5 mm" is 5)
``""``         0           0.0           dbConvert's empty-string case
``"   "``      error       error         no digits
``"nan"``      error       nan           strtol has no NaN
=============  ==========  ============  =========================================

Out-of-range results are errors (``epicsParse*``: overflow; for DOUBLE also underflow to
zero; for FLOAT also ``|v| >= FLT_MAX`` and ``0 < v <= FLT_MIN``).  Every error is a
``ValueError`` with a message naming the text; :mod:`iochost.ca.dbr_convert` turns it
into the ECA code.
"""
from __future__ import annotations

import re
import sys

import numpy as np

from .dbr_types import FLT_MAX, FLT_MIN

# float.h's DBL_MIN: below it strtod's result is subnormal (ERANGE)
DBL_MIN = sys.float_info.min

__all__ = ["format_number", "integer_prefix", "parse_integer", "parse_float"]



# ---------------------------------------------------------------- printing

def format_number(value: float, precision: int, single: bool = False) -> str:
    """How an IOC prints a DOUBLE (``cvtDoubleToString``) or FLOAT (``single``) as text.

    Up to 1e7 with at most 8 decimals: fixed point, rounding the truncated next digit
    half up, exactly as cvtFast.c computes it (in float32 arithmetic for FLOAT).  Beyond
    that (or NaN): ``%.{min(p,3)}f``; beyond 1e16 (FLOAT: 1e8) or p > 8: ``%e`` with
    width p+7 (FLOAT: p+6) and at most 17 (12) decimals.
    """
    p = max(int(precision), 0)
    if value != value or p > 8 or not -1e7 <= value <= 1e7:
        if single:
            big, max_p, width = value >= 1e8 or value <= -1e8, 12, 6
        else:
            big, max_p, width = value > 1e16 or value < -1e16, 17, 7
        if p > 8 or big:
            p = min(p, max_p)
            return f"{value:{p + width}.{p}e}"
        return f"{value:.{min(p, 3)}f}"
    return _fixed_point(value, p, np.float32 if single else float)


def _fixed_point(value: float, p: int, real: type[float] | type[np.float32]) -> str:
    sign = "-" if value < 0 else ""
    magnitude = real(-value if value < 0 else value)
    whole = int(magnitude)
    fplace = 10 ** p
    fraction = int(real(magnitude - real(whole)) * real(fplace) * real(10))
    fraction = (fraction + 5) // 10
    if fraction >= fplace:
        whole, fraction = whole + 1, fraction - fplace
    return f"{sign}{whole}.{fraction:0{p}d}" if p else f"{sign}{whole}"


# ---------------------------------------------------------------- parsing

# The longest prefix strtol(base 0) / strtod accept, after leading white space.
_STRTOL = re.compile(rb"[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")
_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?)(?:"
    rb"(0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|((?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(inf(?:inity)?)|(nan)(?:\([0-9A-Za-z_]*\))?)",
    re.IGNORECASE,
)


def integer_prefix(text: bytes) -> tuple[int, int] | None:
    """``strtol(text, &end, 0)`` unbounded: ``(value, end)``, or None when no number
    starts the text (after white space)."""
    m = _STRTOL.match(text)
    if m is None:
        return None
    sign, hexa, octal, decimal = m.groups()
    value = int(hexa, 16) if hexa else int(octal, 8) if octal else int(decimal)
    return (-value if sign == b"-" else value), m.end()


def parse_integer(text: bytes, low: int, high: int, *, whole: bool = False) -> int:
    """``strtol(text, &end, 0)`` range-checked to ``[low, high]`` (an unsigned target
    rejects a minus sign on a non-zero value, as ``strtoul`` wraps it out of range).
    ``whole``: nothing but white space may follow the number, and "" is no number."""
    if text == b"" and not whole:
        return 0
    parsed = integer_prefix(text)
    if parsed is None or (whole and text[parsed[1]:].strip()):
        raise ValueError(f"{text!r} is not a number")
    value = parsed[0]
    if not low <= value <= high:
        raise ValueError(f"{text!r} is out of range [{low}, {high}]")
    return value


def parse_float(text: bytes, single: bool = False) -> float:
    """``strtod(text, &end)`` with epicsParseDouble's (``single``: epicsParseFloat's) checks."""
    if text == b"":
        return 0.0
    m = _STRTOD.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a number")
    sign, hexa, decimal, infinity, _nan = m.groups()
    if hexa:
        try:
            value = float.fromhex(hexa.decode())
        except OverflowError:
            raise ValueError(f"{text!r} is too large") from None
    elif decimal:
        value = float(decimal)
        if value == float("inf"):
            raise ValueError(f"{text!r} is too large")
        # strtod's ERANGE: a non-zero number that rounds to 0 or to a subnormal double
        if (value == 0.0 and decimal.lstrip(b"0.").split(b"e")[0].split(b"E")[0]) \
                or 0.0 < value < DBL_MIN:
            raise ValueError(f"{text!r} is too small")
    else:
        value = float("inf") if infinity else float("nan")
    if sign == b"-":
        value = -value
    if single:
        if value == value and abs(value) != float("inf") and abs(value) >= FLT_MAX:
            raise ValueError(f"{text!r} does not fit a FLOAT")
        if 0 < value <= FLT_MIN:
            raise ValueError(f"{text!r} is too small for a FLOAT")
    return value

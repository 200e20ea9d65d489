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

import math
import re
import sys
from decimal import Decimal
from fractions import Fraction

import numpy as np

from .dbr_types import FLT_MAX, FLT_MIN

# float.h's DBL_MIN: below it strtod's result is subnormal (ERANGE)
DBL_MIN = sys.float_info.min

__all__ = ["format_number", "integer_prefix", "parse_integer", "parse_float", "strtod"]



# ---------------------------------------------------------------- printing

def format_number(value: float, precision: int, single: bool = False) -> str:
    """How an IOC prints a DOUBLE (``cvtDoubleToString``) or FLOAT (``single``) as text.

    Up to 1e7 with at most 8 decimals: fixed point, rounding the truncated next digit
    half up, exactly as cvtFast.c computes it (in float32 arithmetic for FLOAT).  Beyond
    that (or NaN): ``%.{min(p,3)}f``; beyond 1e16 (FLOAT: 1e8) or p > 8: ``%e`` with
    width p+7 (FLOAT: p+6) and at most 17 (12) decimals.  The precision is an epicsUInt16
    there: a negative one (a record's PREC of -1) is a large one.
    """
    p = int(precision) & 0xFFFF
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
    rb"0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP]([+-]?[0-9]+))?"
    rb"|([0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?"
    rb"|(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?))",
    re.IGNORECASE,
)
#: more digits than any 64-bit number has: such a number is out of every caller's range
#: (and int() refuses 4,300 of them)
_MAX_DIGITS = 64


def integer_prefix(text: bytes) -> tuple[int, int] | None:
    """``strtol(text, &end, 0)`` unbounded: ``(value, end)``, or None when no number
    starts the text (after white space)."""
    m = _STRTOL.match(text)
    if m is None:
        return None
    sign, hexa, octal, decimal = m.groups()
    if len(hexa or octal or decimal) > _MAX_DIGITS:
        value = 1 << 64
    else:
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


def strtod(text: bytes) -> float | None:
    """glibc's ``strtod(text, &end)`` as epicsParseDouble takes it: None when no number
    starts the text (after white space); ValueError where errno is ERANGE (an overflow, or
    an inexact result below the smallest normal double)."""
    m = _STRTOD.match(text)
    if m is None:
        return None
    sign, hexa, twos, decimal, tens, special = (g.decode() if g else "" for g in m.groups())
    if special:
        return float(sign + special.split("(")[0])   # inf, infinity, nan, nan(chars)
    power = twos or tens or "0"
    try:
        value = float.fromhex(f"{sign}0x{hexa}p{power}") if hexa \
            else float(f"{sign}{decimal}e{power}")
    except OverflowError:
        value = math.inf
    if math.isinf(value):
        raise ValueError(f"{text!r} is too large")
    if value == 0 and not (hexa or decimal).strip("0."):
        return value
    if abs(value) >= DBL_MIN:
        return value
    # zero or subnormal from a non-zero number: ERANGE unless exact (a small exponent here,
    # so the fraction is cheap)
    if value == 0:
        exact = False
    elif decimal:
        exact = Decimal(f"{decimal}e{power}") == Decimal(abs(value))
    else:
        whole, _, fraction = hexa.partition(".")
        digits = power.lstrip("+-").lstrip("0") or "0"  # int() refuses 4,300 digits
        shift = (-int(digits) if power[0] == "-" else int(digits)) - 4 * len(fraction)
        exact = Fraction(int(whole + fraction, 16)) * Fraction(2) ** shift == abs(value)
    if not exact:
        raise ValueError(f"{text!r} is too small")
    return value


def parse_float(text: bytes, single: bool = False) -> float:
    """``strtod(text, &end)`` with epicsParseDouble's (``single``: epicsParseFloat's) checks;
    empty text is 0 (a scalar put's converter)."""
    if text == b"":
        return 0.0
    value = strtod(text)
    if value is None:
        raise ValueError(f"{text!r} is not a number")
    if single:
        if value == value and abs(value) != float("inf") and abs(value) >= FLT_MAX:
            raise ValueError(f"{text!r} does not fit a FLOAT")
        if 0 < value <= FLT_MIN:
            raise ValueError(f"{text!r} is too small for a FLOAT")
    return value

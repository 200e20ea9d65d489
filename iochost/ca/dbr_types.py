"""DBR type numbers, their families, monitor masks, access rights and EPICS time.

Everything here is plain data about the 39 ``DBR_*`` request types of db_access.h; the
byte layouts live in :mod:`iochost.ca.dbr_layouts`.  Import the public names from
:mod:`iochost.ca.dbr`.

Type numbers are arranged in families of seven, one per native type, in the native
order (STRING, INT, FLOAT, ENUM, CHAR, LONG, DOUBLE)::

    0..6 native   7..13 STS   14..20 TIME   21..27 GR   28..34 CTRL   35..38 special

so ``native_type`` and ``promote`` are arithmetic, not look-ups in hand-written tables.
"""
from __future__ import annotations

import math
from enum import IntEnum, IntFlag

from .codes import (ACCESS_NONE, ACCESS_READ, ACCESS_WRITE, DBE_ALARM, DBE_ARCHIVE, DBE_LOG,
                    DBE_PROPERTY, DBE_VALUE, LAST_DBR_TYPE, MAX_ENUM_STATES,
                    MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE, MAX_UNITS_SIZE)
from .eca import ECA_BADTYPE
from .errors import CaStatusError, LocalProtocolError

__all__ = [
    "ChannelType", "AccessRights", "DBE_VALUE", "DBE_LOG", "DBE_ARCHIVE", "DBE_ALARM",
    "DBE_PROPERTY", "EPICS_EPOCH", "MAX_STRING_SIZE", "MAX_UNITS_SIZE",
    "MAX_ENUM_STRING_SIZE", "MAX_ENUM_STATES", "NATIVE_TYPES", "FAMILIES", "FLT_MAX", "FLT_MIN",
    "native_type", "family", "promote", "check_type",
    "to_epics_time", "from_epics_time", "from_epics_time_ns",
]


class ChannelType(IntEnum):
    """The ``DBR_*`` request types, by caproto's names (``SHORT`` spellings are aliases)."""

    STRING = 0
    INT = 1
    FLOAT = 2
    ENUM = 3
    CHAR = 4
    LONG = 5
    DOUBLE = 6

    STS_STRING = 7
    STS_INT = 8
    STS_FLOAT = 9
    STS_ENUM = 10
    STS_CHAR = 11
    STS_LONG = 12
    STS_DOUBLE = 13

    TIME_STRING = 14
    TIME_INT = 15
    TIME_FLOAT = 16
    TIME_ENUM = 17
    TIME_CHAR = 18
    TIME_LONG = 19
    TIME_DOUBLE = 20

    GR_STRING = 21  # db_access.h: "not implemented; use struct_dbr_sts_string"
    GR_INT = 22
    GR_FLOAT = 23
    GR_ENUM = 24
    GR_CHAR = 25
    GR_LONG = 26
    GR_DOUBLE = 27

    CTRL_STRING = 28  # sent with the STS_STRING layout as well
    CTRL_INT = 29
    CTRL_FLOAT = 30
    CTRL_ENUM = 31
    CTRL_CHAR = 32
    CTRL_LONG = 33
    CTRL_DOUBLE = 34

    PUT_ACKT = 35
    PUT_ACKS = 36
    STSACK_STRING = 37
    CLASS_NAME = 38

    # db_access.h spells the 16-bit integer both ways.
    SHORT = 1
    STS_SHORT = 8
    TIME_SHORT = 15
    GR_SHORT = 22
    CTRL_SHORT = 29


NATIVE_TYPES: tuple[ChannelType, ...] = tuple(ChannelType(i) for i in range(7))
FAMILIES: tuple[str, ...] = ("native", "sts", "time", "gr", "ctrl")
_LAST_TYPE = LAST_DBR_TYPE



class AccessRights(IntFlag):
    """The access-rights bits of CA_PROTO_ACCESS_RIGHTS."""

    NONE = ACCESS_NONE
    READ = ACCESS_READ
    WRITE = ACCESS_WRITE
    READ_WRITE = ACCESS_READ | ACCESS_WRITE


# float.h's FLT_MAX and FLT_MIN (smallest normal float32), for dbr_float_t conversions.
FLT_MAX = 3.4028234663852886e38
FLT_MIN = 1.1754943508222875e-38

#: 1990-01-01T00:00:00Z in Unix seconds: the origin of ``epicsTimeStamp``.
EPICS_EPOCH = 631152000

# The special types carry: PUT_ACKT/PUT_ACKS one uint16; STSACK_STRING and CLASS_NAME a string.
_SPECIAL_NATIVE = {
    ChannelType.PUT_ACKT: ChannelType.INT,
    ChannelType.PUT_ACKS: ChannelType.INT,
    ChannelType.STSACK_STRING: ChannelType.STRING,
    ChannelType.CLASS_NAME: ChannelType.STRING,
}


#: every ChannelType at its own number (the types are 0.._LAST_TYPE without a gap)
_BY_NUMBER: tuple[ChannelType, ...] = tuple(ChannelType)


def check_type(dbr_type: int) -> ChannelType:
    """``dbr_type`` as a :class:`ChannelType`; ``CaStatusError(ECA_BADTYPE)`` if out of range.

    The type comes from a client's request header, so a bad one is a failed request
    (RSRV answers ECA_BADTYPE), not a broken protocol.
    """
    if type(dbr_type) is ChannelType:
        return dbr_type
    try:
        if 0 <= dbr_type <= _LAST_TYPE:
            return _BY_NUMBER[dbr_type]     # an indexing: ChannelType() costs ~0.45 us a put
    except TypeError:
        pass
    raise CaStatusError(ECA_BADTYPE, f"invalid DBR type {dbr_type!r}")


def native_type(dbr_type: int) -> ChannelType:
    """The native type a request type carries: TIME_DOUBLE -> DOUBLE, CLASS_NAME -> STRING."""
    t = check_type(dbr_type)
    if t >= ChannelType.PUT_ACKT:
        return _SPECIAL_NATIVE[t]
    return NATIVE_TYPES[t % 7]


def family(dbr_type: int) -> str:
    """``'native'``, ``'sts'``, ``'time'``, ``'gr'``, ``'ctrl'`` or ``'special'``."""
    t = check_type(dbr_type)
    return "special" if t >= ChannelType.PUT_ACKT else FAMILIES[t // 7]


def promote(native: int, family_name: str) -> ChannelType:
    """The request type of ``family_name`` for a native type: (DOUBLE, 'time') -> TIME_DOUBLE."""
    if not 0 <= native <= ChannelType.DOUBLE or family_name not in FAMILIES:
        raise LocalProtocolError(
            f"cannot promote {native!r} to family {family_name!r}: need a native type "
            f"(0..6) and one of {', '.join(FAMILIES)}"
        )
    return ChannelType(FAMILIES.index(family_name) * 7 + native)


_NS_PER_S = 1_000_000_000
_MAX_SECS = 0xFFFFFFFF


def to_epics_time(unix: float = 0.0, *, unix_ns: int | None = None) -> tuple[int, int]:
    """``(seconds, nanoseconds)`` past the EPICS epoch for a Unix time.

    ``unix_ns`` (integer nanoseconds since the Unix epoch, as ``time.time_ns()``) takes
    precedence over the float and is converted exactly.  A float is rounded to the
    nearest nanosecond.  ``epicsTimeStamp`` is unsigned, so times before 1990 clamp
    to ``(0, 0)`` (and times after 2126 to the last representable second).
    """
    if unix_ns is not None:
        secs, nsecs = divmod(int(unix_ns), _NS_PER_S)
    else:
        if not math.isfinite(unix):
            return (0, 0)
        secs = math.floor(unix)
        nsecs = round((unix - secs) * _NS_PER_S)
        if nsecs >= _NS_PER_S:
            secs, nsecs = secs + 1, nsecs - _NS_PER_S
    secs -= EPICS_EPOCH
    if secs < 0:
        return (0, 0)
    if secs > _MAX_SECS:
        return (_MAX_SECS, _NS_PER_S - 1)
    return (secs, nsecs)


def from_epics_time(secs: int, nsecs: int) -> float:
    """The Unix time (float seconds) of an EPICS ``(seconds, nanoseconds)`` stamp."""
    return EPICS_EPOCH + secs + nsecs / _NS_PER_S


def from_epics_time_ns(secs: int, nsecs: int) -> int:
    """The exact Unix time in integer nanoseconds of an EPICS stamp."""
    return (EPICS_EPOCH + secs) * _NS_PER_S + nsecs

"""Channel data: the values, metadata and alarms the server serves (caproto's data API).

``ChannelDouble``, ``ChannelFloat``, ``ChannelInteger`` (LONG), ``ChannelShort`` (INT),
``ChannelByte`` (raw CHAR bytes), ``ChannelEnum``, ``ChannelString``, ``ChannelChar``
(text as a CHAR array) and ``ChannelAlarm`` follow caproto's public API, so IOCs port by
changing imports; each also implements the server's ``ServedChannel`` contract
(``docs/internals.md``).  The code lives in ``data_core`` (base class, write path, DBR
cache), ``data_numeric``, ``data_text``, ``data_errors`` and ``data_longstring``; import
it from here.
"""
from __future__ import annotations

from .alarms import AlarmSeverity, AlarmStatus, ChannelAlarm, limit_alarm
from .data_core import ChannelData, Listener, TimeStamp
from .data_errors import (CannotExceedLimits, ChannelValueError, Forbidden, SkipWrite,
                          TooManyElements, WrongValueType)
from .data_longstring import LongStringView
from .data_numeric import (LIMIT_NAMES, ChannelByte, ChannelDouble, ChannelFloat, ChannelInteger,
                           ChannelNumeric, ChannelShort)
from .data_text import ChannelChar, ChannelEnum, ChannelString, RecordStates

__all__ = [
    "AlarmSeverity", "AlarmStatus", "ChannelAlarm", "limit_alarm",
    "ChannelData", "ChannelNumeric", "ChannelDouble", "ChannelFloat", "ChannelInteger",
    "ChannelShort", "ChannelByte", "ChannelEnum", "ChannelString", "ChannelChar",
    "RecordStates", "SkipWrite", "Forbidden", "ChannelValueError", "CannotExceedLimits",
    "TooManyElements", "WrongValueType", "TimeStamp", "Listener", "LongStringView", "LIMIT_NAMES",
]

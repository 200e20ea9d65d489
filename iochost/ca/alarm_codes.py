"""Alarm status and severity: the numbers a DBR's ``status`` and ``severity`` fields carry.

Their one home (``alarm.h``: ``epicsAlarmCondition``, ``epicsAlarmSeverity``): the IOC
framework sets them (:mod:`iochost.pv.alarms` re-exports both), the client prints them.
"""
from __future__ import annotations

from enum import IntEnum

__all__ = ["AlarmSeverity", "AlarmStatus"]


class AlarmStatus(IntEnum):
    """EPICS alarm status (``epicsAlarmCondition``), the STAT field."""

    NO_ALARM = 0
    READ = 1
    WRITE = 2
    HIHI = 3
    HIGH = 4
    LOLO = 5
    LOW = 6
    STATE = 7
    COS = 8
    COMM = 9
    TIMEOUT = 10
    HWLIMIT = 11
    CALC = 12
    SCAN = 13
    LINK = 14
    SOFT = 15
    BAD_SUB = 16
    UDF = 17
    DISABLE = 18
    SIMM = 19
    READ_ACCESS = 20
    WRITE_ACCESS = 21


class AlarmSeverity(IntEnum):
    """EPICS alarm severity (``epicsAlarmSeverity``), the SEVR field.

    The ``*_ALARM`` aliases are caproto's spellings.
    """

    NO_ALARM = 0
    MINOR = 1
    MAJOR = 2
    INVALID = 3
    MINOR_ALARM = 1
    MAJOR_ALARM = 2
    INVALID_ALARM = 3

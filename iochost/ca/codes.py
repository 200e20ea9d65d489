"""The numbers of the Channel Access protocol (v4.13), as plain ``int`` constants.

This is their one home: the server, the client and the message classes import them from
here.  They are plain ints (not enum members) so that hot paths compare, hash and pack them
at no extra cost; :class:`Command` is the enum view of the command numbers, for messages
and error texts.  ECA status codes live in :mod:`iochost.ca.eca` (also plain ints), DBR
type numbers in :mod:`iochost.ca.dbr` (``ChannelType``).

Names follow EPICS' ``caProto.h`` (``CA_PROTO_*``) and ``db_access.h`` / ``caeventmask.h``.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "CA_PROTO_VERSION", "CA_PROTO_EVENT_ADD", "CA_PROTO_EVENT_CANCEL", "CA_PROTO_READ",
    "CA_PROTO_WRITE", "CA_PROTO_SNAPSHOT", "CA_PROTO_SEARCH", "CA_PROTO_BUILD",
    "CA_PROTO_EVENTS_OFF", "CA_PROTO_EVENTS_ON", "CA_PROTO_READ_SYNC", "CA_PROTO_ERROR",
    "CA_PROTO_CLEAR_CHANNEL", "CA_PROTO_RSRV_IS_UP", "CA_PROTO_NOT_FOUND",
    "CA_PROTO_READ_NOTIFY", "CA_PROTO_READ_BUILD", "CA_PROTO_REPEATER_CONFIRM",
    "CA_PROTO_CREATE_CHAN", "CA_PROTO_WRITE_NOTIFY", "CA_PROTO_CLIENT_NAME",
    "CA_PROTO_HOST_NAME", "CA_PROTO_ACCESS_RIGHTS", "CA_PROTO_ECHO",
    "CA_PROTO_REPEATER_REGISTER", "CA_PROTO_SIGNAL", "CA_PROTO_CREATE_CH_FAIL",
    "CA_PROTO_SERVER_DISCONN", "Command",
    "CA_MAJOR_VERSION", "CA_MINOR_VERSION", "MIN_CLIENT_VERSION", "DEFAULT_PRIORITY",
    "MAX_PRIORITY", "DO_REPLY", "DONT_REPLY",
    "SEQUENCE_VALID", "ADDRESS_OF_SENDER", "UNKNOWN_CID",
    "ACCESS_NONE", "ACCESS_READ", "ACCESS_WRITE",
    "DBE_VALUE", "DBE_LOG", "DBE_ARCHIVE", "DBE_ALARM", "DBE_PROPERTY", "DBE_ANY",
    "ELEMENT_SIZES", "MAX_STRING_SIZE", "MAX_UNITS_SIZE", "MAX_ENUM_STRING_SIZE",
    "MAX_ENUM_STATES", "LAST_DBR_TYPE",
]

# -- command numbers (caProto.h) ------------------------------------------------------------
CA_PROTO_VERSION: Final = 0
CA_PROTO_EVENT_ADD: Final = 1
CA_PROTO_EVENT_CANCEL: Final = 2
CA_PROTO_READ: Final = 3  # deprecated since 3.13
CA_PROTO_WRITE: Final = 4
CA_PROTO_SNAPSHOT: Final = 5  # obsolete
CA_PROTO_SEARCH: Final = 6
CA_PROTO_BUILD: Final = 7  # obsolete
CA_PROTO_EVENTS_OFF: Final = 8
CA_PROTO_EVENTS_ON: Final = 9
CA_PROTO_READ_SYNC: Final = 10
CA_PROTO_ERROR: Final = 11
CA_PROTO_CLEAR_CHANNEL: Final = 12
CA_PROTO_RSRV_IS_UP: Final = 13  # the beacon
CA_PROTO_NOT_FOUND: Final = 14
CA_PROTO_READ_NOTIFY: Final = 15
CA_PROTO_READ_BUILD: Final = 16  # obsolete
CA_PROTO_REPEATER_CONFIRM: Final = 17
CA_PROTO_CREATE_CHAN: Final = 18
CA_PROTO_WRITE_NOTIFY: Final = 19
CA_PROTO_CLIENT_NAME: Final = 20
CA_PROTO_HOST_NAME: Final = 21
CA_PROTO_ACCESS_RIGHTS: Final = 22
CA_PROTO_ECHO: Final = 23
CA_PROTO_REPEATER_REGISTER: Final = 24
CA_PROTO_SIGNAL: Final = 25  # obsolete
CA_PROTO_CREATE_CH_FAIL: Final = 26
CA_PROTO_SERVER_DISCONN: Final = 27


class Command(IntEnum):
    """The command numbers as an enum (names without the ``CA_PROTO_`` prefix)."""

    VERSION = CA_PROTO_VERSION
    EVENT_ADD = CA_PROTO_EVENT_ADD
    EVENT_CANCEL = CA_PROTO_EVENT_CANCEL
    READ = CA_PROTO_READ
    WRITE = CA_PROTO_WRITE
    SNAPSHOT = CA_PROTO_SNAPSHOT
    SEARCH = CA_PROTO_SEARCH
    BUILD = CA_PROTO_BUILD
    EVENTS_OFF = CA_PROTO_EVENTS_OFF
    EVENTS_ON = CA_PROTO_EVENTS_ON
    READ_SYNC = CA_PROTO_READ_SYNC
    ERROR = CA_PROTO_ERROR
    CLEAR_CHANNEL = CA_PROTO_CLEAR_CHANNEL
    RSRV_IS_UP = CA_PROTO_RSRV_IS_UP
    NOT_FOUND = CA_PROTO_NOT_FOUND
    READ_NOTIFY = CA_PROTO_READ_NOTIFY
    READ_BUILD = CA_PROTO_READ_BUILD
    REPEATER_CONFIRM = CA_PROTO_REPEATER_CONFIRM
    CREATE_CHAN = CA_PROTO_CREATE_CHAN
    WRITE_NOTIFY = CA_PROTO_WRITE_NOTIFY
    CLIENT_NAME = CA_PROTO_CLIENT_NAME
    HOST_NAME = CA_PROTO_HOST_NAME
    ACCESS_RIGHTS = CA_PROTO_ACCESS_RIGHTS
    ECHO = CA_PROTO_ECHO
    REPEATER_REGISTER = CA_PROTO_REPEATER_REGISTER
    SIGNAL = CA_PROTO_SIGNAL
    CREATE_CH_FAIL = CA_PROTO_CREATE_CH_FAIL
    SERVER_DISCONN = CA_PROTO_SERVER_DISCONN


# -- versions and header flags ---------------------------------------------------------------
CA_MAJOR_VERSION: Final = 4
CA_MINOR_VERSION: Final = 13  #: we speak CA v4.13
#: The oldest minor version RSRV serves (CA_MINIMUM_SUPPORTED_VERSION, v4.4).
MIN_CLIENT_VERSION: Final = 4
DEFAULT_PRIORITY: Final = 0
#: Circuit priorities run 0..MAX_PRIORITY (CA_PROTO_PRIORITY_MAX).
MAX_PRIORITY: Final = 99
#: SEARCH data_type: answer NOT_FOUND when the name is unknown (RSRV does so only over TCP).
DO_REPLY: Final = 10
#: SEARCH data_type: stay silent when the name is unknown.
DONT_REPLY: Final = 5
#: UDP VERSION data_type: parameter1 holds the search sequence number.
SEQUENCE_VALID: Final = 1
#: SEARCH reply parameter1: "connect to the address this reply came from" (RSRV's ~0U).
ADDRESS_OF_SENDER: Final = 0xFFFFFFFF
#: The CID of an ERROR about a request that names no channel (RSRV sends ~0U).
UNKNOWN_CID: Final = 0xFFFFFFFF

# -- access rights (CA_PROTO_ACCESS_RIGHTS parameter2 bits) ----------------------------------
ACCESS_NONE: Final = 0
ACCESS_READ: Final = 1
ACCESS_WRITE: Final = 2

# -- monitor masks (caeventmask.h) -----------------------------------------------------------
DBE_VALUE: Final = 1
DBE_LOG: Final = 2
DBE_ARCHIVE: Final = DBE_LOG
DBE_ALARM: Final = 4
DBE_PROPERTY: Final = 8
#: The bits a subscription mask may carry; one without any of them is refused (ECA_BADMASK).
DBE_ANY: Final = DBE_VALUE | DBE_LOG | DBE_ALARM | DBE_PROPERTY

# -- sizes (db_access.h) -------------------------------------------------------------------
#: Wire size in bytes of one element of each native type, indexed by type number
#: (STRING, INT, FLOAT, ENUM, CHAR, LONG, DOUBLE).
ELEMENT_SIZES: Final = (40, 2, 4, 2, 1, 4, 8)
# Field sizes, each including the terminating NUL.
MAX_STRING_SIZE: Final = 40
MAX_UNITS_SIZE: Final = 8
MAX_ENUM_STRING_SIZE: Final = 26
MAX_ENUM_STATES: Final = 16
#: The highest valid DBR type number (DBR_CLASS_NAME); types run 0..LAST_DBR_TYPE.
LAST_DBR_TYPE: Final = 38

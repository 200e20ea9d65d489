"""ECA status codes: ``value = message_number << 3 | severity``.

The constants ``ECA_NORMAL`` ... ``ECA_UNRESPTMO`` are plain ints (hot paths pack them at
no cost; this module is their one home); :class:`EcaStatus` is their enum view, derived
from them.  The texts are ``ca_message``'s in EPICS base 7.0.10 (older bases misspell three
of them).
"""
from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = ["Severity", "EcaStatus", "eca_message", "eca_name", "eca_severity", "is_success"]


class Severity(IntEnum):
    """The three low bits of an ECA code (CA_K_*)."""

    WARNING = 0
    SUCCESS = 1
    ERROR = 2
    INFO = 3
    SEVERE = 4
    FATAL = 6  # ERROR | SEVERE


_W, _S, _E, _I, _F = (int(Severity.WARNING), int(Severity.SUCCESS), int(Severity.ERROR),
                      int(Severity.INFO), int(Severity.FATAL))

# The codes: message number << 3 | severity (caerr.h).
ECA_NORMAL: Final = 0 << 3 | _S
ECA_MAXIOC: Final = 1 << 3 | _E
ECA_UKNHOST: Final = 2 << 3 | _E
ECA_UKNSERV: Final = 3 << 3 | _E
ECA_SOCK: Final = 4 << 3 | _E
ECA_CONN: Final = 5 << 3 | _W
ECA_ALLOCMEM: Final = 6 << 3 | _W
ECA_UKNCHAN: Final = 7 << 3 | _W
ECA_UKNFIELD: Final = 8 << 3 | _W
ECA_TOLARGE: Final = 9 << 3 | _W
ECA_TIMEOUT: Final = 10 << 3 | _W
ECA_NOSUPPORT: Final = 11 << 3 | _W
ECA_STRTOBIG: Final = 12 << 3 | _W
ECA_DISCONNCHID: Final = 13 << 3 | _E
ECA_BADTYPE: Final = 14 << 3 | _E
ECA_CHIDNOTFND: Final = 15 << 3 | _I
ECA_CHIDRETRY: Final = 16 << 3 | _I
ECA_INTERNAL: Final = 17 << 3 | _F
ECA_DBLCLFAIL: Final = 18 << 3 | _W
ECA_GETFAIL: Final = 19 << 3 | _W
ECA_PUTFAIL: Final = 20 << 3 | _W
ECA_ADDFAIL: Final = 21 << 3 | _W
ECA_BADCOUNT: Final = 22 << 3 | _W
ECA_BADSTR: Final = 23 << 3 | _E
ECA_DISCONN: Final = 24 << 3 | _W
ECA_DBLCHNL: Final = 25 << 3 | _W
ECA_EVDISALLOW: Final = 26 << 3 | _E
ECA_BUILDGET: Final = 27 << 3 | _W
ECA_NEEDSFP: Final = 28 << 3 | _W
ECA_OVEVFAIL: Final = 29 << 3 | _W
ECA_BADMONID: Final = 30 << 3 | _E
ECA_NEWADDR: Final = 31 << 3 | _W
ECA_NEWCONN: Final = 32 << 3 | _I
ECA_NOCACTX: Final = 33 << 3 | _W
ECA_DEFUNCT: Final = 34 << 3 | _F
ECA_EMPTYSTR: Final = 35 << 3 | _W
ECA_NOREPEATER: Final = 36 << 3 | _W
ECA_NOCHANMSG: Final = 37 << 3 | _W
ECA_DLCKREST: Final = 38 << 3 | _W
ECA_SERVBEHIND: Final = 39 << 3 | _W
ECA_NOCAST: Final = 40 << 3 | _W
ECA_BADMASK: Final = 41 << 3 | _E
ECA_IODONE: Final = 42 << 3 | _I
ECA_IOINPROGRESS: Final = 43 << 3 | _I
ECA_BADSYNCGRP: Final = 44 << 3 | _E
ECA_PUTCBINPROG: Final = 45 << 3 | _E
ECA_NORDACCESS: Final = 46 << 3 | _W
ECA_NOWTACCESS: Final = 47 << 3 | _W
ECA_ANACHRONISM: Final = 48 << 3 | _E
ECA_NOSEARCHADDR: Final = 49 << 3 | _W
ECA_NOCONVERT: Final = 50 << 3 | _W
ECA_BADCHID: Final = 51 << 3 | _E
ECA_BADFUNCPTR: Final = 52 << 3 | _E
ECA_ISATTACHED: Final = 53 << 3 | _W
ECA_UNAVAILINSERV: Final = 54 << 3 | _W
ECA_CHANDESTROY: Final = 55 << 3 | _W
ECA_BADPRIORITY: Final = 56 << 3 | _E
ECA_NOTTHREADED: Final = 57 << 3 | _E
ECA_16KARRAYCLIENT: Final = 58 << 3 | _W
ECA_CONNSEQTMO: Final = 59 << 3 | _W
ECA_UNRESPTMO: Final = 60 << 3 | _W

# ca_message's texts.
_TEXT: dict[int, str] = {
    ECA_NORMAL: 'Normal successful completion',
    ECA_MAXIOC: 'Maximum simultaneous IOC connections exceeded',
    ECA_UKNHOST: 'Unknown internet host',
    ECA_UKNSERV: 'Unknown internet service',
    ECA_SOCK: 'Unable to allocate a new socket',
    ECA_CONN: 'Unable to connect to internet host or service',
    ECA_ALLOCMEM: 'Unable to allocate additional dynamic memory',
    ECA_UKNCHAN: 'Unknown IO channel',
    ECA_UKNFIELD: 'Record field specified inappropriate for channel specified',
    ECA_TOLARGE: 'The requested data transfer is greater than available memory or '
                 'EPICS_CA_MAX_ARRAY_BYTES',
    ECA_TIMEOUT: 'User specified timeout on IO operation expired',
    ECA_NOSUPPORT: 'Sorry, that feature is planned but not supported at this time',
    ECA_STRTOBIG: 'The supplied string is unusually large',
    ECA_DISCONNCHID: 'The request was ignored because the specified channel is disconnected',
    ECA_BADTYPE: 'The data type specified is invalid',
    ECA_CHIDNOTFND: 'Remote Channel not found',
    ECA_CHIDRETRY: 'Unable to locate all user specified channels',
    ECA_INTERNAL: 'Channel Access Internal Failure',
    ECA_DBLCLFAIL: 'The requested local DB operation failed',
    ECA_GETFAIL: 'Channel read request failed',
    ECA_PUTFAIL: 'Channel write request failed',
    ECA_ADDFAIL: 'Channel subscription request failed',
    ECA_BADCOUNT: 'Invalid element count requested',
    ECA_BADSTR: 'Invalid string',
    ECA_DISCONN: 'Virtual circuit disconnect',
    ECA_DBLCHNL: 'Identical process variable names on multiple servers',
    ECA_EVDISALLOW: 'Request inappropriate within subscription (monitor) update callback',
    ECA_BUILDGET: 'Database value get for that channel failed during channel search',
    ECA_NEEDSFP: 'Unable to initialize without the vxWorks VX_FP_TASK task option set',
    ECA_OVEVFAIL: 'Event queue overflow has prevented first pass event after event add',
    ECA_BADMONID: 'Bad event subscription (monitor) identifier',
    ECA_NEWADDR: 'Remote channel has new network address',
    ECA_NEWCONN: 'New or resumed network connection',
    ECA_NOCACTX: "Specified task isn't a member of a CA context",
    ECA_DEFUNCT: 'Attempt to use defunct CA feature failed',
    ECA_EMPTYSTR: 'The supplied string is empty',
    ECA_NOREPEATER: 'Unable to spawn the CA repeater thread- auto reconnect will fail',
    ECA_NOCHANMSG: 'No channel id match for search reply- search reply ignored',
    ECA_DLCKREST: 'Resetting dead connection- will try to reconnect',
    ECA_SERVBEHIND: 'Server (IOC) has fallen behind or is not responding- still waiting',
    ECA_NOCAST: 'No internet interface with broadcast available',
    ECA_BADMASK: 'Invalid event selection mask',
    ECA_IODONE: 'IO operations have completed',
    ECA_IOINPROGRESS: 'IO operations are in progress',
    ECA_BADSYNCGRP: 'Invalid synchronous group identifier',
    ECA_PUTCBINPROG: 'Put callback timed out',
    ECA_NORDACCESS: 'Read access denied',
    ECA_NOWTACCESS: 'Write access denied',
    ECA_ANACHRONISM: 'Requested feature is no longer supported',
    ECA_NOSEARCHADDR: 'Empty PV search address list',
    ECA_NOCONVERT: 'No reasonable data conversion between client and server types',
    ECA_BADCHID: 'Invalid channel identifier',
    ECA_BADFUNCPTR: 'Invalid function pointer',
    ECA_ISATTACHED: 'Thread is already attached to a client context',
    ECA_UNAVAILINSERV: 'Not supported by attached service',
    ECA_CHANDESTROY: 'User destroyed channel',
    ECA_BADPRIORITY: 'Invalid channel priority',
    ECA_NOTTHREADED: 'Preemptive callback not enabled - additional threads may not join '
                     'context',
    ECA_16KARRAYCLIENT: "Client's protocol revision does not support transfers exceeding "
                        '16k bytes',
    ECA_CONNSEQTMO: 'Virtual circuit connection sequence aborted',
    ECA_UNRESPTMO: 'Virtual circuit unresponsive',
}

_NAMES: dict[str, int] = {name: code for name, code in globals().items()
                          if name.startswith("ECA_")}
__all__ += list(_NAMES)

# Member names cannot start with a digit, so every member keeps its ECA_ prefix.
EcaStatus = IntEnum("EcaStatus", list(_NAMES.items()))  # type: ignore[misc]
EcaStatus.__doc__ = "Every ECA status code, by its EPICS name."


def eca_message(code: int) -> str:
    """The EPICS text of an ECA code (``ca_message``)."""
    return _TEXT.get(code, f"unknown ECA status {code}")


def eca_name(code: int) -> str:
    """``'ECA_PUTFAIL'`` for 160, or ``'ECA_?<code>'`` when unknown."""
    try:
        return EcaStatus(code).name
    except ValueError:
        return f"ECA_?{code}"


def eca_severity(code: int) -> Severity:
    """The severity bits of an ECA code."""
    return Severity(code & 7) if code & 7 in Severity._value2member_map_ else Severity.WARNING


def is_success(code: int) -> bool:
    """True for codes whose low bit is set (SUCCESS and INFO), as CA_EXTRACT_SUCCESS does."""
    return bool(code & 1)


def put_refusal(code: int) -> int:
    """The status a refused put reports, as RSRV answers it: a value that does not convert
    (``ECA_NOCONVERT`` from the conversions) is dbPut's ``ECA_PUTFAIL`` there."""
    return ECA_PUTFAIL if code == ECA_NOCONVERT else code


def get_refusal(code: int) -> int:
    """The status a failed read reports, as RSRV answers it: a value that does not convert
    to the requested type is ``ECA_GETFAIL`` there."""
    return ECA_GETFAIL if code == ECA_NOCONVERT else code

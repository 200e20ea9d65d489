"""ECA status codes: ``value = message_number << 3 | severity``.

The table is written as data (name, severity, number, text); the module-level constants
``ECA_NORMAL`` ... ``ECA_UNRESPTMO`` and the look-ups are derived from it. The texts are
``ca_message``'s in EPICS base 7.0.10 (older bases misspell three of them).
"""
from __future__ import annotations

from enum import IntEnum

__all__ = ["Severity", "EcaStatus", "eca_message", "eca_name", "eca_severity", "is_success"]


class Severity(IntEnum):
    """The three low bits of an ECA code (CA_K_*)."""

    WARNING = 0
    SUCCESS = 1
    ERROR = 2
    INFO = 3
    SEVERE = 4
    FATAL = 6  # ERROR | SEVERE


_W, _S, _E, _I, _F = Severity.WARNING, Severity.SUCCESS, Severity.ERROR, Severity.INFO, Severity.FATAL

# name, severity, message number, text
_TABLE = (
    ("NORMAL", _S, 0, "Normal successful completion"),
    ("MAXIOC", _E, 1, "Maximum simultaneous IOC connections exceeded"),
    ("UKNHOST", _E, 2, "Unknown internet host"),
    ("UKNSERV", _E, 3, "Unknown internet service"),
    ("SOCK", _E, 4, "Unable to allocate a new socket"),
    ("CONN", _W, 5, "Unable to connect to internet host or service"),
    ("ALLOCMEM", _W, 6, "Unable to allocate additional dynamic memory"),
    ("UKNCHAN", _W, 7, "Unknown IO channel"),
    ("UKNFIELD", _W, 8, "Record field specified inappropriate for channel specified"),
    ("TOLARGE", _W, 9, "The requested data transfer is greater than available memory "
                       "or EPICS_CA_MAX_ARRAY_BYTES"),
    ("TIMEOUT", _W, 10, "User specified timeout on IO operation expired"),
    ("NOSUPPORT", _W, 11, "Sorry, that feature is planned but not supported at this time"),
    ("STRTOBIG", _W, 12, "The supplied string is unusually large"),
    ("DISCONNCHID", _E, 13, "The request was ignored because the specified channel is "
                            "disconnected"),
    ("BADTYPE", _E, 14, "The data type specified is invalid"),
    ("CHIDNOTFND", _I, 15, "Remote Channel not found"),
    ("CHIDRETRY", _I, 16, "Unable to locate all user specified channels"),
    ("INTERNAL", _F, 17, "Channel Access Internal Failure"),
    ("DBLCLFAIL", _W, 18, "The requested local DB operation failed"),
    ("GETFAIL", _W, 19, "Channel read request failed"),
    ("PUTFAIL", _W, 20, "Channel write request failed"),
    ("ADDFAIL", _W, 21, "Channel subscription request failed"),
    ("BADCOUNT", _W, 22, "Invalid element count requested"),
    ("BADSTR", _E, 23, "Invalid string"),
    ("DISCONN", _W, 24, "Virtual circuit disconnect"),
    ("DBLCHNL", _W, 25, "Identical process variable names on multiple servers"),
    ("EVDISALLOW", _E, 26, "Request inappropriate within subscription (monitor) update callback"),
    ("BUILDGET", _W, 27, "Database value get for that channel failed during channel search"),
    ("NEEDSFP", _W, 28, "Unable to initialize without the vxWorks VX_FP_TASK task option set"),
    ("OVEVFAIL", _W, 29, "Event queue overflow has prevented first pass event after event add"),
    ("BADMONID", _E, 30, "Bad event subscription (monitor) identifier"),
    ("NEWADDR", _W, 31, "Remote channel has new network address"),
    ("NEWCONN", _I, 32, "New or resumed network connection"),
    ("NOCACTX", _W, 33, "Specified task isn't a member of a CA context"),
    ("DEFUNCT", _F, 34, "Attempt to use defunct CA feature failed"),
    ("EMPTYSTR", _W, 35, "The supplied string is empty"),
    ("NOREPEATER", _W, 36, "Unable to spawn the CA repeater thread- auto reconnect will fail"),
    ("NOCHANMSG", _W, 37, "No channel id match for search reply- search reply ignored"),
    ("DLCKREST", _W, 38, "Resetting dead connection- will try to reconnect"),
    ("SERVBEHIND", _W, 39, "Server (IOC) has fallen behind or is not responding- still waiting"),
    ("NOCAST", _W, 40, "No internet interface with broadcast available"),
    ("BADMASK", _E, 41, "Invalid event selection mask"),
    ("IODONE", _I, 42, "IO operations have completed"),
    ("IOINPROGRESS", _I, 43, "IO operations are in progress"),
    ("BADSYNCGRP", _E, 44, "Invalid synchronous group identifier"),
    ("PUTCBINPROG", _E, 45, "Put callback timed out"),
    ("NORDACCESS", _W, 46, "Read access denied"),
    ("NOWTACCESS", _W, 47, "Write access denied"),
    ("ANACHRONISM", _E, 48, "Requested feature is no longer supported"),
    ("NOSEARCHADDR", _W, 49, "Empty PV search address list"),
    ("NOCONVERT", _W, 50, "No reasonable data conversion between client and server types"),
    ("BADCHID", _E, 51, "Invalid channel identifier"),
    ("BADFUNCPTR", _E, 52, "Invalid function pointer"),
    ("ISATTACHED", _W, 53, "Thread is already attached to a client context"),
    ("UNAVAILINSERV", _W, 54, "Not supported by attached service"),
    ("CHANDESTROY", _W, 55, "User destroyed channel"),
    ("BADPRIORITY", _E, 56, "Invalid channel priority"),
    ("NOTTHREADED", _E, 57, "Preemptive callback not enabled - additional threads may not "
                            "join context"),
    ("16KARRAYCLIENT", _W, 58, "Client's protocol revision does not support transfers "
                               "exceeding 16k bytes"),
    ("CONNSEQTMO", _W, 59, "Virtual circuit connection sequence aborted"),
    ("UNRESPTMO", _W, 60, "Virtual circuit unresponsive"),
)

# Member names cannot start with a digit, so every member keeps its ECA_ prefix.
EcaStatus = IntEnum(
    "EcaStatus", [(f"ECA_{name}", number << 3 | sev) for name, sev, number, _ in _TABLE]
)
EcaStatus.__doc__ = "Every ECA status code, by its EPICS name."

_TEXT = {number << 3 | sev: text for _, sev, number, text in _TABLE}
globals().update({member.name: member for member in EcaStatus})
__all__ += [member.name for member in EcaStatus]


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

"""How channel data refuse things: the exceptions of the write path and their ECA codes.

Public names are re-exported by :mod:`iochost.pv.data`.  A refusal in ``write()`` is an
exception; a client's put turns it into ``CaStatusError`` with the code of the table
below (:func:`write_mapping_errors`), and the checks a put needs before any decoding
(access, type, element count) raise ``CaStatusError`` directly.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..ca.dbr import AccessRights, ChannelType, native_type
from ..ca.eca import ECA_BADCOUNT, ECA_BADTYPE, ECA_GETFAIL, ECA_NOWTACCESS, ECA_PUTFAIL
from ..ca.errors import CaStatusError
from .faults import existing_board, hook_recovered, log_put_failure, log_refusal

__all__ = ["SkipWrite", "ChannelValueError", "CannotExceedLimits", "Forbidden", "TooManyElements",
           "WrongValueType", "write_mapping_errors", "check_put", "ACK_PUTS",
           "unreadable"]


class SkipWrite(Exception):
    """Raised by ``verify_value`` (a putter): keep the old value and report success."""


class ChannelValueError(ValueError):
    """A value a channel refuses; ``eca`` is the status a client's put gets back."""

    eca: ClassVar[int] = ECA_PUTFAIL


class CannotExceedLimits(ChannelValueError):
    """The value lies outside the control limits (DRVL/DRVH)."""


class Forbidden(ChannelValueError):
    """Raised by a putter to refuse a client's write as not permitted (caproto's name);
    the client gets ECA_NOWTACCESS."""

    eca = ECA_NOWTACCESS


class TooManyElements(ChannelValueError):
    """More elements than the channel's ``max_length``."""

    eca = ECA_BADCOUNT


class WrongValueType(ChannelValueError, TypeError):
    """A value of a type the channel cannot hold (text for a number, ...)."""

    eca = ECA_BADTYPE


async def write_mapping_errors(channel: Any, value: Any) -> None:
    """``await channel.write(value)`` with each refusal turned into its CaStatusError:
    a :class:`ChannelValueError` gives its ``eca`` (a deliberate refusal: one WARNING
    line), anything else (a putter's own exception) ECA_PUTFAIL (ERROR with traceback);
    both rate-limited per PV (:mod:`iochost.pv.faults`). The message names the PV and
    the exception; a success clears a failed hook's alarm."""
    try:
        await channel.write(value)
    except CaStatusError:
        raise
    except ChannelValueError as error:
        log_refusal(channel, error)
        raise CaStatusError(error.eca, _refusal_text(channel, error)) from error
    except Exception as error:
        log_put_failure(channel, error)
        raise CaStatusError(ECA_PUTFAIL, _refusal_text(channel, error)) from error
    group = getattr(channel, "group", None)
    if group is not None and existing_board(group) is not None:   # a hook had failed
        await hook_recovered(channel)


def _refusal_text(channel: Any, error: Exception) -> str:
    """Why the put failed, for the client (the server adds the PV name)."""
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return f"put refused: {reason}"


_WRITE = int(AccessRights.WRITE)
_LAST_VALUE_TYPE = int(ChannelType.CTRL_DOUBLE)

#: The alarm-acknowledge puts: the ChannelAlarm.write keyword each one sets, and its field.
ACK_PUTS: dict[int, tuple[str, str]] = {
    ChannelType.PUT_ACKT: ("must_acknowledge_transient", "ACKT"),
    ChannelType.PUT_ACKS: ("severity_to_acknowledge", "ACKS"),
}


def unreadable(dbr_type: int) -> CaStatusError:
    """The error of a read of PUT_ACKT/PUT_ACKS: they are written, never read (RSRV answers
    ECA_GETFAIL, as ``acctst``'s exception test expects)."""
    return CaStatusError(ECA_GETFAIL, f"{ChannelType(dbr_type).name} can be written, not read")


def check_put(channel: Any, dbr_type: int, host: str, user: str) -> ChannelType:
    """The native type of a put of ``dbr_type``, once the client may write at all.

    NOWTACCESS without the write right; PUTFAIL while the record's DISP is set, and for
    types that carry nothing writable (STSACK_STRING, CLASS_NAME, as RSRV).  PUT_ACKT /
    PUT_ACKS pass (INT).
    """
    # Plain ints: IntFlag's ``&`` and enum member lookups cost more than the check itself,
    # and every put asks.
    if not int(channel.check_access(host, user)) & _WRITE:
        raise CaStatusError(ECA_NOWTACCESS)
    if channel.puts_disabled:  # a record's DISP (dbPutField's S_db_putDisabled)
        raise CaStatusError(ECA_PUTFAIL, "puts to this record are disabled (DISP)")
    source = native_type(dbr_type)
    if dbr_type > _LAST_VALUE_TYPE and dbr_type not in ACK_PUTS:
        # RSRV's dbPut has no conversion for them: the put fails (ECA_PUTFAIL)
        raise CaStatusError(ECA_PUTFAIL, f"DBR type {dbr_type} cannot be written")
    return source


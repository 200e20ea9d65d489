"""Writes from the web: a JSON value becomes a DBR payload and takes the CA put path.

``web_put`` builds the payload a CA client would send for the value (DBR_DOUBLE for
numbers, DBR_STRING for text, DBR_CHAR for text into a CHAR channel) and hands it to the
channel's ``write_dbr`` -- the very call the server makes for a CA WRITE -- so the access
check, type conversion, control limits, the putter hook, alarms and publishing are the
same, and a refusal carries the same ECA status.

A web client is identified to the access check as host = its address and user =
:data:`WEB_USER` (the web page has no login of its own).
"""
from __future__ import annotations

from typing import Any

from iochost.ca import eca
from iochost.ca.dbr import AccessRights, ChannelType, Metadata, encode_dbr
from iochost.ca.errors import CaStatusError, LocalProtocolError
from iochost.server import ServedChannel

from .readings import text_encoding

__all__ = ["WEB_USER", "PutRefused", "ReadRefused", "WritesDisabled", "check_read",
           "read_failure", "web_put"]

#: the user name web writes carry into the channel's access check
WEB_USER = "web"
#: the wire limit of one DBR_STRING element (39 bytes and a NUL)
_MAX_STRING = 39


class WritesDisabled(Exception):
    """The host config does not allow writes from the web (``web.writable: false``)."""

    def __init__(self) -> None:
        super().__init__("writes from the web are disabled (web.writable: false)")


class PutRefused(Exception):
    """A put (or, as :class:`ReadRefused`, a read) refused with an ECA status, as a CA
    client would see it."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail)
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        text = eca.eca_message(self.status)
        return text if self.detail in ("", text) else f"{text}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"error": str(self), "eca": eca.eca_name(self.status), "status": self.status}


class ReadRefused(PutRefused):
    """A read refused: no read access (ECA_NORDACCESS), or the PV's getter failed
    (ECA_GETFAIL, or the status it raised)."""


def check_read(channel: ServedChannel, host: str) -> None:
    """ReadRefused(ECA_NORDACCESS) unless a CA client at ``host`` could read ``channel``:
    the web shows nothing the access rules hide."""
    if not channel.check_access(host, WEB_USER) & AccessRights.READ:
        raise ReadRefused(eca.ECA_NORDACCESS, "")


def read_failure(exc: Exception) -> ReadRefused:
    """The refusal a failed read is, with the ECA status the CA server would send."""
    if isinstance(exc, CaStatusError):
        return ReadRefused(eca.get_refusal(exc.status), exc.message)
    return ReadRefused(eca.ECA_GETFAIL, f"{type(exc).__name__}: {exc}")


def _payload(channel: ServedChannel, value: Any) -> tuple[int, int, bytes]:
    """``(dbr_type, count, payload)`` for a JSON value, or PutRefused(ECA_BADTYPE/BADSTR)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise PutRefused(eca.ECA_BADCOUNT, "an empty list")
    # true/false are no numbers: written as their text, as pvws writes any non-number
    items = [("true" if item else "false") if isinstance(item, bool) else item
             for item in items]
    encoding = text_encoding(channel)
    if all(isinstance(item, str) for item in items):
        try:
            encoded = [item.encode(encoding) for item in items]
        except UnicodeEncodeError as exc:
            raise PutRefused(eca.ECA_BADSTR, f"{exc.object[exc.start:exc.end]!r} cannot be "
                                             f"written in the PV's {encoding}") from None
        if channel.native_type == ChannelType.CHAR and len(encoded) > 1:
            raise PutRefused(eca.ECA_BADCOUNT, "a text (CHAR) channel takes one string")
        if channel.native_type == ChannelType.CHAR:
            dbr_type, values = ChannelType.CHAR, list(encoded[0] + b"\0")
        elif any(len(item) > _MAX_STRING for item in encoded):
            raise PutRefused(eca.ECA_BADSTR, f"text longer than {_MAX_STRING} bytes")
        else:
            dbr_type, values = ChannelType.STRING, encoded
    elif all(isinstance(item, (int, float)) for item in items):
        try:
            dbr_type, values = ChannelType.DOUBLE, [float(item) for item in items]
        except OverflowError:  # an integer of hundreds of digits
            raise PutRefused(eca.ECA_BADTYPE, "a number beyond the range of a DOUBLE") \
                from None
    else:
        raise PutRefused(eca.ECA_BADTYPE, "the value must be a number, a string, or a list "
                                          "of either")
    try:
        payload, count = encode_dbr(dbr_type, dbr_type, values, Metadata())
    except (CaStatusError, LocalProtocolError) as exc:
        raise PutRefused(eca.put_refusal(getattr(exc, "status", eca.ECA_BADTYPE)),
                         str(exc)) from None
    return dbr_type, count, payload


async def web_put(channel: ServedChannel, value: Any, host: str) -> None:
    """Put ``value`` (decoded JSON) to ``channel`` as a CA client at ``host`` would.

    Raises :class:`PutRefused` with the ECA status of any refusal (no write access, a value
    that does not convert, limits, the putter's refusal); the channel then keeps its value.
    """
    if not channel.check_access(host, WEB_USER) & AccessRights.WRITE:
        raise PutRefused(eca.ECA_NOWTACCESS, "")
    dbr_type, count, payload = _payload(channel, value)
    if count > channel.max_length:
        raise PutRefused(eca.ECA_BADCOUNT, f"{count} elements; the PV holds at most "
                                           f"{channel.max_length}")
    try:
        await channel.write_dbr(dbr_type, count, payload, host, WEB_USER)
    except CaStatusError as exc:
        raise PutRefused(exc.status, exc.message) from None

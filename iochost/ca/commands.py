"""One class per Channel Access v4.13 message, and the tables that decode them.

Each message is a slotted dataclass with ``ID`` (the command number on the wire),
``to_bytes()`` and ``from_wire(header, payload)``.  How a class's fields map onto the four
generic header slots ``(data_type, data_count, parameter1, parameter2)`` is data: the class
attribute ``WIRE`` names, per slot, the field stored there or the constant written there.
Fields in ``ADDRESSES`` are IPv4 addresses held as dotted-quad ``str`` and carried as uint32.

Encoding a field that does not fit raises :class:`LocalProtocolError`; decoding a payload
that is malformed raises :class:`CaProtocolError`.  Reserved header fields are not checked
on decode (RSRV does not check them either).

Details that the specification leaves open, as EPICS' C libca and RSRV implement them:

* **VERSION over UDP.**  libca starts every search datagram with a VERSION whose
  ``data_type`` is 1 (``sequenceNoIsValid``), ``data_count`` the client's minor version and
  ``parameter1`` the search *sequence number*.  RSRV starts every reply datagram with a
  VERSION carrying ``data_type`` 1 and the request's sequence number in ``parameter1`` (when
  the client is v4.11+); libca drops replies whose sequence number is stale.  Over TCP
  RSRV's VERSION has ``data_type`` 0 and ``parameter1`` 0.  :class:`VersionResponse` has
  ``sequence_id=None`` for the TCP form and an ``int`` for the UDP form.
* **Search reply**: ``data_type`` = server TCP port, ``data_count`` 0, ``parameter1``
  0xFFFFFFFF (or the server's IP), ``parameter2`` the cid, an 8-byte payload whose first
  two bytes are the server's minor version.  Over TCP RSRV sends it without payload.
* **EVENT_CANCEL** is confirmed with command 1 (EVENT_ADD), no payload, and RSRV copies the
  data type, *count*, sid and subscription id of the original EVENT_ADD.
* **READ_SYNC** is echoed back unchanged by RSRV (:class:`ReadSyncResponse`).
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, Self, Union
from collections.abc import Callable

from .codes import CA_MINOR_VERSION, DO_REPLY, DONT_REPLY, SEQUENCE_VALID, Command
from .errors import CaProtocolError, LocalProtocolError
from .header import HEADER_SIZE, EXTENDED_HEADER_SIZE, EXTENDED_MARKER, HEADER_STRUCT
from .header import Header, pack_header, pad, unpack_header
from .parser import Role

__all__ = [
    "Role", "Message", "REQUESTS", "RESPONSES",
    "VersionRequest", "VersionResponse", "SearchRequest", "SearchResponse",
    "NotFoundResponse", "EchoRequest", "EchoResponse", "RsrvIsUpResponse",
    "RepeaterRegisterRequest", "RepeaterConfirmResponse",
    "EventAddRequest", "EventAddResponse", "EventCancelRequest", "EventCancelResponse",
    "ReadRequest", "ReadResponse", "WriteRequest",
    "EventsOffRequest", "EventsOnRequest", "ReadSyncRequest", "ReadSyncResponse",
    "ErrorResponse", "ClearChannelRequest", "ClearChannelResponse",
    "ReadNotifyRequest", "ReadNotifyResponse", "CreateChanRequest", "CreateChanResponse",
    "WriteNotifyRequest", "WriteNotifyResponse", "ClientNameRequest", "HostNameRequest",
    "AccessRightsResponse", "CreateChFailResponse", "ServerDisconnResponse",
]

_EVENT_ADD_PAYLOAD = struct.Struct(">fffH2x")  # low, high, to, mask, 2 pad bytes
_MINOR_VERSION = struct.Struct(">H")


# -- field codecs -------------------------------------------------------------------------

def _address_to_int(address: str) -> int:
    try:
        return int(ipaddress.IPv4Address(address))
    except (ipaddress.AddressValueError, ValueError, TypeError) as exc:
        raise LocalProtocolError(f"not an IPv4 address: {address!r} ({exc})") from None


def _int_to_address(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _encode_name(name: bytes, what: str, allow_empty: bool = False) -> bytes:
    """A NUL-terminated, zero-padded string payload."""
    if not isinstance(name, (bytes, bytearray)):
        raise LocalProtocolError(f"{what} must be bytes, not {type(name).__name__}")
    if b"\0" in name:
        raise LocalProtocolError(f"{what} contains a NUL byte: {bytes(name)!r}")
    if not name and not allow_empty:
        raise LocalProtocolError(f"{what} is empty")
    return pad(bytes(name) + b"\0")


def _decode_name(payload: bytes | memoryview, what: str, allow_empty: bool = False) -> bytes:
    """The bytes before the first NUL (all of them when unterminated)."""
    name = bytes(payload).split(b"\0", 1)[0]
    if not name and not allow_empty:
        raise CaProtocolError(f"empty {what}")
    return name


def _check_data(payload: Any) -> bytes:
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise LocalProtocolError(f"payload must be bytes-like, not {type(payload).__name__}")
    return pad(bytes(payload))


# -- the common machinery ------------------------------------------------------------------

class _Message:
    """Base of every message class: header layout as data, generic encode/decode.

    The classes are slotted dataclasses with ``repr=False, eq=False``: their ``__repr__``
    and ``__eq__`` are these, one pair for all (from ``__match_args__``, the fields);
    dataclass generating the two for each of the 35 took ~8 ms of every process's start-up.
    """

    __slots__ = ()
    ID: ClassVar[Command]
    #: per header slot (data_type, data_count, parameter1, parameter2): field name or constant
    WIRE: ClassVar[tuple[str | int, str | int, str | int, str | int]] = (0, 0, 0, 0)
    #: fields held as dotted-quad str, carried as uint32
    ADDRESSES: ClassVar[frozenset[str]] = frozenset()
    _HEADER_MAP: ClassVar[tuple[tuple[str, int, bool], ...]] = ()
    _HAS_PAYLOAD: ClassVar[bool] = False

    __match_args__: ClassVar[tuple[str, ...]] = ()   # the fields, set by dataclass

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__match_args__)
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__match_args__)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: as dataclasses

    def header_fields(self) -> tuple[int, int, int, int]:
        """The values of (data_type, data_count, parameter1, parameter2)."""
        values = []
        for slot in self.WIRE:
            if isinstance(slot, str):
                value = getattr(self, slot)
                values.append(_address_to_int(value) if slot in self.ADDRESSES else value)
            else:
                values.append(slot)
        return tuple(values)  # type: ignore[return-value]

    def encode_payload(self) -> bytes:
        """The padded payload (empty for header-only messages)."""
        return b""

    def to_bytes(self) -> bytes:
        """The whole message as sent on the wire."""
        payload = self.encode_payload()
        return pack_header(self.ID, len(payload), *self.header_fields()) + payload

    @classmethod
    def decode_payload(cls, header: Header, payload: bytes | memoryview) -> dict[str, Any]:
        """Constructor arguments carried by the payload."""
        return {}

    @classmethod
    def from_wire(cls, header: Header, payload: bytes | memoryview = b"") -> Self:
        """Build the message from a decoded header and its payload (CaProtocolError if bad)."""
        kwargs = {name: _int_to_address(header[index]) if address else header[index]
                  for name, index, address in cls._HEADER_MAP}
        if cls._HAS_PAYLOAD:
            kwargs.update(cls.decode_payload(header, payload))
        return cls(**kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # precompute the decode recipe once per class (the hot loop of ``feed``)
        super().__init_subclass__(**kwargs)
        cls._HEADER_MAP = tuple((slot, index, slot in cls.ADDRESSES)
                                for index, slot in enumerate(cls.WIRE, start=2)
                                if isinstance(slot, str))
        cls._HAS_PAYLOAD = any("decode_payload" in vars(klass) for klass in cls.__mro__
                               if klass is not _Message)


class _DataMessage(_Message):
    """A message whose payload is DBR-encoded data, kept as raw bytes (see ``dbr.py``)."""

    __slots__ = ()

    def encode_payload(self) -> bytes:
        return _check_data(self.payload)  # type: ignore[attr-defined]

    @classmethod
    def decode_payload(cls, header: Header, payload: bytes | memoryview) -> dict[str, Any]:
        return {"payload": payload}


class _NamedMessage(_Message):
    """A message whose payload is one NUL-terminated string in field ``name``."""

    __slots__ = ()
    WHAT: ClassVar[str] = "name"
    ALLOW_EMPTY: ClassVar[bool] = False

    def encode_payload(self) -> bytes:
        return _encode_name(self.name, self.WHAT, self.ALLOW_EMPTY)  # type: ignore[attr-defined]

    @classmethod
    def decode_payload(cls, header: Header, payload: bytes | memoryview) -> dict[str, Any]:
        return {"name": _decode_name(payload, cls.WHAT, cls.ALLOW_EMPTY)}


# -- UDP and TCP -----------------------------------------------------------------------------

@dataclass(slots=True, repr=False, eq=False)
class VersionRequest(_Message):
    """VERSION from a client.  Over TCP: circuit priority and minor version.  In a search
    datagram libca sets ``priority`` = 1 (``SEQUENCE_VALID``) and ``sequence_id``."""

    priority: int
    version: int
    sequence_id: int = 0
    ID: ClassVar[Command] = Command.VERSION
    WIRE: ClassVar = ("priority", "version", "sequence_id", 0)

    @classmethod
    def for_search(cls, sequence_id: int, version: int = CA_MINOR_VERSION) -> VersionRequest:
        """The VERSION that libca puts first in a search datagram."""
        return cls(SEQUENCE_VALID, version, sequence_id)


@dataclass(slots=True, repr=False, eq=False)
class VersionResponse(_Message):
    """VERSION from a server: ``sequence_id`` None over TCP, the echoed number over UDP."""

    version: int
    sequence_id: int | None = None
    ID: ClassVar[Command] = Command.VERSION

    def header_fields(self) -> tuple[int, int, int, int]:
        if self.sequence_id is None:
            return (0, self.version, 0, 0)
        return (SEQUENCE_VALID, self.version, self.sequence_id, 0)

    @classmethod
    def from_wire(cls, header: Header, payload: bytes | memoryview = b"") -> Self:
        sequence_id = header.parameter1 if header.data_type == SEQUENCE_VALID else None
        return cls(header.data_count, sequence_id)


@dataclass(slots=True, repr=False, eq=False)
class SearchRequest(_NamedMessage):
    """SEARCH for a PV name; ``reply`` asks for NOT_FOUND when the name is unknown."""

    name: bytes
    cid: int
    version: int = CA_MINOR_VERSION
    reply: bool = False
    ID: ClassVar[Command] = Command.SEARCH
    WHAT: ClassVar[str] = "PV name"

    def header_fields(self) -> tuple[int, int, int, int]:
        return (DO_REPLY if self.reply else DONT_REPLY, self.version, self.cid, self.cid)

    @classmethod
    def from_wire(cls, header: Header, payload: bytes | memoryview = b"") -> Self:
        return cls(_decode_name(payload, cls.WHAT), header.parameter2, header.data_count,
                   header.data_type == DO_REPLY)


@dataclass(slots=True, repr=False, eq=False)
class SearchResponse(_Message):
    """A server has the PV: its TCP ``port`` and (optionally) ``ip``; ``version`` is its minor
    version (0 when decoded from a payload-less TCP search reply)."""

    port: int
    cid: int
    version: int = CA_MINOR_VERSION
    ip: str = "255.255.255.255"
    ID: ClassVar[Command] = Command.SEARCH
    WIRE: ClassVar = ("port", 0, "ip", "cid")
    ADDRESSES: ClassVar = frozenset({"ip"})

    def encode_payload(self) -> bytes:
        try:
            return pad(_MINOR_VERSION.pack(self.version))
        except struct.error as exc:
            raise LocalProtocolError(f"bad search reply version {self.version!r}: {exc}") from None

    @classmethod
    def decode_payload(cls, header: Header, payload: bytes | memoryview) -> dict[str, Any]:
        if len(payload) >= _MINOR_VERSION.size:
            return {"version": _MINOR_VERSION.unpack_from(payload)[0]}
        return {"version": 0}


@dataclass(slots=True, repr=False, eq=False)
class NotFoundResponse(_Message):
    """The answer to a DO_REPLY search for an unknown name (header copied from the request)."""

    version: int
    cid: int
    ID: ClassVar[Command] = Command.NOT_FOUND
    WIRE: ClassVar = (DO_REPLY, "version", "cid", "cid")


@dataclass(slots=True, repr=False, eq=False)
class EchoRequest(_Message):
    """ECHO: are you alive?"""

    ID: ClassVar[Command] = Command.ECHO


@dataclass(slots=True, repr=False, eq=False)
class EchoResponse(_Message):
    """ECHO: yes."""

    ID: ClassVar[Command] = Command.ECHO


@dataclass(slots=True, repr=False, eq=False)
class RsrvIsUpResponse(_Message):
    """The server beacon (UDP)."""

    version: int
    server_port: int
    beacon_id: int
    address: str = "0.0.0.0"
    ID: ClassVar[Command] = Command.RSRV_IS_UP
    WIRE: ClassVar = ("version", "server_port", "beacon_id", "address")
    ADDRESSES: ClassVar = frozenset({"address"})

    def to_bytes(self) -> bytes:
        # data_count holds a port, not a count: port 65535 must not switch to the 24-byte form
        try:
            return HEADER_STRUCT.pack(self.ID, 0, *self.header_fields())
        except struct.error as exc:
            raise LocalProtocolError(f"cannot encode {self!r}: {exc}") from None


@dataclass(slots=True, repr=False, eq=False)
class RepeaterRegisterRequest(_Message):
    """A client registers with the CA repeater."""

    client_address: str = "0.0.0.0"
    ID: ClassVar[Command] = Command.REPEATER_REGISTER
    WIRE: ClassVar = (0, 0, 0, "client_address")
    ADDRESSES: ClassVar = frozenset({"client_address"})


@dataclass(slots=True, repr=False, eq=False)
class RepeaterConfirmResponse(_Message):
    """The repeater confirms a registration."""

    repeater_address: str = "0.0.0.0"
    ID: ClassVar[Command] = Command.REPEATER_CONFIRM
    WIRE: ClassVar = (0, 0, 0, "repeater_address")
    ADDRESSES: ClassVar = frozenset({"repeater_address"})


# -- TCP (virtual circuit) -----------------------------------------------------------------

@dataclass(slots=True, repr=False, eq=False)
class EventAddRequest(_Message):
    """Subscribe: ``mask`` is a DBE_* bit set (low/high/to are legacy, sent as 0)."""

    data_type: int
    data_count: int
    sid: int
    subscriptionid: int
    low: float = 0.0
    high: float = 0.0
    to: float = 0.0
    mask: int = 0
    ID: ClassVar[Command] = Command.EVENT_ADD
    WIRE: ClassVar = ("data_type", "data_count", "sid", "subscriptionid")

    def encode_payload(self) -> bytes:
        try:
            return _EVENT_ADD_PAYLOAD.pack(self.low, self.high, self.to, self.mask)
        except (struct.error, OverflowError) as exc:
            raise LocalProtocolError(f"cannot encode {self!r}: {exc}") from None

    @classmethod
    def decode_payload(cls, header: Header, payload: bytes | memoryview) -> dict[str, Any]:
        if len(payload) < _EVENT_ADD_PAYLOAD.size:
            raise CaProtocolError(
                f"EVENT_ADD payload is {len(payload)} bytes, expected {_EVENT_ADD_PAYLOAD.size}")
        low, high, to, mask = _EVENT_ADD_PAYLOAD.unpack_from(payload)
        return {"low": low, "high": high, "to": to, "mask": mask}


@dataclass(slots=True, repr=False, eq=False)
class EventAddResponse(_DataMessage):
    """One subscription update (DBR payload)."""

    data_type: int
    data_count: int
    status: int
    subscriptionid: int
    payload: bytes
    ID: ClassVar[Command] = Command.EVENT_ADD
    WIRE: ClassVar = ("data_type", "data_count", "status", "subscriptionid")


@dataclass(slots=True, repr=False, eq=False)
class EventCancelRequest(_Message):
    """Unsubscribe (``data_count`` as in the EVENT_ADD; RSRV ignores it)."""

    data_type: int
    sid: int
    subscriptionid: int
    data_count: int = 0
    ID: ClassVar[Command] = Command.EVENT_CANCEL
    WIRE: ClassVar = ("data_type", "data_count", "sid", "subscriptionid")


@dataclass(slots=True, repr=False, eq=False)
class EventCancelResponse(_Message):
    """Unsubscription confirmed: sent as command 1 (EVENT_ADD) with no payload."""

    data_type: int
    sid: int
    subscriptionid: int
    data_count: int = 0
    ID: ClassVar[Command] = Command.EVENT_ADD
    WIRE: ClassVar = ("data_type", "data_count", "sid", "subscriptionid")


@dataclass(slots=True, repr=False, eq=False)
class ReadRequest(_Message):
    """READ (deprecated since 3.13; answered with READ)."""

    data_type: int
    data_count: int
    sid: int
    ioid: int
    ID: ClassVar[Command] = Command.READ
    WIRE: ClassVar = ("data_type", "data_count", "sid", "ioid")


@dataclass(slots=True, repr=False, eq=False)
class ReadResponse(_DataMessage):
    """The data for a READ."""

    data_type: int
    data_count: int
    sid: int
    ioid: int
    payload: bytes
    ID: ClassVar[Command] = Command.READ
    WIRE: ClassVar = ("data_type", "data_count", "sid", "ioid")


@dataclass(slots=True, repr=False, eq=False)
class WriteRequest(_DataMessage):
    """WRITE without a completion reply."""

    data_type: int
    data_count: int
    sid: int
    ioid: int
    payload: bytes
    ID: ClassVar[Command] = Command.WRITE
    WIRE: ClassVar = ("data_type", "data_count", "sid", "ioid")


@dataclass(slots=True, repr=False, eq=False)
class EventsOffRequest(_Message):
    """Pause subscription updates on this circuit."""

    ID: ClassVar[Command] = Command.EVENTS_OFF


@dataclass(slots=True, repr=False, eq=False)
class EventsOnRequest(_Message):
    """Resume subscription updates on this circuit."""

    ID: ClassVar[Command] = Command.EVENTS_ON


@dataclass(slots=True, repr=False, eq=False)
class ReadSyncRequest(_Message):
    """READ_SYNC (deprecated; a barrier)."""

    ID: ClassVar[Command] = Command.READ_SYNC


@dataclass(slots=True, repr=False, eq=False)
class ReadSyncResponse(_Message):
    """RSRV echoes READ_SYNC back unchanged."""

    ID: ClassVar[Command] = Command.READ_SYNC


@dataclass(slots=True, repr=False, eq=False)
class ErrorResponse(_Message):
    """An exception report: the offending request's header and a message."""

    original_request: bytes
    cid: int
    status: int
    error_message: str
    ID: ClassVar[Command] = Command.ERROR
    WIRE: ClassVar = (0, 0, "cid", "status")

    @property
    def original_header(self) -> Header:
        """The offending request's header, decoded."""
        return unpack_header(self.original_request)[0]  # type: ignore[index]

    def encode_payload(self) -> bytes:
        original = self.original_request
        if not isinstance(original, (bytes, bytearray)) or (
                len(original) not in (HEADER_SIZE, EXTENDED_HEADER_SIZE)):
            raise LocalProtocolError("original_request must be a 16- or 24-byte header")
        try:
            text = self.error_message.encode("latin-1")
        except (AttributeError, UnicodeEncodeError) as exc:
            raise LocalProtocolError(f"bad error_message {self.error_message!r}: {exc}") from None
        if b"\0" in text:
            raise LocalProtocolError("error_message contains a NUL character")
        return pad(bytes(original) + text + b"\0")

    @classmethod
    def decode_payload(cls, header: Header, payload: bytes | memoryview) -> dict[str, Any]:
        payload = bytes(payload)
        if len(payload) < HEADER_SIZE:
            raise CaProtocolError(f"ERROR payload of {len(payload)} bytes has no request header")
        size = HEADER_SIZE
        if HEADER_STRUCT.unpack_from(payload)[1] == EXTENDED_MARKER:
            size = EXTENDED_HEADER_SIZE
            if len(payload) < size:
                raise CaProtocolError("ERROR payload truncates an extended request header")
        text = payload[size:].split(b"\0", 1)[0]
        return {"original_request": payload[:size], "error_message": text.decode("latin-1")}


@dataclass(slots=True, repr=False, eq=False)
class ClearChannelRequest(_Message):
    """Release a channel."""

    sid: int
    cid: int
    ID: ClassVar[Command] = Command.CLEAR_CHANNEL
    WIRE: ClassVar = (0, 0, "sid", "cid")


@dataclass(slots=True, repr=False, eq=False)
class ClearChannelResponse(_Message):
    """The channel is released."""

    sid: int
    cid: int
    ID: ClassVar[Command] = Command.CLEAR_CHANNEL
    WIRE: ClassVar = (0, 0, "sid", "cid")


@dataclass(slots=True, repr=False, eq=False)
class ReadNotifyRequest(_Message):
    """Read the value as ``data_type``/``data_count`` (0 = current length)."""

    data_type: int
    data_count: int
    sid: int
    ioid: int
    ID: ClassVar[Command] = Command.READ_NOTIFY
    WIRE: ClassVar = ("data_type", "data_count", "sid", "ioid")


@dataclass(slots=True, repr=False, eq=False)
class ReadNotifyResponse(_DataMessage):
    """The data for a READ_NOTIFY; ``status`` is an ECA code."""

    data_type: int
    data_count: int
    status: int
    ioid: int
    payload: bytes
    ID: ClassVar[Command] = Command.READ_NOTIFY
    WIRE: ClassVar = ("data_type", "data_count", "status", "ioid")


@dataclass(slots=True, repr=False, eq=False)
class CreateChanRequest(_NamedMessage):
    """Connect a channel to a PV name."""

    name: bytes
    cid: int
    version: int = CA_MINOR_VERSION
    ID: ClassVar[Command] = Command.CREATE_CHAN
    WIRE: ClassVar = (0, 0, "cid", "version")
    WHAT: ClassVar[str] = "PV name"


@dataclass(slots=True, repr=False, eq=False)
class CreateChanResponse(_Message):
    """The channel is connected: native type and element count, and the server's sid."""

    data_type: int
    data_count: int
    cid: int
    sid: int
    ID: ClassVar[Command] = Command.CREATE_CHAN
    WIRE: ClassVar = ("data_type", "data_count", "cid", "sid")


@dataclass(slots=True, repr=False, eq=False)
class WriteNotifyRequest(_DataMessage):
    """WRITE that wants a completion reply."""

    data_type: int
    data_count: int
    sid: int
    ioid: int
    payload: bytes
    ID: ClassVar[Command] = Command.WRITE_NOTIFY
    WIRE: ClassVar = ("data_type", "data_count", "sid", "ioid")


@dataclass(slots=True, repr=False, eq=False)
class WriteNotifyResponse(_Message):
    """A write completed; ``status`` is an ECA code."""

    data_type: int
    data_count: int
    status: int
    ioid: int
    ID: ClassVar[Command] = Command.WRITE_NOTIFY
    WIRE: ClassVar = ("data_type", "data_count", "status", "ioid")


@dataclass(slots=True, repr=False, eq=False)
class ClientNameRequest(_NamedMessage):
    """The client's user name (used for access rights)."""

    name: bytes
    ID: ClassVar[Command] = Command.CLIENT_NAME
    WHAT: ClassVar[str] = "client name"
    ALLOW_EMPTY: ClassVar[bool] = True


@dataclass(slots=True, repr=False, eq=False)
class HostNameRequest(_NamedMessage):
    """The client's host name (used for access rights)."""

    name: bytes
    ID: ClassVar[Command] = Command.HOST_NAME
    WHAT: ClassVar[str] = "host name"
    ALLOW_EMPTY: ClassVar[bool] = True


@dataclass(slots=True, repr=False, eq=False)
class AccessRightsResponse(_Message):
    """The access rights (bit 0 read, bit 1 write) of a channel."""

    cid: int
    access_rights: int
    ID: ClassVar[Command] = Command.ACCESS_RIGHTS
    WIRE: ClassVar = (0, 0, "cid", "access_rights")


@dataclass(slots=True, repr=False, eq=False)
class CreateChFailResponse(_Message):
    """The channel could not be created."""

    cid: int
    ID: ClassVar[Command] = Command.CREATE_CH_FAIL
    WIRE: ClassVar = (0, 0, "cid", 0)


@dataclass(slots=True, repr=False, eq=False)
class ServerDisconnResponse(_Message):
    """The server dropped the channel (its PV went away)."""

    cid: int
    ID: ClassVar[Command] = Command.SERVER_DISCONN
    WIRE: ClassVar = (0, 0, "cid", 0)


Message = Union[  # noqa: UP007 -- a long alias reads better as Union[...]
    VersionRequest, VersionResponse, SearchRequest, SearchResponse, NotFoundResponse,
    EchoRequest, EchoResponse, RsrvIsUpResponse, RepeaterRegisterRequest,
    RepeaterConfirmResponse, EventAddRequest, EventAddResponse, EventCancelRequest,
    EventCancelResponse, ReadRequest, ReadResponse, WriteRequest, EventsOffRequest,
    EventsOnRequest, ReadSyncRequest, ReadSyncResponse, ErrorResponse, ClearChannelRequest,
    ClearChannelResponse, ReadNotifyRequest, ReadNotifyResponse, CreateChanRequest,
    CreateChanResponse, WriteNotifyRequest, WriteNotifyResponse, ClientNameRequest,
    HostNameRequest, AccessRightsResponse, CreateChFailResponse, ServerDisconnResponse,
]

Decoder = Callable[[Header, bytes | memoryview], Message]


def _event_add_or_cancel(header: Header, payload: bytes | memoryview) -> Message:
    """Command 1 to a client: a cancel confirmation has no payload, an update always has."""
    if header.payload_size == 0:
        return EventCancelResponse.from_wire(header, payload)
    return EventAddResponse.from_wire(header, payload)


def _table(*classes: type[Message]) -> dict[int, Decoder]:
    return {int(cls.ID): cls.from_wire for cls in classes}


#: What a server (or repeater) receives, by command number.
REQUESTS: dict[int, Decoder] = _table(
    VersionRequest, SearchRequest, EchoRequest, RepeaterRegisterRequest, EventAddRequest,
    EventCancelRequest, ReadRequest, WriteRequest, EventsOffRequest, EventsOnRequest,
    ReadSyncRequest, ClearChannelRequest, ReadNotifyRequest, CreateChanRequest,
    WriteNotifyRequest, ClientNameRequest, HostNameRequest,
)

#: What a client receives, by command number.
RESPONSES: dict[int, Decoder] = {
    **_table(
        VersionResponse, SearchResponse, NotFoundResponse, EchoResponse, RsrvIsUpResponse,
        RepeaterConfirmResponse, ReadResponse, ReadSyncResponse, ErrorResponse,
        ClearChannelResponse, ReadNotifyResponse, CreateChanResponse, WriteNotifyResponse,
        AccessRightsResponse, CreateChFailResponse, ServerDisconnResponse,
    ),
    int(Command.EVENT_ADD): _event_add_or_cancel,
}

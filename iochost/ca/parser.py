"""Turning bytes into messages: :class:`StreamParser` for TCP, :func:`parse_datagram` for UDP.

:meth:`StreamParser.feed_raw` is the server's hot path: it yields ``(Header, payload)``
pairs without building message objects.  Each payload byte is copied once at most:

* a message that arrives whole inside one ``feed`` is sliced out of the caller's data
  (one copy, into ``bytes``; straight from the caller's ``bytes``, as asyncio delivers
  them, without an intermediate view);
* a message split across ``feed`` calls is accumulated in a private ``bytearray`` which is
  then handed out as a ``memoryview`` and replaced by a fresh buffer (no second copy).

An announced payload larger than ``max_payload`` raises :class:`CaProtocolError` as soon as
its header is complete, before any of it is buffered, so a hostile peer cannot make us
allocate.  After a :class:`CaProtocolError` the stream is unusable (the circuit must be
closed); further ``feed`` calls raise the same error again.

Payloads whose size is not a multiple of 8 are accepted here; the server refuses them on
TCP as RSRV does (``VirtualCircuit._refuse``). libca and caproto never send them.

The message classes (:mod:`.commands`) are imported at the first ``feed`` or
``parse_datagram``, not before: a server only ever calls ``feed_raw``, and building those
35 classes is a third of the protocol core's import time.
"""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from .codes import Command
from .errors import CaProtocolError
from .header import EXTENDED_HEADER_SIZE, EXTENDED_MARKER, EXTENSION_STRUCT, HEADER_SIZE
from .header import HEADER_STRUCT, Header, unpack_header

if TYPE_CHECKING:
    from .commands import Decoder, Message

__all__ = ["Role", "StreamParser", "parse_datagram", "message_from_wire",
           "DEFAULT_MAX_PAYLOAD", "RawMessage"]


class Role(Enum):
    """Whose messages a parser reads: ``SERVER`` parses what a server receives (requests)."""

    CLIENT = "client"
    SERVER = "server"


#: One message as ``feed_raw`` hands it out: its header and its payload (no copy made).
RawMessage = tuple[Header, bytes | memoryview]

DEFAULT_MAX_PAYLOAD = 2**31

_EMPTY = b""
_unpack_from = HEADER_STRUCT.unpack_from
_new_header = tuple.__new__


def _decoders(role: Role) -> dict[int, Decoder]:
    """command -> decoder of the messages ``role`` receives."""
    from .commands import REQUESTS, RESPONSES
    return REQUESTS if role is Role.SERVER else RESPONSES


def message_from_wire(header: Header, payload: bytes | memoryview, role: Role) -> Message:
    """Decode one message received by ``role``; unknown or misdirected commands raise
    :class:`CaProtocolError`."""
    try:
        decode = _decoders(role)[header.command]
    except KeyError:
        raise CaProtocolError(_unexpected(header.command, role)) from None
    return decode(header, payload)


def _unexpected(command: int, role: Role) -> str:
    try:
        name = Command(command).name
    except ValueError:
        return f"unknown CA command {command}"
    receiver = "server" if role is Role.SERVER else "client"
    return f"CA command {command} ({name}) is not valid for a {receiver} to receive"


class StreamParser:
    """Incremental parser for one TCP circuit; accepts any chunking of the byte stream."""

    __slots__ = ("role", "max_payload", "_decoders", "_partial", "_partial_header", "_error")

    def __init__(self, role: Role, max_payload: int = DEFAULT_MAX_PAYLOAD):
        self.role = role
        self._decoders: dict[int, Decoder] | None = None
        self.max_payload = max_payload
        self._partial = bytearray()  # the start of one incomplete message
        self._partial_header: tuple[Header, int] | None = None  # once its header is complete
        self._error: CaProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message."""
        return len(self._partial)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Decode every message completed by ``data`` (CaProtocolError on bad input)."""
        decoders = self._decoders
        if decoders is None:
            decoders = self._decoders = _decoders(self.role)
        try:
            return [decoders[header[0]](header, payload) if header[0] in decoders
                    else message_from_wire(header, payload, self.role)  # raises
                    for header, payload in self.feed_raw(data)]
        except CaProtocolError as exc:
            self._error = exc
            raise

    def feed_raw(self, data: bytes | bytearray | memoryview) -> list[RawMessage]:
        """Split ``data`` into ``(header, payload)`` for every message it completes."""
        if self._error is not None:
            raise self._error
        try:
            out: list[RawMessage] = []
            view = memoryview(data).cast("B")
            offset = self._complete_partial(view, out) if self._partial else 0
            if offset is not None:
                self._split(data if type(data) is bytes else view, offset, out)
            return out
        except CaProtocolError as exc:
            self._error = exc
            raise

    def _check_size(self, size: int, command: int) -> None:
        if size > self.max_payload:
            raise CaProtocolError(
                f"CA command {command} announces a {size}-byte payload, "
                f"more than the {self.max_payload} allowed")

    def _complete_partial(self, view: memoryview, out: list[RawMessage]) -> int | None:
        """Move just enough of ``view`` into the partial message to finish it.

        Returns the offset in ``view`` where the following messages start, or None when
        ``view`` was used up without finishing the message.
        """
        partial = self._partial
        offset = 0
        while self._partial_header is None:
            wanted = HEADER_SIZE
            if len(partial) >= HEADER_SIZE and partial[2:4] == b"\xff\xff":
                wanted = EXTENDED_HEADER_SIZE
            take = min(wanted - len(partial), len(view) - offset)
            partial += view[offset:offset + take]
            offset += take
            if len(partial) < wanted:
                return None
            parsed = unpack_header(partial)
            if parsed is not None:
                self._check_size(parsed[0].payload_size, parsed[0].command)
                self._partial_header = parsed
        header, header_length = self._partial_header
        total = header_length + header.payload_size
        take = min(total - len(partial), len(view) - offset)
        partial += view[offset:offset + take]
        offset += take
        if len(partial) < total:
            return None
        out.append((header, memoryview(partial)[header_length:] if header.payload_size
                    else _EMPTY))
        self._partial = bytearray()
        self._partial_header = None
        return offset

    def _split(self, view: bytes | memoryview, offset: int, out: list[RawMessage]) -> None:
        """Split whole messages out of ``view[offset:]``; keep an incomplete tail.

        Payloads are ``bytes`` either way: a slice of ``bytes`` is one already, a slice of
        a view (over a buffer the caller may reuse) is copied out.
        """
        copy_out = type(view) is not bytes
        end_of_data = len(view)
        last_header = end_of_data - HEADER_SIZE
        max_payload = self.max_payload
        append = out.append
        unpack_from, new_header, header_type, empty = _unpack_from, _new_header, Header, _EMPTY
        while offset <= last_header:
            fields = unpack_from(view, offset)
            size = fields[1]
            # The unpacked tuple becomes the Header as is (no field-by-field rebuild).
            if not size:  # header-only (gets, subscriptions' cancels, ...): the common case
                append((new_header(header_type, fields), empty))
                offset += HEADER_SIZE
                continue
            start = offset + HEADER_SIZE
            if size == EXTENDED_MARKER:
                if end_of_data - offset < EXTENDED_HEADER_SIZE:
                    break
                size, count = EXTENSION_STRUCT.unpack_from(view, start)
                fields = (fields[0], size, fields[2], count, fields[4], fields[5])
                start = offset + EXTENDED_HEADER_SIZE
            if size > max_payload:
                self._check_size(size, fields[0])
            end = start + size
            if end > end_of_data:
                break
            if size:
                payload = view[start:end]
                append((new_header(header_type, fields),
                        payload.tobytes() if copy_out else payload)  # type: ignore[union-attr]
                       )
            else:
                append((new_header(header_type, fields), empty))
            offset = end
        if offset < end_of_data:
            self._partial += view[offset:]
            parsed = unpack_header(self._partial)
            if parsed is not None:
                self._partial_header = parsed


def parse_datagram(data: bytes | bytearray | memoryview, role: Role) -> list[Message]:
    """Decode every message of one UDP datagram (e.g. VERSION + SEARCH... to a server;
    VERSION + SEARCH replies, or a beacon, to a client).

    A datagram that ends inside a message raises :class:`CaProtocolError`.
    """
    view = memoryview(data).cast("B")
    messages: list[Message] = []
    offset = 0
    while offset < len(view):
        parsed = unpack_header(view, offset)
        if parsed is None:
            raise CaProtocolError(f"datagram ends inside a header at byte {offset}")
        header, header_length = parsed
        start = offset + header_length
        end = start + header.payload_size
        if end > len(view):
            raise CaProtocolError(
                f"datagram ends inside the payload of CA command {header.command}")
        messages.append(message_from_wire(header, view[start:end].tobytes(), role))
        offset = end
    return messages

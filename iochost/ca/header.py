"""The Channel Access message header (protocol v4.13), in its 16- and 24-byte forms.

Every CA message starts with a 16-byte big-endian header::

    uint16 command | uint16 payload_size | uint16 data_type | uint16 data_count
    uint32 parameter1 | uint32 parameter2

Since CA v4.9 a message whose payload or element count does not fit 16 bits uses the
*extended* form: ``payload_size`` holds the marker 0xFFFF, ``data_count`` holds 0, and two
uint32 (the real payload size, the real count) follow, 24 bytes in all.  Payloads are
padded with zeros to a multiple of 8 bytes.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from .errors import LocalProtocolError

__all__ = [
    "Header",
    "HEADER_SIZE",
    "EXTENDED_HEADER_SIZE",
    "EXTENDED_MARKER",
    "HEADER_STRUCT",
    "EXTENSION_STRUCT",
    "pack_header",
    "unpack_header",
    "padded_size",
    "pad",
]

#: ``>HHHHII``: the common header.
HEADER_STRUCT = struct.Struct(">HHHHII")
#: ``>II``: the two uint32 (payload size, data count) that follow an extended header.
EXTENSION_STRUCT = struct.Struct(">II")
_EXTENDED_STRUCT = struct.Struct(">HHHHIIII")

HEADER_SIZE = HEADER_STRUCT.size  # 16
EXTENDED_HEADER_SIZE = _EXTENDED_STRUCT.size  # 24
EXTENDED_MARKER = 0xFFFF

_PADDING = bytes(8)


class Header(NamedTuple):
    """A decoded header; ``payload_size``/``data_count`` are the real (32-bit) values."""

    command: int
    payload_size: int
    data_type: int
    data_count: int
    parameter1: int
    parameter2: int


def pack_header(command: int, payload_size: int, data_type: int, data_count: int,
                p1: int, p2: int) -> bytes:
    """Encode one header, choosing the 24-byte extended form when a size needs it.

    Raises :class:`LocalProtocolError` when a field is negative or too wide.
    """
    try:
        if payload_size >= EXTENDED_MARKER or data_count >= EXTENDED_MARKER:
            return _EXTENDED_STRUCT.pack(command, EXTENDED_MARKER, data_type, 0, p1, p2,
                                         payload_size, data_count)
        return HEADER_STRUCT.pack(command, payload_size, data_type, data_count, p1, p2)
    except struct.error as exc:
        raise LocalProtocolError(
            f"cannot encode header command={command!r} payload_size={payload_size!r} "
            f"data_type={data_type!r} data_count={data_count!r} p1={p1!r} p2={p2!r}: {exc}"
        ) from None


def unpack_header(buf: bytes | bytearray | memoryview,
                  offset: int = 0) -> tuple[Header, int] | None:
    """Decode the header at ``buf[offset:]``.

    Returns ``(header, header length)`` -- 16 or 24 -- or ``None`` when ``buf`` does not yet
    hold the whole header.  Like RSRV, an extended header is recognised by the 0xFFFF
    payload-size marker alone.
    """
    available = len(buf) - offset
    if available < HEADER_SIZE:
        return None
    command, size, data_type, count, p1, p2 = HEADER_STRUCT.unpack_from(buf, offset)
    if size != EXTENDED_MARKER:
        return Header(command, size, data_type, count, p1, p2), HEADER_SIZE
    if available < EXTENDED_HEADER_SIZE:
        return None
    size, count = EXTENSION_STRUCT.unpack_from(buf, offset + HEADER_SIZE)
    return Header(command, size, data_type, count, p1, p2), EXTENDED_HEADER_SIZE


def padded_size(size: int) -> int:
    """``size`` rounded up to the next multiple of 8."""
    return (size + 7) & ~7


def pad(payload: bytes) -> bytes:
    """``payload`` with zeros appended up to a multiple of 8 bytes (unchanged if aligned)."""
    extra = -len(payload) % 8
    return payload + _PADDING[:extra] if extra else payload

"""Whole CA messages packed straight from ints and bytes: the encoders of the hot paths.

The message classes of :mod:`iochost.ca.commands` describe each message and check their
fields; building one per message costs more than a server answering a million gets a
second or a client creating thousands of channels can afford.  The functions here return
the bytes of one message (header, then payload padded to a multiple of 8) from plain
arguments, with no object in between.  They check nothing beyond what ``struct`` checks
(``struct.error`` for a field that does not fit); ``tests/ca/test_packers.py`` proves each
one byte-identical to its message class.  Server and client both use them.

Header-only helpers named ``*_header`` pack the header of a data-carrying message whose
payload the caller appends itself (so big payloads are never copied); they choose the
24-byte extended form when the size or count needs it.  ``HEADER_STRUCT.pack`` (16-byte
form) is the primitive for the very hottest paths, which know their sizes are small.
"""
from __future__ import annotations

import struct

from .codes import (ADDRESS_OF_SENDER, CA_MINOR_VERSION, CA_PROTO_ACCESS_RIGHTS,
                    CA_PROTO_CLEAR_CHANNEL, CA_PROTO_CLIENT_NAME, CA_PROTO_CREATE_CH_FAIL,
                    CA_PROTO_CREATE_CHAN, CA_PROTO_ECHO, CA_PROTO_ERROR, CA_PROTO_EVENT_ADD,
                    CA_PROTO_EVENT_CANCEL, CA_PROTO_EVENTS_OFF, CA_PROTO_EVENTS_ON,
                    CA_PROTO_HOST_NAME, CA_PROTO_NOT_FOUND, CA_PROTO_READ,
                    CA_PROTO_READ_NOTIFY, CA_PROTO_READ_SYNC, CA_PROTO_RSRV_IS_UP,
                    CA_PROTO_SEARCH, CA_PROTO_SERVER_DISCONN, CA_PROTO_VERSION, CA_PROTO_WRITE,
                    CA_PROTO_WRITE_NOTIFY, DEFAULT_PRIORITY, DO_REPLY, DONT_REPLY,
                    SEQUENCE_VALID)
from .header import HEADER_STRUCT, pack_header, pad

__all__ = [
    # replies (server -> client)
    "version_reply", "search_version_reply", "search_reply", "search_reply_parts",
    "SEARCH_REPLY_STRUCT", "tcp_search_reply", "not_found_reply", "beacon",
    "create_chan_reply", "create_ch_fail_reply", "access_rights_reply",
    "read_notify_header", "read_header", "event_add_header", "data_reply",
    "event_cancel_reply", "write_notify_reply", "clear_channel_reply",
    "server_disconn_reply", "error_reply", "read_sync_reply", "echo",
    # requests (client -> server)
    "version_request", "search_version_request", "search_request", "create_chan_request",
    "client_name_request", "host_name_request", "read_notify_request", "write_request",
    "write_notify_request", "event_add_request", "event_cancel_request",
    "clear_channel_request", "events_off_request", "events_on_request",
]

_pack = HEADER_STRUCT.pack
#: Two headers in one call (ACCESS_RIGHTS + CREATE_CHAN: one per channel connected).
_pack_two = struct.Struct(">HHHHIIHHHHII").pack
_EVENT_ADD_PAYLOAD = struct.Struct(">fffH2x")  # low, high, to (unused), mask, padding
_MINOR_VERSION_PAYLOAD = struct.pack(">H6x", CA_MINOR_VERSION)

#: One UDP SEARCH reply: :func:`search_reply_parts`'s prefix, the client's CID, the payload.
SEARCH_REPLY_STRUCT = struct.Struct(">12sI8s")


def _string_payload(name: bytes) -> bytes:
    """A NUL-terminated string padded to a multiple of 8 (names, client and host names)."""
    return pad(name + b"\0")


# -- replies: handshake and search -------------------------------------------------------------

def version_reply(priority: int = DEFAULT_PRIORITY) -> bytes:
    """The VERSION a server sends first on a new circuit (RSRV: data_type 0, no sequence)."""
    return _pack(CA_PROTO_VERSION, 0, priority, CA_MINOR_VERSION, 0, 0)


def search_version_reply(sequence: int | None) -> bytes:
    """The VERSION that starts a UDP search reply datagram: it echoes the request's
    sequence number when the client sent one (v4.11+), as RSRV does."""
    if sequence is None:
        return _pack(CA_PROTO_VERSION, 0, 0, CA_MINOR_VERSION, 0, 0)
    return _pack(CA_PROTO_VERSION, 0, SEQUENCE_VALID, CA_MINOR_VERSION, sequence, 0)


def search_reply_parts(tcp_port: int) -> tuple[bytes, bytes]:
    """The fixed parts of every UDP SEARCH reply of a server: (header up to the CID, payload).

    ``SEARCH_REPLY_STRUCT.pack(prefix, cid, payload)`` is then one reply.  Parameter 1 is
    :data:`ADDRESS_OF_SENDER`; the payload carries our minor version.
    """
    prefix = _pack(CA_PROTO_SEARCH, 8, tcp_port, 0, ADDRESS_OF_SENDER, 0)[:12]
    return prefix, _MINOR_VERSION_PAYLOAD


def search_reply(tcp_port: int, cid: int) -> bytes:
    """One UDP SEARCH reply (minor-version payload)."""
    return _pack(CA_PROTO_SEARCH, 8, tcp_port, 0, ADDRESS_OF_SENDER, cid) + _MINOR_VERSION_PAYLOAD


def tcp_search_reply(tcp_port: int, cid: int) -> bytes:
    """A SEARCH reply over TCP (a name-server search): RSRV sends the header alone."""
    return _pack(CA_PROTO_SEARCH, 0, tcp_port, 0, ADDRESS_OF_SENDER, cid)


def not_found_reply(version: int, cid: int) -> bytes:
    """NOT_FOUND for a DO_REPLY search (the request's minor version and CID copied)."""
    return _pack(CA_PROTO_NOT_FOUND, 0, DO_REPLY, version, cid, cid)


def beacon(tcp_port: int, beacon_id: int, address: int = 0) -> bytes:
    """One RSRV_IS_UP; ``address`` 0 lets the receiver use the sender's address.  Always the
    16-byte form: data_count holds a port, not a count."""
    return _pack(CA_PROTO_RSRV_IS_UP, 0, CA_MINOR_VERSION, tcp_port, beacon_id & 0xFFFFFFFF,
                 address)


# -- replies: channels -------------------------------------------------------------------------

def access_rights_reply(cid: int, rights: int) -> bytes:
    """ACCESS_RIGHTS: the client's rights (ACCESS_READ | ACCESS_WRITE bits) on a channel."""
    return _pack(CA_PROTO_ACCESS_RIGHTS, 0, 0, 0, cid, rights)


def create_chan_reply(cid: int, sid: int, native_type: int, count: int, rights: int) -> bytes:
    """A connected channel, as RSRV answers CREATE_CHAN: ACCESS_RIGHTS, then CREATE_CHAN
    with the native type and element count."""
    if count < 0xFFFF:
        return _pack_two(CA_PROTO_ACCESS_RIGHTS, 0, 0, 0, cid, rights,
                         CA_PROTO_CREATE_CHAN, 0, native_type, count, cid, sid)
    return (_pack(CA_PROTO_ACCESS_RIGHTS, 0, 0, 0, cid, rights)
            + pack_header(CA_PROTO_CREATE_CHAN, 0, native_type, count, cid, sid))


def create_ch_fail_reply(cid: int) -> bytes:
    """CREATE_CH_FAIL: no such channel here."""
    return _pack(CA_PROTO_CREATE_CH_FAIL, 0, 0, 0, cid, 0)


def clear_channel_reply(sid: int, cid: int, data_type: int = 0, count: int = 0) -> bytes:
    """CLEAR_CHANNEL confirmed (RSRV copies the request's data type and count)."""
    return pack_header(CA_PROTO_CLEAR_CHANNEL, 0, data_type, count, sid, cid)


def server_disconn_reply(cid: int) -> bytes:
    """SERVER_DISCONN: the channel's PV went away (the client searches again)."""
    return _pack(CA_PROTO_SERVER_DISCONN, 0, 0, 0, cid, 0)


# -- replies: data ---------------------------------------------------------------------------

def read_notify_header(size: int, data_type: int, count: int, status: int, ioid: int) -> bytes:
    """The header of a READ_NOTIFY reply carrying a ``size``-byte payload."""
    return pack_header(CA_PROTO_READ_NOTIFY, size, data_type, count, status, ioid)


def read_header(size: int, data_type: int, count: int, cid: int, ioid: int) -> bytes:
    """The header of a (deprecated) READ reply: RSRV puts the channel's CID in parameter 1."""
    return pack_header(CA_PROTO_READ, size, data_type, count, cid, ioid)


def event_add_header(size: int, data_type: int, count: int, status: int,
                     subscriptionid: int) -> bytes:
    """The header of one subscription update (EVENT_ADD reply) of ``size`` bytes."""
    return pack_header(CA_PROTO_EVENT_ADD, size, data_type, count, status, subscriptionid)


def data_reply(command: int, data_type: int, count: int, p1: int, p2: int,
               payload: bytes) -> bytes:
    """Any data-carrying message whole: its header and ``payload`` padded to 8 bytes."""
    payload = pad(payload)
    return pack_header(command, len(payload), data_type, count, p1, p2) + payload


def event_cancel_reply(data_type: int, count: int, sid: int, subscriptionid: int) -> bytes:
    """EVENT_CANCEL confirmed: command EVENT_ADD without payload, the subscription's own
    type and count (as RSRV sends it)."""
    return pack_header(CA_PROTO_EVENT_ADD, 0, data_type, count, sid, subscriptionid)


def write_notify_reply(data_type: int, count: int, status: int, ioid: int) -> bytes:
    """WRITE_NOTIFY completed with ECA ``status``."""
    return pack_header(CA_PROTO_WRITE_NOTIFY, 0, data_type, count, status, ioid)


def error_reply(original_header: bytes, cid: int, status: int, text: bytes) -> bytes:
    """CA_PROTO_ERROR: the offending request's header (16 or 24 bytes) and a NUL-terminated
    text, padded."""
    payload = pad(original_header + text + b"\0")
    return _pack(CA_PROTO_ERROR, len(payload), 0, 0, cid, status) + payload


def read_sync_reply() -> bytes:
    """READ_SYNC echoed (as RSRV answers it)."""
    return _pack(CA_PROTO_READ_SYNC, 0, 0, 0, 0, 0)


def echo(payload: bytes = b"") -> bytes:
    """ECHO, in either direction (RSRV echoes the request, payload included)."""
    return _pack(CA_PROTO_ECHO, len(payload), 0, 0, 0, 0) + payload


# -- requests (client -> server) -------------------------------------------------------------

def version_request(priority: int = DEFAULT_PRIORITY) -> bytes:
    """The VERSION a client sends first on a circuit: its priority and minor version."""
    return _pack(CA_PROTO_VERSION, 0, priority, CA_MINOR_VERSION, 0, 0)


def search_version_request(sequence: int) -> bytes:
    """The VERSION libca puts first in a search datagram, carrying its sequence number."""
    return _pack(CA_PROTO_VERSION, 0, SEQUENCE_VALID, CA_MINOR_VERSION, sequence, 0)


def search_request(name: bytes, cid: int, reply: int = DONT_REPLY) -> bytes:
    """SEARCH for ``name`` (no NUL); ``reply`` DO_REPLY asks for NOT_FOUND over TCP."""
    payload = _string_payload(name)
    return _pack(CA_PROTO_SEARCH, len(payload), reply, CA_MINOR_VERSION, cid, cid) + payload


def create_chan_request(name: bytes, cid: int) -> bytes:
    """CREATE_CHAN for ``name`` with our CID and minor version."""
    payload = _string_payload(name)
    return _pack(CA_PROTO_CREATE_CHAN, len(payload), 0, 0, cid, CA_MINOR_VERSION) + payload


def client_name_request(name: bytes) -> bytes:
    """CLIENT_NAME: the user name access rights are computed from."""
    payload = _string_payload(name)
    return _pack(CA_PROTO_CLIENT_NAME, len(payload), 0, 0, 0, 0) + payload


def host_name_request(name: bytes) -> bytes:
    """HOST_NAME: the host name access rights are computed from."""
    payload = _string_payload(name)
    return _pack(CA_PROTO_HOST_NAME, len(payload), 0, 0, 0, 0) + payload


def read_notify_request(data_type: int, count: int, sid: int, ioid: int) -> bytes:
    """READ_NOTIFY (count 0: the current length, from v4.13 servers)."""
    return pack_header(CA_PROTO_READ_NOTIFY, 0, data_type, count, sid, ioid)


def write_request(data_type: int, count: int, sid: int, ioid: int, payload: bytes) -> bytes:
    """WRITE (no completion reply) of DBR-encoded ``payload``."""
    return data_reply(CA_PROTO_WRITE, data_type, count, sid, ioid, payload)


def write_notify_request(data_type: int, count: int, sid: int, ioid: int,
                         payload: bytes) -> bytes:
    """WRITE_NOTIFY of DBR-encoded ``payload`` (answered when the write completed)."""
    return data_reply(CA_PROTO_WRITE_NOTIFY, data_type, count, sid, ioid, payload)


def event_add_request(data_type: int, count: int, sid: int, subscriptionid: int,
                      mask: int) -> bytes:
    """EVENT_ADD: subscribe with a DBE_* ``mask`` (the legacy low/high/to are zero)."""
    return (pack_header(CA_PROTO_EVENT_ADD, _EVENT_ADD_PAYLOAD.size, data_type, count, sid,
                        subscriptionid)
            + _EVENT_ADD_PAYLOAD.pack(0.0, 0.0, 0.0, mask))


def event_cancel_request(data_type: int, count: int, sid: int, subscriptionid: int) -> bytes:
    """EVENT_CANCEL of a subscription."""
    return pack_header(CA_PROTO_EVENT_CANCEL, 0, data_type, count, sid, subscriptionid)


def clear_channel_request(sid: int, cid: int) -> bytes:
    """CLEAR_CHANNEL: release a channel."""
    return _pack(CA_PROTO_CLEAR_CHANNEL, 0, 0, 0, sid, cid)


def events_off_request() -> bytes:
    """EVENTS_OFF: pause subscription updates on this circuit (flow control)."""
    return _pack(CA_PROTO_EVENTS_OFF, 0, 0, 0, 0, 0)


def events_on_request() -> bytes:
    """EVENTS_ON: resume subscription updates."""
    return _pack(CA_PROTO_EVENTS_ON, 0, 0, 0, 0, 0)

"""A minimal CA name search over UDP, to time how long a server takes to become searchable.

Kept independent of ``iochost.ca`` on purpose: the harness must not depend on the server
it measures.
"""
from __future__ import annotations

import socket
import struct
import time

_VERSION, _SEARCH = 0, 6
_MINOR_VERSION = 13
_DONT_REPLY = 5   # search flag: a server that lacks the name stays silent


def search_datagram(name: str, cid: int) -> bytes:
    """VERSION + SEARCH messages asking 'who serves `name`?'."""
    raw = name.encode() + b"\0"
    raw += b"\0" * (-len(raw) % 8)
    version = struct.pack(">HHHHII", _VERSION, 0, 0, _MINOR_VERSION, 0, 0)
    search = struct.pack(">HHHHII", _SEARCH, len(raw), _DONT_REPLY, _MINOR_VERSION, cid, cid)
    return version + search + raw


def answers_search(reply: bytes, cid: int) -> bool:
    """True when the datagram holds a SEARCH reply for `cid`."""
    offset = 0
    while offset + 16 <= len(reply):
        command, size, _, _, _, p2 = struct.unpack_from(">HHHHII", reply, offset)
        if command == _SEARCH and p2 <= cid:   # an answer to this or an earlier try
            return True
        offset += 16 + size
    return False


def wait_searchable(name: str, port: int, timeout: float, interval: float = 0.01) -> float | None:
    """Search for `name` at 127.0.0.1:`port` every `interval` s; the monotonic time of the
    first answer, or None after `timeout` s."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        cid = 1
        while time.monotonic() < deadline:
            cid += 1
            sock.sendto(search_datagram(name, cid), ("127.0.0.1", port))
            sock.settimeout(interval)
            try:
                while True:
                    reply = sock.recv(4096)
                    if answers_search(reply, cid):
                        return time.monotonic()
            except (TimeoutError, ConnectionRefusedError):
                pass
    return None

"""A minimal blocking CA client on raw sockets, for exact protocol checks and abuse tests.

It speaks through ``iochost.ca`` messages (``to_bytes`` / ``StreamParser``), so what it
asserts is the bytes on the wire, not any client library's interpretation of them.
"""
from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from iochost.ca import commands as ca
from iochost.ca.parser import StreamParser

LOOPBACK = "127.0.0.1"
MINOR_VERSION = 13


class RawCircuit:
    """One TCP circuit to a server; ``recv_until`` collects decoded messages."""

    def __init__(self, port: int, *, handshake: bool = True, host: bytes | None = b"testhost",
                 user: bytes = b"tester", timeout: float = 5.0):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.parser = StreamParser(ca.Role.CLIENT)
        self.timeout = timeout
        self.received: list = []
        self._cid = 0
        if handshake:
            hello = [ca.VersionRequest(priority=0, version=MINOR_VERSION),
                     ca.ClientNameRequest(name=user)]
            if host is not None:  # None: a client that never names its host
                hello.append(ca.HostNameRequest(name=host))
            self.send(*hello)
            version = self.recv_until(lambda m: isinstance(m, ca.VersionResponse))
            assert version.version == MINOR_VERSION

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawCircuit:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, *messages) -> None:
        self.sock.sendall(b"".join(m.to_bytes() for m in messages))

    def send_bytes(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _read_some(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return False
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("server closed the circuit")
        self.received.extend(self.parser.feed(data))
        return True

    def recv_until(self, predicate: Callable[[object], bool], timeout: float | None = None):
        """Return (and consume) the first message satisfying ``predicate``."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, message in enumerate(self.received):
                if predicate(message):
                    del self.received[index]
                    return message
            if not self._read_some(deadline):
                raise TimeoutError(f"no matching message; received {self.received!r}")

    def recv_for(self, seconds: float) -> list:
        """Everything that arrives within ``seconds`` (plus what was already buffered)."""
        deadline = time.monotonic() + seconds
        while self._read_some(deadline):
            pass
        messages, self.received = self.received, []
        return messages

    def next_cid(self) -> int:
        self._cid += 1
        return self._cid

    def create_channel(self, name: str) -> tuple[ca.AccessRightsResponse,
                                                ca.CreateChanResponse]:
        """CREATE_CHAN and wait for ACCESS_RIGHTS and the reply (asserting their order)."""
        cid = self.next_cid()
        self.send(ca.CreateChanRequest(name=name.encode(), cid=cid, version=MINOR_VERSION))
        rights = self.recv_until(lambda m: isinstance(
            m, (ca.AccessRightsResponse, ca.CreateChanResponse, ca.CreateChFailResponse))
            and m.cid == cid)
        assert isinstance(rights, ca.AccessRightsResponse), rights
        reply = self.recv_until(lambda m: isinstance(m, ca.CreateChanResponse) and m.cid == cid)
        return rights, reply

    def read(self, sid: int, data_type: int, count: int = 0, ioid: int = 1):
        self.send(ca.ReadNotifyRequest(data_type=data_type, data_count=count, sid=sid,
                                       ioid=ioid))
        return self.recv_until(lambda m: isinstance(m, (ca.ReadNotifyResponse,
                                                        ca.ErrorResponse)))

    def write(self, sid: int, data_type: int, count: int, payload: bytes, ioid: int = 1):
        self.send(ca.WriteNotifyRequest(data_type=data_type, data_count=count, sid=sid,
                                        ioid=ioid, payload=payload))
        return self.recv_until(lambda m: isinstance(m, (ca.WriteNotifyResponse,
                                                        ca.ErrorResponse)))


def udp_search(port: int, names: list[str], *, sequence: int = 7, reply: bool = False,
               timeout: float = 2.0, first_cid: int = 1, expect: int | None = 1) -> list:
    """Send one search datagram (VERSION + SEARCH per name); collect reply datagrams until
    ``expect`` of them arrived (None: until ``timeout``)."""
    head = ca.VersionRequest.for_search(sequence).to_bytes()
    body = b"".join(ca.SearchRequest(name=name.encode(), cid=first_cid + i,
                                     version=MINOR_VERSION, reply=reply).to_bytes()
                    for i, name in enumerate(names))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.sendto(head + body, (LOOPBACK, port))
        return collect_datagrams(sock, timeout, expect)


def collect_datagrams(sock: socket.socket, timeout: float,
                      expect: int | None = None) -> list[list]:
    """Datagrams arriving on ``sock`` within ``timeout`` (or until ``expect`` of them), each
    parsed into messages."""
    from iochost.ca.parser import parse_datagram

    datagrams = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or (expect is not None and len(datagrams) >= expect):
            return datagrams
        ready, _, _ = select.select([sock], [], [], remaining)
        if not ready:
            return datagrams
        data = sock.recv(65536)
        datagrams.append(parse_datagram(data, ca.Role.CLIENT))

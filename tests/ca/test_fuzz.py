"""Garbage in: the parsers raise CaProtocolError or nothing, and memory stays bounded."""
import random

from hypothesis import given, settings, strategies as st

from iochost.ca import commands as c
from iochost.ca import CaProtocolError, Role, StreamParser, parse_datagram
from iochost.ca.header import pack_header

MAX_PAYLOAD = 1 << 16
LIMIT = MAX_PAYLOAD + 24  # the most a parser may hold: one header plus one allowed payload

SAMPLES = {
    Role.SERVER: [
        c.VersionRequest(0, 13), c.VersionRequest.for_search(3), c.SearchRequest(b"A:B", 1),
        c.ClientNameRequest(b"u"), c.HostNameRequest(b"h"), c.CreateChanRequest(b"A:B", 1),
        c.EventAddRequest(6, 1, 1, 1, mask=5), c.EventCancelRequest(6, 1, 1),
        c.ReadRequest(6, 1, 1, 1), c.ReadNotifyRequest(6, 1, 1, 1),
        c.WriteRequest(6, 1, 1, 1, bytes(8)), c.WriteNotifyRequest(0, 1, 1, 1, b"x" * 40),
        c.EventsOffRequest(), c.EventsOnRequest(), c.ReadSyncRequest(), c.EchoRequest(),
        c.ClearChannelRequest(1, 1), c.RepeaterRegisterRequest("127.0.0.1"),
    ],
    Role.CLIENT: [
        c.VersionResponse(13), c.VersionResponse(13, 3), c.SearchResponse(5064, 1),
        c.NotFoundResponse(13, 1), c.RsrvIsUpResponse(13, 5064, 1, "127.0.0.1"),
        c.RepeaterConfirmResponse("127.0.0.1"), c.AccessRightsResponse(1, 3),
        c.CreateChanResponse(6, 1, 1, 1), c.ReadNotifyResponse(6, 1, 1, 1, bytes(8)),
        c.ReadResponse(6, 1, 1, 1, bytes(8)), c.EventAddResponse(6, 1, 1, 1, bytes(8)),
        c.EventCancelResponse(6, 1, 1), c.WriteNotifyResponse(6, 1, 1, 1),
        c.ErrorResponse(pack_header(15, 0, 6, 1, 1, 1), 1, 114, "bad"),
        c.ClearChannelResponse(1, 1), c.CreateChFailResponse(1), c.ServerDisconnResponse(1),
        c.EchoResponse(), c.ReadSyncResponse(),
    ],
}
VALID = {role: b"".join(m.to_bytes() for m in messages) for role, messages in SAMPLES.items()}


def feed_all(role, data, sizes):
    """Feed ``data`` in chunks; True if the parser accepted all of it."""
    parser = StreamParser(role, max_payload=MAX_PAYLOAD)
    offset = 0
    try:
        for size in [*sizes, len(data)]:
            parser.feed(data[offset:offset + size])
            offset += size
            assert parser.buffered <= LIMIT
        return True
    except CaProtocolError:
        assert parser.buffered <= LIMIT
        return False


def try_datagram(role, data):
    try:
        parse_datagram(data, role)
    except CaProtocolError:
        pass


@settings(max_examples=200)
@given(st.sampled_from(list(Role)), st.binary(max_size=400), st.lists(st.integers(0, 64)))
def test_random_bytes(role, data, sizes):
    feed_all(role, data, sizes)
    try_datagram(role, data)


@settings(max_examples=200)
@given(st.sampled_from(list(Role)),
       st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1,
                max_size=8),
       st.lists(st.integers(0, 64)))
def test_mutated_valid_streams(role, mutations, sizes):
    data = bytearray(VALID[role])
    for index, value in mutations:
        data[index % len(data)] = value
    feed_all(role, bytes(data), sizes)
    try_datagram(role, bytes(data))


def test_bounded_random_loop():
    """Splice, truncate, duplicate and corrupt valid streams (seeded, fixed count)."""
    rng = random.Random(20261125)
    accepted = 0
    for _ in range(600):
        role = rng.choice(list(Role))
        data = bytearray(VALID[role])
        for _ in range(rng.randint(0, 6)):
            action = rng.randrange(4)
            position = rng.randrange(len(data))
            if action == 0:
                data[position] = rng.randrange(256)
            elif action == 1:
                del data[position:position + rng.randint(1, 24)]
            elif action == 2:
                data[position:position] = rng.randbytes(rng.randint(1, 24))
            else:
                # an absurd or large size field in some header-aligned spot
                data[position:position + 2] = rng.choice([b"\xff\xff", b"\x7f\xff", b"\x40\x00"])
        sizes = [rng.randint(1, 100) for _ in range(rng.randint(0, 20))]
        accepted += feed_all(role, bytes(data), sizes)
        try_datagram(role, bytes(data))
    assert 0 < accepted < 600  # the mutations both hit and miss


def test_absurd_sizes_do_not_grow_memory():
    """A peer announcing 4 GiB payloads, byte by byte: refused at the header, nothing kept."""
    for size, count in [(0xFFFFFFFF, 0), (MAX_PAYLOAD + 1, 1), (2**31, 2**31)]:
        parser = StreamParser(Role.SERVER, max_payload=MAX_PAYLOAD)
        raw = pack_header(4, size, 6, count, 1, 1) + bytes(64)
        raised = False
        for i in range(len(raw)):
            try:
                parser.feed_raw(raw[i:i + 1])
            except CaProtocolError:
                raised = True
                break
            assert parser.buffered <= 24
        assert raised and i < 24


def test_allowed_size_is_buffered_exactly():
    parser = StreamParser(Role.SERVER, max_payload=MAX_PAYLOAD)
    raw = c.WriteRequest(6, MAX_PAYLOAD // 8, 1, 1, bytes(MAX_PAYLOAD)).to_bytes()
    assert parser.feed(raw[:-1]) == [] and parser.buffered == len(raw) - 1
    assert len(parser.feed(raw[-1:])) == 1 and parser.buffered == 0

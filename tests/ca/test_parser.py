"""StreamParser (any chunking, bounded memory) and parse_datagram."""
import random

import pytest
from hypothesis import given, strategies as st

from iochost.ca import commands as c
from iochost.ca import CaProtocolError, Role, StreamParser, parse_datagram
from iochost.ca.header import Header, pack_header

REQUESTS = [
    c.VersionRequest(0, 13),
    c.ClientNameRequest(b"operator"),
    c.HostNameRequest(b"localhost"),
    c.CreateChanRequest(b"IOC:PV.VAL", cid=1),
    c.EventAddRequest(6, 0, 4, 1, mask=5),
    c.ReadNotifyRequest(6, 1, 4, 2),
    c.WriteNotifyRequest(6, 3, 4, 3, bytes(range(24))),
    c.WriteRequest(6, 0x20000, 4, 4, bytes(range(256)) * 4096),  # 1 MiB, extended header
    c.EventCancelRequest(6, 4, 1),
    c.EchoRequest(),
    c.ClearChannelRequest(4, 1),
]
STREAM = b"".join(m.to_bytes() for m in REQUESTS)
SMALL = [m for m in REQUESTS if not isinstance(m, c.WriteRequest)]
SMALL_STREAM = b"".join(m.to_bytes() for m in SMALL)


def feed_in_chunks(parser, data, sizes):
    out, offset = [], 0
    for size in sizes:
        out += parser.feed(data[offset:offset + size])
        offset += size
    out += parser.feed(data[offset:])
    return out


def test_whole_stream():
    assert StreamParser(Role.SERVER).feed(STREAM) == REQUESTS


def test_one_byte_at_a_time():
    parser = StreamParser(Role.SERVER)
    out = []
    for i in range(len(SMALL_STREAM)):
        out += parser.feed(SMALL_STREAM[i:i + 1])
    assert out == SMALL
    assert parser.buffered == 0


def test_the_big_message_one_byte_at_a_time_around_its_header():
    # byte-wise through the extended header and the start/end of the payload, big chunks between
    raw = REQUESTS[7].to_bytes()
    sizes = [1] * 40 + [len(raw) - 80] + [1] * 39
    assert feed_in_chunks(StreamParser(Role.SERVER), raw, sizes) == [REQUESTS[7]]


def test_trailing_bytes_stay_buffered_until_completed():
    for cut in range(1, len(REQUESTS[3].to_bytes())):
        data = STREAM + REQUESTS[3].to_bytes()[:cut]
        parser = StreamParser(Role.SERVER)
        assert parser.feed(data) == REQUESTS
        assert parser.buffered == cut
        assert parser.feed(REQUESTS[3].to_bytes()[cut:]) == [REQUESTS[3]]
        assert parser.buffered == 0


def test_seeded_random_chunkings():
    rng = random.Random(1234)
    for _ in range(30):
        sizes = [rng.choice([1, 2, 7, 15, 16, 17, 23, 24, 25, 100, 4096, 65536])
                 for _ in range(60)]
        assert feed_in_chunks(StreamParser(Role.SERVER), STREAM, sizes) == REQUESTS


@given(st.lists(st.integers(0, 40), max_size=40))
def test_any_chunking(sizes):
    assert feed_in_chunks(StreamParser(Role.SERVER), SMALL_STREAM, sizes) == SMALL


def test_feed_raw_payload_types_and_copies():
    big = REQUESTS[7].to_bytes()
    whole = StreamParser(Role.SERVER).feed_raw(big)
    assert whole[0][0] == Header(4, 0x100000, 6, 0x20000, 4, 4)
    assert type(whole[0][1]) is bytes and whole[0][1] == REQUESTS[7].payload
    parser = StreamParser(Role.SERVER)
    assert parser.feed_raw(big[:1000]) == []
    ((header, payload),) = parser.feed_raw(big[1000:])
    # accumulated once in a private buffer, handed out without a second copy
    assert type(payload) is memoryview and payload == REQUESTS[7].payload
    assert header == whole[0][0]
    # header-only messages get an empty payload
    assert StreamParser(Role.SERVER).feed_raw(c.EchoRequest().to_bytes()) == \
        [(Header(23, 0, 0, 0, 0, 0), b"")]


def test_payloads_do_not_alias_the_callers_buffer():
    raw = bytearray(REQUESTS[6].to_bytes())
    parser = StreamParser(Role.SERVER)
    first = parser.feed_raw(raw)
    tail = parser.feed_raw(raw[:20])  # partial copy of the same message
    raw[:] = bytes(len(raw))  # the caller reuses its receive buffer
    assert first[0][1] == REQUESTS[6].payload and tail == []
    assert parser.feed_raw(REQUESTS[6].to_bytes()[20:])[0][1] == REQUESTS[6].payload


@pytest.mark.parametrize("header", [
    pack_header(4, 2**31 + 8, 6, 1, 4, 4),  # default limit is 2**31
    pack_header(4, 0xFFFFFFF8, 6, 0xFFFFFFFF, 4, 4),
])
def test_absurd_announced_size_is_refused_before_buffering(header):
    parser = StreamParser(Role.SERVER)
    with pytest.raises(CaProtocolError, match="payload"):
        for i in range(len(header)):
            parser.feed(header[i:i + 1])
    assert parser.buffered <= len(header)
    # the stream is dead: feeding more raises again instead of resynchronising on garbage
    with pytest.raises(CaProtocolError):
        parser.feed(c.EchoRequest().to_bytes())


def test_max_payload_limit_is_inclusive():
    message = c.WriteRequest(6, 2, 4, 4, bytes(16))
    assert StreamParser(Role.SERVER, max_payload=16).feed(message.to_bytes()) == [message]
    with pytest.raises(CaProtocolError):
        StreamParser(Role.SERVER, max_payload=15).feed(message.to_bytes())
    parser = StreamParser(Role.SERVER, max_payload=15)
    with pytest.raises(CaProtocolError):  # also when only the header has arrived
        parser.feed_raw(message.to_bytes()[:16])


def test_client_role_tells_subscription_updates_from_cancel_confirmations():
    update = c.EventAddResponse(6, 1, 1, 9, bytes(8))
    cancelled = c.EventCancelResponse(6, 4, 9, 1)
    data = update.to_bytes() + cancelled.to_bytes() + update.to_bytes()
    assert StreamParser(Role.CLIENT).feed(data) == [update, cancelled, update]


def test_unknown_command_in_stream_raises():
    with pytest.raises(CaProtocolError, match="unknown CA command 99"):
        StreamParser(Role.SERVER).feed(pack_header(99, 0, 0, 0, 0, 0))


# --- UDP ------------------------------------------------------------------------------------
def test_search_datagram_as_libca_sends_it():
    messages = [c.VersionRequest.for_search(7)] + [
        c.SearchRequest(f"PV{i}".encode(), cid=i) for i in range(3)]
    datagram = b"".join(m.to_bytes() for m in messages)
    assert parse_datagram(datagram, Role.SERVER) == messages
    assert parse_datagram(bytearray(datagram), Role.SERVER) == messages


def test_search_reply_datagram_and_beacon_on_the_client_side():
    replies = [c.VersionResponse(13, 7), c.SearchResponse(5064, 0, ip="127.0.0.1"),
               c.SearchResponse(5064, 2)]
    assert parse_datagram(b"".join(m.to_bytes() for m in replies), Role.CLIENT) == replies
    beacon = c.RsrvIsUpResponse(13, 5064, 12, "127.0.0.1")
    assert parse_datagram(beacon.to_bytes(), Role.CLIENT) == [beacon]
    assert parse_datagram(b"", Role.CLIENT) == []


@pytest.mark.parametrize("cut", [1, 15, 17, 23])
def test_truncated_datagram_raises(cut):
    datagram = c.VersionRequest.for_search(7).to_bytes() + c.SearchRequest(b"ABC", 1).to_bytes()
    with pytest.raises(CaProtocolError):
        parse_datagram(datagram[:16 + cut], Role.SERVER)


def test_request_sent_to_a_client_is_refused():
    with pytest.raises(CaProtocolError, match=r"EVENTS_ON.*not valid for a client"):
        parse_datagram(c.EventsOnRequest().to_bytes(), Role.CLIENT)

"""Every message class: golden bytes, hand-computed vectors, round trips and validation."""
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from iochost.ca import commands as c
from iochost.ca import CaProtocolError, LocalProtocolError, Role, StreamParser, message_from_wire
from iochost.ca.header import pack_header, pad, unpack_header


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def decode(raw: bytes, role: Role):
    header, length = unpack_header(raw)
    assert len(raw) == length + header.payload_size
    return message_from_wire(header, raw[length:], role)


# --- ca-protocol-spec.txt section 14, "Example conversation", byte for byte ---------------
# (receiving role, wire bytes, message).  The spec's decoded line under CLIENT_NAME says
# data type 8, but its bytes say 0; the bytes are what libca sends.
SPEC_CONVERSATION = [
    (Role.SERVER, "0000 0000 0000 000b 00000000 00000000", c.VersionRequest(0, 11)),
    (Role.SERVER, "0014 0008 0000 0000 00000000 00000000 6170756365 6c6a00",
     c.ClientNameRequest(b"apucelj")),
    (Role.SERVER, "0015 0008 0000 0000 00000000 00000000 63736c3036 000000",
     c.HostNameRequest(b"csl06")),
    (Role.SERVER, "0012 0018 0000 0000 00000001 0000000b"
     "6170756365 6c6a3a 6169457861 6d706c6531 000000000000",
     c.CreateChanRequest(b"apucelj:aiExample1", cid=1, version=11)),
    (Role.CLIENT, "0016 0000 0000 0000 00000001 00000003", c.AccessRightsResponse(1, 3)),
    (Role.CLIENT, "0012 0000 0006 0001 00000001 00000004", c.CreateChanResponse(6, 1, 1, 4)),
    (Role.SERVER, "000f 0000 0000 0001 00000004 00000001", c.ReadNotifyRequest(0, 1, 4, 1)),
    (Role.SERVER, "000f 0000 0016 0001 00000004 00000002", c.ReadNotifyRequest(22, 1, 4, 2)),
    (Role.CLIENT, "000f 0008 0000 0001 00000001 00000001 3000000000060001",
     c.ReadNotifyResponse(0, 1, 1, 1, h("3000000000060001"))),
    (Role.CLIENT, "000f 0020 0016 0001 00000001 00000002"
     "0005 0002 436f756e74730000 000a 0000 0008 0006 0004 0002 0000 0000 00000000",
     c.ReadNotifyResponse(22, 1, 1, 2, h("00050002436f756e74730000000a0000"
                                          "00080006000400020000000000000000"))),
    (Role.SERVER, "000c 0000 0000 0000 00000004 00000001", c.ClearChannelRequest(4, 1)),
    (Role.CLIENT, "000c 0000 0000 0000 00000004 00000001", c.ClearChannelResponse(4, 1)),
]

# --- hand-computed from the spec and from what RSRV/libca put in each field ---------------
VECTORS = [
    # libca's first message in a search datagram: data_type 1 = "sequence number valid"
    (Role.SERVER, "0000 0000 0001 000d 0000002a 00000000", c.VersionRequest.for_search(42)),
    # RSRV's TCP version reply, then its UDP one echoing the request's sequence number
    (Role.CLIENT, "0000 0000 0000 000d 00000000 00000000", c.VersionResponse(13)),
    (Role.CLIENT, "0000 0000 0001 000d 0000002a 00000000", c.VersionResponse(13, 42)),
    (Role.SERVER, "0006 0008 0005 000d 00000007 00000007 4142430000000000",
     c.SearchRequest(b"ABC", cid=7)),
    (Role.SERVER, "0006 0008 000a 000d 00000007 00000007 4142430000000000",
     c.SearchRequest(b"ABC", cid=7, reply=True)),
    (Role.CLIENT, "0006 0008 13c8 0000 ffffffff 00000007 000d000000000000",
     c.SearchResponse(port=5064, cid=7)),
    (Role.CLIENT, "0006 0008 13c8 0000 7f000001 00000007 000d000000000000",
     c.SearchResponse(port=5064, cid=7, ip="127.0.0.1")),
    (Role.CLIENT, "000e 0000 000a 000d 00000007 00000007", c.NotFoundResponse(13, 7)),
    (Role.SERVER, "0017 0000 0000 0000 00000000 00000000", c.EchoRequest()),
    (Role.CLIENT, "0017 0000 0000 0000 00000000 00000000", c.EchoResponse()),
    (Role.CLIENT, "000d 0000 000d 13c8 00000003 7f000001",
     c.RsrvIsUpResponse(13, 5064, 3, "127.0.0.1")),
    # a beacon's port lives in data_count: 65535 must not select the extended header
    (Role.CLIENT, "000d 0000 000d ffff 00000000 00000000", c.RsrvIsUpResponse(13, 65535, 0)),
    (Role.SERVER, "0018 0000 0000 0000 00000000 7f000001", c.RepeaterRegisterRequest("127.0.0.1")),
    (Role.CLIENT, "0011 0000 0000 0000 00000000 7f000001", c.RepeaterConfirmResponse("127.0.0.1")),
    (Role.SERVER, "0001 0010 0006 0001 00000004 00000009 00000000 00000000 00000000 0005 0000",
     c.EventAddRequest(6, 1, 4, 9, mask=5)),
    (Role.SERVER, "0001 0010 0006 0001 00000004 00000009 3f800000 c0000000 00000000 000f 0000",
     c.EventAddRequest(6, 1, 4, 9, low=1.0, high=-2.0, mask=15)),
    (Role.CLIENT, "0001 0008 0006 0001 00000001 00000009 3ff0000000000000",
     c.EventAddResponse(6, 1, 1, 9, h("3ff0000000000000"))),
    (Role.SERVER, "0002 0000 0006 0001 00000004 00000009", c.EventCancelRequest(6, 4, 9, 1)),
    # the cancel confirmation travels as command 1 without payload
    (Role.CLIENT, "0001 0000 0006 0001 00000004 00000009", c.EventCancelResponse(6, 4, 9, 1)),
    (Role.SERVER, "0003 0000 0006 0001 00000004 00000002", c.ReadRequest(6, 1, 4, 2)),
    (Role.CLIENT, "0003 0008 0006 0001 00000004 00000002 3ff0000000000000",
     c.ReadResponse(6, 1, 4, 2, h("3ff0000000000000"))),
    (Role.SERVER, "0004 0008 0005 0001 00000004 00000002 0000000700000000",
     c.WriteRequest(5, 1, 4, 2, h("0000000700000000"))),
    (Role.SERVER, "0013 0008 0005 0001 00000004 00000002 0000000700000000",
     c.WriteNotifyRequest(5, 1, 4, 2, h("0000000700000000"))),
    (Role.CLIENT, "0013 0000 0005 0001 00000001 00000002", c.WriteNotifyResponse(5, 1, 1, 2)),
    (Role.SERVER, "0008 0000 0000 0000 00000000 00000000", c.EventsOffRequest()),
    (Role.SERVER, "0009 0000 0000 0000 00000000 00000000", c.EventsOnRequest()),
    (Role.SERVER, "000a 0000 0000 0000 00000000 00000000", c.ReadSyncRequest()),
    (Role.CLIENT, "000a 0000 0000 0000 00000000 00000000", c.ReadSyncResponse()),
    (Role.CLIENT, "000b 0018 0000 0000 00000001 00000072"
     "000f 0000 0006 0001 00000004 00000002 6f6f707300000000",
     c.ErrorResponse(h("000f0000000600010000000400000002"), 1, 114, "oops")),
    (Role.CLIENT, "001a 0000 0000 0000 00000005 00000000", c.CreateChFailResponse(5)),
    (Role.CLIENT, "001b 0000 0000 0000 00000005 00000000", c.ServerDisconnResponse(5)),
    (Role.SERVER, "0014 0008 0000 0000 00000000 00000000 0000000000000000",
     c.ClientNameRequest(b"")),
    # a big array write takes the 24-byte header
    (Role.SERVER, "0004 ffff 0006 0000 00000004 00000002 00080000 00010000" + "00" * 0x80000,
     c.WriteRequest(6, 0x10000, 4, 2, bytes(0x80000))),
]


@pytest.mark.parametrize("role, wire, message", SPEC_CONVERSATION + VECTORS)
def test_golden_bytes(role, wire, message):
    raw = h(wire)
    assert message.to_bytes() == raw
    assert decode(raw, role) == message
    assert type(decode(raw, role)) is type(message)


def test_spec_conversation_streams_through_parsers():
    for role in Role:
        stream = b"".join(h(w) for r, w, _ in SPEC_CONVERSATION if r is role)
        expected = [m for r, _, m in SPEC_CONVERSATION if r is role]
        assert StreamParser(role).feed(stream) == expected


def test_data_payloads_are_padded_to_eight_bytes():
    assert c.WriteRequest(5, 1, 4, 2, h("00000007")).to_bytes() == \
        h("0004 0008 0005 0001 00000004 00000002 0000000700000000")


def test_error_response_exposes_the_offending_header():
    request = c.ReadNotifyRequest(6, 1, 4, 2)
    error = c.ErrorResponse(request.to_bytes(), 1, 114, "no such channel")
    assert error.original_header == unpack_header(request.to_bytes())[0]
    extended = pack_header(4, 0x80000, 6, 0x10000, 4, 2)
    assert decode(c.ErrorResponse(extended, 1, 2, "big").to_bytes(), Role.CLIENT
                  ).original_request == extended


# --- round trips of every class --------------------------------------------------------------
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
NAME = st.lists(st.integers(1, 255), min_size=1, max_size=60).map(bytes)
FIELD_STRATEGIES = {
    "data_type": U16, "port": U16, "server_port": U16, "mask": U16, "priority": U16,
    "version": U16, "data_count": U32, "sid": U32, "cid": U32, "ioid": U32,
    "subscriptionid": U32, "status": U32, "access_rights": U32, "beacon_id": U32,
    "low": st.floats(width=32, allow_nan=False), "high": st.floats(width=32, allow_nan=False),
    "to": st.floats(width=32, allow_nan=False), "reply": st.booleans(), "name": NAME,
    "payload": st.binary(min_size=1, max_size=80).map(pad),
    "ip": st.ip_addresses(v=4).map(str), "address": st.ip_addresses(v=4).map(str),
    "client_address": st.ip_addresses(v=4).map(str),
    "repeater_address": st.ip_addresses(v=4).map(str),
    "original_request": st.tuples(U16, U32, U16, U32, U32, U32).map(lambda f: pack_header(*f)),
    "error_message": st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=80),
}
OVERRIDES = {
    (c.VersionResponse, "sequence_id"): st.none() | U32,
    (c.VersionRequest, "sequence_id"): U32,
    (c.ClientNameRequest, "name"): NAME | st.just(b""),
    (c.HostNameRequest, "name"): NAME | st.just(b""),
}
MESSAGE_CLASSES = [getattr(c, name) for name in c.__all__
                   if name.endswith(("Request", "Response"))]


def role_of(cls) -> Role:
    return Role.SERVER if cls.__name__.endswith("Request") else Role.CLIENT


def strategy_for(cls):
    fields = {f.name: OVERRIDES.get((cls, f.name), FIELD_STRATEGIES.get(f.name))
              for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", MESSAGE_CLASSES, ids=lambda cls: cls.__name__)
def test_round_trip(cls):
    @settings(max_examples=60)
    @given(strategy_for(cls))
    def check(message):
        raw = message.to_bytes()
        assert len(raw) % 8 == 0
        assert decode(raw, role_of(cls)) == message
        assert StreamParser(role_of(cls)).feed(raw) == [message]

    check()


def test_messages_compare_and_print_by_their_fields_as_dataclasses():
    # one __eq__/__repr__ pair for all classes (the generated ones cost start-up time)
    search = c.SearchRequest(name=b"PV", cid=3)
    assert search == c.SearchRequest(name=b"PV", cid=3, version=c.CA_MINOR_VERSION)
    assert search != c.SearchRequest(name=b"PV", cid=4)
    assert c.EchoRequest() == c.EchoRequest() and c.EchoRequest() != c.EchoResponse()
    assert c.ClearChannelRequest(sid=1, cid=2) != (1, 2)
    assert repr(search) == f"SearchRequest(name=b'PV', cid=3, version={c.CA_MINOR_VERSION}, " \
                           "reply=False)"
    with pytest.raises(TypeError):
        hash(search)


def test_every_message_class_has_a_decoder():
    decoded = {type(decode(cls_example.to_bytes(), role_of(type(cls_example))))
               for _, _, cls_example in SPEC_CONVERSATION + VECTORS}
    assert decoded == set(MESSAGE_CLASSES)
    assert set(c.REQUESTS) == {cls.ID for cls in MESSAGE_CLASSES if role_of(cls) is Role.SERVER}
    assert set(c.RESPONSES) == {cls.ID for cls in MESSAGE_CLASSES if role_of(cls) is Role.CLIENT}


def test_every_message_class_is_documented():
    doc = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    assert [cls.__name__ for cls in MESSAGE_CLASSES if f"`{cls.__name__}`" not in doc] == []


# --- validation --------------------------------------------------------------------------------
HEADER = pack_header(15, 0, 6, 1, 4, 2)
ENCODE_ERRORS = [
    c.SearchRequest(b"", 1), c.SearchRequest("text", 1), c.SearchRequest(b"a\0b", 1),
    c.SearchRequest(b"a", -1), c.SearchResponse(70000, 1), c.SearchResponse(5064, 1, 70000),
    c.SearchResponse(5064, 1, ip="localhost"), c.CreateChanRequest(b"", 1),
    c.EventAddRequest(6, 1, 4, 9, mask=-1), c.EventAddRequest(6, 1, 4, 9, low=1e300),
    c.EventAddRequest(6, 1, 4, 9, mask=0x10000),
    c.ErrorResponse(b"short", 1, 2, "x"), c.ErrorResponse(HEADER, 1, 2, "\u20ac"),
    c.ErrorResponse(HEADER, 1, 2, "a\0b"), c.ReadNotifyResponse(6, 1, 1, 2, "text"),
    c.CreateChFailResponse(-1), c.AccessRightsResponse(1, 2**32),
    c.RsrvIsUpResponse(13, 70000, 0), c.RsrvIsUpResponse(13, 5064, 0, "::1"),
    c.VersionResponse(13, -1), c.RepeaterRegisterRequest("256.0.0.1"),
    c.WriteRequest(0x10000, 1, 4, 2, b""),
]


@pytest.mark.parametrize("message", ENCODE_ERRORS, ids=repr)
def test_encoding_invalid_fields_raises_local_error(message):
    with pytest.raises(LocalProtocolError):
        message.to_bytes()


DECODE_ERRORS = [
    (Role.SERVER, "0001 0008 0006 0001 00000004 00000009 0000000000000000"),  # short EVENT_ADD
    (Role.SERVER, "0006 0008 0005 000d 00000007 00000007 0000000000000000"),  # empty name
    (Role.SERVER, "0012 0000 0000 0000 00000001 0000000d"),  # CREATE_CHAN without name
    (Role.CLIENT, "000b 0008 0000 0000 00000001 00000072 6f6f707300000000"),  # no header
    (Role.CLIENT, "000b 0010 0000 0000 00000001 00000072 0004ffff00060000 0000000400000002"),
    (Role.SERVER, "0005 0000 0000 0000 00000000 00000000"),  # SNAPSHOT: obsolete
    (Role.SERVER, "0019 0000 0000 0000 00000000 00000000"),  # SIGNAL: obsolete
    (Role.SERVER, "001c 0000 0000 0000 00000000 00000000"),  # beyond the last command
    (Role.SERVER, "ffff 0000 0000 0000 00000000 00000000"),
    (Role.SERVER, "0016 0000 0000 0000 00000001 00000003"),  # ACCESS_RIGHTS sent to a server
    (Role.CLIENT, "0004 0008 0005 0001 00000004 00000002 0000000700000000"),  # WRITE to a client
    (Role.CLIENT, "0018 0000 0000 0000 00000000 7f000001"),  # REPEATER_REGISTER to a client
]


@pytest.mark.parametrize("role, wire", DECODE_ERRORS)
def test_decoding_malformed_or_misdirected_messages_raises_protocol_error(role, wire):
    with pytest.raises(CaProtocolError):
        decode(h(wire), role)


def test_names_stop_at_the_first_nul_and_may_be_unterminated():
    assert decode(h("0006 0008 0005 000d 00000007 00000007 41420043 44000000"), Role.SERVER
                  ).name == b"AB"
    assert decode(h("0012 0008 0000 0000 00000001 0000000d 4142434445464748"), Role.SERVER
                  ).name == b"ABCDEFGH"


def test_tcp_search_reply_without_payload_decodes_with_unknown_version():
    # RSRV answers a SEARCH sent over TCP without the 8-byte payload
    assert decode(h("0006 0000 13c8 0000 ffffffff 00000007"), Role.CLIENT) == \
        c.SearchResponse(5064, 7, version=0)

"""Header packing: hand-computed vectors, both forms, the 0xFFFF boundary, round trips."""
import pytest
from hypothesis import given, strategies as st

from iochost.ca import LocalProtocolError
from iochost.ca.header import (EXTENDED_HEADER_SIZE, HEADER_SIZE, Header, pack_header, pad,
                               padded_size, unpack_header)

U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)

# (fields, wire hex) computed by hand from the layout in ca-protocol-spec.txt section 3.1.1
VECTORS = [
    ((0, 0, 0, 13, 0, 0), "0000 0000 0000 000d 00000000 00000000"),
    ((15, 8, 0, 1, 1, 1), "000f 0008 0000 0001 00000001 00000001"),
    ((1, 0xFFFE, 6, 0xFFFE, 0x01020304, 0xA0B0C0D0),
     "0001 fffe 0006 fffe 01020304 a0b0c0d0"),
    # payload_size reaching 0xFFFF switches to the extended form ...
    ((1, 0xFFFF, 6, 1, 2, 3), "0001 ffff 0006 0000 00000002 00000003 0000ffff 00000001"),
    # ... and so does data_count alone
    ((15, 8, 6, 0xFFFF, 2, 3), "000f ffff 0006 0000 00000002 00000003 00000008 0000ffff"),
    ((4, 8_000_000, 6, 1_000_000, 7, 9),
     "0004 ffff 0006 0000 00000007 00000009 007a1200 000f4240"),
]


@pytest.mark.parametrize("fields, wire", VECTORS)
def test_pack_and_unpack_match_hand_computed_bytes(fields, wire):
    raw = bytes.fromhex(wire)
    assert pack_header(*fields) == raw
    assert unpack_header(raw) == (Header(*fields), len(raw))


@pytest.mark.parametrize("fields, wire", VECTORS)
def test_unpack_needs_the_whole_header(fields, wire):
    raw = bytes.fromhex(wire)
    for cut in range(len(raw)):
        assert unpack_header(raw[:cut]) is None
    # with an offset, and with trailing bytes of a next message
    assert unpack_header(b"xyz" + raw + b"\x00\x01", offset=3) == (Header(*fields), len(raw))


@pytest.mark.parametrize("fields", [
    (-1, 0, 0, 0, 0, 0), (0x10000, 0, 0, 0, 0, 0), (0, 0, 0x10000, 0, 0, 0),
    (0, 0, 0, 0, -1, 0), (0, 0, 0, 0, 0, 2**32), (0, 2**32, 0, 0, 0, 0), (0, 0, 0, 2**32, 0, 0),
    (0, 0, 0, 0, "1", 0), (0, 0, 0, 0, 1.5, 0),
])
def test_pack_rejects_fields_out_of_range(fields):
    with pytest.raises(LocalProtocolError):
        pack_header(*fields)


@given(command=U16, size=U32, data_type=U16, count=U32, p1=U32, p2=U32)
def test_round_trip(command, size, data_type, count, p1, p2):
    raw = pack_header(command, size, data_type, count, p1, p2)
    extended = size >= 0xFFFF or count >= 0xFFFF
    assert len(raw) == (EXTENDED_HEADER_SIZE if extended else HEADER_SIZE)
    assert unpack_header(raw) == (Header(command, size, data_type, count, p1, p2), len(raw))


@pytest.mark.parametrize("size, padded", [(0, 0), (1, 8), (7, 8), (8, 8), (9, 16), (40, 40)])
def test_padding_to_eight_bytes(size, padded):
    assert padded_size(size) == padded
    assert pad(b"a" * size) == b"a" * size + bytes(padded - size)

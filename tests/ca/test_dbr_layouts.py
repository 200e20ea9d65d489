"""Golden bytes for DBR payloads, written by hand from the C structs of db_access.h.

Each expected payload is spelled field by field (hex, big-endian) in the order the C
struct declares them, RISC_pad members included, then the zero padding to 8 bytes.
"""
import re
from pathlib import Path

import numpy as np
import pytest

from iochost.ca.dbr import (LAYOUTS, ChannelType, Metadata, decode_dbr, encode_dbr,
                            payload_size)
from iochost.ca.eca import ECA_BADTYPE
from iochost.ca.errors import CaProtocolError, CaStatusError, LocalProtocolError

T = ChannelType
STAMP = "12345678 09abcdef"            # secs, nsecs
META = Metadata(status=1, severity=2, secs=0x12345678, nsecs=0x09ABCDEF)


def h(*fields: str) -> bytes:
    """Bytes from hex fields; ``z<N>`` is N zero bytes."""
    out = b""
    for field in " ".join(fields).split():
        out += bytes(int(field[1:])) if field.startswith("z") else bytes.fromhex(field)
    return out


def s(text: bytes, size: int) -> str:
    """A NUL-padded char[size] field, as hex."""
    return text.ljust(size, b"\0").hex()


GOLDEN = [
    # id, dbr type, native, values, meta, expected
    ("DOUBLE", T.DOUBLE, T.DOUBLE, np.array([3.5]), Metadata(),
     h("400c000000000000")),
    ("TIME_DOUBLE", T.TIME_DOUBLE, T.DOUBLE, np.array([3.5]), META,
     h("0001 0002", STAMP, "z4  400c000000000000")),               # RISC_pad long
    ("STS_CHAR", T.STS_CHAR, T.CHAR, np.array([0x41], np.uint8), META,
     h("0001 0002 z1 41", "z2")),                                  # RISC_pad char
    ("STS_DOUBLE", T.STS_DOUBLE, T.DOUBLE, np.array([-1.0]), META,
     h("0001 0002 z4 bff0000000000000")),                          # RISC_pad long
    ("STS_SHORT", T.STS_INT, T.INT, np.array([-2], np.int16), META,
     h("0001 0002 fffe", "z2")),
    ("STS_STRING", T.STS_STRING, T.STRING, [b"abc"], META,
     h("0001 0002", s(b"abc", 40), "z4")),
    ("TIME_STRING", T.TIME_STRING, T.STRING, [b"abc"], META,
     h("0001 0002", STAMP, s(b"abc", 40), "z4")),
    ("TIME_SHORT", T.TIME_INT, T.INT, np.array([-2], np.int16), META,
     h("0001 0002", STAMP, "z2 fffe")),                            # RISC_pad short
    ("TIME_ENUM", T.TIME_ENUM, T.ENUM, np.array([5], np.uint16), META,
     h("0001 0002", STAMP, "z2 0005")),                            # RISC_pad short
    ("TIME_CHAR", T.TIME_CHAR, T.CHAR, np.array([7], np.uint8), META,
     h("0001 0002", STAMP, "z2 z1 07")),                           # RISC_pad0, RISC_pad1
    ("TIME_LONG", T.TIME_LONG, T.LONG, np.array([-1], np.int32), META,
     h("0001 0002", STAMP, "ffffffff")),
    ("TIME_FLOAT", T.TIME_FLOAT, T.FLOAT, np.array([1.5], np.float32), META,
     h("0001 0002", STAMP, "3fc00000")),
    ("GR_SHORT", T.GR_INT, T.INT, np.array([7], np.int16),
     Metadata(status=1, severity=2, units=b"V", upper_disp_limit=10, lower_disp_limit=-10,
              upper_alarm_limit=9, upper_warning_limit=8, lower_warning_limit=-8,
              lower_alarm_limit=-9),
     h("0001 0002", s(b"V", 8), "000a fff6 0009 0008 fff8 fff7", "0007", "z6")),
    ("GR_CHAR", T.GR_CHAR, T.CHAR, np.array([200], np.uint8),
     Metadata(units=b"cnt", upper_disp_limit=250, upper_alarm_limit=240),
     h("0000 0000", s(b"cnt", 8), "fa 00 f0 00 00 00", "z1 c8", "z4")),  # RISC_pad char
    ("GR_FLOAT", T.GR_FLOAT, T.FLOAT, np.array([0.5], np.float32),
     Metadata(precision=2, units=b"mm", upper_disp_limit=1.0, lower_disp_limit=-1.0),
     h("0000 0000 0002 z2", s(b"mm", 8),                           # precision, RISC_pad0
       "3f800000 bf800000 z4 z4 z4 z4", "3f000000", "z4")),
    ("CTRL_DOUBLE", T.CTRL_DOUBLE, T.DOUBLE, np.array([2.0]),
     Metadata(precision=3, units=b"degC", upper_ctrl_limit=100.0, lower_ctrl_limit=-100.0),
     h("0000 0000 0003 z2", s(b"degC", 8), "z48",
       "4059000000000000 c059000000000000", "4000000000000000")),
    ("CTRL_LONG", T.CTRL_LONG, T.LONG, np.array([1], np.int32),
     Metadata(upper_ctrl_limit=0x7FFFFFFF, lower_ctrl_limit=-0x80000000),
     h("0000 0000", s(b"", 8), "z24 7fffffff 80000000", "00000001", "z0")),
    ("CTRL_CHAR", T.CTRL_CHAR, T.CHAR, np.array([1], np.uint8),
     Metadata(upper_ctrl_limit=9, lower_ctrl_limit=1),
     h("0000 0000", s(b"", 8), "z6 09 01", "z1 01", "z2")),         # RISC_pad char
    ("CTRL_ENUM", T.CTRL_ENUM, T.ENUM, np.array([2], np.uint16),
     Metadata(severity=1, enum_strings=(b"Off", b"On", b"Fault")),
     h("0000 0001 0003", s(b"Off", 26), s(b"On", 26), s(b"Fault", 26), f"z{13 * 26}",
       "0002")),                                                   # 424 bytes: no padding
    ("GR_ENUM", T.GR_ENUM, T.ENUM, np.array([0], np.uint16),
     Metadata(enum_strings=(b"x" * 30,)),                           # cut to 25 + NUL
     h("0000 0000 0001", s(b"x" * 25, 26), f"z{15 * 26}", "0000")),
    ("GR_STRING", T.GR_STRING, T.STRING, [b"abc"], META,            # = STS_STRING
     h("0001 0002", s(b"abc", 40), "z4")),
    ("CTRL_STRING", T.CTRL_STRING, T.STRING, [b"abc"], META,        # = STS_STRING
     h("0001 0002", s(b"abc", 40), "z4")),
    ("PUT_ACKT", T.PUT_ACKT, T.INT, np.array([1], np.int16), Metadata(),
     h("0001", "z6")),
    ("PUT_ACKS", T.PUT_ACKS, T.INT, np.array([3], np.int16), Metadata(),
     h("0003", "z6")),
    ("STSACK_STRING", T.STSACK_STRING, T.STRING, [b"x"],
     Metadata(status=1, severity=2, ackt=1, acks=3),
     h("0001 0002 0001 0003", s(b"x", 40))),
    ("CLASS_NAME", T.CLASS_NAME, T.STRING, [b"ignored"], Metadata(class_name=b"ai"),
     h(s(b"ai", 40))),
    # A whole 40-byte field, as RSRV answers READ_NOTIFY and monitors (only replies to
    # the obsolete CA_PROTO_READ are cut after the NUL).
    ("STRING scalar", T.STRING, T.STRING, [b"abc"], Metadata(), h(s(b"abc", 40))),
    ("STRING pair", T.STRING, T.STRING, [b"abc", b"d"], Metadata(),
     h(s(b"abc", 40), s(b"d", 40))),
    ("STRING 40 chars", T.STS_STRING, T.STRING, [b"y" * 40], Metadata(),
     h("0000 0000", s(b"y" * 39, 40), "z4")),                       # cut to 39 + NUL
    ("LONG array", T.LONG, T.LONG, np.array([1, -2, 3], np.int32), Metadata(),
     h("00000001 fffffffe 00000003", "z4")),
]


@pytest.mark.parametrize("dbr_type, native, values, meta, expected",
                         [case[1:] for case in GOLDEN], ids=[case[0] for case in GOLDEN])
def test_golden_encode(dbr_type, native, values, meta, expected):
    payload, count = encode_dbr(dbr_type, native, values, meta)
    assert payload == expected
    assert count == len(values) if dbr_type != T.CLASS_NAME else count == 1


@pytest.mark.parametrize("dbr_type, native, values, meta, expected",
                         [case[1:] for case in GOLDEN], ids=[case[0] for case in GOLDEN])
def test_golden_decode(dbr_type, native, values, meta, expected):
    count = 1 if dbr_type == T.CLASS_NAME else len(values)
    decoded, got = decode_dbr(dbr_type, expected, count)
    if dbr_type == T.CLASS_NAME:
        assert decoded == [meta.class_name] and got.class_name == meta.class_name
    elif isinstance(values, list):
        assert decoded == [v[:39] for v in values]
    else:
        np.testing.assert_array_equal(decoded, values)
    assert payload_size(dbr_type, count) >= len(expected)


def test_ca_spec_example_gr_int16():
    """The DBR_GR_INT16 reply of the CA protocol specification, section 9."""
    payload = h("0005 0002 436f756e74730000 000a 0000 0008 0006 0004 0002",
                "0000 0000 0000 0000")
    values, meta = decode_dbr(T.GR_SHORT, payload, 4)
    assert (meta.status, meta.severity, meta.units) == (5, 2, b"Counts")
    assert (meta.upper_disp_limit, meta.lower_disp_limit, meta.upper_alarm_limit,
            meta.upper_warning_limit, meta.lower_warning_limit,
            meta.lower_alarm_limit) == (10, 0, 8, 6, 4, 2)
    assert values.tolist() == [0, 0, 0, 0]


def test_gr_and_ctrl_string_are_sts_string():
    for dbr_type in (T.GR_STRING, T.CTRL_STRING):
        assert encode_dbr(dbr_type, T.STRING, [b"v"], META) == \
            encode_dbr(T.STS_STRING, T.STRING, [b"v"], META)


def _c_struct_sizes() -> dict[str, int]:
    """sizeof() of every struct in the shipped db_access.h, from its member lines."""
    import epicscorelibs.path

    header = Path(epicscorelibs.path.include_path, "db_access.h").read_text()
    sizes = {"dbr_short_t": 2, "dbr_ushort_t": 2, "dbr_enum_t": 2, "dbr_char_t": 1,
             "dbr_long_t": 4, "dbr_float_t": 4, "dbr_double_t": 8, "dbr_string_t": 40,
             "epicsTimeStamp": 8}
    structs = {}
    for name, body in re.findall(r"struct (dbr_\w+)\s*\{(.*?)\};", header, re.S):
        total = 0
        for line in body.splitlines():
            line = line.split("/*")[0].strip()
            if not line:
                continue
            if line.startswith("char"):
                dims = re.findall(r"\[(\w+)\]", line)
                consts = {"MAX_UNITS_SIZE": 8, "MAX_ENUM_STATES": 16,
                          "MAX_ENUM_STRING_SIZE": 26}
                n = 1
                for d in dims:
                    n *= consts[d]
                total += n
            else:
                total += sizes[line.split()[0]]
        structs[name] = total
    return structs


def test_layouts_match_the_shipped_c_header():
    """prefix + one value == sizeof(struct) for every struct db_access.h declares."""
    structs = _c_struct_sizes()
    c_name = {"INT": "short", "STSACK_STRING": "stsack_string"}
    checked = 0
    for layout in LAYOUTS:
        name = layout.dbr_type.name
        if layout.dbr_type < 7 or name in ("PUT_ACKT", "PUT_ACKS", "CLASS_NAME"):
            continue
        fam, _, native = name.partition("_")
        struct_name = "dbr_" + (c_name.get(name) or f"{fam}_{c_name.get(native, native)}").lower()
        if name in ("GR_STRING", "CTRL_STRING"):
            struct_name = "dbr_sts_string"      # "not implemented; use struct_dbr_sts_string"
        assert layout.prefix_size + layout.value_size == structs[struct_name], name
        checked += 1
    assert checked == 29


@pytest.mark.parametrize("count, expected", [
    (None, h("3ff0000000000000 4000000000000000 4008000000000000")),
    (0, h("3ff0000000000000 4000000000000000 4008000000000000")),
    (2, h("3ff0000000000000 4000000000000000")),
    (5, h("3ff0000000000000 4000000000000000 4008000000000000 z16")),
])
def test_count_truncates_or_pads_with_zeros(count, expected):
    payload, sent = encode_dbr(T.DOUBLE, T.DOUBLE, np.array([1.0, 2.0, 3.0]), Metadata(), count)
    assert payload == expected
    assert sent == len(expected) // 8


def test_empty_array_sends_metadata_only():
    assert encode_dbr(T.TIME_DOUBLE, T.DOUBLE, np.zeros(0), META) == \
        (h("0001 0002", STAMP, "z4"), 0)
    assert encode_dbr(T.DOUBLE, T.DOUBLE, np.zeros(0), META) == (b"", 0)
    values, meta = decode_dbr(T.TIME_DOUBLE, h("0001 0002", STAMP, "z4"), 0)
    assert len(values) == 0 and (meta.secs, meta.nsecs) == (0x12345678, 0x09ABCDEF)


def test_string_array_padding_uses_empty_strings():
    payload, sent = encode_dbr(T.STRING, T.STRING, [b"a"], Metadata(), 3)
    assert sent == 3 and payload == h(s(b"a", 40), "z80")
    assert decode_dbr(T.STRING, payload, 3)[0] == [b"a", b"", b""]


def test_large_array_uses_the_extended_count():
    values = np.arange(0x10000 + 3, dtype=np.int32)
    payload, sent = encode_dbr(T.TIME_LONG, T.LONG, values, META)
    assert sent == 0x10003 and len(payload) == 12 + 4 * 0x10003  # already 8-aligned
    assert payload[12:20] == h("00000000 00000001")
    decoded, _ = decode_dbr(T.TIME_LONG, payload, sent)
    np.testing.assert_array_equal(decoded, values)


@pytest.mark.parametrize("bad", [-1, 39, 100, "DOUBLE", None])
def test_invalid_type_is_badtype(bad):
    with pytest.raises(CaStatusError) as info:
        encode_dbr(bad, T.DOUBLE, np.array([1.0]), Metadata())
    assert info.value.status == ECA_BADTYPE
    with pytest.raises(CaStatusError) as info:
        decode_dbr(bad, bytes(16), 1)
    assert info.value.status == ECA_BADTYPE


def test_short_payloads_are_protocol_errors():
    with pytest.raises(CaProtocolError, match="metadata"):
        decode_dbr(T.CTRL_DOUBLE, bytes(40), 1)
    with pytest.raises(CaProtocolError, match="too short"):
        decode_dbr(T.DOUBLE, bytes(16), 3)
    with pytest.raises(CaProtocolError, match="too few"):
        decode_dbr(T.STRING, bytes(40), 3)


def test_short_string_put_is_accepted():
    """libca sends a one-element DBR_STRING put cut after its NUL (padded to 8)."""
    assert decode_dbr(T.STRING, b"hi\0\0\0\0\0\0", 1)[0] == [b"hi"]


def test_decode_infers_count():
    assert decode_dbr(T.DOUBLE, bytes(24), None)[0].tolist() == [0.0, 0.0, 0.0]
    assert decode_dbr(T.STRING, b"ab\0\0\0\0\0\0", None)[0] == [b"ab"]


def test_metadata_out_of_range_is_our_bug():
    with pytest.raises(LocalProtocolError, match="STS_DOUBLE"):
        encode_dbr(T.STS_DOUBLE, T.DOUBLE, np.array([1.0]), Metadata(status=70000))
    with pytest.raises(LocalProtocolError, match="bytes"):
        encode_dbr(T.STRING, T.STRING, ["text"], Metadata())


def test_decoded_numbers_are_big_endian_views():
    payload = h("0001 0002 0003 0004")
    values, _ = decode_dbr(T.INT, payload, 4)
    assert values.dtype == np.dtype(">i2") and not values.flags.writeable
    assert values.tolist() == [1, 2, 3, 4]


def test_no_str_beyond_16_is_clamped():
    payload = h("0000 0000 0011", s(b"a", 26), f"z{15 * 26}", "0000")
    _, meta = decode_dbr(T.CTRL_ENUM, payload, 1)
    assert len(meta.enum_strings) == 16 and meta.enum_strings[0] == b"a"


def test_class_name_honours_count():
    payload, sent = encode_dbr(T.CLASS_NAME, T.DOUBLE, np.zeros(3), Metadata(class_name=b"ai"), 3)
    assert sent == 3 and payload == h(s(b"ai", 40), "z80")

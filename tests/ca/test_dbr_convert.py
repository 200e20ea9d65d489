"""The conversion matrix between native types, with the ECA codes of impossible ones."""
import warnings

import numpy as np
import pytest

from iochost.ca.dbr import ChannelType, Metadata, convert_values, decode_dbr, encode_dbr
from iochost.ca.dbr_convert import NATIVE_DTYPES
from iochost.ca.dbr_text import format_number
from iochost.ca.eca import ECA_NOCONVERT
from iochost.ca.errors import CaStatusError, LocalProtocolError

T = ChannelType
NAN, INF = float("nan"), float("inf")
FLT_MAX = float(np.finfo(np.float32).max)
FLT_MIN = float(np.finfo(np.float32).tiny)

NUMERIC = [
    # from, to, input, expected
    (T.DOUBLE, T.INT, [3.9, -3.9, 70000.0, -32769.0, NAN, 1e10], [3, -3, 4464, 32767, 0, 0]),
    (T.DOUBLE, T.LONG, [2.5, -2.5, 3e9, NAN, -INF],
     [2, -2, -2**31, -2**31, -2**31]),
    (T.DOUBLE, T.CHAR, [65.7, 256.0, -1.0], [65, 0, 255]),
    (T.DOUBLE, T.ENUM, [1.9, 65536.0, -1.0], [1, 0, 65535]),
    (T.DOUBLE, T.FLOAT, [1e39, -1e39, 1e-40, -1e-40, 0.0, INF, 1.5],
     [FLT_MAX, -FLT_MAX, FLT_MIN, -FLT_MIN, 0.0, INF, 1.5]),
    (T.FLOAT, T.DOUBLE, [0.1], [float(np.float32(0.1))]),
    (T.FLOAT, T.LONG, [-7.5], [-7]),
    (T.LONG, T.INT, [70000, -1, 32768], [4464, -1, -32768]),
    (T.LONG, T.CHAR, [300, -1], [44, 255]),
    (T.LONG, T.DOUBLE, [2**31 - 1], [2147483647.0]),
    (T.LONG, T.FLOAT, [16777217], [16777216.0]),
    (T.INT, T.ENUM, [-1, 3], [65535, 3]),
    (T.ENUM, T.INT, [65535], [-1]),
    (T.ENUM, T.DOUBLE, [2], [2.0]),
    (T.CHAR, T.DOUBLE, [255], [255.0]),
    (T.CHAR, T.INT, [200], [200]),
]


@pytest.mark.parametrize("src, dst, values, expected", NUMERIC,
                         ids=[f"{a.name}->{b.name}" for a, b, *_ in NUMERIC])
@pytest.mark.parametrize("repeat", [1, 5], ids=["few", "many"])  # short arrays take a path
def test_numeric_conversions_follow_c_casts(src, dst, values, expected, repeat):  # of their own
    out = convert_values(np.array(values * repeat, dtype=NATIVE_DTYPES[src]), src, dst)
    assert out.dtype == NATIVE_DTYPES[dst]
    np.testing.assert_array_equal(out, np.array(expected * repeat, dtype=NATIVE_DTYPES[dst]))


TO_STRING = [
    (T.DOUBLE, [3.14159], 2, [b"3.14"]),
    (T.DOUBLE, [3.14159], 0, [b"3"]),
    (T.DOUBLE, [0.125], 2, [b"0.13"]),             # cvtFast rounds the next digit half up
    (T.DOUBLE, [-0.001], 2, [b"-0.00"]),
    (T.DOUBLE, [9.9999], 2, [b"10.00"]),
    (T.DOUBLE, [1.5e7], 5, [b"15000000.000"]),     # beyond 1e7: at most 3 decimals
    (T.DOUBLE, [2e16], 2, [b" 2.00e+16"]),          # beyond 1e16: %*.*e, width p+7
    (T.DOUBLE, [1.0], 10, [b" 1.0000000000e+00"]),
    (T.DOUBLE, [NAN], 4, [b"nan"]),
    # the precision is an epicsUInt16 there: a negative PREC is a large one (ca_test, softIoc)
    (T.DOUBLE, [1.5], -1, [b" 1.50000000000000000e+00"]),
    (T.DOUBLE, [-1.0], -2500, [b"-1.00000000000000000e+00"]),
    (T.FLOAT, [1.5], -1, [b"1.500000000000e+00"]),
    (T.FLOAT, [2e8], 2, [b"2.00e+08"]),              # FLOAT: beyond 1e8, width p+6
    (T.FLOAT, [0.1], 3, [b"0.100"]),
    (T.LONG, [-5, 7], 2, [b"-5", b"7"]),
    (T.INT, [-32768], 0, [b"-32768"]),
    (T.CHAR, [72, 105], 0, [b"72", b"105"]),       # dbConvert: a uchar is a number
]


@pytest.mark.parametrize("src, values, precision, expected", TO_STRING)
def test_numbers_to_string_print_like_an_ioc(src, values, precision, expected):
    arr = np.array(values, dtype=NATIVE_DTYPES[src])
    assert convert_values(arr, src, T.STRING, precision=precision) == expected


def test_default_precision_is_dbconverts_six():
    assert convert_values(np.array([1 / 3]), T.DOUBLE, T.STRING) == [b"0.333333"]
    assert format_number(1 / 3, 6) == "0.333333"


def test_encode_uses_the_channel_precision():
    payload, _ = encode_dbr(T.TIME_STRING, T.DOUBLE, np.array([2.5]), Metadata(precision=3))
    assert decode_dbr(T.TIME_STRING, payload, 1)[0] == [b"2.500"]


# Measured against softioc (RSRV, EPICS 7): caput of a DBR_STRING, then read back.
FROM_STRING = [
    (T.DOUBLE, [b"3.5", b" -2e3 ", b"", b"0x10", b"inf", b"\t7\n", b"12abc", b"1_000",
                b"0x1p3", b"010", b"nan", b"+5", b"0x1p-1074"],
     [3.5, -2000.0, 0.0, 16.0, INF, 7.0, 12.0, 1.0, 8.0, 10.0, NAN, 5.0, 5e-324]),
    (T.FLOAT, [b"0.5", b"-1e38", b"-1e-40"], [0.5, -1e38, -1e-40]),
    (T.LONG, [b"42", b" -7 ", b"0x10", b"010", b"1e3", b"2.9", b"-2.9", b"", b"12abc",
              b"0X1F", b"+5", b"08"],
     [42, -7, 16, 8, 1, 2, -2, 0, 12, 31, 5, 0]),
    (T.INT, [b"32767", b"-32768"], [32767, -32768]),
    (T.CHAR, [b"255", b"0", b"-0"], [255, 0, 0]),
]


@pytest.mark.parametrize("dst, strings, expected",
                         FROM_STRING, ids=[c[0].name for c in FROM_STRING])
def test_strings_parse_like_epics(dst, strings, expected):
    out = convert_values(strings, T.STRING, dst)
    np.testing.assert_array_equal(out, np.array(expected, dtype=NATIVE_DTYPES[dst]))


@pytest.mark.parametrize("dst", [T.DOUBLE, T.LONG, T.CHAR])
def test_empty_text_is_zero_for_a_scalar_and_no_number_for_an_array(dst):
    """RSRV's scalar put converter takes empty text as 0; its array converters (epicsParse*)
    find no number in it (checked with caput in tests/records/test_catools_rsrv.py)."""
    assert convert_values([b""], T.STRING, dst)[0] == 0
    for text in (b"", b"  "):
        with pytest.raises(CaStatusError) as err:
            convert_values([b"1", text], T.STRING, dst, array=True)
        assert err.value.status == ECA_NOCONVERT
    assert list(convert_values([b"1", b" 2"], T.STRING, dst, array=True)) == [1, 2]


NOCONVERT = [
    (T.STRING, T.DOUBLE, [b"abc"], ()),
    (T.STRING, T.DOUBLE, [b"   "], ()),           # white space only: no digits
    (T.STRING, T.DOUBLE, [b"1e400"], ()),         # strtod overflow
    (T.STRING, T.DOUBLE, [b"1e-400"], ()),        # strtod underflow to zero
    (T.STRING, T.DOUBLE, [b"-1e-320"], ()),       # ... and to a subnormal (softIoc refuses)
    (T.STRING, T.DOUBLE, [b"0x1p-2000"], ()),     # a hexadecimal one that underflows too
    (T.STRING, T.LONG, [b"abc"], ()),
    (T.STRING, T.LONG, [b"99999999999"], ()),     # does not fit int32
    (T.STRING, T.LONG, [b"nan"], ()),             # strtol has no NaN
    (T.STRING, T.LONG, [b"inf"], ()),
    (T.STRING, T.INT, [b"40000"], ()),
    (T.STRING, T.CHAR, [b"256"], ()),
    (T.STRING, T.CHAR, [b"-1"], ()),
    (T.STRING, T.FLOAT, [b"1e39"], ()),           # beyond FLT_MAX
    (T.STRING, T.FLOAT, [b"1e-40"], ()),          # epicsParseFloat: 0 < v <= FLT_MIN
    (T.STRING, T.ENUM, [b"Maybe"], (b"Off", b"On")),
    (T.STRING, T.ENUM, [b"2"], (b"Off", b"On")),   # numeric but not a valid index
    (T.STRING, T.ENUM, [b"0"], ()),                # no states at all
]


@pytest.mark.parametrize("src, dst, values, enum_strings", NOCONVERT,
                         ids=[f"{v[0]!r}->{d.name}" for _, d, v, _ in NOCONVERT])
def test_impossible_conversions_raise_noconvert(src, dst, values, enum_strings):
    with pytest.raises(CaStatusError) as info:
        convert_values(values, src, dst, enum_strings)
    assert info.value.status == ECA_NOCONVERT
    assert repr(values[0]) in info.value.message


def test_encode_raises_noconvert_for_an_unparseable_stored_string():
    with pytest.raises(CaStatusError) as info:
        encode_dbr(T.TIME_DOUBLE, T.STRING, [b"not a number"], Metadata())
    assert info.value.status == ECA_NOCONVERT


STATES = (b"Off", b"On", b"Fault")


@pytest.mark.parametrize("strings, expected", [
    ([b"On"], [1]),
    ([b"Fault", b"Off"], [2, 0]),
    ([b"2"], [2]),                                   # not a state name but a valid index
    ([b" 1 "], [1]),
    ([b"0x1"], [1]),
])
def test_string_to_enum_by_name_or_index(strings, expected):
    assert convert_values(strings, T.STRING, T.ENUM, STATES).tolist() == expected


def test_enum_to_string_and_numbers():
    """As softioc's mbbo prints them; without states, the index in decimal."""
    idx = np.array([0, 2, 7, 20], np.uint16)
    assert convert_values(idx, T.ENUM, T.STRING, STATES) == \
        [b"Off", b"Fault", b"", b"Illegal Value"]
    assert convert_values(idx, T.ENUM, T.STRING) == [b"0", b"2", b"7", b"20"]
    assert convert_values(idx, T.ENUM, T.DOUBLE, STATES).tolist() == [0.0, 2.0, 7.0, 20.0]
    assert convert_values(np.array([1.7]), T.DOUBLE, T.ENUM).tolist() == [1]


def test_encode_enum_as_string_uses_meta_enum_strings():
    payload, _ = encode_dbr(T.STS_STRING, T.ENUM, np.array([1], np.uint16),
                            Metadata(enum_strings=STATES))
    assert decode_dbr(T.STS_STRING, payload, 1)[0] == [b"On"]


def test_char_arrays_and_long_strings():
    text = np.frombuffer(b"hello\0junk", np.uint8)
    assert convert_values(text, T.CHAR, T.STRING, long_string=True) == [b"hello"]
    assert convert_values(np.frombuffer(b"x" * 60, np.uint8), T.CHAR, T.STRING,
                          long_string=True) == [b"x" * 39]
    assert convert_values([b"hi"], T.STRING, T.CHAR, long_string=True).tobytes() == b"hi\0"
    # Without long_string a CHAR is a number, as dbConvert treats DBF_UCHAR.
    assert convert_values([b"104", b"105"], T.STRING, T.CHAR).tolist() == [104, 105]


def test_string_to_string_truncation_happens_on_the_wire():
    payload, _ = encode_dbr(T.STRING, T.STRING, [b"z" * 50, b"ok"], Metadata())
    assert decode_dbr(T.STRING, payload, 2)[0] == [b"z" * 39, b"ok"]


def test_same_type_is_returned_unchanged():
    arr = np.array([1.0, 2.0])
    assert convert_values(arr, T.DOUBLE, T.DOUBLE) is arr
    assert convert_values([b"a"], T.STRING, T.STRING) == [b"a"]


def test_python_sequences_are_accepted_for_numbers():
    assert convert_values([1, 2], T.LONG, T.DOUBLE).tolist() == [1.0, 2.0]
    assert convert_values(5, T.LONG, T.STRING) == [b"5"]


@pytest.mark.parametrize("src, dst", [(T.TIME_DOUBLE, T.DOUBLE), (T.DOUBLE, 99), (-1, 0)])
def test_non_native_types_are_a_local_error(src, dst):
    with pytest.raises(LocalProtocolError, match="native types"):
        convert_values([1.0], src, dst)


def test_text_where_numbers_belong_is_a_local_error():
    with pytest.raises(LocalProtocolError):
        convert_values(["a"], T.STRING, T.DOUBLE)
    with pytest.raises(LocalProtocolError):
        convert_values([b"1", "2"], T.STRING, T.DOUBLE)
    with pytest.raises(LocalProtocolError):
        convert_values(np.array(["x"]), T.DOUBLE, T.LONG)


def test_limits_convert_like_values_for_another_type():
    meta = Metadata(upper_disp_limit=70000.7, lower_disp_limit=-3.9, upper_ctrl_limit=1e39,
                    lower_ctrl_limit=NAN)
    payload, _ = encode_dbr(T.CTRL_INT, T.DOUBLE, np.array([1.0]), meta)
    _, got = decode_dbr(T.CTRL_INT, payload, 1)
    assert (got.upper_disp_limit, got.lower_disp_limit) == (4464, -3)
    assert (got.upper_ctrl_limit, got.lower_ctrl_limit) == (0, 0)      # -2**31 -> low bits
    payload, _ = encode_dbr(T.CTRL_FLOAT, T.DOUBLE, np.array([1.0]), meta)
    _, got = decode_dbr(T.CTRL_FLOAT, payload, 1)
    assert got.upper_ctrl_limit == FLT_MAX and got.lower_ctrl_limit != got.lower_ctrl_limit
    # An integer channel given float limits casts them the same way.
    payload, _ = encode_dbr(T.GR_LONG, T.LONG, np.array([1], np.int32),
                            Metadata(upper_disp_limit=2.9))
    assert decode_dbr(T.GR_LONG, payload, 1)[1].upper_disp_limit == 2


def test_non_finite_alarm_limits_become_zero_as_integers():
    """dbAccess get_alarm; display and control limits are plain casts (NaN -> INT_MIN)."""
    meta = Metadata(upper_disp_limit=NAN, upper_alarm_limit=NAN, upper_warning_limit=INF,
                    lower_warning_limit=-INF, lower_alarm_limit=2.5, upper_ctrl_limit=NAN)
    payload, _ = encode_dbr(T.CTRL_LONG, T.DOUBLE, np.array([1.0]), meta)
    _, got = decode_dbr(T.CTRL_LONG, payload, 1)
    assert (got.upper_alarm_limit, got.upper_warning_limit, got.lower_warning_limit,
            got.lower_alarm_limit) == (0, 0, 0, 2)
    assert got.upper_disp_limit == got.upper_ctrl_limit == -(2**31)


def test_python_floats_for_a_float_channel_are_not_clamped():
    """Only DOUBLE -> FLOAT conversions clamp; a FLOAT channel's own values pass as they are."""
    tiny = float(np.float32(1e-42))                     # a float32 denormal
    payload, _ = encode_dbr(T.FLOAT, T.FLOAT, [tiny], Metadata())
    assert decode_dbr(T.FLOAT, payload, 1)[0].tolist() == [tiny]
    payload, _ = encode_dbr(T.FLOAT, T.DOUBLE, [tiny], Metadata())
    assert decode_dbr(T.FLOAT, payload, 1)[0].tolist() == [FLT_MIN]


@pytest.mark.parametrize("src, dst, raw", [
    (T.DOUBLE, T.FLOAT, (0x7FF0000000000001).to_bytes(8, "big")),
    (T.FLOAT, T.DOUBLE, (0x7F800001).to_bytes(4, "big") + bytes(4)),
    (T.DOUBLE, T.LONG, (0x7FF0000000000001).to_bytes(8, "big")),
])
def test_a_signalling_nan_converts_without_a_warning(src, dst, raw):
    """A client may send any bit pattern; a signalling NaN is a NaN (or, to an integer,
    what a NaN converts to), not a RuntimeWarning on the server's stderr."""
    values, _ = decode_dbr(src, raw, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = convert_values(values, src, dst)
    assert out.dtype == NATIVE_DTYPES[dst] and (np.isnan(out[0]) or dst == T.LONG)

"""Property test: for each of the 39 DBR types, decode(encode(x)) gives back x.

"x" is the values plus every metadata field that the type carries on the wire
(``fields_of``); fields a type does not carry must come back as defaults.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from iochost.ca.dbr import (CTRL_LIMITS, ChannelType, Metadata, decode_dbr, encode_dbr,
                            fields_of, native_type)
from iochost.ca.dbr_convert import NATIVE_DTYPES

T = ChannelType
DEFAULTS = Metadata()

text = st.binary(max_size=39).map(lambda b: b.replace(b"\0", b"_"))
int16 = st.integers(0, 2**15 - 1)
uint16 = st.integers(0, 2**16 - 1)
uint32 = st.integers(0, 2**32 - 1)

NUMBER = {
    T.INT: st.integers(-(2**15), 2**15 - 1),
    T.LONG: st.integers(-(2**31), 2**31 - 1),
    T.CHAR: st.integers(0, 255),
    T.ENUM: uint16,
    T.FLOAT: st.floats(width=32, allow_nan=False),
    T.DOUBLE: st.floats(allow_nan=False),
}


def values_for(dbr_type: ChannelType):
    if dbr_type in (T.PUT_ACKT, T.PUT_ACKS):
        return hnp.arrays(np.int16, 1, elements=st.integers(0, 2**15 - 1))
    native = native_type(dbr_type)
    if native is T.STRING:
        return st.lists(text, max_size=4)
    return hnp.arrays(NATIVE_DTYPES[native], st.integers(0, 12),
                      elements=NUMBER[native] if native is not T.DOUBLE else st.floats())


def meta_for(dbr_type: ChannelType):
    native = native_type(dbr_type)
    limit = NUMBER.get(native, st.just(0))
    strategies = dict(
        status=int16, severity=int16, secs=uint32, nsecs=uint32,
        units=text.map(lambda b: b[:7]), precision=st.integers(-(2**15), 2**15 - 1),
        enum_strings=st.lists(text.map(lambda b: b[:25]), max_size=16).map(tuple),
        ackt=uint16, acks=uint16, class_name=text,
        **{name: limit for name in CTRL_LIMITS},
    )
    carried = fields_of(dbr_type)
    return st.builds(Metadata, **{k: v for k, v in strategies.items() if k in carried})


def check_round_trip(dbr_type, values, meta):
    payload, count = encode_dbr(dbr_type, native_type(dbr_type), values, meta)
    assert len(payload) % 8 == 0
    decoded, got = decode_dbr(dbr_type, payload, count)
    if dbr_type == T.CLASS_NAME:
        assert decoded == [meta.class_name]
    elif isinstance(values, list):
        assert count == len(values)
        assert decoded == values
    else:
        assert count == len(values)
        np.testing.assert_array_equal(np.asarray(decoded).astype(values.dtype), values)
    carried = fields_of(dbr_type)
    for name in Metadata.__dataclass_fields__:
        expected = getattr(meta if name in carried else DEFAULTS, name)
        assert getattr(got, name) == expected, name


@pytest.mark.parametrize("dbr_type", list(ChannelType), ids=lambda t: t.name)
def test_round_trip(dbr_type):
    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(values=values_for(dbr_type), meta=meta_for(dbr_type))
    def run(values, meta):
        check_round_trip(dbr_type, values, meta)

    run()

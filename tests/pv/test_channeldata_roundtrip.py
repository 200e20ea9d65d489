"""Property tests: what goes in through write() or write_dbr() comes back out of read_dbr()."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from iochost.ca.dbr import NATIVE_DTYPES, ChannelType, Metadata, decode_dbr, encode_dbr
from iochost.pv.data import (ChannelChar, ChannelDouble, ChannelEnum, ChannelFloat,
                             ChannelInteger, ChannelShort, ChannelString)

T = ChannelType
# Derandomized: the suite must be deterministic; the examples still cover the edges.
FAST = settings(max_examples=60, deadline=None, derandomize=True)

doubles = st.floats(allow_nan=False, width=64)
int32 = st.integers(-2**31, 2**31 - 1)
int16 = st.integers(-2**15, 2**15 - 1)
text = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=39)

SCALARS = [
    (ChannelDouble, T.DOUBLE, doubles),
    (ChannelFloat, T.FLOAT, st.floats(allow_nan=False, width=32)),
    (ChannelInteger, T.LONG, int32),
    (ChannelShort, T.INT, int16),
]


def decoded(chan, dbr_type, count=0):
    payload, sent = chan.read_dbr(dbr_type, count)
    values, _ = decode_dbr(dbr_type, payload, sent)
    return values


async def put_native(chan, values):
    """Put ``values`` as a client would, in the channel's own native type."""
    native = chan.native_type
    if native != T.STRING:
        values = np.asarray(values, dtype=NATIVE_DTYPES[native])
    payload, count = encode_dbr(native, native, values, Metadata())
    await chan.write_dbr(native, count, payload, "host", "user")


@FAST
@given(st.data())
async def test_numeric_scalars_round_trip(data):
    for cls, native, strategy in SCALARS:
        chan = cls()
        value = data.draw(strategy)
        await chan.write(value)
        assert decoded(chan, native).tolist() == [value]
        other = data.draw(strategy)
        await put_native(chan, [other])
        assert chan.value == other and type(chan.value) is type(other)


@FAST
@given(st.lists(doubles, max_size=20), st.lists(int32, max_size=20))
async def test_numeric_arrays_round_trip(doubles_in, ints_in):
    chan = ChannelDouble(max_length=20)
    await chan.write(doubles_in)
    assert decoded(chan, T.DOUBLE).tolist() == doubles_in
    ints = ChannelInteger(max_length=20)
    await put_native(ints, np.array(ints_in, dtype=np.int32))
    assert ints.value.tolist() == ints_in
    assert decoded(ints, T.LONG).tolist() == ints_in


@FAST
@given(text, st.lists(text, min_size=1, max_size=5))
async def test_strings_round_trip(one, many):
    chan = ChannelString()
    await put_native(chan, [one.encode("latin-1")])
    assert chan.value == one
    assert decoded(chan, T.STRING) == [one.encode("latin-1")]
    array = ChannelString(max_length=5)
    await array.write(many)
    assert decoded(array, T.STRING) == [s.encode("latin-1") for s in many]


@FAST
@given(st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=60))
async def test_char_text_and_long_string_round_trip(value):
    chan = ChannelChar(max_length=60)
    await chan.write(value)
    assert bytes(decoded(chan, T.CHAR)) == value.encode("latin-1")
    string = ChannelString(long_string_max_length=61)
    view = string.long_string()
    chars = np.frombuffer(value.encode("latin-1") + b"\0", np.uint8)
    payload, count = encode_dbr(T.CHAR, T.CHAR, chars, Metadata())
    await view.write_dbr(T.CHAR, count, payload, "host", "user")
    assert string.value == value
    assert bytes(decoded(view, T.CHAR)) == value.encode("latin-1") + b"\0"


@FAST
@given(st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
                        max_size=25), min_size=1, max_size=16, unique=True), st.data())
async def test_enum_round_trip(strings, data):
    chan = ChannelEnum(enum_strings=strings)
    index = data.draw(st.integers(0, len(strings) - 1))
    await put_native(chan, [index])
    assert chan.value == strings[index]
    assert decoded(chan, T.ENUM).tolist() == [index]
    assert decoded(chan, T.STRING) == [strings[index].encode()]

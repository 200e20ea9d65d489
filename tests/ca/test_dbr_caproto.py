"""Oracle test: iochost's DBR bytes against caproto's ctypes structures.

For every DBR type and a spread of values and metadata, our payload equals the payload
caproto builds (``caproto._commands.data_payload`` with a ``caproto._dbr`` structure),
and each side decodes the other's bytes to the input.  caproto is an independent
implementation, so agreement is evidence; where it disagrees with db_access.h or RSRV we
follow the C side.  The deliberate differences:

1. 40-character strings: ``dbr_string_t`` must hold the NUL, so we send 39 characters
   and the terminator; caproto sends 40 characters and no terminator.
2. DBR_CTRL_STRING: db_access.h says "use struct_dbr_sts_string" (RSRV sends that);
   caproto maps it to DBR_TIME_STRING.  We compare with caproto's STS_STRING.
3. PUT_ACKT, PUT_ACKS, STSACK_STRING and CLASS_NAME: caproto's structures include the
   value and its data codec does not know these types; we compare with the structure
   filled in directly.
"""
import ctypes

import numpy as np
import pytest
from caproto import _dbr as cadbr
from caproto._commands import data_payload, extract_data, extract_metadata

from iochost.ca.dbr import (CTRL_LIMITS, ChannelType, Metadata, decode_dbr, encode_dbr,
                            family, fields_of, native_type)
from iochost.ca.dbr_convert import NATIVE_DTYPES

T = ChannelType
SPECIAL = (T.PUT_ACKT, T.PUT_ACKS, T.STSACK_STRING, T.CLASS_NAME)
BIG = 0xFFFF + 4                      # more elements than a 16-bit header count holds

NUMERIC_VALUES = {
    T.DOUBLE: [[3.5], [], [-1e300, 0.0, 2.5e-300], list(np.arange(BIG) * 0.5)],
    T.FLOAT: [[1.5], [], [-3.25, 1e30], list(np.arange(BIG, dtype=np.float32))],
    T.LONG: [[7], [], [-(2**31), 2**31 - 1], list(range(BIG))],
    T.INT: [[-2], [], [-(2**15), 2**15 - 1], list(np.arange(BIG) % 30000)],
    T.CHAR: [[65], [], [0, 255, 128], list(np.arange(BIG) % 256)],
    T.ENUM: [[2], [], [0, 65535], list(np.arange(BIG) % 3)],
}
STRING_VALUES = [[b"abc"], [], [b"x" * 39], [b"a", b"", b"bc" * 10],
                 [b"s%d" % i for i in range(300)]]

LIMITS = {T.DOUBLE: (10.5, -10.5, 9.0, 8.0, -8.0, -9.0, 100.0, -100.0),
          T.FLOAT: (10.5, -10.5, 9.0, 8.0, -8.0, -9.0, 100.0, -100.0),
          T.LONG: (2**31 - 1, -(2**31), 9, 8, -8, -9, 100, -100),
          T.INT: (2**15 - 1, -(2**15), 9, 8, -8, -9, 100, -100),
          T.CHAR: (250, 0, 240, 230, 10, 5, 255, 1)}


def metadata_for(dbr_type: ChannelType) -> Metadata:
    carried = fields_of(dbr_type)
    full = dict(status=3, severity=2, secs=0x3FFFFFFF, nsecs=999_999_999, units=b"mm/s",
                precision=4, enum_strings=(b"Off", b"On", b"y" * 25), ackt=1, acks=3,
                class_name=b"calcout",
                **dict(zip(CTRL_LIMITS, LIMITS.get(native_type(dbr_type), (0,) * 8))))
    return Metadata(**{k: v for k, v in full.items() if k in carried})


def cases():
    for t in ChannelType:
        native = native_type(t)
        if t in (T.PUT_ACKT, T.PUT_ACKS):
            sets = [[1]]
        elif t == T.CLASS_NAME:
            sets = [[b"unused"]]
        elif t == T.STSACK_STRING:          # caproto's structure holds exactly one value
            sets = [v for v in STRING_VALUES if len(v) == 1]
        elif native is T.STRING:
            sets = STRING_VALUES
        else:
            sets = NUMERIC_VALUES[native]
        for i, values in enumerate(sets):
            yield pytest.param(t, values, id=f"{t.name}-{i}")


CASES = list(cases())


# ------------------------------------------------------------ caproto side

def _char_limit(v):
    return bytes([v])


def caproto_struct(dbr_type: ChannelType, meta: Metadata, values):
    """The caproto ctypes structure for ``dbr_type`` filled with ``meta``."""
    cls = cadbr.DBR_TYPES[T.STS_STRING if dbr_type == T.CTRL_STRING else dbr_type]  # diff 2
    struct = cls()
    names = {f[0] for f in cls._fields_}
    for name in ("status", "severity", "precision", "units", "ackt", "acks"):
        if name in names:
            setattr(struct, name, getattr(meta, name))
    if "stamp" in names:
        struct.secondsSinceEpoch, struct.nanoSeconds = meta.secs, meta.nsecs
    if "strs" in names:
        struct.enum_strings = meta.enum_strings
    for name in CTRL_LIMITS:
        if name in names:
            v = getattr(meta, name)
            setattr(struct, name, _char_limit(v) if native_type(dbr_type) is T.CHAR else v)
    if dbr_type == T.CLASS_NAME:
        struct.value = meta.class_name
    elif dbr_type in SPECIAL:
        struct.value = values[0]
    return struct


def caproto_payload(dbr_type: ChannelType, values, meta: Metadata) -> bytes:
    struct = caproto_struct(dbr_type, meta, values)
    if dbr_type in SPECIAL:                                               # diff 3
        raw = bytes(struct)
        return raw + bytes(-len(raw) % 8)
    native = native_type(dbr_type)
    data = values if native is T.STRING else np.array(values, dtype=NATIVE_DTYPES[native])
    md = struct if dbr_type >= 7 else None
    _, *buffers = data_payload(data, md, dbr_type, len(values))
    return b"".join(b.tobytes() if hasattr(b, "tobytes") else bytes(b) for b in buffers)


def caproto_decode(dbr_type: ChannelType, payload: bytes, count: int):
    """(values, {field: value}) as caproto reads our payload."""
    if dbr_type in SPECIAL:
        struct = cadbr.DBR_TYPES[dbr_type].from_buffer_copy(
            payload[: ctypes.sizeof(cadbr.DBR_TYPES[dbr_type])])
        value = struct.value
        fields = {n: getattr(struct, n) for n in ("status", "severity", "ackt", "acks")
                  if hasattr(struct, n)}
        if dbr_type == T.CLASS_NAME:
            fields["class_name"] = value
        return [value], fields
    cls_type = T.STS_STRING if dbr_type == T.CTRL_STRING else dbr_type    # diff 2
    md = extract_metadata(payload, cls_type)
    md_size = ctypes.sizeof(md) if md is not None else 0
    data = extract_data(payload[md_size:], dbr_type, count)
    fields = {}
    if md is not None:
        for name in fields_of(dbr_type):
            if name in ("secs", "nsecs"):
                fields[name] = md.secondsSinceEpoch if name == "secs" else md.nanoSeconds
            elif name == "enum_strings":
                fields[name] = tuple(md.enum_strings)
            else:
                v = getattr(md, name)
                fields[name] = v[0] if isinstance(v, bytes) and name != "units" and v else \
                    (0 if v == b"" else v)
    values = list(data) if native_type(dbr_type) is T.STRING else np.asarray(data)
    return values, fields


# ------------------------------------------------------------ the oracle

def carried_values(meta: Metadata, dbr_type: ChannelType) -> dict:
    return {name: getattr(meta, name) for name in fields_of(dbr_type)}


def assert_values_equal(dbr_type, got, values):
    if native_type(dbr_type) is T.STRING:
        assert list(got) == [v[:39] for v in values]
    else:
        dtype = NATIVE_DTYPES[native_type(dbr_type)]
        np.testing.assert_array_equal(np.asarray(got).astype(dtype),
                                      np.asarray(values, dtype=dtype))


@pytest.mark.parametrize("dbr_type, values", CASES)
def test_bytes_equal_caproto(dbr_type, values):
    meta = metadata_for(dbr_type)
    ours, count = encode_dbr(dbr_type, native_type(dbr_type),
                             values if native_type(dbr_type) is T.STRING
                             else np.array(values, dtype=NATIVE_DTYPES[native_type(dbr_type)]),
                             meta)
    assert ours == caproto_payload(dbr_type, values, meta)
    assert count == (1 if dbr_type == T.CLASS_NAME else len(values))


@pytest.mark.parametrize("dbr_type, values", CASES)
def test_each_side_decodes_the_other(dbr_type, values):
    meta = metadata_for(dbr_type)
    native = native_type(dbr_type)
    arr = values if native is T.STRING else np.array(values, dtype=NATIVE_DTYPES[native])
    count = 1 if dbr_type == T.CLASS_NAME else len(values)
    expected_values = [meta.class_name] if dbr_type == T.CLASS_NAME else values
    expected_meta = carried_values(meta, dbr_type)

    ours, _ = encode_dbr(dbr_type, native, arr, meta)
    if not (native is T.STRING and len(values) > 100):   # caproto's string reader is O(n^2)
        got, fields = caproto_decode(dbr_type, ours, count)
        assert_values_equal(dbr_type, got, expected_values)
        assert fields == expected_meta

    got, got_meta = decode_dbr(dbr_type, caproto_payload(dbr_type, values, meta), count)
    assert_values_equal(dbr_type, got, expected_values)
    assert carried_values(got_meta, dbr_type) == expected_meta


def test_forty_character_strings_are_nul_terminated():             # diff 1
    meta = Metadata()
    ours, _ = encode_dbr(T.STS_STRING, T.STRING, [b"z" * 40], meta)
    theirs = caproto_payload(T.STS_STRING, [b"z" * 40], meta)
    assert theirs[4:44] == b"z" * 40                    # caproto: no terminator
    assert ours[4:44] == b"z" * 39 + b"\0"               # db_access.h: 39 + NUL
    assert decode_dbr(T.STS_STRING, theirs, 1)[0] == [b"z" * 39]
    assert caproto_decode(T.STS_STRING, ours, 1)[0] == [b"z" * 39]


def test_ctrl_string_differs_from_caproto_on_purpose():             # diff 2
    meta = Metadata(status=1, severity=1, secs=5)
    ours, _ = encode_dbr(T.CTRL_STRING, T.STRING, [b"v"], meta)
    _, *buffers = data_payload([b"v"], cadbr.DBR_TYPES[T.CTRL_STRING](), T.CTRL_STRING, 1)
    assert len(ours) == 48 and family(T.CTRL_STRING) == "ctrl"
    assert ctypes.sizeof(buffers[0]) == 12             # caproto: a TIME_STRING header

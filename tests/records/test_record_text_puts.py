"""Text put into an unsigned or INT64 record field: dbPut parses it for the field's own
type (epicsParseUInt8/16/32, epicsParseInt64), not for the type the field is served as.
Each case is what softIoc stored (or refused) for ``caput`` of that text;
test_catools_rsrv checks a few live."""
import pytest

from iochost.records.behaviour import text_put
from iochost.records.tables import DbfType

U8, U16, U32, I64 = DbfType.UCHAR, DbfType.USHORT, DbfType.ULONG, DbfType.INT64


@pytest.mark.parametrize(("dbf", "text", "stored"), [
    (U16, b"", 0), (U16, b"12abc", 12), (U16, b"0x10", 16), (U16, b"010", 8),
    (U16, b"-1", 65535), (U16, b"-65535", 1), (U16, b" 5 ", 5), (U16, b"1e3", 1),
    (U8, b"-1", 255), (U8, b"-2.5", 254), (U8, b"-128", 128), (U8, b"1.5e9", 1),
    (U32, b"4294967295", 4294967295), (U32, b"-4294967295", 1), (U32, b"-2.5", 4294967294),
    (U32, b"1.5e9", 1500000000), (U32, b"3e2", 300), (U32, b"5.9", 5),
    (U32, b"1e10", 1), (U32, b"4294967295.7", 4294967295), (U32, b".5", 0),
    (U32, b"-.5", 7), (U32, b"nan", 7),  # a double out of range and no integer: unchanged
    (I64, b"1e3", 1), (I64, b"5e-1", 5), (I64, b"-0", 0), (I64, b"0x10", 16),
    (I64, b"-9223372036854775808", -(1 << 63)),
])
def test_stored_as_softioc_stores_it(dbf, text, stored):
    assert text_put(dbf, text, current=7) == stored


@pytest.mark.parametrize(("dbf", "text"), [
    (U16, b"70000"), (U16, b"-70000"), (U16, b"abc"), (U8, b"256"), (U8, b"-256"),
    (U32, b"4294967296"), (U32, b"-4294967296"), (U32, b"abc"),
    (U32, b"1e400"),  # EPICS stores the 1 and then fails the put; we keep the old value
    (I64, b"inf"), (I64, b"."), (I64, b"9223372036854775808"),
])
def test_refused_as_softioc_refuses_it(dbf, text):
    with pytest.raises(ValueError):
        text_put(dbf, text, current=7)

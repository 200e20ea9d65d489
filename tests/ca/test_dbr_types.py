"""DBR type numbers, families, promotion, masks, access rights and EPICS time."""
import caproto
import pytest

from iochost.ca import dbr
from iochost.ca.dbr import (EPICS_EPOCH, AccessRights, ChannelType, family, fields_of,
                            from_epics_time, from_epics_time_ns, native_type, promote,
                            to_epics_time)
from iochost.ca.eca import ECA_BADTYPE
from iochost.ca.errors import CaStatusError, LocalProtocolError

T = ChannelType


def test_numbers_and_names_match_caproto_and_db_access():
    assert len(list(ChannelType)) == 39
    assert {t.name: t.value for t in ChannelType} == \
        {t.name: t.value for t in caproto.ChannelType}
    assert (T.SHORT, T.STS_SHORT, T.TIME_SHORT, T.GR_SHORT, T.CTRL_SHORT) == \
        (T.INT, T.STS_INT, T.TIME_INT, T.GR_INT, T.CTRL_INT)


@pytest.mark.parametrize("dbr_type, native, fam", [
    (T.STRING, T.STRING, "native"), (T.DOUBLE, T.DOUBLE, "native"),
    (T.STS_CHAR, T.CHAR, "sts"), (T.TIME_DOUBLE, T.DOUBLE, "time"),
    (T.TIME_STRING, T.STRING, "time"), (T.GR_ENUM, T.ENUM, "gr"),
    (T.GR_STRING, T.STRING, "gr"), (T.CTRL_LONG, T.LONG, "ctrl"),
    (T.CTRL_DOUBLE, T.DOUBLE, "ctrl"), (T.PUT_ACKT, T.INT, "special"),
    (T.PUT_ACKS, T.INT, "special"), (T.STSACK_STRING, T.STRING, "special"),
    (T.CLASS_NAME, T.STRING, "special"),
])
def test_native_type_and_family(dbr_type, native, fam):
    assert native_type(dbr_type) is native
    assert native_type(int(dbr_type)) is native
    assert family(dbr_type) == fam


def test_promote_inverts_native_and_family():
    for t in ChannelType:
        if family(t) != "special":
            assert promote(native_type(t), family(t)) is t
    assert promote(T.DOUBLE, "time") is T.TIME_DOUBLE
    with pytest.raises(LocalProtocolError):
        promote(T.TIME_DOUBLE, "time")
    with pytest.raises(LocalProtocolError):
        promote(T.DOUBLE, "special")


@pytest.mark.parametrize("bad", [-1, 39, 1000, None, "6"])
def test_invalid_types_are_badtype(bad):
    for fn in (native_type, family):
        with pytest.raises(CaStatusError) as info:
            fn(bad)
        assert info.value.status == ECA_BADTYPE


def test_masks_and_access_rights():
    assert (dbr.DBE_VALUE, dbr.DBE_LOG, dbr.DBE_ARCHIVE, dbr.DBE_ALARM, dbr.DBE_PROPERTY) == \
        (1, 2, 2, 4, 8)
    assert AccessRights.READ | AccessRights.WRITE == AccessRights.READ_WRITE == 3
    assert AccessRights.NONE == 0


def test_fields_of():
    assert fields_of(T.DOUBLE) == ()
    assert fields_of(T.TIME_DOUBLE) == ("status", "severity", "secs", "nsecs")
    assert fields_of(T.CTRL_ENUM) == ("status", "severity", "enum_strings")
    assert fields_of(T.GR_DOUBLE)[:4] == ("status", "severity", "precision", "units")
    assert fields_of(T.CLASS_NAME) == ("class_name",)


def test_epoch_is_1990():
    import datetime

    epoch = datetime.datetime(1990, 1, 1, tzinfo=datetime.UTC).timestamp()
    assert EPICS_EPOCH == epoch == 631152000


@pytest.mark.parametrize("unix, expected", [
    (EPICS_EPOCH, (0, 0)),
    (EPICS_EPOCH + 1.5, (1, 500_000_000)),
    (1_700_000_000.25, (1_700_000_000 - EPICS_EPOCH, 250_000_000)),
    (EPICS_EPOCH + 0.9999999999, (1, 0)),           # rounds up into the next second
    (0.0, (0, 0)),                                   # before 1990: clamped
    (float("nan"), (0, 0)),
])
def test_to_epics_time(unix, expected):
    assert to_epics_time(unix) == expected


def test_nanosecond_exact_round_trip():
    ns = 1_700_000_000_123_456_789
    secs, nsecs = to_epics_time(unix_ns=ns)
    assert (secs, nsecs) == (1_700_000_000 - EPICS_EPOCH, 123_456_789)
    assert from_epics_time_ns(secs, nsecs) == ns
    assert from_epics_time(secs, nsecs) == pytest.approx(1_700_000_000.123456789, abs=1e-6)
    # The float form is good to the float's own resolution (~0.2 us in this century).
    t = 1_700_000_000.123456
    assert from_epics_time(*to_epics_time(t)) == pytest.approx(t, abs=1e-6)


def test_metadata_timestamp_property():
    meta = dbr.Metadata(secs=1, nsecs=500_000_000)
    assert meta.timestamp == EPICS_EPOCH + 1.5

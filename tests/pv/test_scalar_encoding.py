"""The scalar read shortcut (``ChannelData._pack_scalar``: one struct call for a plain, STS
or TIME read of one element in the channel's own type, numbers and enums) sends the very
bytes of the general path (numpy arrays and a Metadata through ``encode_dbr``)."""
import asyncio
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from iochost import PVGroup, pvproperty
from iochost.ca.dbr import SCALAR_PACKERS, ChannelType, encode_dbr
from iochost.pv.alarms import AlarmSeverity, AlarmStatus
from iochost.pv import data_core
from iochost.pv.data import (ChannelByte, ChannelChar, ChannelDouble, ChannelEnum, ChannelFloat,
                             ChannelInteger, ChannelShort, ChannelString)

T = ChannelType
FAST = settings(max_examples=80, deadline=None, derandomize=True)

CLASSES = {
    ChannelDouble: st.floats(width=64),                    # NaN and infinities included
    ChannelFloat: st.floats(width=32),
    ChannelInteger: st.integers(-2**31, 2**31 - 1),
    ChannelShort: st.integers(-2**15, 2**15 - 1),
}
#: every request type a client may read (PUT_ACKT/PUT_ACKS cannot be read)
READABLE = [t for t in T if t not in (T.PUT_ACKT, T.PUT_ACKS)]


class Records(PVGroup):
    ai = pvproperty(value=0.0, record="ai", precision=2, units="mm", upper_alarm_limit=5.0)
    longin = pvproperty(value=0, record="longin")
    bo = pvproperty(value="Off", enum_strings=("Off", "On"), dtype=ChannelType.ENUM,
                    record="bo")
    mbbi = pvproperty(value=0, dtype=ChannelType.ENUM, record="mbbi")   # no state strings


def test_the_shortcut_covers_the_plain_sts_and_time_types_of_numbers():
    assert {int(t) for t in SCALAR_PACKERS} == {
        *range(1, 7), *range(8, 14), *range(15, 21)}
    assert all(cls._packs_scalars for cls in (*CLASSES, ChannelEnum))
    # the classes whose value is not its own wire element take the general path
    assert not any(cls._packs_scalars for cls in (ChannelByte, ChannelChar, ChannelString))


def check_every_type(channel, shortcut=True):
    """Each type's bytes equal the general path's; a scalar's own plain, STS and TIME types
    (``shortcut``) are answered without the general path's ``encode_dbr``."""
    asked = []

    def general(dbr_type, *args, **kwargs):
        asked.append(dbr_type)
        return encode_dbr(dbr_type, *args, **kwargs)

    for dbr_type in READABLE:
        for count in (0, 1, 2):
            channel._packs_scalars = False          # this channel alone: the general path
            expected = channel._encode(dbr_type, count)
            del channel._packs_scalars
            with patch.object(data_core, "encode_dbr", general):
                asked.clear()
                assert channel._encode(dbr_type, count) == expected, (dbr_type.name, count)
            own = SCALAR_PACKERS.get(dbr_type, (None,))[0] == channel.native_type
            assert (not asked) == (shortcut and own and count < 2), (dbr_type.name, count)


@FAST
@given(cls=st.sampled_from(list(CLASSES)), data=st.data(),
       severity=st.sampled_from(list(AlarmSeverity)),
       stamp=st.one_of(st.floats(0, 2e9), st.just(1.0)))      # 1.0: before 1990
def test_every_type_reads_as_the_general_path(cls, data, severity, stamp):
    channel = cls(value=data.draw(CLASSES[cls]), precision=3, units="V")

    async def state():
        await channel.write_metadata(status=AlarmStatus.HIHI if severity else
                                     AlarmStatus.NO_ALARM, severity=severity,
                                     timestamp=stamp)
    asyncio.run(state())
    check_every_type(channel)


def test_records_and_arrays_read_as_the_general_path():
    group = Records(prefix="ENC:")

    async def write():
        await group.ai.write(7.25)          # in HIHI alarm
        await group.longin.write(-12)
    asyncio.run(write())
    check_every_type(group.ai)
    check_every_type(group.longin)
    check_every_type(group.bo)
    check_every_type(group.mbbi)
    check_every_type(ChannelDouble(value=[1.0, 2.0, 3.0]), shortcut=False)
    check_every_type(ChannelInteger(value=[5], max_length=4), shortcut=False)


@FAST
@given(index=st.integers(0, 20), severity=st.sampled_from(list(AlarmSeverity)))
def test_enums_read_as_the_general_path(index, severity):
    channel = ChannelEnum(enum_strings=["Off", "On", "Fault"], value="Off")

    async def state():
        await channel.write(index, verify_value=False, severity=severity,
                            status=AlarmStatus.STATE if severity else AlarmStatus.NO_ALARM)
    if index < 3:
        asyncio.run(state())
    else:       # an index without a state string, as an mbbi without strings holds one
        channel._value = index
    check_every_type(channel)

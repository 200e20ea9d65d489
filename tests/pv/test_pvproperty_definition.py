"""Mistakes in an IOC class are caught when the class is defined, with a message that
names the method or PV (no server needed: these fail before anything is served)."""
import enum

import numpy as np
import pytest

from iochost import (ChannelType, PVGroup, PVSpec, PvpropertyBoolEnum, PvpropertyByte,
                     PvpropertyChar, PvpropertyDouble, PvpropertyEnum, PvpropertyFloat,
                     PvpropertyInteger, PvpropertyShort, PvpropertyString, SubGroup,
                     pvproperty)
from iochost.pv import IocDefinitionError


@pytest.mark.parametrize("decorator, signature", [
    ("putter", "(self, instance)"),
    ("putter", "(self, value)"),
    ("startup", "(self, instance)"),
    ("shutdown", "(self, instance, async_lib, extra)"),
    ("getter", "(self)"),
])
def test_wrong_hook_signature_names_the_method(decorator, signature):
    source = f"""
class BadIOC(PVGroup):
    value = pvproperty(value=1)

    @value.{decorator}
    async def value{signature}:
        pass
"""
    with pytest.raises(IocDefinitionError) as info:
        exec(source, {"PVGroup": PVGroup, "pvproperty": pvproperty})
    message = str(info.value)
    assert "BadIOC.value" in message and decorator in message
    assert "async def value(self, instance" in message


def test_scan_signature_is_checked():
    with pytest.raises(IocDefinitionError, match=r"scan hook .*Scanned\.x"):
        class Scanned(PVGroup):
            x = pvproperty(value=0)

            @x.scan(period=1.0)
            async def x(self, instance):
                pass


def test_hook_must_be_a_coroutine_function():
    with pytest.raises(IocDefinitionError, match=r"putter hook .*Sync\.value"):
        class Sync(PVGroup):
            value = pvproperty(value=1)

            @value.putter
            def value(self, instance, value):
                return value


def test_keyword_hooks_are_checked_too():
    def put(self, instance, value):  # not async
        return value

    with pytest.raises(IocDefinitionError, match=r"putter hook .*put"):
        pvproperty(value=1, put=put)


@pytest.mark.parametrize("period", [0, -1.0, None])
def test_scan_period_must_be_positive(period):
    prop = pvproperty(value=0)
    with pytest.raises(IocDefinitionError, match="scan period"):
        prop.scan(period=period)


def test_scan_without_its_period_says_how_to_write_it():
    with pytest.raises(IocDefinitionError, match=r"scan hook .*ticker needs its period: "
                                                 r"write '@ticker.scan\(period=seconds\)'"):
        class Clock(PVGroup):
            ticker = pvproperty(value=0)

            @ticker.scan
            async def ticker(self, instance, async_lib):
                pass


def test_use_scan_field_needs_a_record():
    with pytest.raises(IocDefinitionError, match="use_scan_field=True needs record="):
        pvproperty(value=0).scan(period=1.0, use_scan_field=True)
    pvproperty(value=0, record="ai").scan(period=1.0, use_scan_field=True)  # fine


def test_read_only_pv_cannot_have_a_putter():
    with pytest.raises(IocDefinitionError, match="read-only"):
        class ReadOnly(PVGroup):
            value = pvproperty(value=1, read_only=True)

            @value.putter
            async def value(self, instance, value):
                return value


def test_duplicate_pv_names_name_both_attributes():
    class Twice(PVGroup):
        first = pvproperty(value=1, name="same")
        second = pvproperty(value=2, name="same")

    with pytest.raises(IocDefinitionError, match=r"'X:same' is defined twice.*'first'.*'second'"):
        Twice(prefix="X:")


def test_missing_macro_is_a_clear_error():
    class NeedsMacro(PVGroup):
        value = pvproperty(value=1, name="{beamline}:value")

    with pytest.raises(IocDefinitionError, match=r"macro \{beamline\}.*macros given: other"):
        NeedsMacro(prefix="X:", macros={"other": "1"})


def test_unsupported_dtype_is_a_clear_error():
    class Odd(PVGroup):
        value = pvproperty(dtype=complex)

    with pytest.raises(IocDefinitionError, match="unsupported dtype"):
        Odd(prefix="X:")


def test_bad_channel_data_arguments_name_the_pv():
    class BadKw(PVGroup):
        value = pvproperty(value=1.0, no_such_option=3)

    with pytest.raises(IocDefinitionError, match=r"'X:value' \(attribute 'value' of BadKw\)"):
        BadKw(prefix="X:")


class Color(enum.IntEnum):
    RED = 0
    GREEN = 1
    BLUE = 3


@pytest.mark.parametrize("kwargs, cls", [
    (dict(value="text"), PvpropertyChar),
    (dict(value=b"\x01\x02"), PvpropertyByte),
    (dict(value=1), PvpropertyInteger),
    (dict(value=1.0), PvpropertyDouble),
    (dict(value=True), PvpropertyBoolEnum),
    (dict(value=Color.BLUE), PvpropertyEnum),
    (dict(dtype=Color), PvpropertyEnum),
    (dict(value=[1.0, 2.0]), PvpropertyDouble),
    (dict(value=["a", "b"]), PvpropertyString),
    (dict(dtype=ChannelType.STRING), PvpropertyString),
    (dict(dtype=ChannelType.INT), PvpropertyShort),
    (dict(dtype=ChannelType.LONG), PvpropertyInteger),
    (dict(dtype=ChannelType.DOUBLE), PvpropertyDouble),
    (dict(dtype=ChannelType.FLOAT), PvpropertyFloat),
    (dict(dtype=ChannelType.ENUM, enum_strings=["a"]), PvpropertyEnum),
    (dict(dtype=ChannelType.CHAR), PvpropertyChar),
    (dict(dtype=PvpropertyFloat, value=1.0), PvpropertyFloat),
    (dict(value=np.zeros(3, dtype=np.float32)), PvpropertyFloat),
    (dict(value=np.zeros(3)), PvpropertyDouble),
    (dict(value=np.arange(3, dtype=np.int16)), PvpropertyShort),
    (dict(value=np.arange(3, dtype=np.int32)), PvpropertyInteger),
    (dict(value=np.arange(3, dtype=np.uint8)), PvpropertyByte),
    # served as RSRV serves USHORT, ULONG and INT64 fields: LONG, DOUBLE and DOUBLE
    (dict(value=np.arange(3, dtype=np.uint16)), PvpropertyInteger),
    (dict(value=np.arange(3, dtype=np.uint32)), PvpropertyDouble),
    (dict(value=np.arange(3, dtype=np.int64)), PvpropertyDouble),
    (dict(value=np.arange(3, dtype=np.uint64)), PvpropertyDouble),
    (dict(value=np.float64(2.5)), PvpropertyDouble),
    (dict(value=np.int64(2)), PvpropertyInteger),
    (dict(value=np.bool_(True)), PvpropertyBoolEnum),
])
def test_data_class_follows_value_or_dtype(kwargs, cls):
    assert pvproperty(**kwargs).pvspec.get_data_class() is cls


def test_read_only_picks_the_read_only_class():
    from iochost import PvpropertyDoubleRO
    assert pvproperty(value=1.0, read_only=True).pvspec.get_data_class() is PvpropertyDoubleRO


def test_pvspec_without_group_needs_a_value_and_plain_hooks():
    with pytest.raises(IocDefinitionError, match="needs a value"):
        PVSpec(name="a", dtype=int).create()

    async def method_style(self, instance, value):
        return value

    with pytest.raises(IocDefinitionError, match="putter hook"):
        PVSpec(name="a", value=1, put=method_style).create()


def test_subgroup_needs_a_group_class_or_dict():
    with pytest.raises(IocDefinitionError, match="PVGroup class or a dict"):
        SubGroup(int)


def test_typed_dtype_names_the_record():
    class AiLike:  # stands in for a record field set
        _record_type = "ai"

    prop = pvproperty(value=1.0, dtype=PvpropertyDouble[AiLike])
    assert prop.pvspec.dtype is PvpropertyDouble and prop.record_type is AiLike
    assert pvproperty(dtype=PvpropertyDouble[AiLike], record="ao").record_type == "ao"


def test_channel_data_takes_attributes_of_its_own():
    """caproto IOCs hang state on channel data (``instance.ev = Event()``)."""
    class Holder(PVGroup):
        value = pvproperty(value=1.0, doc="documented")

    group = Holder(prefix="X:")
    group.value.ev = "anything"
    assert group.value.ev == "anything" and group.value.doc == "documented"


def test_calling_a_pvproperty_sets_several_hooks():
    async def get(self, instance):
        """Read from the device."""

    async def put(self, instance, value):
        return value

    prop = pvproperty(value=1.0)(get, put)
    assert (prop.pvspec.get, prop.pvspec.put) == (get, put)
    assert prop.__doc__ == prop.pvspec.doc == "Read from the device."


def test_a_pvproperty_documents_its_pv_and_its_class_documents_itself():
    """A pvproperty has no ``__dict__`` (an IOC declares one per PV): its ``__doc__`` is its
    spec's doc, while the class (and a subclass) keeps its own docstring for help()."""
    import inspect

    from iochost.pv.pvproperties import NestedPvproperty

    class Documented(PVGroup):
        speed = pvproperty(value=1.0, doc="How fast it goes")
        quiet = pvproperty(value=1.0)

    assert inspect.getdoc(Documented.speed) == "How fast it goes"
    assert Documented.quiet.__doc__ is None
    assert not hasattr(Documented.speed, "__dict__")
    assert pvproperty.__doc__.startswith("Declare a PV")
    assert NestedPvproperty.__doc__.startswith("A pvproperty of a dict-defined SubGroup")
    Documented.quiet.__doc__ = "Said later"
    assert Documented.quiet.pvspec.doc == "Said later"
    assert Documented(prefix="D:").quiet.doc == "Said later"


def test_pvproperties_declared_alike_share_their_channel_keywords():
    """A large IOC declares thousands of PVs with the same units and precision: one
    read-only keyword mapping serves them all (memory), and each PV still gets its own."""
    import copy

    class Alike(PVGroup):
        a = pvproperty(value=1.0, units="mm", precision=3)
        b = pvproperty(value=2.0, precision=3, units="mm")
        c = pvproperty(value=3.0, units="mm", precision=4)
        d = pvproperty(value="x", dtype=ChannelType.ENUM, enum_strings=["x", "y"])

    specs = [getattr(Alike, attr).pvspec for attr in "abcd"]
    assert specs[0].cls_kwargs is specs[1].cls_kwargs == {"units": "mm", "precision": 3}
    assert specs[2].cls_kwargs is not specs[0].cls_kwargs
    assert specs[3].cls_kwargs["enum_strings"] == ["x", "y"]   # a list: not shared, kept
    with pytest.raises(TypeError, match="shared with others declared alike"):
        specs[0].cls_kwargs["units"] = "m"
    ioc = Alike(prefix="K:")
    assert (ioc.a.units, ioc.b.precision, ioc.c.precision) == ("mm", 3, 4)
    copied = copy.deepcopy(specs[0])
    assert copied.cls_kwargs == {"units": "mm", "precision": 3}

"""The record-type registry: field-set classes by name, subclasses with fields of their
own, and record types a plugin contributes through the pluggy hook."""
import random

import pytest
from iochost.testing import wait_until

from iochost import ChannelType, PVGroup, pvproperty, records
from iochost.host import hookimpl
from iochost.host.plugins import load_plugins
from iochost.pv.hooks import IocDefinitionError
from iochost.pv.types import PvpropertyDouble
from iochost.records import (
    MotorFields,
    RecordFieldGroup,
    record_class,
    register_record,
    registered_records,
    unregister_record,
)

ISSUE_RECORD_TYPES = [
    "ai", "ao", "bi", "bo", "mbbi", "mbbo", "longin", "longout", "int64in", "int64out",
    "stringin", "stringout", "lsi", "lso", "waveform", "aai", "aao", "calc", "calcout", "motor",
]


@pytest.mark.parametrize("rtyp", ISSUE_RECORD_TYPES)
def test_field_sets_are_importable_under_caproto_names(rtyp):
    cls = getattr(records, records.class_name_of(rtyp))
    assert cls is record_class(rtyp) and issubclass(cls, RecordFieldGroup)
    assert cls._record_type == rtyp and rtyp in registered_records()


def test_the_three_ways_to_name_a_record_type_agree():
    class Three(PVGroup):
        by_name = pvproperty(value=0.0, record="ai")
        by_class = pvproperty(value=0.0, record=records.AiFields)
        by_dtype = pvproperty(value=0.0, dtype=PvpropertyDouble[records.AiFields])

    ioc = Three(prefix="three:")
    assert {type(ch.field_inst) for ch in ioc.pvdb.values()} == {records.AiFields}
    assert {ch.record_type for ch in ioc.pvdb.values()} == {"ai"}


def test_an_unknown_record_type_is_one_clear_error():
    class Bad(PVGroup):
        x = pvproperty(value=0.0, record="aiii")

    with pytest.raises(IocDefinitionError, match="unknown record type 'aiii'; known: aSub"):
        Bad(prefix="bad:")


def test_an_unknown_field_hook_is_one_clear_error():
    with pytest.raises(IocDefinitionError, match="record type 'ai' has no field 'NOPE'"):
        class Bad(PVGroup):
            x = pvproperty(value=0.0, record="ai")

            @x.fields.NOPE.putter
            async def _nope(fields, instance, value):
                pass


@pytest.fixture
def my_motor():
    @register_record
    class MyMotorFields(MotorFields):
        _record_type = "test_my_motor"
        user_readback_value = pvproperty(name="RBV", dtype=ChannelType.DOUBLE,
                                         read_only=True)

        @user_readback_value.scan(period=0.05)
        async def user_readback_value(self, instance, async_lib):
            await instance.write(self.parent.value + random.random() / 1000)

    yield MyMotorFields
    unregister_record("test_my_motor")


def test_a_registered_subclass_serves_its_own_fields(my_motor, mount, unique_prefix, client):
    class Motors(PVGroup):
        m1 = pvproperty(value=1.0, record="test_my_motor")

    ioc = mount(Motors(prefix=unique_prefix))
    p = ioc.prefix
    assert client.value(p + "m1.RTYP") == "test_my_motor"
    assert type(ioc.m1.field_inst) is my_motor
    wait_until(lambda: abs(client.value(p + "m1.RBV") - 1.0) < 0.01 and
               client.value(p + "m1.RBV") != 1.0)
    assert client.write(p + "m1.RBV", 5.0) == "ECA_NOWTACCESS"
    assert client.native(p + "m1.VELO") == ("DOUBLE", 1)          # inherited table field
    assert ioc.m1.field_inst.user_readback_value is ioc.m1.fields["RBV"]


def test_registering_names_twice(my_motor):
    assert register_record(my_motor) is my_motor                   # same class: no-op
    other = type("Other", (MotorFields,), {})
    with pytest.raises(ValueError, match="'test_my_motor' is already defined by MyMotorFields"):
        register_record("test_my_motor", other)
    with pytest.raises(ValueError, match="record type 'ai' is already defined"):
        register_record("ai", other)
    with pytest.raises(TypeError, match="is not a field-set class"):
        register_record("thing", object)
    assert register_record("test_my_motor", other, replace=True) is other
    assert record_class("test_my_motor") is other


def test_a_plugin_contributes_a_record_type_by_name(mount, unique_prefix, client):
    class PluginAiFields(records.AiFields):
        _record_type = "test_plugin_ai"
        extra = pvproperty(name="XTRA", value="from the plugin", dtype=ChannelType.STRING)

    class Plugin:
        @staticmethod
        @hookimpl
        def iochost_register_record_types(register):
            register("test_plugin_ai", PluginAiFields)

    catalog = load_plugins(disable_autoload=True, extra_plugins={"records-test": Plugin})
    try:
        assert catalog.plugins["records-test"].record_types == ["test_plugin_ai"]

        class UsesIt(PVGroup):
            x = pvproperty(value=2.0, record="test_plugin_ai")

        ioc = mount(UsesIt(prefix=unique_prefix))
        assert client.value(ioc.prefix + "x.XTRA") == "from the plugin"
        assert client.value(ioc.prefix + "x.RTYP") == "test_plugin_ai"
        assert client.value(ioc.prefix + "x.HIHI") == 0.0
    finally:
        unregister_record("test_plugin_ai")


def test_field_scan_and_startup_hooks_from_the_group_run(mount, unique_prefix, client):
    class FieldHooksIOC(PVGroup):
        x = pvproperty(value=0.0, record="ai")

        @x.fields.DESC.startup
        async def _desc_startup(fields, instance, async_lib):
            await instance.write("started")

        @x.fields.RVAL.scan(period=0.02)
        async def _rval_scan(fields, instance, async_lib):
            await fields.parent.write(fields.parent.value + 1)

    ioc = FieldHooksIOC(prefix=unique_prefix)
    assert set(ioc.x.field_inst.created) == {"DESC", "RVAL"}  # made at once: they have hooks
    mount(ioc)
    wait_until(lambda: client.value(ioc.prefix + "x.DESC") == "started")
    wait_until(lambda: client.value(ioc.prefix + "x.RVAL") >= 3)


def test_a_record_without_a_group():
    from iochost.pv.pvspec import PVSpec
    channel = PVSpec(name="lone", value=1.5, record="ao").create()
    assert channel.get_field("RTYP").value == "ao"
    assert channel.get_field("DRVH").value == 0.0
    assert channel.field_inst.group is None


def test_caproto_field_attribute_names_reach_the_same_fields():
    # IOCs ported from caproto use its attribute names (fields.current_raw_value...).
    from caproto.server import pvproperty as caproto_pvproperty
    from caproto.server.records import records as caproto_records

    wrong = {}
    for rtyp, caproto_class in caproto_records.items():
        if rtyp not in records.record_types():
            continue
        for attr in dir(caproto_class):
            prop = getattr(caproto_class, attr, None)
            if isinstance(prop, caproto_pvproperty):
                try:
                    ours = record_class(rtyp).field_name(attr)
                except AttributeError:
                    ours = None
                if ours != prop.pvspec.name:
                    wrong[f"{rtyp}.{attr}"] = (prop.pvspec.name, ours)
    assert wrong == {}

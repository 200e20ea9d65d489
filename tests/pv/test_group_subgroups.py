"""SubGroup (class, dict and decorator forms; prefixes, macros, nesting, init options),
setpoint/readback pairs, PVSpec without a group and bare channel data, over CA."""
import pytest

from iochost import (ChannelDouble, ChannelType, PVGroup, PVSpec, SubGroup,
                     get_pv_pair_wrapper, pvproperty)
from test_group_helpers import client, mount  # noqa: F401  (fixtures)


class Axis(PVGroup):
    """One axis; the parent counts moves."""

    def __init__(self, *args, speed: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.speed = speed

    position = pvproperty(value=0.0, name="{axis}:pos")

    @position.putter
    async def position(self, instance, value):
        await self.parent.moves.write(self.parent.moves.value + 1)
        return value


class Stage(PVGroup):
    moves = pvproperty(value=0, read_only=True)
    x = SubGroup(Axis, prefix="x:", macros={"axis": "X"}, speed=2.0)
    y = SubGroup(Axis, prefix="y:", macros={"axis": "Y"}, speed=3.0)
    z = SubGroup(Axis, macros={"axis": "Z"}, speed=1.0)              # default prefix "z:"
    status = SubGroup({"ok": dict(value=True), "code": PVSpec(value=0, read_only=True),
                       "level": pvproperty(value=1.5)}, prefix="status:")

    @SubGroup(prefix="cfg:")
    class config(PVGroup):
        gain = pvproperty(value=1.0)

        @SubGroup(prefix="limits:")
        class limits(PVGroup):
            high = pvproperty(value=10.0, name="{beamline}:high")


@pytest.fixture
def stage(mount, unique_prefix):
    return mount(Stage(prefix=unique_prefix, macros={"beamline": "BL7"}))


def test_subgroup_pv_names(stage):
    p = stage.prefix
    assert set(stage.pvdb) == {
        p + "moves", p + "x:X:pos", p + "y:Y:pos", p + "z:Z:pos", p + "status:ok",
        p + "status:code", p + "status:level", p + "cfg:gain", p + "cfg:limits:BL7:high"}


def test_subgroup_instances_and_options(stage):
    assert stage.x.speed == 2.0 and stage.y.speed == 3.0
    assert stage.x.parent is stage and stage.x is stage.groups["x"]
    assert stage.groups["config.limits"] is stage.config.limits
    assert stage.config.limits.macros == {"beamline": "BL7"}
    assert stage.x.macros == {"beamline": "BL7", "axis": "X"}


def test_subgroup_pvs_over_ca(stage, client):
    p = stage.prefix
    assert client.write(p + "x:X:pos", 4.5) == "ECA_NORMAL"
    assert client.write(p + "z:Z:pos", 1.0) == "ECA_NORMAL"
    assert client.value(p + "moves") == 2
    assert stage.x.position.value == 4.5 and stage.y.position.value == 0.0
    assert client.value(p + "cfg:limits:BL7:high") == 10.0
    assert client.native(p + "status:ok") == ("ENUM", 1)
    assert client.value(p + "status:level") == 1.5
    assert client.write(p + "status:code", 3) == "ECA_NOWTACCESS"


pair = get_pv_pair_wrapper(setpoint_suffix=":SP", readback_suffix=":RBV")


class Pairs(PVGroup):
    temp = pair(dtype=float, doc="A temperature", precision=2)
    mode = pair(dtype=ChannelType.ENUM, enum_strings=["off", "on"],
                setpoint_kw={"record": "bo"}, readback_kw={"record": "bi"})
    scaled = pair(value=0.0)

    @scaled.setpoint.putter
    async def scaled(obj, instance, value):
        assert obj.parent.temp.setpoint.pvname.endswith("temp:SP")
        await obj.readback.write(value * 10)


@pytest.fixture
def pairs(mount, unique_prefix):
    return mount(Pairs(prefix=unique_prefix))


def test_pair_names_and_defaults(pairs, client):
    p = pairs.prefix
    assert set(pairs.pvdb) == {p + f"{name}:{side}" for name in ("temp", "mode", "scaled")
                               for side in ("SP", "RBV")}
    assert client.write(p + "temp:SP", 21.5) == "ECA_NORMAL"
    assert client.value(p + "temp:RBV") == 21.5
    assert client.write(p + "temp:RBV", 1.0) == "ECA_NOWTACCESS"
    assert client.read(p + "temp:RBV", data_type="control").metadata.precision == 2


def test_pair_side_keywords_and_decorated_putter(pairs, client):
    p = pairs.prefix
    assert client.read(p + "mode:SP", data_type=ChannelType.CLASS_NAME).metadata.value == b"bo"
    assert client.read(p + "mode:RBV", data_type=ChannelType.CLASS_NAME).metadata.value == b"bi"
    assert client.write(p + "mode:SP", 1) == "ECA_NORMAL"
    assert pairs.mode.readback.value == "on"
    assert client.write(p + "scaled:SP", 1.5) == "ECA_NORMAL"
    assert client.value(p + "scaled:RBV") == 15.0


def test_pvspec_and_bare_channel_data_without_a_group(ca_server, unique_prefix, client):
    seen = []

    async def remember(instance, value):
        seen.append((instance.pvname, value))
        return value + 1

    name = unique_prefix + "spec"
    pvdb = {name: PVSpec(name=name, value=1, put=remember, record="longout").create(),
            unique_prefix + "bare": ChannelDouble(value=2.5, units="V")}
    ca_server.add(pvdb)
    try:
        assert client.write(name, 5) == "ECA_NORMAL"
        assert seen == [(name, 5)] and client.value(name) == 6
        assert client.read(name, data_type=ChannelType.CLASS_NAME).metadata.value == b"longout"
        assert client.value(unique_prefix + "bare") == 2.5
        assert client.read(unique_prefix + "bare", data_type="control").metadata.units == b"V"
    finally:
        ca_server.remove(list(pvdb))


def test_pvs_table_lists_bases_overrides_and_subgroups_in_definition_order():
    class Base(PVGroup):
        a = pvproperty(value=1)
        b = pvproperty(value=2)

    class Derived(Base):
        b = pvproperty(value=20)       # overrides the base's, in the base's place
        c = pvproperty(value=3)
        sub = SubGroup({"x": dict(value=4.0)}, prefix="sub:")
        _hidden = pvproperty(value=5)  # underscored: not a PV
        note = "not a pvproperty"

    table = Derived._pvs_
    assert list(table) == ["a", "b", "c", "sub.x"]
    assert [prop for _, prop in table.items()] == [table[attr] for attr in table]
    assert table["a"] is Base.a and table["b"] is Derived.b and table["c"] is Derived.c
    assert table["sub.x"] is Derived.sub.group_cls._pvs_["x"]
    assert "_hidden" not in table and "note" not in table and len(table) == 4
    with pytest.raises(KeyError):
        table["note"]
    # The class's own pvproperties are read from its namespace, not copied.
    flat = type("Flat", (PVGroup,), {f"p{i}": pvproperty(value=0.0) for i in range(100)})
    assert flat._pvs_._others == {} and list(flat._pvs_) == [f"p{i}" for i in range(100)]
    assert dict(Derived._pvs_.items()) == {attr: Derived._pvs_[attr] for attr in table}

"""PVs declared alike: a group makes the first one's channel data with its class and copies
the others from it (``PVSpec.create(group, alike)``).  Each copy must be a channel of its
own -- name, spec, value, listeners, writes -- sharing only what every PV of the group shares
(the group and its alarm), and anything the copy cannot honour must be built as before."""
import logging

import numpy as np
import pytest

from iochost import PVGroup, PvpropertyDouble, pvproperty
from iochost.pv import types
from test_group_helpers import client, mount  # noqa: F401  (fixtures)


class Alike(PVGroup):
    first = pvproperty(value=0.0, precision=3, units="mm")
    second = pvproperty(value=0.0, precision=3, units="mm")
    third = pvproperty(value=0.0, precision=3, units="mm", name="other:{n}")
    locked = pvproperty(value=0.0, precision=3, units="mm", read_only=True)
    locked2 = pvproperty(value=0.0, precision=3, units="mm", read_only=True)
    text = pvproperty(value="abc", max_length=10)
    text2 = pvproperty(value="abc", max_length=10)


def test_copies_are_channels_of_their_own(monkeypatch):
    copied: list[str] = []
    copy_alike = types.copy_alike
    monkeypatch.setattr(types, "copy_alike",
                        lambda template, pvname, spec: copied.append(pvname) or copy_alike(
                            template, pvname, spec))
    group = Alike(prefix="AL:", macros={"n": "3"})
    assert copied == ["AL:second", "AL:other:3", "AL:locked2", "AL:text2"]
    first, second, third = group.first, group.second, group.third
    assert type(second) is PvpropertyDouble
    assert [d.pvname for d in (first, second, third)] == ["AL:first", "AL:second", "AL:other:3"]
    assert [d.pvspec.attr for d in (first, second, third)] == ["first", "second", "third"]
    assert second.pvspec is type(group).second.pvspec
    assert (second.value, second.units, second.precision) == (0.0, "mm", 3)
    assert group.pvdb["AL:other:3"] is third
    assert type(group.locked2).__name__ == "PvpropertyDoubleRO" and group.locked2.read_only
    assert group.text2.value == "abc" and group.text2.max_length == 10
    # every one is a member of the group's alarm, as one made by its class is
    members = {id(channel) for channel in group.first.alarm.channels}
    assert all(id(d) in members for d in group.pvdb.values())


async def test_a_write_or_a_listener_stays_with_its_channel():
    group = Alike(prefix="AL2:", macros={"n": "3"})
    heard: list[tuple[str, object]] = []
    group.second.add_listener(lambda data, *_: heard.append(("second", data.value)))
    await group.first.write(4.5)
    await group.first.write_metadata(units="cm", precision=1)
    assert (group.first.value, group.first.units, group.first.precision) == (4.5, "cm", 1)
    assert (group.second.value, group.second.units, group.second.precision) == (0.0, "mm", 3)
    assert (group.third.value, group.third.units) == (0.0, "mm")
    assert heard == []
    await group.second.write(2.0)
    assert heard and heard[-1] == ("second", 2.0)
    assert group.first.value == 4.5


def test_what_cannot_be_copied_is_built_by_its_class(caplog):
    made: list[str] = []

    class Counting(PvpropertyDouble):
        __slots__ = ()

        def __init__(self, **kwargs):
            made.append(kwargs["pvname"])
            super().__init__(**kwargs)

    shared = np.zeros(3)

    class Mixed(PVGroup):
        a = pvproperty(value=1.0, dtype=Counting)
        b = pvproperty(value=1.0, dtype=Counting)
        w1 = pvproperty(value=shared, max_length=3)
        w2 = pvproperty(value=shared, max_length=3)
        g1 = pvproperty(value=1.0)
        g2 = pvproperty(value=1.0)
        s1 = pvproperty(value=5, dtype=bool)  # converted as a put of 5
        s2 = pvproperty(value=5, dtype=bool)

        @g2.getter
        async def g2(self, instance):
            return 2.0

    with caplog.at_level(logging.WARNING, logger="iochost.pv.pvspec"):
        group = Mixed(prefix="MX:")
    assert made == ["MX:a", "MX:b"]                   # a user's class: its __init__ each time
    assert not types.can_copy_alike(group.w1)        # an array value is never shared
    assert not group.g1.needs_async_read and group.g2.needs_async_read
    assert (group.s1.value, group.s2.value) == ("On", "On")
    assert sum("initial value" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize("name", ["first", "second", "other:3"])
def test_copies_serve_and_take_puts_over_ca(mount, client, unique_prefix, name):
    group = mount(Alike(prefix=unique_prefix, macros={"n": "3"}))
    assert client.native(unique_prefix + name) == ("DOUBLE", 1)
    assert client.write(unique_prefix + name, 7.25) == "ECA_NORMAL"
    others = [n for n in ("first", "second", "other:3") if n != name]
    assert client.value(unique_prefix + name) == 7.25
    assert [client.value(unique_prefix + n) for n in others] == [0.0, 0.0]
    assert group.pvdb[unique_prefix + name].value == 7.25


def test_a_template_with_state_of_its_own_is_not_copied():
    class Group(PVGroup):
        a = pvproperty(value=0.0)

    data = Group(prefix="T:").a
    assert types.can_copy_alike(data)
    data.extra = []                                   # caproto IOCs hang attributes on data
    assert not types.can_copy_alike(data)

"""The names caproto IOC code imports beside PVGroup/pvproperty (issue #18.6): each one
exists under iochost, behaves as caproto's does, and the in-process ``Context`` serves."""
import asyncio
import io
import os
import socket

import pytest

import iochost
from iochost import (ChannelNumeric, Context, Forbidden, PVGroup, channeldata_from_pvspec,
                     conversion, data_class_from_pvspec, menus, pvproperty, records)
from iochost.pv.data_numeric import ChannelDouble
from test_group_helpers import client, mount  # noqa: F401  (fixtures)


def test_record_registry_covers_caproto_s():
    from caproto.server import records as caproto_records

    ours = records.get_record_registry()
    # caproto also lists asyn's record (a driver module's, not EPICS base's)
    assert set(caproto_records.get_record_registry()) - set(ours) == {"asyn"}
    assert ours["ai"] is records.records["ai"] is records.AiFields
    assert "ai" in records.records and "nosuch" not in records.records
    with pytest.raises(KeyError):
        records.records["nosuch"]
    out = io.StringIO()
    records.summarize(out)
    text = out.getvalue()
    assert "ai\tAiFields\tRecordFieldGroup" in text
    assert "\tHIHI\tDOUBLE\tHihi Alarm Limit" in text


def test_menus_are_int_enums_with_the_choice_strings():
    from caproto.server import menus as caproto_menus

    assert menus.menuScan.passive == 0 and menus.menuScan._0_1_second == 9
    assert menus.menuScan.get_string_tuple() == \
        caproto_menus.menuScan.get_string_tuple()
    assert menus.aoOIF.get_string_dict() == {menus.aoOIF.full: "Full",
                                             menus.aoOIF.incremental: "Incremental"}
    with pytest.raises(AttributeError):
        menus.menuNoSuch  # noqa: B018 -- the access is the test


class Inner(PVGroup):
    """the inner group"""
    x = pvproperty(value=1.0, doc="the x")


class Outer(PVGroup):
    label = pvproperty(value="abc", read_only=True)
    inner = iochost.SubGroup(Inner, prefix="in:")


def test_group_to_device_writes_ophyd_classes():
    lines = list(conversion.group_to_device(Outer))
    assert lines == [
        "class InnerDevice(ophyd.Device):",
        "    x = Cpt(EpicsSignal, 'x', doc='the x')",
        "", "",
        "class OuterDevice(ophyd.Device):",
        "    inner = Cpt(InnerDevice, 'in:', doc='the inner group')",
        "    label = Cpt(EpicsSignalRO, 'label', string=True)",
    ]


def test_pvspec_helpers_are_caproto_s():
    group = Outer(prefix="N:")
    spec = Outer.label.pvspec
    assert data_class_from_pvspec(group, spec) is type(group.label)
    name, data = channeldata_from_pvspec(group, spec)
    assert name == "N:label" and data.value == "abc" and data is not group.label
    assert issubclass(ChannelDouble, ChannelNumeric)


def test_deepcopy_of_pvproperty_data_is_detached_from_its_group():
    import copy

    group = Outer(prefix="D:")
    data = copy.deepcopy(group.inner.x)
    assert data.group is None and group.inner.x.group is group.inner   # caproto's copy too
    assert (data.pvname, data.value) == ("D:in:x", 1.0)
    assert data is not group.inner.x and data.alarm is not group.inner.x.alarm


def test_forbidden_in_a_putter_refuses_with_no_write_access(mount, unique_prefix, client):
    class Guarded(PVGroup):
        level = pvproperty(value=1.0)

        @level.putter
        async def level(self, instance, value):
            if value > 10:
                raise Forbidden("above 10 needs the operator's key")
            return value

    group = mount(Guarded(prefix=unique_prefix))
    assert client.write(group.prefix + "level", 5.0) == "ECA_NORMAL"
    assert client.write(group.prefix + "level", 50.0) == "ECA_NOWTACCESS"
    assert client.value(group.prefix + "level") == 5.0


def test_context_serves_a_pvdb_until_cancelled(monkeypatch):
    from iochost.client import ClientConfig
    from iochost.client import Context as ClientContext
    from iochost.client.oneshot import caget

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("EPICS_CAS_SERVER_PORT", str(port))

    class Started(PVGroup):
        ready = pvproperty(value=0)

        @ready.startup
        async def ready(self, instance, async_lib):
            await instance.write(1)

    ioc = Started(prefix="CTX:")

    async def main():
        server = asyncio.create_task(Context(ioc.pvdb, interfaces=["127.0.0.1"]).run())
        config = ClientConfig.from_env(dict(os.environ, EPICS_CA_AUTO_ADDR_LIST="NO",
                                            EPICS_CA_ADDR_LIST=f"127.0.0.1:{port}"))
        try:
            async with ClientContext(config) as ctx:
                for _ in range(50):  # the startup hook runs once the server listens
                    reading = await caget("CTX:ready", context=ctx, timeout=5)
                    if reading.value == 1:
                        break
                    await asyncio.sleep(0.1)
                return reading.value
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)

    assert asyncio.run(main()) == 1

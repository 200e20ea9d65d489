"""A plugin for the web tests: an IOC with every kind of PV the page shows, a helper whose
start fails (so its mount fails), and a page of its own through ``iochost_web_routes``."""
from __future__ import annotations

import asyncio

import numpy as np

from iochost import ChannelType, PVGroup, pvproperty
from iochost.host import hookimpl


class WebDemoIOC(PVGroup):
    """Scalars with limits and alarms, arrays of each numeric type, an enum and text."""

    TEMP = pvproperty(value=20.0, units="degC", precision=2, doc="alarms above 40/50",
                      alarm_group="temperature",
                      upper_warning_limit=40.0, upper_alarm_limit=50.0,
                      lower_warning_limit=-10.0, lower_alarm_limit=-20.0,
                      lower_ctrl_limit=-100.0, upper_ctrl_limit=100.0,
                      upper_disp_limit=60.0, lower_disp_limit=-30.0)
    PRESSURE = pvproperty(value=2.0, units="bar", precision=1, alarm_group="pressure",
                          upper_warning_limit=4.0, upper_alarm_limit=5.0)
    WAVE = pvproperty(value=np.linspace(0.0, 1.0, 64), doc="a waveform")
    BIG = pvproperty(value=np.zeros(20000), doc="160 kB a value")
    FLOATS = pvproperty(value=[1.5, -2.25, 3.0], dtype=ChannelType.FLOAT, max_length=3)
    LONGS = pvproperty(value=[1, -2, 70000], dtype=ChannelType.LONG, max_length=3)
    SHORTS = pvproperty(value=[1, -2, 300], dtype=ChannelType.INT, max_length=3)
    BYTES = pvproperty(value=b"\x01\x02\xfa", dtype=bytes, max_length=3)
    MODE = pvproperty(value="on", enum_strings=["off", "on"], dtype=ChannelType.ENUM)
    NOTE = pvproperty(value="hello", dtype=str, max_length=40)
    GUARDED = pvproperty(value=1.0, doc="its putter refuses negative values")
    RO = pvproperty(value=7, read_only=True)
    COUNT = pvproperty(value=1234567, doc="an integer of more than six digits")
    VOLTS = pvproperty(value=1.5, record="ai", units="V", precision=3,
                       doc="a record nobody gave alarm limits: NaN on the wire")

    @GUARDED.putter
    async def GUARDED(self, instance, value):
        if value < 0:
            raise ValueError("GUARDED refuses negative values")
        return value


class WebFaultsIOC(PVGroup):
    """PVs whose reads misbehave: a getter that fails, one that takes its time, and a
    counter that changes all the time."""

    FAILING = pvproperty(value=1.0, doc="its getter raises")
    SLOW = pvproperty(value=2.0, doc="its getter takes 1.5 s")
    TICK = pvproperty(value=0, doc="counts every 20 ms")

    @FAILING.getter
    async def FAILING(self, instance):
        raise RuntimeError("sensor read failed")

    @SLOW.getter
    async def SLOW(self, instance):
        await asyncio.sleep(1.5)
        return 2.0

    @TICK.scan(period=0.02)
    async def TICK(self, instance, async_lib):
        await instance.write(instance.value + 1)


class BrokenSensor:
    """The ``web-broken-sensor`` helper: its start fails, and with it the mount."""

    def __init__(self, mount):
        self.mount = mount

    async def start(self):
        raise RuntimeError("sensor offline")


@hookimpl
def iochost_register_iocs(register):
    register("web-demo", WebDemoIOC)
    register("web-faults", WebFaultsIOC)


@hookimpl
def iochost_register_helpers(register):
    register("web-broken-sensor", BrokenSensor)


@hookimpl
def iochost_web_routes(app):
    from aiohttp import web

    async def hello(request):
        return web.Response(text="hello from webtest")

    app.router.add_get("/plugins/webtest/hello", hello)

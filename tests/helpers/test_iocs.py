"""IOCs the helper tests mount (registered as a plugin of their own: ``helper-tests``)."""
import numpy as np

from iochost import (AutosaveHelper, ChannelType, MemoryTracingHelper, PVGroup, StatusHelper,
                     SubGroup, autosaved, pvproperty)
from iochost.host import hookimpl

#: what the tests observe: (event, detail) in order
EVENTS: list[tuple[str, object]] = []


class Settings(PVGroup):
    """Saved settings of every kind, a putter that records calls, a startup hook that
    records what it saw first."""

    gain = pvproperty(value=1.0, autosave=True, upper_ctrl_limit=100.0, lower_ctrl_limit=-100.0,
                      upper_warning_limit=50.0, upper_alarm_limit=80.0, precision=3)
    count = pvproperty(value=0, autosave=True)
    mode = pvproperty(value="Off", dtype=ChannelType.ENUM, enum_strings=("Off", "On", "Auto"),
                      autosave=True)
    label = pvproperty(value="", dtype=ChannelType.STRING, autosave=True)
    note = pvproperty(value="", max_length=200, autosave=True)
    table = pvproperty(value=np.zeros(4), autosave=True)
    names = pvproperty(value=["a", "b", "c"], dtype=ChannelType.STRING, max_length=3,
                       autosave=True)
    offset = autosaved(pvproperty(value=0.0))
    speed = pvproperty(value=1.0, record="ao", autosave=("VAL", "EGU", "HIHI"))
    target = pvproperty(value=0.0)        # saved through the host config's pass1 list
    unsaved = pvproperty(value=0.0)
    memo = pvproperty(value="", max_length=100)  # text saved through pvs: or a request file
    parked = pvproperty(value=0, autosave=True,
                        doc="set by a shutdown hook (a final state) when unsaved is -1")

    @parked.shutdown
    async def parked(self, instance, async_lib):
        if self.unsaved.value == -1:
            await instance.write(1)

    @target.putter
    async def target(self, instance, value):
        EVENTS.append(("putter target", value))

    @gain.putter
    async def gain(self, instance, value):
        EVENTS.append(("putter gain", value))

    @unsaved.startup
    async def unsaved(self, instance, async_lib):
        EVENTS.append(("startup saw gain", self.gain.value))
        EVENTS.append(("startup saw gain severity", int(self.gain.severity)))


class ChosenFileAutosave(AutosaveHelper):
    """caproto's AutosaveHelper with the file a test chooses (set ``filename`` first)."""

    filename = "unset.sav"
    period = 0.2


class CaprotoStyle(PVGroup):
    """An IOC written for caproto, with only its imports changed to iochost."""

    value = autosaved(pvproperty(value=1.0))
    stats = SubGroup(StatusHelper, prefix="stats:")
    mem = SubGroup(MemoryTracingHelper, prefix="mem:")
    autosave_helper = SubGroup(ChosenFileAutosave)


@hookimpl
def iochost_register_iocs(register):
    register("helper-test-settings", Settings)
    register("helper-test-caproto-style", CaprotoStyle)

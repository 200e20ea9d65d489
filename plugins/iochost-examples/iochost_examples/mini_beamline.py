"""A small simulated beamline: a storage ring that decays and tops up, a motor record
(iochost's simulated synApps motor: VELO, ACCL, limits, STOP, DMOV/MOVN...), a shutter,
and a detector (a busy record) that counts the beam through a pinhole the motor scans.

    python -m iochost_examples.mini_beamline --prefix bl:
    caput -c bl:mtr 0.5 ; camonitor bl:mtr.RBV bl:mtr.DMOV
    caput bl:shutter Open ; caput -c bl:acquire Acquire ; caget bl:det
    caput bl:current.SCAN ".2 second"      # the ring's update rate is its SCAN field

Every record owns its alarm: a LOLO on the ring current does not stop the motor.
"""
import asyncio
import math
import random
from typing import ClassVar

from iochost import ChannelType, PVGroup, ioc_arg_parser, pvproperty, run
from iochost.records import SimMotor

FULL_CURRENT = 500.0      # mA after a top-up
TOP_UP_BELOW = 490.0      # mA
LIFETIME = 600.0          # s, the ring current's decay time constant
PINHOLE_WIDTH = 0.2       # mm, the detector's acceptance around the beam centre


class PinholeMotor(SimMotor):
    """The pinhole stage: a simulated motor with soft limits of +-10 mm."""

    __slots__ = ()
    initial_fields: ClassVar[dict[str, float]] = {**SimMotor.initial_fields, "VELO": 1.0,
                                                  "VMAX": 10.0}


class MiniBeamline(PVGroup):
    """Ring current, a motor record, a shutter and a detector behind a pinhole."""

    current = pvproperty(value=FULL_CURRENT, record="ai", units="mA", precision=2,
                         read_only=True, doc="Storage ring current")
    mtr = pvproperty(value=0.0, record=PinholeMotor, units="mm", precision=3,
                     lower_ctrl_limit=-10.0, upper_ctrl_limit=10.0, doc="Pinhole position")
    shutter = pvproperty(value="Closed", enum_strings=["Closed", "Open"], record="bo",
                         dtype=ChannelType.ENUM, doc="Beam shutter")
    exposure = pvproperty(value=0.1, record="ao", units="s", precision=2,
                          lower_ctrl_limit=0.01, upper_ctrl_limit=10.0, doc="Exposure time")
    acquire = pvproperty(value="Done", enum_strings=["Done", "Acquire"], record="busy",
                         dtype=ChannelType.ENUM, doc="Write Acquire to take one exposure")
    det = pvproperty(value=0.0, record="ai", units="counts", read_only=True,
                     doc="Detector counts of the last exposure")
    centre = pvproperty(value=0.0, record="ao", units="mm", precision=3,
                        doc="Where the beam is (mm in motor coordinates)")

    @current.scan(period=1.0, use_scan_field=True)
    async def current(self, instance, async_lib):
        """Decay for the time since the last scan; top up below the threshold."""
        value = instance.value * math.exp(-(instance.scan_period or 1.0) / LIFETIME)
        await instance.write(FULL_CURRENT if value < TOP_UP_BELOW else value)

    @acquire.putter
    async def acquire(self, instance, value):
        """One exposure: wait, then count what passed the pinhole.  A busy record: it
        reads Acquire during the exposure, Done after, and a put with completion
        completes when the exposure is done (areaDetector's Acquire)."""
        if value != "Acquire":
            return value
        await asyncio.sleep(self.exposure.value)
        await self.det.write(self.expected_counts() * (1 + random.gauss(0, 0.01)))

    def expected_counts(self) -> float:
        """Counts per exposure: beam current x pinhole transmission x time."""
        if self.shutter.value != "Open":
            return 0.0
        position = self.mtr.field_inst.readback()
        offset = (position - self.centre.value) / PINHOLE_WIDTH
        return 1000.0 * self.current.value * math.exp(-offset * offset / 2) * \
            self.exposure.value


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="mini:",
                                              desc=MiniBeamline.__doc__)
    run(MiniBeamline(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

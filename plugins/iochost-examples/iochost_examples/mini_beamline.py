"""A small simulated beamline: a storage ring that decays and tops up, a motor record
that moves at its velocity, a shutter, and a detector that counts the beam through a
pinhole the motor scans across.

    python -m iochost_examples.mini_beamline --prefix bl:
    caput bl:mtr 0.5 ; camonitor bl:mtr.RBV bl:mtr.DMOV
    caput bl:shutter Open ; caput -c bl:acquire 1 ; caget bl:det
    caput bl:current.SCAN ".2 second"      # the ring's update rate is its SCAN field
"""
import asyncio
import math
import random

from iochost import ChannelType, PVGroup, ioc_arg_parser, pvproperty, run

FULL_CURRENT = 500.0      # mA after a top-up
TOP_UP_BELOW = 490.0      # mA
LIFETIME = 600.0          # s, the ring current's decay time constant
PINHOLE_WIDTH = 0.2       # mm, the detector's acceptance around the beam centre
MOTOR_TICK = 0.02         # s between motor steps


class MiniBeamline(PVGroup):
    """Ring current, a motor record, a shutter and a detector behind a pinhole."""

    current = pvproperty(value=FULL_CURRENT, record="ai", units="mA", precision=2,
                         read_only=True, doc="Storage ring current")
    mtr = pvproperty(value=0.0, record="motor", units="mm", precision=3,
                     doc="Pinhole position")
    shutter = pvproperty(value="Closed", enum_strings=["Closed", "Open"], record="bo",
                         dtype=ChannelType.ENUM, doc="Beam shutter")
    exposure = pvproperty(value=0.1, record="ao", units="s", precision=2,
                          lower_ctrl_limit=0.01, upper_ctrl_limit=10.0, doc="Exposure time")
    acquire = pvproperty(value="Done", enum_strings=["Done", "Acquire"], record="bo",
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

    @mtr.startup
    async def mtr(self, instance, async_lib):
        """Move the readback toward VAL at VELO, with DMOV/MOVN as a motor record has them."""
        fields = instance.field_inst
        await fields.velocity.write(1.0)
        await fields.done_moving_to_value.write(1)
        while True:
            await async_lib.sleep(MOTOR_TICK)
            position, target = fields.user_readback_value.value, instance.value
            if position == target and fields.done_moving_to_value.value:
                continue
            step = fields.velocity.value * MOTOR_TICK
            moving = abs(target - position) > step
            position = position + math.copysign(step, target - position) if moving else target
            await fields.user_readback_value.write(position)
            await fields.dial_readback_value.write(position)
            await fields.motor_is_moving.write(int(moving))
            await fields.done_moving_to_value.write(int(not moving))

    @mtr.putter
    async def mtr(self, instance, value):
        await instance.field_inst.done_moving_to_value.write(0)
        return value

    @acquire.putter
    async def acquire(self, instance, value):
        """One exposure: wait, then count what passed the pinhole (the put completes
        when the exposure is done, as areaDetector's Acquire with ca_put_callback)."""
        if value != "Acquire":
            return value
        await asyncio.sleep(self.exposure.value)
        await self.det.write(self.expected_counts() * (1 + random.gauss(0, 0.01)))
        return "Done"

    def expected_counts(self) -> float:
        """Counts per exposure: beam current x pinhole transmission x time."""
        if self.shutter.value != "Open":
            return 0.0
        position = self.mtr.field_inst.user_readback_value.value
        offset = (position - self.centre.value) / PINHOLE_WIDTH
        return 1000.0 * self.current.value * math.exp(-offset * offset / 2) * \
            self.exposure.value


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="mini:",
                                              desc=MiniBeamline.__doc__)
    run(MiniBeamline(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

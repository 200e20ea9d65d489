"""A scan hook simulating a process: the readback ``I`` decays exponentially towards the
setpoint ``SP``, and ``done`` says when it is close.

    I(t) = Tvar * exp(-(t - t0) / K) + SP        (t0: the time of the last SP write)
"""
import math
import time

from iochost import PVGroup, ioc_arg_parser, pvproperty, run


class Decay(PVGroup):
    """I decays towards SP with time constant K; done is On within 5 % of the step."""

    readback = pvproperty(value=0.0, name="I", read_only=True, record="ai", precision=3,
                          doc="The current value")
    done = pvproperty(value=False, read_only=True, record="bi",
                      doc="Whether I is close to SP")
    setpoint = pvproperty(value=100.0, name="SP", doc="Where to go")
    K = pvproperty(value=10.0, doc="The decay constant [s]", lower_ctrl_limit=1e-3,
                   upper_ctrl_limit=1e6)
    Tvar = pvproperty(value=10.0, doc="The size of the initial excursion")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.t0 = time.monotonic()

    @setpoint.putter
    async def setpoint(self, instance, value):
        self.t0 = time.monotonic()          # a new step starts now

    @readback.scan(period=0.1, use_scan_field=True)
    async def readback(self, instance, async_lib):
        elapsed = time.monotonic() - self.t0
        value = self.Tvar.value * math.exp(-elapsed / self.K.value) + self.setpoint.value
        await instance.write(value)
        close = abs(value - self.setpoint.value) < 0.05 * abs(self.Tvar.value)
        if close != (self.done.value == "On"):
            await self.done.write(close)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="decay:", desc=Decay.__doc__)
    run(Decay(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

"""A startup hook that runs for the life of the IOC: ``x`` takes a random step every
``dt`` seconds (``dt`` is a PV too, so clients change the rate)."""
import random

from iochost import PVGroup, ioc_arg_parser, pvproperty, run


class RandomWalkIOC(PVGroup):
    """x takes a random step in [-1, 1) every dt seconds."""

    dt = pvproperty(value=3.0, doc="Time between steps [s]", units="s", lower_ctrl_limit=0.01,
                    upper_ctrl_limit=3600.0)
    x = pvproperty(value=0.0, doc="The random walker", read_only=True)

    @x.startup
    async def x(self, instance, async_lib):
        """Step, publish, sleep; forever (cancelled when the IOC stops)."""
        while True:
            await instance.write(instance.value + random.uniform(-1.0, 1.0))
            await async_lib.sleep(self.dt.value)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="random_walk:",
                                              desc=RandomWalkIOC.__doc__)
    run(RandomWalkIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

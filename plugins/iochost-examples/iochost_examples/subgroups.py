"""Groups of groups: one PVGroup class reused under two prefixes with different options,
plus a nested group declared with the decorator form."""
import random

from iochost import PVGroup, SubGroup, ioc_arg_parser, pvproperty, run


class RandomSource(PVGroup):
    """random: a new integer in [1, max_value] every `period` seconds."""

    def __init__(self, *args, max_value: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_value = max_value

    rand = pvproperty(value=1, name="random", read_only=True, doc="A random integer")
    max = pvproperty(value=0, read_only=True, doc="The largest value `random` takes")

    @rand.scan(period=1.0)
    async def rand(self, instance, async_lib):
        await self.max.write(self.max_value)
        await instance.write(random.randint(1, self.max_value))


class SubgroupsIOC(PVGroup):
    """Two RandomSource subgroups and a nested settings group."""

    group1 = SubGroup(RandomSource, prefix="group1:", max_value=5)
    group2 = SubGroup(RandomSource, prefix="group2:", max_value=20)

    @SubGroup(prefix="settings:")
    class settings(PVGroup):
        gain = pvproperty(value=1.0, doc="A setting of the nested group")

        @SubGroup(prefix="limits:")
        class limits(PVGroup):
            low = pvproperty(value=0.0)
            high = pvproperty(value=10.0)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="subgroups:",
                                              desc=SubgroupsIOC.__doc__)
    run(SubgroupsIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

"""Where IOC code runs at start and stop: ``__ainit__`` (IOC-level, given to ``run``),
per-PV startup hooks, and shutdown hooks; each logs and records what it did in PVs."""
from iochost import AsyncLibraryLayer, PVGroup, ioc_arg_parser, pvproperty, run


class StartupAndShutdown(PVGroup):
    """thing: a PV whose startup and shutdown hooks log; ainit_done/startup_done show they ran."""

    thing = pvproperty(value=2, doc="An integer-valued PV")
    ainit_done = pvproperty(value=False, read_only=True, doc="__ainit__ has run")
    startup_done = pvproperty(value=False, read_only=True, doc="the startup hook of thing ran")

    async def __ainit__(self, async_lib: AsyncLibraryLayer):
        self.log.warning("1. IOC-level __ainit__ called")
        await async_lib.sleep(0.1)
        await self.ainit_done.write(True)

    @thing.startup
    async def thing(self, instance, async_lib: AsyncLibraryLayer):
        self.log.warning("2. startup hook of %s called", instance.pvname)
        await self.startup_done.write(True)

    @thing.shutdown
    async def thing(self, instance, async_lib: AsyncLibraryLayer):
        self.log.warning("3. shutdown hook of %s called (value %s)", instance.pvname,
                         instance.value)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="hooks:",
                                              desc=StartupAndShutdown.__doc__)
    ioc = StartupAndShutdown(**ioc_options)
    run(ioc.pvdb, startup_hook=ioc.__ainit__, **run_options)


if __name__ == "__main__":
    main()

"""SkipWrite: a putter that refuses a value silently (the write succeeds for the client,
the PV keeps its value).  Here ``value`` only ever holds 85: anything else is replaced."""
from iochost import PVGroup, SkipWrite, ioc_arg_parser, pvproperty, run


class SkipWriteIOC(PVGroup):
    """value: an integer that insists on being 85; rejected: how many writes were refused."""

    value = pvproperty(value=85, doc='An integer that only holds 85')
    rejected = pvproperty(value=0, read_only=True, doc="Writes refused so far")

    @value.putter
    async def value(self, instance, value):
        if value == 85:
            return value
        await self.rejected.write(self.rejected.value + 1)
        raise SkipWrite()


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="skip:", desc=SkipWriteIOC.__doc__)
    run(SkipWriteIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

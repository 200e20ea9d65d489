"""PV names with macros: ``{beamline}`` and ``{suffix}`` are filled in from the command
line (``--beamline BL1 --suffix motor``) or the host config."""
from iochost import PVGroup, ioc_arg_parser, pvproperty, run


class MacroifiedNames(PVGroup):
    """PVs named {beamline}:{suffix}.VAL and {beamline}:{suffix}.RBV."""

    setpoint = pvproperty(value=0, name="{beamline}:{suffix}.VAL")
    readback = pvproperty(value=0, name="{beamline}:{suffix}.RBV", read_only=True)

    @setpoint.putter
    async def setpoint(self, instance, value):
        await self.readback.write(value)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(
        default_prefix="macros:", desc=MacroifiedNames.__doc__,
        macros={"beamline": "my_beamline", "suffix": "thing"})
    run(MacroifiedNames(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

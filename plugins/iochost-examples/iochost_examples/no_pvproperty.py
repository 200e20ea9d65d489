"""An IOC without a PVGroup class: PVSpecs and plain channel data in a dict."""
from iochost import ChannelDouble, PVSpec, ioc_arg_parser, run

WRITES: list[tuple[str, object]] = []


async def remember(instance, value):
    """A putter without a group: (instance, value)."""
    WRITES.append((instance.pvname, value))
    instance.log.info("%s <- %r", instance.pvname, value)
    return value


SPECS = [
    PVSpec(name="a", value=1, record="bi", doc="An integer", put=remember),
    PVSpec(name="b", value=2.0, record="ai", doc="A float", put=remember),
    PVSpec(name="c", value=[1, 2, 3], record="waveform", doc="An array of integers",
           put=remember),
]


def make_pvdb(prefix: str) -> dict:
    """The PV database: the PVSpecs plus one bare channel-data object."""
    pvdb = {prefix + spec.name: spec._replace(name=prefix + spec.name).create()
            for spec in SPECS}
    pvdb[prefix + "plain"] = ChannelDouble(value=3.5, units="V")
    return pvdb


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="pvspec:",
                                              desc="A simple IOC without a PVGroup class.")
    run(make_pvdb(ioc_options["prefix"]), **run_options)


if __name__ == "__main__":
    main()

"""Setpoint/readback pairs from one declaration (``get_pv_pair_wrapper``)."""
from iochost import ChannelType, PVGroup, get_pv_pair_wrapper, ioc_arg_parser, run

pvproperty_with_rbv = get_pv_pair_wrapper(setpoint_suffix="", readback_suffix="_RBV")


class PairsIOC(PVGroup):
    """pair (int), pair2 (float, readback doubled) and pair3 (No/Yes enum), each with _RBV."""

    pair = pvproperty_with_rbv(dtype=int, doc="An integer pair: the readback follows")
    pair2 = pvproperty_with_rbv(dtype=float, doc="A float pair: the readback is twice the setpoint")
    pair3 = pvproperty_with_rbv(dtype=ChannelType.ENUM, enum_strings=["No", "Yes"],
                                doc="An enum pair", setpoint_kw={"record": "bo"},
                                readback_kw={"record": "bi"})

    @pair2.setpoint.putter
    async def pair2(obj, instance, value):
        # obj is the pair's subgroup; obj.parent is this IOC
        await obj.readback.write(2 * value)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="setpoint_rbv:",
                                              desc=PairsIOC.__doc__)
    run(PairsIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

"""Three independent read/write PVs: an integer, a float and an integer array.

    python -m iochost_examples.simple --list-pvs --prefix simple:
"""
from iochost import PVGroup, ioc_arg_parser, pvproperty, run


class SimpleIOC(PVGroup):
    """An IOC with three uncoupled read/write PVs: A (int), B (float), C (int[3])."""

    A = pvproperty(value=1, doc="An integer")
    B = pvproperty(value=2.0, doc="A float", precision=3, units="mm")
    C = pvproperty(value=[1, 2, 3], doc="An array of integers (max length 3)")


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="simple:", desc=SimpleIOC.__doc__)
    run(SimpleIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

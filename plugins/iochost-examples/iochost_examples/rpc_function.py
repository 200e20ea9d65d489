"""A remote call with pvfunction: write the arguments, put to Process, read Retval/Status.

    python -m iochost_examples.rpc_function --list-pvs --prefix rpc:
    caput rpc:get_random:low 10; caput rpc:get_random:Process 1; caget rpc:get_random:Retval
"""
import random

from iochost import PVGroup, ioc_arg_parser, pvfunction, pvproperty, run


class RpcIOC(PVGroup):
    """A random number PV, and a function that draws one between two bounds on request."""

    @pvproperty(value=0)
    async def fixed_random(self, instance):
        """A random integer between 1 and 100, drawn at each read."""
        return random.randint(1, 100)

    @pvfunction(default=[0])
    async def get_random(self, low: int = 100, high: int = 1000) -> int:
        """A random integer between low and high (refused when low > high)."""
        if low > high:
            raise ValueError(f"low ({low}) is above high ({high})")
        return random.randint(low, high)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="rpc:", desc=RpcIOC.__doc__)
    run(RpcIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

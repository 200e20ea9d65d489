"""ENUM PVs as bi/bo/mbbi records: their state strings are ZNAM/ONAM and ZRST..FFST.

    python -m iochost_examples.enums --prefix enums:
    caget enums:bo.ZNAM enums:bo.ONAM enums:mbbi.TWST
    caput enums:bo.ONAM Open        # renames state 1 (clients see a DBE_PROPERTY update)
"""
import enum

from iochost import ChannelType, PVGroup, ioc_arg_parser, pvproperty, run


class Mode(enum.IntEnum):
    off = 0
    on = 1
    unknown = 2


class EnumIOC(PVGroup):
    """Binary and multi-bit records whose state strings are fields."""

    bo = pvproperty(value="Closed", enum_strings=["Open", "Closed"], record="bo",
                    dtype=ChannelType.ENUM, doc="A binary output")
    bi = pvproperty(value="low", enum_strings=["low", "high"], record="bi",
                    dtype=ChannelType.ENUM, doc="A binary input")
    mbbi = pvproperty(value="two", enum_strings=["zero", "one", "two", "three"],
                      record="mbbi", dtype=ChannelType.ENUM, doc="A multi-bit input")
    mode = pvproperty(value=Mode.on, record="mbbo", doc="States from an IntEnum")


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="enums:", desc=EnumIOC.__doc__)
    run(EnumIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

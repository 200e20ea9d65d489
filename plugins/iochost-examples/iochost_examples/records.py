"""PVs that look like EPICS records: ``A.DESC``, ``B.EGU``, ``C.HIHI``... all answer.

    python -m iochost_examples.records --list-pvs --prefix records:
    caget records:C.DESC records:C.HIHI records:A.RTYP
    caput records:A.RVAL 7          # the field putter below writes A and B
"""
from iochost import ChannelType, PVGroup, ioc_arg_parser, pvproperty, run
from iochost.pv.types import PvpropertyDouble
from iochost.records import AiFields, AoFields


class RecordsIOC(PVGroup):
    """Records three ways: a typed dtype, a field-set class, and a record type by name."""

    A = pvproperty(value=1.0, dtype=PvpropertyDouble[AiFields], doc="An analog input")
    B = pvproperty(value=2.0, record=AoFields, precision=3, doc="An analog output")
    C = pvproperty(value=0.0, record="ai", units="mm", precision=3, doc="Limits and alarms",
                   upper_alarm_limit=2.0, lower_alarm_limit=-2.0,
                   upper_warning_limit=1.0, lower_warning_limit=-1.0,
                   upper_ctrl_limit=3.0, lower_ctrl_limit=-3.0)
    E = pvproperty(value="some text", record="stringin", dtype=ChannelType.STRING)

    @B.putter
    async def B(self, instance, value):
        """Refuse 1: the put fails and B's alarm goes to WRITE/MAJOR."""
        if value == 1:
            raise ValueError("B refuses 1")
        return value

    # A field hook: ``fields`` is A's field set; ``fields.parent.group`` is this IOC.
    @A.fields.current_raw_value.putter
    async def _a_raw(fields, instance, value):
        ioc = fields.parent.group
        await ioc.B.write(value + 10)
        await ioc.A.write(value)


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="records:",
                                              desc=RecordsIOC.__doc__)
    run(RecordsIOC(**ioc_options).pvdb, **run_options)


if __name__ == "__main__":
    main()

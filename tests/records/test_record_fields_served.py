"""Every field of a served record, read with pyepics (EPICS' libca), against softioc.

One record of every base record type is served by our server; libca reads each field's
native DBR type, element count and write access -- and the value, for fields whose dbd
gives an initial value -- which must be what softioc (EPICS base + RSRV) serves for the
same record (``softioc_field_types.json``, see test_record_field_types.py).
"""
import json

import pytest
from softioc_reference import FIXTURE, FTVL_KEY, RECORD_CONFIG, read_fields

from iochost import PVGroup, pvproperty
from iochost.ca.dbr import ChannelType

REFERENCE = {rtyp: fields for rtyp, fields in json.loads(FIXTURE.read_text()).items()
             if rtyp != FTVL_KEY}
# Values that differ on purpose (docs/records.md): the record's alarm and UDF reflect a
# pvproperty that always holds a defined value (softioc's reference records are UDF).
STATE_NOT_COMPARED = {"STAT", "SEVR", "UDF"}
# Fields a soft record's init_record or configuration sets (calcout's link-validity menus,
# the configured NELM/NSAM/SIZV...): their type is compared, their value is not.
CONFIGURED = {(rtyp, f) for rtyp, config in RECORD_CONFIG.items() for f in config} | {
    ("calcout", f"IN{c}V") for c in "ABCDEFGHIJKLMNOPQRSTU"}


def record_ioc() -> type[PVGroup]:
    """A PVGroup with one record of every reference type; VAL typed as softioc serves it."""
    body = {}
    for rtyp, fields in REFERENCE.items():
        val = fields.get("VAL")
        dbr, count, writable = (ChannelType(val[0]), *val[1:3]) if val else (
            ChannelType.DOUBLE, 1, 1)
        body[rtyp] = pvproperty(dtype=dbr, max_length=count, record=rtyp,
                                read_only=not writable)
    return type("EveryRecord", (PVGroup,), body)


@pytest.fixture(scope="module")
def served(ca_server, pyepics):
    ioc = record_ioc()(prefix="REC:every:")
    ca_server.add(ioc.pvdb)
    names = {f"{ioc.prefix}{rtyp}.{field}": (rtyp, field)
             for rtyp, fields in REFERENCE.items() for field in fields}
    expect = {name for name, (rtyp, field) in names.items() if REFERENCE[rtyp][field]}
    values = {name for name, (rtyp, field) in names.items()
              if REFERENCE[rtyp][field] and len(REFERENCE[rtyp][field]) > 3}
    try:
        found = read_fields(list(names), expect, values, settle=0.3)
    finally:
        ca_server.remove(list(ioc.pvdb))
    result: dict[str, dict] = {rtyp: {} for rtyp in REFERENCE}
    for name, got in found.items():
        rtyp, field = names[name]
        result[rtyp][field] = got
    return ioc, result


@pytest.mark.parametrize("rtyp", sorted(REFERENCE))
def test_every_field_has_softioc_type_count_and_access(served, rtyp):
    _, result = served
    mismatches = {field: (want[:3] if want else want, got[:3] if got else got)
                  for field, want in REFERENCE[rtyp].items()
                  for got in [result[rtyp][field]]
                  if (want[:3] if want else want) != (got[:3] if got else got)}
    assert mismatches == {}


@pytest.mark.parametrize("rtyp", sorted(REFERENCE))
def test_every_field_starts_with_softioc_value(served, rtyp):
    _, result = served
    compared = {field: want[3] for field, want in REFERENCE[rtyp].items()
                if want and len(want) > 3 and field not in STATE_NOT_COMPARED
                and (rtyp, field) not in CONFIGURED}
    got = {field: result[rtyp][field][3] for field in compared}
    assert got == compared


def test_untouched_records_created_no_field_channels_but_those_read(served):
    ioc, _ = served
    # Only the fields the client read exist; a record nobody reads has none.
    lone = record_ioc()(prefix="REC:lone:")
    assert all(len(channel.field_inst.created) == 0 for channel in lone.pvdb.values())
    assert set(ioc.pvdb["REC:every:ai"].field_inst.created) == {
        field for field, served in REFERENCE["ai"].items() if served and field != "VAL"}


def test_every_motor_field_is_served_as_the_motor_table_says(mount, unique_prefix, pyepics):
    # No installed IOC serves a motor record; the hand-written table is the reference.
    from iochost.records import dbr_type_of, fields_of, is_served

    class Motor(PVGroup):
        m = pvproperty(value=0.0, record="motor")

    ioc = mount(Motor(prefix=unique_prefix))
    fields = {f.name: f for f in fields_of("motor") if is_served(f) and f.name != "VAL"}
    names = {f"{ioc.prefix}m.{name}": name for name in fields}
    found = read_fields(list(names), set(names), settle=0.3)
    got = {names[name]: value[0] for name, value in found.items() if value}
    assert got == {name: int(dbr_type_of(field)) for name, field in fields.items()}

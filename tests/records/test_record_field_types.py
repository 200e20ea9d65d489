"""Our DBF -> DBR mapping against what EPICS' own IOC (softioc: base + RSRV) serves.

``softioc_field_types.json`` holds, for every field of one record of each base record
type, what libca (pyepics) reads from softioc: [native DBR type, element count, write
access], or null when the channel does not connect. ``softioc_reference.py`` writes it;
fields with an initial value in their dbd also carry the value softioc holds. The last
test here shows the fixture is still what the installed softioc serves.
"""
import json
import os

import pytest
from softioc_reference import FIXTURE, FTVL_KEY, RECORD_CONFIG, reference

from iochost.ca.dbr import ChannelType
from iochost.records import (
    DBF_TO_DBR,
    RTYP,
    DbfType,
    announces_write_access,
    buffer_of,
    dbr_type_of,
    field_of,
    fields_of,
    initial_value,
    is_served,
    record_types,
)

REFERENCE = json.loads(FIXTURE.read_text())
RECORDS = {rtyp: fields for rtyp, fields in REFERENCE.items() if rtyp != FTVL_KEY}
ISSUE_RECORD_TYPES = [
    "ai", "ao", "bi", "bo", "mbbi", "mbbo", "longin", "longout", "int64in", "int64out",
    "stringin", "stringout", "lsi", "lso", "waveform", "aai", "aao", "calc", "calcout",
]

# Fields whose dbd initial value init_record replaces: calcout's link-validity menus start
# as "Constant" (3) when their links are empty.
SET_BY_INIT_RECORD = {("calcout", f"IN{c}V"): 3 for c in "ABCDEFGHIJKLMNOPQRSTU"}


def _configured(rtyp: str, field: str) -> str:
    """The value of ``field`` in the reference record: as configured, else its initial."""
    return RECORD_CONFIG.get(rtyp, {}).get(field) or field_of(rtyp, field).initial


def expected(rtyp: str, name: str) -> list[int] | None:
    """What our tables say softioc's reference record serves for ``rtyp.name``."""
    field = RTYP if name == "RTYP" else field_of(rtyp, name)
    buffer = buffer_of(rtyp, name)
    if buffer is not None:
        dbf = buffer.type_from
        if isinstance(dbf, str):
            dbf = DbfType[_configured(rtyp, dbf)]
        count = int(_configured(rtyp, buffer.count_from)) if buffer.count_from else 1
        return [DBF_TO_DBR[dbf], count, int(announces_write_access(field))]
    if not is_served(field):
        return None
    dbr = dbr_type_of(field)
    if (rtyp, name) == ("mbbo", "VAL"):  # no ZRST..FFST set: served as the raw USHORT
        dbr = ChannelType.LONG
    served = [dbr, 1, int(announces_write_access(field))]
    if field.initial:
        configured = RECORD_CONFIG.get(rtyp, {}).get(name)
        served.append(SET_BY_INIT_RECORD.get((rtyp, name), initial_value(field))
                      if configured is None else type(initial_value(field))(configured))
    return served


def test_reference_covers_every_record_type_the_issue_requires():
    assert set(ISSUE_RECORD_TYPES) <= set(RECORDS)
    assert set(RECORDS) == set(record_types()) - {"motor"}


@pytest.mark.parametrize("rtyp", sorted(RECORDS))
def test_every_field_is_served_as_softioc_serves_it(rtyp):
    served = RECORDS[rtyp]
    assert set(served) == {f.name for f in fields_of(rtyp)} | {"RTYP"}
    mismatches = {name: (expected(rtyp, name), got) for name, got in served.items()
                  if expected(rtyp, name) != got}
    assert mismatches == {}


def test_reference_exercises_every_dbf_type():
    # The comparisons here are only as strong as the types they meet: base records have
    # no plain CHAR or FLOAT field, the waveforms (one per FTVL) supply those.
    used = {f.dbf for rtyp in RECORDS for f in fields_of(rtyp)}
    assert used | {DbfType[ftvl] for ftvl in REFERENCE[FTVL_KEY]} == set(DbfType)


@pytest.mark.parametrize("ftvl", sorted(REFERENCE[FTVL_KEY]))
def test_waveform_elements_of_each_type_are_served_as_dbf_to_dbr_says(ftvl):
    assert REFERENCE[FTVL_KEY][ftvl] == [DBF_TO_DBR[DbfType[ftvl]], 2, 1]


def test_reference_is_what_the_installed_softioc_serves():
    port = int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    served = {(key, name) for key, fields in REFERENCE.items()
              for name, value in fields.items() if value is not None}
    assert reference(sorted(RECORDS), port, expect=served) == REFERENCE

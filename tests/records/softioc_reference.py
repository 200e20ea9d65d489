"""What EPICS' own IOC (softioc: EPICS base + RSRV) serves for every field of every record.

Starts softioc in a subprocess with one record of each base record type, connects pyepics
(EPICS' libca) to ``REC.FIELD`` for every field in our tables, and reports per field the
native DBR type, the element count and the write access RSRV announces -- or null when the
channel does not connect (a private field).

Used two ways:

* ``python tests/records/softioc_reference.py`` rewrites ``softioc_field_types.json``,
  the fixture ``test_field_types.py`` compares our DBF -> DBR mapping against;
* ``test_field_types.py`` also reads a few record types live, to show the fixture is
  still what the installed softioc serves.

Stays on loopback: the CA variables are forced before anything imports libca.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, also for the script
from softioc_process import free_port, running_softioc

from iochost.testing import LOOPBACK_ENV

FIXTURE = Path(__file__).with_name("softioc_field_types.json")
PREFIX = "IOCHOSTREF:"
FTVL_KEY = "waveform FTVL"

# Array records need a value type and a length; lsi/lso a string size above 40 so their
# buffers show which type a long string gets.
RECORD_CONFIG = {
    "waveform": {"FTVL": "DOUBLE", "NELM": "4"},
    "aai": {"FTVL": "DOUBLE", "NELM": "4"},
    "aao": {"FTVL": "DOUBLE", "NELM": "4"},
    "subArray": {"FTVL": "DOUBLE", "MALM": "4", "NELM": "2"},
    "compress": {"NSAM": "4"},
    "histogram": {"NELM": "4"},
    "lsi": {"SIZV": "80"},
    "lso": {"SIZV": "80"},
}


# One waveform per element type shows how each DBF type is served, CHAR and FLOAT
# included, which no base record has as a plain field.
FTVL_TYPES = ("STRING", "CHAR", "UCHAR", "SHORT", "USHORT", "LONG", "ULONG", "INT64",
              "UINT64", "FLOAT", "DOUBLE", "ENUM")


def _record(rtyp: str, name: str, config: dict[str, str]) -> list[str]:
    return [f'record({rtyp}, "{name}") {{',
            *(f'    field({field}, "{value}")' for field, value in config.items()), "}"]


def database_text(record_types: list[str]) -> str:
    """A .db file: one record ``PREFIX + rtyp`` of each type, one waveform per FTVL."""
    lines = []
    for rtyp in record_types:
        lines += _record(rtyp, PREFIX + rtyp, RECORD_CONFIG.get(rtyp, {}))
    for ftvl in FTVL_TYPES:
        lines += _record("waveform", f"{PREFIX}wf{ftvl}", {"FTVL": ftvl, "NELM": "2"})
    return "\n".join(lines) + "\n"


def read_fields(names: list[str], expect: set[str] | None = None, values: set[str] = frozenset(),
                settle: float = 1.5, limit: float = 30.0) -> dict[str, list | None]:
    """Connect libca to every name; {name: [native type, element count, write access]},
    with the value (first element) appended for the names in ``values``.

    Private fields never connect, so the wait ends ``settle`` seconds after the last new
    connection -- or, when ``expect`` names the channels that should connect, ``settle``
    seconds after all of those did (deterministic on a slow machine). At most ``limit``
    seconds in all.
    """
    from epics import ca

    chids = {name: ca.create_channel(name, connect=False, auto_cb=False) for name in names}
    start = last_change = time.monotonic()
    connected: set[str] = set()
    while time.monotonic() - start < limit:
        ca.poll(evt=0.05)
        now = {name for name, chid in chids.items() if ca.isConnected(chid)}
        if now != connected:
            connected, last_change = now, time.monotonic()
        waiting = expect is not None and not expect <= connected
        if len(connected) == len(chids) or (
                not waiting and time.monotonic() - last_change > settle):
            break
    result: dict[str, list | None] = {}
    for name, chid in chids.items():
        if ca.isConnected(chid):
            result[name] = [ca.field_type(chid), ca.element_count(chid),
                            int(ca.write_access(chid))]
            if name in values:
                result[name].append(_scalar(ca.get(chid, count=1, timeout=5)))
        else:
            result[name] = None
        ca.clear_channel(chid)
    return result


def _scalar(value):
    """A JSON-friendly scalar from what pyepics returns for one element."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        value = value[0]
    return value


Reference = dict[str, dict[str, list | None]]


def reference(record_types: list[str], port: int,
              expect: set[tuple[str, str]] | None = None) -> Reference:
    """What softioc serves: {rtyp: {field: [type, count, write] | None}} for every field
    in our tables, plus {'waveform FTVL': {ftvl: [...]}} for the per-type waveforms.
    Fields whose dbd gives an initial value also carry the value softioc holds.

    ``expect``: the (key, field) pairs that should connect (see ``read_fields``).
    """
    from iochost.records import fields_of, is_served

    names = {f"{PREFIX}{rtyp}.{field}": (rtyp, field)
             for rtyp in record_types
             for field in [f.name for f in fields_of(rtyp)] + ["RTYP"]}  # RTYP: no dbd field
    names |= {f"{PREFIX}wf{ftvl}.VAL": (FTVL_KEY, ftvl) for ftvl in FTVL_TYPES}
    values = {f"{PREFIX}{rtyp}.{f.name}" for rtyp in record_types for f in fields_of(rtyp)
              if f.initial and is_served(f)}
    with running_softioc(database_text(record_types), port):
        found = read_fields(list(names), expect and {
            name for name, pair in names.items() if pair in expect}, values)
    result: Reference = {key: {} for key in [*record_types, FTVL_KEY]}
    for name, value in found.items():
        key, field = names[name]
        result[key][field] = value
    return result


def render_fixture(data: Reference) -> str:
    """JSON with one line per field, so a change in the reference shows as a small diff."""
    records = []
    for rtyp in sorted(data):
        rows = ",\n".join(f"    {json.dumps(name)}: {json.dumps(value)}"
                           for name, value in sorted(data[rtyp].items()))
        records.append(f"  {json.dumps(rtyp)}: {{\n{rows}\n  }}")
    return "{\n" + ",\n".join(records) + "\n}\n"


def main() -> None:
    port = free_port()
    os.environ.update(LOOPBACK_ENV, EPICS_CA_ADDR_LIST=f"127.0.0.1:{port}")
    from iochost.records import record_types

    base_types = [rtyp for rtyp in record_types() if rtyp != "motor"]
    data = reference(base_types, port)
    FIXTURE.write_text(render_fixture(data))
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()

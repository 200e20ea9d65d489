"""Every numeric field of every base record type answers a GR/CTRL read as softIoc does:
units, precision, display and control limits (each record support's ``get_units``,
``get_precision``, ``get_graphic_double`` and ``get_control_double``, or dbAccess' zeros
where a record type has none), and every menu field offers softIoc's choices -- read with
EPICS' libca (pyepics) from both servers.

One record of each type on each side, with HOPR/LOPR, DRVH/DRVL, EGU and PREC set wherever
the type has them, so that a limit taken from the wrong place shows.
"""
import os
from importlib.util import find_spec

import pytest
from softioc_process import running_softioc

from iochost import ChannelType, PVGroup, pvproperty
from iochost.records import DbfType, fields_of, is_served, record_types

if find_spec("softioc") is None:
    pytest.skip("softioc is not installed", allow_module_level=True)

NUMERIC = {DbfType.DOUBLE, DbfType.FLOAT, DbfType.CHAR, DbfType.UCHAR, DbfType.SHORT,
           DbfType.USHORT, DbfType.LONG, DbfType.ULONG, DbfType.INT64, DbfType.UINT64}
#: What the display fields are set to, on each side, where a record type has them.
DISPLAY = {"HOPR": 9, "LOPR": -9, "DRVH": 7, "DRVL": -7, "EGU": "u", "PREC": 3}
_KEYWORDS = {"HOPR": "upper_disp_limit", "LOPR": "lower_disp_limit",
             "DRVH": "upper_ctrl_limit", "DRVL": "lower_ctrl_limit", "EGU": "units",
             "PREC": "precision"}
#: Array records: the softIoc configuration and the pvproperty's value.
ARRAYS = {"waveform": ({"FTVL": "DOUBLE", "NELM": "4"}, {"max_length": 4}),
          "aai": ({"FTVL": "DOUBLE", "NELM": "4"}, {"max_length": 4}),
          "aao": ({"FTVL": "DOUBLE", "NELM": "4"}, {"max_length": 4}),
          "subArray": ({"FTVL": "DOUBLE", "MALM": "4"}, {"max_length": 4}),
          "compress": ({"NSAM": "4"}, {"max_length": 4}),
          "histogram": ({"NELM": "4"}, {"max_length": 4, "dtype": ChannelType.DOUBLE})}
#: Records whose VAL is text or a state (the rest: a number of the VAL field's type).
_STATES = {"bi", "bo", "mbbi", "mbbo"}
_TEXT = {"stringin", "stringout", "event", "state", "lsi", "lso", "printf"}
SHOWN = ("units", "precision", "upper_disp_limit", "lower_disp_limit", "upper_ctrl_limit",
         "lower_ctrl_limit")

TYPES = [rtyp for rtyp in record_types() if rtyp != "motor"]


def _names(rtyp):
    return {f.name for f in fields_of(rtyp)}


def _database(prefix):
    lines = []
    for rtyp in TYPES:
        config = dict(ARRAYS.get(rtyp, ({}, {}))[0])
        config.update({k: v for k, v in DISPLAY.items() if k in _names(rtyp)})
        if rtyp in _STATES:  # the pvproperty's enum_strings
            config.update(zip(("ZNAM", "ONAM") if "ZNAM" in _names(rtyp) else ("ZRST", "ONST"),
                              ("a", "b")))
        body = " ".join(f'field({k}, "{v}")' for k, v in config.items())
        lines.append(f'record({rtyp}, "{prefix}{rtyp}") {{ {body} }}')
    return "\n".join(lines) + "\n"


def _property(rtyp):
    kwargs = {_KEYWORDS[k]: v for k, v in DISPLAY.items() if k in _names(rtyp)}
    if rtyp in ARRAYS:
        return pvproperty(value=[], record=rtyp, **{"dtype": float, **kwargs, **ARRAYS[rtyp][1]})
    if rtyp in _STATES:
        return pvproperty(value="a", record=rtyp, enum_strings=["a", "b"],
                          dtype=ChannelType.ENUM)
    if rtyp in _TEXT:
        return pvproperty(value="", record=rtyp, dtype=ChannelType.STRING)
    value_type = next(f.dbf for f in fields_of(rtyp) if f.name == "VAL")
    value = 0.0 if value_type in (DbfType.DOUBLE, DbfType.FLOAT) else 0
    return pvproperty(value=value, record=rtyp, **kwargs)


Records = type("Records", (PVGroup,), {rtyp: _property(rtyp) for rtyp in TYPES})


def _fields():
    return [(rtyp, f.name) for rtyp in TYPES for f in fields_of(rtyp)
            if f.dbf in NUMERIC and is_served(f)]


def _metadata(epics, prefix, fields=None):
    from epics import ca

    names = [f"{prefix}{rtyp}.{field}" for rtyp, field in fields or _fields()]
    chids = {name: ca.create_channel(name, connect=False, auto_cb=False) for name in names}
    out = {}
    for name, chid in chids.items():
        if not ca.connect_channel(chid, timeout=5):
            out[name[len(prefix):]] = None
            continue
        meta = ca.get_ctrlvars(chid, timeout=5) or {}
        out[name[len(prefix):]] = {key: meta.get(key) for key in (*SHOWN, "enum_strs")}
        ca.clear_channel(chid)
    return out


def test_every_numeric_field_shows_the_limits_softioc_shows(pyepics, mount, unique_prefix):
    port = int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    with running_softioc(_database("FLRSRV:"), port=port):
        theirs = _metadata(pyepics, "FLRSRV:")
    mount(Records(prefix=unique_prefix))
    ours = _metadata(pyepics, unique_prefix)
    differ = [f"{name}: softIoc {theirs[name]}\n{' ' * len(name)}  iochost {ours[name]}"
              for name in theirs if theirs[name] is not None and theirs[name] != ours[name]]
    assert sum(v is not None for v in theirs.values()) > 500   # softIoc answered
    assert not differ, f"{len(differ)} of {len(theirs)} fields differ:\n" + "\n".join(differ)


def test_every_menu_field_offers_the_choices_softioc_offers(pyepics, mount, unique_prefix):
    # DTYP aside: softIoc's build adds device supports of its own (IOC stats, Python)
    menus = [(rtyp, f.name) for rtyp in TYPES for f in fields_of(rtyp)
             if f.dbf in (DbfType.MENU, DbfType.ENUM) and is_served(f)]
    port = int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    with running_softioc(_database("FLMENU:"), port=port):
        theirs = _metadata(pyepics, "FLMENU:", menus)
    mount(Records(prefix=unique_prefix))
    ours = _metadata(pyepics, unique_prefix, menus)
    assert len(theirs) > 300 and None not in theirs.values()
    differ = [f"{name}: softIoc {theirs[name]['enum_strs']}, iochost {ours[name]['enum_strs']}"
              for name in theirs if theirs[name]["enum_strs"] != ours[name]["enum_strs"]]
    assert not differ, "\n".join(differ)

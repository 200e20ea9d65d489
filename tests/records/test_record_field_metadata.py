"""Record fields answer GR/CTRL reads as RSRV does (units, precision, display and control
limits per field and record type), output records clamp to DRVH/DRVL, and an ai's
HOPR/LOPR are its display and control limits -- each checked against softIoc (EPICS'
own IOC in a subprocess) with the same client, caproto's, on both servers.
"""
import importlib.util
import os

import pytest
from softioc_process import running_softioc
from test_group_helpers import Client

from iochost import PVGroup, pvproperty

if importlib.util.find_spec("softioc") is None:
    pytest.skip("softioc is not installed", allow_module_level=True)

DB = """
record(ai, "{p}ai") { field(VAL, "1.5") field(EGU, "mm") field(PREC, "3") field(HOPR, "10")
  field(LOPR, "-10") field(HIHI, "8") field(LOLO, "-8") field(HHSV, "MAJOR") }
record(ai, "{p}ctl") { field(VAL, "2") field(EGU, "V") field(PREC, "1") field(HOPR, "5")
  field(LOPR, "-5") }
record(ao, "{p}ao") { field(VAL, "1.5") field(EGU, "mm") field(PREC, "3") field(HOPR, "10")
  field(LOPR, "-10") field(DRVH, "7") field(DRVL, "-7") }
record(longin, "{p}li") { field(VAL, "1") field(EGU, "cts") field(HOPR, "10")
  field(LOPR, "-10") }
record(longout, "{p}lo") { field(VAL, "1") field(EGU, "cts") field(HOPR, "10")
  field(LOPR, "-10") field(DRVH, "7") field(DRVL, "-7") }
"""


class Same(PVGroup):
    """The records of DB as pvproperties."""

    ai = pvproperty(value=1.5, record="ai", units="mm", precision=3, upper_disp_limit=10.0,
                    lower_disp_limit=-10.0, upper_alarm_limit=8.0, lower_alarm_limit=-8.0)
    # control limits alone: an ai shows them as HOPR/LOPR (RSRV's ai has no others)
    ctl = pvproperty(value=2.0, record="ai", units="V", precision=1, upper_ctrl_limit=5.0,
                     lower_ctrl_limit=-5.0)
    ao = pvproperty(value=1.5, record="ao", units="mm", precision=3, upper_disp_limit=10.0,
                    lower_disp_limit=-10.0, upper_ctrl_limit=7.0, lower_ctrl_limit=-7.0)
    li = pvproperty(value=1, record="longin", units="cts", upper_disp_limit=10,
                    lower_disp_limit=-10)
    lo = pvproperty(value=1, record="longout", units="cts", upper_disp_limit=10,
                    lower_disp_limit=-10, upper_ctrl_limit=7, lower_ctrl_limit=-7)


FIELDS = {
    "ai": ["VAL", "HIHI", "LOLO", "HOPR", "LOPR", "MDEL", "ADEL", "HYST", "ASLO", "SMOO",
           "EGUF", "RVAL", "PREC", "ALST"],
    "ctl": ["VAL", "HOPR", "LOPR", "HIHI"],
    "ao": ["VAL", "DRVH", "DRVL", "HIHI", "HOPR", "LOPR", "OVAL", "OROC", "MDEL", "ASLO",
           "PREC"],
    "li": ["VAL", "HIHI", "HOPR", "LOPR", "MDEL"],
    "lo": ["VAL", "DRVH", "DRVL", "HOPR", "LOPR", "HIHI"],
}
#: Fields whose values the two IOCs share (others hold what each computed or defaults).
VALUES = {"VAL", "HOPR", "LOPR", "DRVH", "DRVL", "LOLO", "PREC"}
SHOWN = ("units", "precision", "upper_disp_limit", "lower_disp_limit", "upper_ctrl_limit",
         "lower_ctrl_limit")


def ctrl(client, name):
    reading = client.read(name, data_type="control")
    meta = {key: getattr(reading.metadata, key) for key in SHOWN
            if hasattr(reading.metadata, key)}
    return reading.data.tolist() if hasattr(reading.data, "tolist") else reading.data, meta


def readings(client, prefix):
    return {f"{record}.{field}": ctrl(client, f"{prefix}{record}.{field}")
            for record, fields in FIELDS.items() for field in fields}


def clamped(client, prefix):
    """Puts beyond DRVH/DRVL: the value kept and the severity after."""
    out = {}
    for record, value in (("ao", 100.0), ("lo", -100)):
        assert client.write(prefix + record, value) == "ECA_NORMAL"
        status = client.read(prefix + record, data_type="status")
        out[record] = (status.data.tolist(), int(status.metadata.severity))
    return out


@pytest.fixture(scope="module")
def rsrv(caproto_context):
    """softIoc's answers, on the port clients search for subprocess servers."""
    port = int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    client = Client(caproto_context)
    with running_softioc(DB.replace("{p}", "RSRV:"), port=port):
        answers = readings(client, "RSRV:"), clamped(client, "RSRV:")
    client.close()
    return answers


@pytest.fixture
def ours(mount, unique_prefix):
    mount(Same(prefix=unique_prefix))
    return unique_prefix


def test_field_metadata_as_rsrv_serves_it(rsrv, ours, client):
    theirs, mine = rsrv[0], readings(client, ours)
    assert mine.keys() == theirs.keys()
    for key in mine:
        assert mine[key][1] == theirs[key][1], key
        if key.partition(".")[2] in VALUES:
            assert mine[key][0] == theirs[key][0], key


def test_motor_field_units_follow_the_record(mount, unique_prefix, client):
    # The motor record's get_units: EGU on every field, EGU/sec on velocities, sec on ACCL.
    class M(PVGroup):
        m = pvproperty(value=0.0, record="motor", units="mm", precision=4)
    mount(M(prefix=unique_prefix))
    assert ctrl(client, unique_prefix + "m.RBV")[1]["units"] == b"mm"
    assert ctrl(client, unique_prefix + "m.RBV")[1]["precision"] == 4
    assert ctrl(client, unique_prefix + "m.VELO")[1]["units"] == b"mm/sec"
    assert ctrl(client, unique_prefix + "m.ACCL")[1]["units"] == b"sec"


def test_outputs_clamp_to_drive_limits_without_alarm(rsrv, ours, client):
    assert clamped(client, ours) == rsrv[1] == {"ao": ([7.0], 0), "lo": ([-7], 0)}


def test_plain_pvproperty_keeps_refusing_beyond_control_limits(mount, unique_prefix, client):
    class Plain(PVGroup):
        x = pvproperty(value=1.0, upper_ctrl_limit=7.0, lower_ctrl_limit=-7.0)
    mount(Plain(prefix=unique_prefix))
    assert client.write(unique_prefix + "x", 100.0) == "ECA_PUTFAIL"
    assert client.value(unique_prefix + "x") == 1.0

"""The examples that need record fields -- records, enums, scan_rate, mini_beamline -- over
Channel Access (in the session's server), and one as ``python -m`` subprocess."""
import signal
import time

from iochost.testing import wait_until
from iochost_examples import enums, mini_beamline, records, scan_rate

from iochost import ChannelType
from iochost.ca.dbr import DBE_PROPERTY
from iochost.pv.alarms import AlarmSeverity, AlarmStatus


def text(client, name):
    return client.read(name, data_type=ChannelType.STRING).data[0].decode()


def put_text(client, name, value):
    return client.write(name, value, data_type=ChannelType.STRING)


def test_records(mount, unique_prefix, client):
    ioc = mount(records.RecordsIOC(prefix=unique_prefix))
    p = ioc.prefix
    assert [client.value(p + n + ".RTYP") for n in "ABCE"] == ["ai", "ao", "ai", "stringin"]
    assert (client.value(p + "C.DESC"), client.value(p + "C.EGU")) == ("Limits and alarms", "mm")
    assert (client.value(p + "C.HIHI"), client.value(p + "C.LOW")) == (2.0, -1.0)
    assert client.write(p + "C", 2.5) == "ECA_NORMAL"
    assert (ioc.C.alarm.status, ioc.C.alarm.severity) == (AlarmStatus.HIHI,
                                                          AlarmSeverity.MAJOR)
    assert client.write(p + "C", 5.0) == "ECA_PUTFAIL"            # past DRVH
    assert client.write(p + "A.RVAL", 7) == "ECA_NORMAL"           # the field putter
    assert (ioc.A.value, ioc.B.value) == (7.0, 17.0)
    assert client.write(p + "B", 1.0) == "ECA_PUTFAIL"
    assert text(client, p + "B.STAT") == "WRITE"
    assert client.value(p + "E.VAL") == "some text"


def test_enums(mount, unique_prefix, client):
    ioc = mount(enums.EnumIOC(prefix=unique_prefix))
    p = ioc.prefix
    assert [client.value(p + "bo." + f) for f in ("ZNAM", "ONAM")] == ["Open", "Closed"]
    assert [client.value(p + "mbbi." + f) for f in ("ZRST", "THST", "FRST")] == [
        "zero", "three", ""]
    assert [client.value(p + "mode." + f) for f in ("ZRST", "ONST", "TWST")] == [
        "off", "on", "unknown"]
    assert text(client, p + "mode") == "on"
    properties = client.monitor(p + "bo", DBE_PROPERTY, data_type="control")
    properties.wait_for(1)
    assert client.write(p + "bo.ZNAM", "Opened") == "ECA_NORMAL"
    assert tuple(properties.wait_for(2)[-1].metadata.enum_strings) == (b"Opened", b"Closed")
    assert put_text(client, p + "bo", "Opened") == "ECA_NORMAL"
    assert ioc.bo.value == "Opened"


def test_scan_rate(mount, unique_prefix, client):
    ioc = mount(scan_rate.ScanRateIOC(prefix=unique_prefix))
    p = ioc.prefix
    wait_until(lambda: ioc.scanned.scan_period == 1.0, what="the scan to start")
    assert text(client, p + "scanned.SCAN") == "1 second"
    assert put_text(client, p + "scanned.SCAN", ".1 second") == "ECA_NORMAL"
    start = client.value(p + "count")
    wait_until(lambda: client.value(p + "count") >= start + 4, timeout=2.0,
               what="four scans at 10 Hz")
    assert 0.05 < client.value(p + "scanned") < 0.2
    assert put_text(client, p + "scanned.SCAN", "Passive") == "ECA_NORMAL"
    time.sleep(0.15)
    paused = client.value(p + "count")
    time.sleep(0.3)
    assert client.value(p + "count") == paused


def test_mini_beamline(mount, unique_prefix, client):
    ioc = mount(mini_beamline.MiniBeamline(prefix=unique_prefix))
    p = ioc.prefix
    assert client.value(p + "mtr.RTYP") == "motor"
    wait_until(lambda: client.value(p + "mtr.VELO") == 1.0, what="the motor's start-up")
    started = time.monotonic()
    assert client.write(p + "mtr", 0.5) == "ECA_NORMAL"             # ~0.7 s at 1 mm/s
    assert time.monotonic() - started > 0.5     # the put completes when the move ends
    assert client.value(p + "mtr.DMOV") == 1
    assert client.value(p + "mtr.RBV") == 0.5
    assert client.write(p + "mtr.VELO", 5.0) == "ECA_NORMAL"
    assert client.write(p + "acquire", 1) == "ECA_NORMAL"          # shutter closed
    assert client.value(p + "det") == 0.0
    assert put_text(client, p + "shutter", "Open") == "ECA_NORMAL"
    assert client.write(p + "exposure", 0.05) == "ECA_NORMAL"
    assert client.write(p + "acquire", 1) == "ECA_NORMAL"
    off_centre = client.value(p + "det")
    assert client.write(p + "mtr", 0.0) == "ECA_NORMAL"
    wait_until(lambda: client.value(p + "mtr.DMOV") == 1 and client.value(p + "mtr.RBV") == 0)
    assert client.write(p + "acquire", 1) == "ECA_NORMAL"
    on_centre = client.value(p + "det")
    assert on_centre > 10 * off_centre > 0
    assert text(client, p + "acquire") == "Done"
    assert put_text(client, p + "current.SCAN", ".1 second") == "ECA_NORMAL"
    first = client.value(p + "current")
    wait_until(lambda: client.value(p + "current") < first, timeout=2.0, what="decay")


def test_scan_rate_standalone(run_example, unique_prefix, client):
    ioc = run_example("scan_rate", "--prefix", unique_prefix)
    name = unique_prefix + "scanned"
    assert put_text(client, name + ".SCAN", ".1 second") == "ECA_NORMAL"
    wait_until(lambda: 0.05 < client.value(name) < 0.2, timeout=3.0, what="10 Hz scans")
    assert ioc.stop(signal.SIGINT) == 0

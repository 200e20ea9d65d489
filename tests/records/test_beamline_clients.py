"""The demo beamline (``iochost_examples.mini_beamline``) driven as a beamline drives it:
ophyd (on pyepics, EPICS' libca) and bluesky plans whose documents event-model's schemas
validate.  The checks that apply to plain ai/ao/bo records run against softIoc too (EPICS'
own IOC in a subprocess), and both must agree.

Moves are kept short (high VELO) and every wait has a timeout.
"""
import importlib.util
import os
import threading
import time

import event_model
import ophyd
import pytest
from bluesky import RunEngine
from bluesky.plans import count, scan
from iochost_examples.mini_beamline import MiniBeamline
from ophyd import Component as Cpt
from ophyd import Device, EpicsMotor, EpicsSignal, EpicsSignalRO
from ophyd.utils.errors import LimitError
from softioc_process import running_softioc

from iochost.pv import start_group, stop_group
from iochost.testing import wait_until

ophyd.set_cl("pyepics")   # ophyd's control layer: pyepics (libca), before any signal

TIMEOUT = 10.0
SOFTIOC_DB = """
record(ai, "{p}current") { field(VAL, "500") field(EGU, "mA") field(PREC, "2") }
record(ao, "{p}exposure") { field(VAL, "0.1") field(EGU, "s") field(PREC, "2")
  field(DRVL, "0.01") field(DRVH, "10") }
record(bo, "{p}shutter") { field(ZNAM, "Closed") field(ONAM, "Open") }
"""
DESCRIBED = ("dtype", "shape", "units", "precision", "lower_ctrl_limit", "upper_ctrl_limit",
             "enum_strs")


class PinholeDetector(Device):
    """The beamline's detector: Acquire (a busy record) with completion, then the counts."""

    acquire = Cpt(EpicsSignal, "acquire", put_complete=True, kind="omitted")
    counts = Cpt(EpicsSignalRO, "det", kind="hinted")
    exposure = Cpt(EpicsSignal, "exposure", kind="config")

    def trigger(self):
        return self.acquire.set(1, timeout=TIMEOUT)


@pytest.fixture(scope="module")
def beamline(ca_server, pyepics):
    EpicsSignal.set_defaults(timeout=TIMEOUT, connection_timeout=TIMEOUT,
                             write_timeout=TIMEOUT)
    ioc = MiniBeamline(prefix="OPH:bl:")
    ca_server.add(ioc.pvdb)
    ca_server.call(start_group(ioc))
    yield ioc
    ca_server.call(stop_group(ioc))
    ca_server.remove(list(ioc.pvdb))


@pytest.fixture(scope="module")
def motor(beamline):
    motor = EpicsMotor("OPH:bl:mtr", name="mtr")
    motor.wait_for_connection(timeout=TIMEOUT)
    motor.velocity.put(20.0, wait=True)
    motor.acceleration.put(0.02, wait=True)
    return motor


@pytest.fixture(scope="module")
def detector(beamline):
    det = PinholeDetector("OPH:bl:", name="det")
    det.wait_for_connection(timeout=TIMEOUT)
    det.exposure.put(0.02, wait=True)
    EpicsSignal("OPH:bl:shutter", name="shutter").put("Open", wait=True)
    return det


@pytest.fixture(scope="module")
def softioc_prefix(pyepics):
    port = int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    if importlib.util.find_spec("softioc") is None:
        pytest.skip("softioc is not installed")
    with running_softioc(SOFTIOC_DB.replace("{p}", "SIOC:bl:"), port=port):
        yield "SIOC:bl:"


def test_epics_motor_moves_and_set_waits(motor):
    motor.move(1.0, wait=True, timeout=TIMEOUT)
    assert motor.position == pytest.approx(1.0)
    assert motor.motor_done_move.get() == 1 and motor.motor_is_moving.get() == 0
    status = motor.set(-0.5)
    status.wait(TIMEOUT)
    assert status.success and motor.position == pytest.approx(-0.5)
    assert motor.user_setpoint.get() == pytest.approx(-0.5)


def test_stop_during_a_move(motor):
    motor.velocity.put(2.0, wait=True)
    try:
        status = motor.set(3.0)
        wait_until(lambda: motor.motor_is_moving.get() == 1, timeout=TIMEOUT,
                   what="the move")
        time.sleep(0.2)
        motor.stop()
        wait_until(lambda: status.done, timeout=TIMEOUT, what="the stopped move's status")
        wait_until(lambda: motor.motor_done_move.get() == 1, timeout=TIMEOUT)
        stopped = motor.position
        assert -0.5 < stopped < 3.0
        time.sleep(0.2)
        assert motor.position == pytest.approx(stopped)
    finally:
        motor.velocity.put(20.0, wait=True)
    motor.move(0.0, wait=True, timeout=TIMEOUT)


def test_soft_limits_raise_limit_error(motor):
    assert motor.limits == (-10.0, 10.0)
    with pytest.raises(LimitError):
        motor.move(20.0, wait=True, timeout=TIMEOUT)
    assert motor.position == pytest.approx(0.0, abs=1e-9) or motor.motor_done_move.get()


def test_set_current_position_redefines_without_moving(motor):
    motor.move(0.5, wait=True, timeout=TIMEOUT)
    motor.set_current_position(5.0)
    wait_until(lambda: motor.position == pytest.approx(5.0), timeout=TIMEOUT,
               what="the new position")
    assert motor.user_offset.get() == pytest.approx(4.5)
    assert (motor.low_limit_travel.get(), motor.high_limit_travel.get()) == (-5.5, 14.5)
    motor.set_current_position(0.5)
    assert motor.user_offset.get() == pytest.approx(0.0)
    motor.move(0.0, wait=True, timeout=TIMEOUT)


def test_alarm_on_one_record_does_not_fail_a_motor_move(beamline, motor):
    lolo = EpicsSignal("OPH:bl:current.LOLO", name="lolo")
    hihi = EpicsSignal("OPH:bl:current.HIHI", name="hihi")
    current = EpicsSignalRO("OPH:bl:current.SEVR", name="current")
    current.wait_for_connection(timeout=TIMEOUT)
    try:
        hihi.put(10000.0, wait=True)
        lolo.put(9000.0, wait=True)          # the ring current is now below LOLO
        wait_until(lambda: current.get(use_monitor=False, as_string=False) == 2,
                   timeout=TIMEOUT, what="LOLO")
        status = motor.set(0.3)
        status.wait(TIMEOUT)
        assert status.success and motor.position == pytest.approx(0.3)
        assert current.get(use_monitor=False, as_string=False) == 2   # its own alarm
    finally:
        lolo.put(0.0, wait=True)
        hihi.put(0.0, wait=True)
    motor.move(0.0, wait=True, timeout=TIMEOUT)


def test_motor_describe_has_units_and_precision(motor):
    description = motor.describe()["mtr"]
    assert description["units"] == "mm" and description["precision"] == 3
    rbv = EpicsSignalRO("OPH:bl:mtr.RBV", name="rbv")
    rbv.wait_for_connection(timeout=TIMEOUT)
    assert (rbv.describe()["rbv"]["units"], rbv.describe()["rbv"]["precision"]) == ("mm", 3)


def _described(prefix, name):
    signal = EpicsSignal(prefix + name, name=name)
    signal.wait_for_connection(timeout=TIMEOUT)
    description = signal.describe()[name]
    return {key: description.get(key) for key in DESCRIBED}


def test_describe_agrees_with_softioc(beamline, softioc_prefix):
    for name in ("current", "exposure", "shutter"):
        assert _described("OPH:bl:", name) == _described(softioc_prefix, name), name


def test_puts_beyond_drvh_clamp_like_softioc(beamline, softioc_prefix):
    results = []
    for prefix in ("OPH:bl:", softioc_prefix):
        exposure = EpicsSignal(prefix + "exposure", name="exposure")
        exposure.wait_for_connection(timeout=TIMEOUT)
        exposure.put(100.0, wait=True)
        severity = EpicsSignalRO(prefix + "exposure.SEVR", name="sevr")
        severity.wait_for_connection(timeout=TIMEOUT)
        results.append((exposure.get(use_monitor=False),
                        severity.get(use_monitor=False, as_string=False)))
        exposure.put(0.02, wait=True)
    assert results[0] == results[1] == (10.0, 0)


def test_an_alarm_on_one_record_leaves_the_others_alone_like_softioc(beamline,
                                                                      softioc_prefix):
    for prefix in ("OPH:bl:", softioc_prefix):
        lolo = EpicsSignal(prefix + "current.LOLO", name="lolo")
        hihi = EpicsSignal(prefix + "current.HIHI", name="hihi")
        llsv = EpicsSignal(prefix + "current.LLSV", name="llsv")
        current = EpicsSignalRO(prefix + "current.SEVR", name="current")
        exposure = EpicsSignalRO(prefix + "exposure.SEVR", name="exposure")
        for signal in (lolo, hihi, llsv, current, exposure):
            signal.wait_for_connection(timeout=TIMEOUT)
        try:
            llsv.put("MAJOR", wait=True)        # softIoc's default is NO_ALARM
            hihi.put(10000.0, wait=True)
            lolo.put(9000.0, wait=True)
            if prefix == softioc_prefix:        # softIoc evaluates on processing
                EpicsSignal(prefix + "current.PROC", name="proc").put(1, wait=True)
            def in_alarm(current=current):
                return current.get(use_monitor=False, as_string=False) == 2
            wait_until(in_alarm, timeout=TIMEOUT, what=prefix)
            assert exposure.get(use_monitor=False, as_string=False) == 0, prefix
        finally:
            lolo.put(0.0, wait=True)
            hihi.put(0.0, wait=True)


def _validated_run(plan):
    documents = []
    RE = RunEngine({}, call_returns_result=False)
    RE(plan, lambda name, doc: documents.append((name, doc)))
    for name, doc in documents:
        event_model.schema_validators[event_model.DocumentNames[name]].validate(doc)
    return documents


def test_bluesky_count_documents_validate(detector):
    documents = _validated_run(count([detector], num=3))
    names = [name for name, _ in documents]
    assert names[0] == "start" and names[-1] == "stop" and names.count("event") == 3
    assert documents[-1][1]["exit_status"] == "success"
    descriptor = next(doc for name, doc in documents if name == "descriptor")
    assert descriptor["data_keys"]["det_counts"]["units"] == "counts"


def test_bluesky_scan_documents_validate(detector, motor):
    documents = _validated_run(scan([detector], motor, -0.2, 0.2, 3))
    events = [doc for name, doc in documents if name == "event"]
    assert [event["data"]["mtr"] for event in events] == pytest.approx([-0.2, 0.0, 0.2])
    assert events[1]["data"]["det_counts"] > events[0]["data"]["det_counts"]
    descriptor = next(doc for name, doc in documents if name == "descriptor")
    assert descriptor["data_keys"]["mtr"]["units"] == "mm"
    assert descriptor["data_keys"]["mtr"]["precision"] == 3
    assert documents[-1][1]["exit_status"] == "success"
    assert threading.active_count() < 100

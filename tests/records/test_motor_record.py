"""The motor record's behaviour (``iochost.records.motor``) over Channel Access, with
caproto's client: limits and LVIO, DMOV/MOVN once per move, put-completion at the end,
readbacks during the move, STOP/SPMG, SET mode, DIR/OFF, VELO/ACCL/BDST."""
import time
from typing import ClassVar

import pytest
from test_group_helpers import TIMEOUT

from iochost import PVGroup, pvproperty
from iochost.ca.dbr import DBE_VALUE
from iochost.records import SimMotor
from iochost.testing import wait_until


class FastMotor(SimMotor):
    __slots__ = ()
    initial_fields: ClassVar[dict[str, float]] = {**SimMotor.initial_fields, "VELO": 10.0,
                                                  "ACCL": 0.05}


class Stage(PVGroup):
    m = pvproperty(value=0.0, record=FastMotor, units="mm", precision=3,
                   lower_ctrl_limit=-5.0, upper_ctrl_limit=5.0)


@pytest.fixture
def stage(mount, unique_prefix):
    return mount(Stage(prefix=unique_prefix))


def values(events):
    return [event.data[0] for event in events]


def test_a_move_posts_dmov_and_movn_once_and_completes_at_its_end(stage, client):
    m = stage.prefix + "m"
    dmov = client.monitor(m + ".DMOV", DBE_VALUE)
    movn = client.monitor(m + ".MOVN", DBE_VALUE)
    rbv = client.monitor(m + ".RBV", DBE_VALUE)
    dmov.wait_for(1), movn.wait_for(1), rbv.wait_for(1)
    started = time.monotonic()
    assert client.write(m, 2.0) == "ECA_NORMAL"        # 2 mm at 10 mm/s, ACCL 0.05 s
    took = time.monotonic() - started
    assert 0.2 <= took < 2.0
    assert client.value(m + ".RBV") == 2.0 and client.value(m + ".DMOV") == 1
    assert values(dmov.settle(0.2)) == [1, 0, 1]
    assert values(movn.settle(0)) == [0, 1, 0]
    positions = values(rbv.settle(0))
    assert len(positions) >= 4 and positions[-1] == 2.0      # updates during the move
    assert positions == sorted(positions)
    assert client.value(m + ".DRBV") == 2.0 and client.value(m + ".RRBV") == 2000


def test_limits_are_vals_control_limits_and_a_put_beyond_sets_lvio(stage, client):
    m = stage.prefix + "m"
    ctrl = client.read(m, data_type="control").metadata
    assert (ctrl.lower_ctrl_limit, ctrl.upper_ctrl_limit) == (-5.0, 5.0)
    assert (client.value(m + ".HLM"), client.value(m + ".LLM")) == (5.0, -5.0)
    dmov = client.monitor(m + ".DMOV", DBE_VALUE)
    dmov.wait_for(1)
    assert client.write(m, 7.0) == "ECA_NORMAL"          # accepted, as the motor record
    assert client.value(m + ".LVIO") == 1
    assert client.value(m) == 0.0 and client.value(m + ".RBV") == 0.0
    assert values(dmov.settle(0.2)) == [1]                # no move
    assert client.write(m + ".HLM", 8.0) == "ECA_NORMAL"
    assert client.read(m, data_type="control").metadata.upper_ctrl_limit == 8.0
    assert client.value(m + ".DHLM") == 8.0
    assert client.write(m, 1.0) == "ECA_NORMAL"
    assert client.value(m + ".LVIO") == 0 and client.value(m + ".RBV") == 1.0


def test_stop_during_a_move_stops_at_once(stage, client):
    m = stage.prefix + "m"
    assert client.write(m + ".VELO", 1.0) == "ECA_NORMAL"
    client.pv(m).write(4.0, wait=False)
    wait_until(lambda: client.value(m + ".MOVN") == 1, what="the move")
    time.sleep(0.2)
    assert client.write(m + ".STOP", 1) == "ECA_NORMAL"
    assert client.value(m + ".DMOV") == 1 and client.value(m + ".STOP") == 0
    stopped = client.value(m + ".RBV")
    assert 0.0 < stopped < 1.0
    assert client.value(m) == stopped                     # VAL := RBV
    time.sleep(0.2)
    assert client.value(m + ".RBV") == stopped


def test_spmg_pause_then_go_resumes_and_stop_stops(stage, client):
    m = stage.prefix + "m"
    assert client.write(m + ".VELO", 2.0) == "ECA_NORMAL"
    client.pv(m).write(1.0, wait=False)
    wait_until(lambda: client.value(m + ".MOVN") == 1, what="the move")
    assert client.write(m + ".SPMG", 1) == "ECA_NORMAL"   # Pause
    paused = client.value(m + ".RBV")
    assert client.value(m + ".DMOV") == 1 and paused < 1.0 and client.value(m) == 1.0
    assert client.write(m + ".SPMG", 3) == "ECA_NORMAL"   # Go: the move resumes
    wait_until(lambda: client.value(m + ".RBV") == 1.0, what="the resumed move")
    assert client.write(m + ".SPMG", 0) == "ECA_NORMAL"   # Stop: no more moves
    assert client.write(m, 2.0) == "ECA_NORMAL"
    assert client.value(m) == 1.0 and client.value(m + ".RBV") == 1.0


def test_set_mode_redefines_without_moving(stage, client):
    m = stage.prefix + "m"
    dmov = client.monitor(m + ".DMOV", DBE_VALUE)
    dmov.wait_for(1)
    assert client.write(m + ".SET", 1) == "ECA_NORMAL"
    assert client.write(m, 3.0) == "ECA_NORMAL"
    assert client.write(m + ".SET", 0) == "ECA_NORMAL"
    assert client.value(m + ".RBV") == 3.0 and client.value(m + ".DRBV") == 0.0
    assert client.value(m + ".OFF") == 3.0                 # FOFF Variable: the offset moved
    assert (client.value(m + ".HLM"), client.value(m + ".LLM")) == (8.0, -2.0)
    assert values(dmov.settle(0.2)) == [1]
    # FOFF Frozen: the dial position is redefined instead
    assert client.write(m + ".FOFF", 1) == "ECA_NORMAL"
    assert client.write(m + ".SET", 1) == "ECA_NORMAL"
    assert client.write(m, 4.0) == "ECA_NORMAL"
    assert client.write(m + ".SET", 0) == "ECA_NORMAL"
    assert (client.value(m + ".RBV"), client.value(m + ".DRBV")) == (4.0, 1.0)
    assert client.value(m + ".OFF") == 3.0


def test_dir_and_off_map_user_to_dial(stage, client):
    m = stage.prefix + "m"
    assert client.write(m + ".OFF", 1.0) == "ECA_NORMAL"
    assert client.write(m + ".DIR", 1) == "ECA_NORMAL"    # Neg
    assert (client.value(m + ".HLM"), client.value(m + ".LLM")) == (6.0, -4.0)
    assert client.write(m, -1.0) == "ECA_NORMAL"          # dial = -(user - OFF) = 2
    assert (client.value(m + ".RBV"), client.value(m + ".DRBV")) == (-1.0, 2.0)
    assert client.value(m + ".DVAL") == 2.0


def test_velocity_acceleration_and_backlash_are_honoured(stage, client):
    m = stage.prefix + "m"
    assert client.write(m + ".VELO", 4.0) == "ECA_NORMAL"
    assert client.write(m + ".ACCL", 0.25) == "ECA_NORMAL"
    started = time.monotonic()
    assert client.write(m, 2.0) == "ECA_NORMAL"          # 0.5 s cruise + 0.25 s ramps
    assert 0.7 <= time.monotonic() - started < 0.7 + TIMEOUT / 5
    assert client.write(m + ".BDST", 0.5) == "ECA_NORMAL"
    assert client.write(m + ".ACCL", 0.0) == "ECA_NORMAL"
    assert client.write(m + ".VELO", 5.0) == "ECA_NORMAL"
    drbv = client.monitor(m + ".DRBV", DBE_VALUE)
    drbv.wait_for(1)
    assert client.write(m, 1.0) == "ECA_NORMAL"          # against BDST: via 0.5, then up
    seen = values(drbv.settle(0.1))
    assert min(seen) < 1.0 - 0.2 and seen[-1] == 1.0
    assert seen.index(min(seen)) < len(seen) - 1


def test_a_new_target_during_a_move_retargets_it(stage, client, ca_server):
    m = stage.prefix + "m"
    assert client.write(m + ".VELO", 2.0) == "ECA_NORMAL"
    dmov = client.monitor(m + ".DMOV", DBE_VALUE)
    dmov.wait_for(1)
    client.pv(m).write(3.0, wait=False)
    wait_until(lambda: client.value(m + ".MOVN") == 1, what="the move")
    # The server applies one client channel's puts in order, so the new target comes
    # from the IOC (another client's channel would do the same).
    ca_server.call(stage.m.write(0.5))
    assert client.value(m + ".RBV") == 0.5
    assert values(dmov.settle(0.2)) == [1, 0, 1]

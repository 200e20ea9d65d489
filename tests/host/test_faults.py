"""Faults of IOC code seen from outside: the mount's STATE PV, the failed PV's alarm, the
log (ERROR with traceback for a bug, one WARNING line for a refusal, rate-limited), and the
text a CA client gets back. Clients: pyepics (libca) and caproto."""
import logging

import pytest

from iochost import PVGroup, pvproperty
from iochost.host import hookimpl, load_plugins
from iochost.pv.data_errors import ChannelValueError
from iochost.pv.faults import LOG_BURST
from iochost.testing import wait_until

INVALID, SOFT, NO_ALARM = 3, 15, 0


class Picky(PVGroup):
    """Its putters fail in each of the ways an IOC's code can."""

    BUGGY = pvproperty(value=0)
    PICKY = pvproperty(value=0)

    @BUGGY.putter
    async def BUGGY(self, instance, value):
        return 1 / 0

    @PICKY.putter
    async def PICKY(self, instance, value):
        if value > 10:
            raise ChannelValueError(f"{value} is above the oven's limit of 10")
        return value


class PickyPlugin:
    @staticmethod
    @hookimpl
    def iochost_register_iocs(register):
        register("picky", Picky)


@pytest.fixture
def make_host(start_host_on_server, plugin_site, clean_env):
    catalog = load_plugins(blocked=["broken-import"], extra_plugins={"picky": PickyPlugin})
    return lambda mounts_yaml: start_host_on_server(mounts_yaml, catalog)


def alarm_of(caproto_context, pvname):
    pv, = caproto_context.get_pvs(pvname, timeout=5)
    metadata = pv.read(data_type="time", timeout=5).metadata
    return metadata.status, metadata.severity


def test_a_failed_startup_hook_shows_as_degraded_and_invalid_until_a_write(
        make_host, pyepics, unique_prefix, caplog, caproto_context):
    P = unique_prefix
    with caplog.at_level(logging.ERROR):
        host = make_host("""\
            mounts:
              - {name: sick, ioc: test-counter, prefix: "$(P)SICK:",
                 options: {fail_startup: true}}
              - {name: well, ioc: test-counter, prefix: "$(P)WELL:"}
            """)
        assert wait_until(lambda: host.mounts["sick"].state == "degraded")
    # what an operator sees over CA: the STATE PV, and the alarm of the PV whose hook failed
    assert wait_until(lambda: pyepics.caget(P + "HOST:MOUNT:sick:STATE", as_string=True,
                                            use_monitor=False) == "degraded")
    assert pyepics.caget(P + "HOST:MOUNT:well:STATE", as_string=True) == "running"
    assert alarm_of(caproto_context, P + "SICK:COUNT") == (SOFT, INVALID)
    assert host.suspended_tasks == 1 and host.mounts["sick"].faults == {
        f"{P}SICK:COUNT": "startup hook"}
    sick = host.to_json()["mounts"][1]
    assert sick["state"] == "degraded"   # and why, for the web page and /api/mounts
    assert sick["error"] == f"startup hook of {P}SICK:COUNT: RuntimeError: sensor offline"
    failure = next(r for r in caplog.records if "[mount sick]" in r.getMessage())
    assert failure.levelno == logging.ERROR and failure.exc_info is not None
    assert f"startup hook of {P}SICK:COUNT failed: RuntimeError: sensor offline" in \
        failure.getMessage()
    # a later write clears the alarm, and the mount is running again
    assert pyepics.caput(P + "SICK:COUNT", 3, wait=True, timeout=5) == 1
    assert alarm_of(caproto_context, P + "SICK:COUNT") == (NO_ALARM, NO_ALARM)
    assert host.mounts["sick"].state == "running"
    assert host.mounts["sick"].to_json()["error"] is None
    assert wait_until(lambda: pyepics.caget(P + "HOST:MOUNT:sick:STATE", as_string=True,
                                            use_monitor=False) == "running")


def test_a_putter_bug_is_logged_with_traceback_mount_and_pv_rate_limited(
        make_host, pyepics, unique_prefix, caplog):
    P = unique_prefix
    make_host("""\
        mounts:
          - {name: oven, ioc: picky, prefix: "$(P)"}
        """)
    with caplog.at_level(logging.INFO):
        for value in range(LOG_BURST + 5):     # a client hammering a broken PV
            pyepics.caput(P + "BUGGY", value, wait=True, timeout=5)
    errors = [r for r in caplog.records if "putter of" in r.getMessage()]
    assert len(errors) == LOG_BURST            # then one per LOG_INTERVAL, saying how many
    assert errors[0].levelno == logging.ERROR and errors[0].exc_info is not None
    assert errors[0].getMessage() == \
        f"[mount oven] putter of {P}BUGGY failed: ZeroDivisionError: division by zero"


def test_a_deliberate_refusal_is_one_warning_line_and_the_client_is_told_why(
        make_host, unique_prefix, caplog, caproto_context):
    P = unique_prefix
    make_host("""\
        mounts:
          - {name: oven, ioc: picky, prefix: "$(P)"}
        """)
    pv, = caproto_context.get_pvs(P + "PICKY", timeout=5)
    with caplog.at_level(logging.INFO):
        response = pv.write([42], wait=True, timeout=5)
    assert response.status.name == "ECA_PUTFAIL"
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in lines] == [(logging.WARNING, None)]
    assert lines[0].getMessage() == (f"[mount oven] put to {P}PICKY refused: "
                                     "ChannelValueError: 42 is above the oven's limit of 10")
    pv.write([5], wait=True, timeout=5)        # an accepted value goes through
    assert pv.read(timeout=5).data[0] == 5

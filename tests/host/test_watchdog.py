"""The event-loop watchdog (iochost.host.watchdog) on a real Host: IOC code that blocks the
loop with ``time.sleep`` is named in one WARNING (function, file:line, mount), rate-limited
per location; counted in the status PVs; a healthy loop logs nothing; the thread ends with
the host."""
import asyncio
import inspect
import logging
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from iochost import PVGroup, pvproperty
from iochost.host import ConfigError, hookimpl, load_config_text, load_plugins
from iochost.testing import wait_until

BLOCK = 0.7
THREAD = "iochost-loop-watchdog"


def read_device(seconds):
    """A blocking driver call, as IOC code makes through a library."""
    time.sleep(seconds)


class Sleeper(PVGroup):
    """A scan hook that blocks the loop for ``block`` seconds each pass; a putter that
    blocks it through ``read_device``."""

    def __init__(self, *args, block: float = 0.0, **kwargs):
        self.block = block
        super().__init__(*args, **kwargs)

    TICK = pvproperty(value=0)
    SLOW = pvproperty(value=0)
    LATER = pvproperty(value=0)

    @TICK.scan(period=0.4)
    async def TICK(self, instance, async_lib):
        if self.block:
            time.sleep(self.block)

    @SLOW.putter
    async def SLOW(self, instance, value):
        read_device(BLOCK)
        return value

    @LATER.putter
    async def LATER(self, instance, value):
        asyncio.get_running_loop().call_soon(read_device, BLOCK)   # no `self` on the stack
        return value


class SleeperPlugin:
    @staticmethod
    @hookimpl
    def iochost_register_iocs(register):
        register("sleeper", Sleeper)


def line_of(function, text):
    """The line of ``text`` in ``function``'s source."""
    lines, first = inspect.getsourcelines(function)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pytest.fixture
def make_host(start_host_on_server, plugin_site, clean_env):
    catalog = load_plugins(blocked=["broken-import"], extra_plugins={"sleeper": SleeperPlugin})
    return lambda mounts_yaml, host_keys="": start_host_on_server(
        mounts_yaml, catalog, "status_prefix: '$(P)HOST:'" + host_keys)


def blocked_lines(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name == "iochost.host" and "event loop blocked" in r.getMessage()]


def test_a_blocking_scan_hook_is_named_with_its_mount_once_per_location(
        make_host, pyepics, unique_prefix, caplog):
    """Two mounts of one IOC class: the block is the culprit's (its group is ``self`` of
    the hook), logged once however often it repeats, with the count suppressed once the
    interval has passed; the status PVs count every block."""
    P = unique_prefix
    with caplog.at_level(logging.INFO):
        host = make_host("""\
            mounts:
              - {name: calm, ioc: sleeper, prefix: "$(P)CALM:"}
              - {name: culprit, ioc: sleeper, prefix: "$(P)BAD:", options: {block: 0.7}}
            """)
        assert wait_until(lambda: host.loop_blocks >= 3, 15)
        lines = blocked_lines(caplog)
        assert len(lines) == 1, lines              # one per location per minute
        where = f"{__file__}:{line_of(Sleeper, 'time.sleep(self.block)')}"
        match = re.fullmatch(r"\[mount culprit\] event loop blocked (\d\.\d\d) s in TICK "
                             r"\((.*)\); every IOC of this host waited", lines[0])
        assert match is not None, lines[0]
        assert match[2] == where
        assert BLOCK - 0.15 < float(match[1]) < BLOCK + 0.5
        assert host.mounts["culprit"].loop_blocks == host.loop_blocks
        assert host.mounts["calm"].loop_blocks == 0
        assert BLOCK - 0.15 < host.loop_max_block < BLOCK + 0.5

        status = P + "HOST:"
        assert wait_until(lambda: pyepics.caget(status + "LOOP_BLOCKS", use_monitor=False,
                                                timeout=3) >= 3, 5)
        assert pyepics.caget(status + "LOOP_MAX_BLOCK", use_monitor=False) > BLOCK - 0.15

        # once the interval has passed, the next block is logged with what was suppressed
        seen = host.loop_blocks
        host.watchdog.limiter.interval = 0.0
        assert wait_until(lambda: len(blocked_lines(caplog)) == 2, 10)
        later = blocked_lines(caplog)[1]
        suppressed = int(re.search(r"\((\d+) similar messages suppressed\)$", later)[1])
        assert suppressed >= seen - 1 >= 2
        assert later.startswith("[mount culprit] event loop blocked ")


def test_a_blocking_library_call_is_named_with_the_ioc_code_that_made_it(
        make_host, pyepics, unique_prefix, caplog):
    """The innermost frame outside the standard library, and the mount's own frame that
    called it; a second location is logged on its own."""
    P = unique_prefix
    with caplog.at_level(logging.INFO):
        host = make_host("""\
            mounts:
              - {name: dev, ioc: sleeper, prefix: "$(P)DEV:"}
            """)
        for value in (1, 2):
            assert pyepics.caput(P + "DEV:SLOW", value, wait=True, timeout=5) == 1
        assert wait_until(lambda: host.loop_blocks >= 2, 5)
    lines = blocked_lines(caplog)
    inner = f"read_device ({__file__}:{line_of(read_device, 'time.sleep')})"
    outer = f"SLOW ({__file__}:{line_of(Sleeper, 'read_device(BLOCK)')})"
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"\[mount dev\] event loop blocked \d\.\d\d s in "
                        rf"{re.escape(inner)}, called from {re.escape(outer)}; every IOC of "
                        rf"this host waited", lines[0]), lines[0]
    assert host.mounts["dev"].loop_blocks == 2


def test_code_called_back_without_its_group_is_named_by_its_module(
        make_host, pyepics, unique_prefix, caplog):
    """A plain callback: no frame has the IOC as ``self``, so the mount is the one whose
    IOC class's module holds the code -- every mount of that class, as it may be any."""
    P = unique_prefix
    with caplog.at_level(logging.INFO):
        host = make_host("""\
            mounts:
              - {name: dev, ioc: sleeper, prefix: "$(P)DEV:"}
              - {name: dev2, ioc: sleeper, prefix: "$(P)DEV2:"}
              - {name: count, ioc: test-counter, prefix: "$(P)N:"}
            """)
        assert pyepics.caput(P + "DEV:LATER", 1, wait=True, timeout=5) == 1
        assert wait_until(lambda: host.loop_blocks == 1, 5)
    inner = f"read_device ({__file__}:{line_of(read_device, 'time.sleep')})"
    assert blocked_lines(caplog) == [
        f"[one of mounts dev, dev2] event loop blocked {host.loop_max_block:.2f} s in "
        f"{inner}; every IOC of this host waited"]
    assert [m.loop_blocks for m in host.mounts.values()] == [0, 0, 0, 0]  # _host too


def test_a_healthy_loop_logs_nothing_and_the_thread_ends_with_the_host(
        ca_server, make_host, pyepics, unique_prefix, caplog):
    P = unique_prefix
    before = sum(t.name == THREAD for t in threading.enumerate())
    with caplog.at_level(logging.INFO):
        host = make_host("""\
            mounts:
              - {name: calm, ioc: sleeper, prefix: "$(P)CALM:"}
              - {name: count, ioc: test-counter, prefix: "$(P)N:"}
            """)
        assert sum(t.name == THREAD for t in threading.enumerate()) == before + 1
        for value in range(20):                       # clients busy, the loop never blocked
            assert pyepics.caput(P + "N:COUNT", value, wait=True, timeout=5) == 1
            time.sleep(0.1)
        assert pyepics.caget(P + "HOST:LOOP_BLOCKS", use_monitor=False, timeout=3) == 0
    assert blocked_lines(caplog) == []
    assert host.loop_blocks == 0
    ca_server.call(host.stop())
    assert sum(t.name == THREAD for t in threading.enumerate()) == before


def test_loop_watchdog_0_turns_it_off_and_a_negative_value_is_a_problem(make_host):
    before = sum(t.name == THREAD for t in threading.enumerate())
    host = make_host("mounts: []\n", host_keys=", loop_watchdog: 0")
    assert host.watchdog is None
    assert sum(t.name == THREAD for t in threading.enumerate()) == before
    with pytest.raises(ConfigError, match=r"host.loop_watchdog: expected a number \(0 or "
                                          r"more\), got an integer -1"):
        load_config_text("host: {loop_watchdog: -1}\n", "t.yaml", environ={})


def test_a_stuck_report_survives_the_mounts_changing_under_it(caplog):
    """The stuck report runs on the watchdog's thread and copies the host's mounts, which
    the loop may be changing (a reload): the copy's RuntimeError must not end the thread
    (the report goes out without a mount's name)."""
    from iochost.host.watchdog import LoopWatchdog, Sample, Site

    def changing():
        raise RuntimeError("dictionary changed size during iteration")

    dog = LoopWatchdog(0.5, changing)
    site = Site("poll", "/site/driver.py", 12, "driver")
    with caplog.at_level(logging.WARNING, "iochost.host"):
        dog._report_stuck(12.0, Sample(0.0, [], [site]))
    assert "event loop blocked for 12 s so far in poll (/site/driver.py:12)" in caplog.text


@pytest.mark.skipif(not hasattr(os, "sched_setscheduler") or
                    not os.path.exists("/proc/thread-self/schedstat"),
                    reason="Linux's scheduler and schedstat tell when a thread waited for CPU")
def test_a_loop_starved_of_cpu_is_said_to_be_starved_not_blamed_on_code(caplog):
    """A loop whose thread is ready to run but gets no processor (a busy machine) beats
    late with no code of the host running: the warning says it was starved of CPU and
    names no code and no mount (it named whatever happened to run)."""
    from iochost.host.watchdog import LoopWatchdog

    cpu = min(os.sched_getaffinity(0))
    dog = LoopWatchdog(0.2, dict)
    done = threading.Event()

    def starved_loop():
        async def main():
            dog.start()       # (its thread as any other: not starved itself)
            # the loop's thread on one CPU, run only when nothing else wants it
            os.sched_setaffinity(0, {cpu})
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            while not done.is_set() and dog.blocks == 0:
                await asyncio.sleep(0.05)
            dog.stop()
        asyncio.run(main())

    def pin():
        os.sched_setaffinity(0, {cpu})

    hogs = [subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 10\n"
                              "while time.time() < end: pass"], preexec_fn=pin)
            for _ in range(2)]
    try:
        with caplog.at_level(logging.WARNING, "iochost.host"):
            thread = threading.Thread(target=starved_loop)
            thread.start()
            thread.join(15)
    finally:
        done.set()
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert dog.blocks >= 1
    assert "starved of CPU: it waited" in dog.last, dog.last
    assert "event loop blocked" in caplog.text and "no code of this host held it" in caplog.text

"""The Host with real CA clients: mounts, run-time mount/unmount, hooks, helpers, status PVs.

Each test mounts into the session's shared in-process server (``ca_server``) under its own
prefix; pyepics (EPICS' libca) is the client.
"""
import logging
import sys
import textwrap

import pytest

from iochost.host import ConfigError, Host, hookimpl, load_config_text, load_plugins
from iochost.testing import wait_until

TIMEOUT = 5.0




@pytest.fixture
def catalog(plugin_site, clean_env):
    return load_plugins(blocked=["broken-import"])


@pytest.fixture
def events(catalog):
    """What the test plugin recorded (its module is fresh for each test)."""
    return sys.modules["iochost_testgood.plugin"].EVENTS


@pytest.fixture
def make_host(start_host_on_server, catalog):
    """``make_host(mounts_yaml, status=True, extra_plugins=None) -> Host`` started on the
    shared server; stopped at teardown. ``$(P)`` is this test's unique PV prefix."""

    def make(mounts_yaml, status=True, extra_plugins=None):
        used = catalog if extra_plugins is None else load_plugins(
            blocked=["broken-import"], extra_plugins=extra_plugins)
        return start_host_on_server(mounts_yaml, used, "status_prefix: '$(P)HOST:'" if status
                                    else "status_prefix: null")
    return make


def test_mounts_serve_their_pvs_to_a_ca_client(make_host, pyepics, unique_prefix, events):
    """Each mount's PVs under its prefix and macros; iochost_ioc_mounted per mount, then
    iochost_host_started (awaited: the test plugin returns a coroutine)."""
    P = unique_prefix
    host = make_host("""\
        mounts:
          - {name: one, ioc: test-counter, prefix: "$(P)ONE:", options: {start: 5, step: 0.5}}
          - {name: two, ioc: test-counter, prefix: "$(P)$(N):", macros: {N: TWO},
             options: {start: 7, label: "in $(N)"}}
          - {name: idle, ioc: test-counter, prefix: "$(P)OFF:", enabled: false}
        """)
    assert wait_until(lambda: pyepics.caget(P + "ONE:COUNT", timeout=2) == 5)
    assert pyepics.caget(P + "ONE:STEP") == 0.5
    assert pyepics.caget(P + "TWO:COUNT") == 7
    assert pyepics.caget(P + "TWO:LABEL", as_string=True) == "in TWO"
    assert pyepics.caput(P + "TWO:COUNT", 11, wait=True, timeout=TIMEOUT) == 1
    assert pyepics.caget(P + "TWO:COUNT", use_monitor=False) == 11
    assert pyepics.caget(P + "ONE:COUNT", use_monitor=False) == 5   # mounts are independent
    assert {name: m.state for name, m in host.mounts.items()} == \
        {"_host": "running", "one": "running", "two": "running", "idle": "disabled"}
    assert "host-started 4" in events and {"mounted one", "mounted two"} <= set(events)


def test_status_pvs_report_the_host(make_host, pyepics, unique_prefix):
    P = unique_prefix
    make_host("""\
        mounts:
          - {name: one, ioc: test-counter, prefix: "$(P)ONE:"}
          - {name: idle, ioc: test-counter, prefix: "$(P)OFF:", enabled: false}
        """)
    status = P + "HOST:"
    assert wait_until(lambda: pyepics.caget(status + "MOUNTS", timeout=2) == 1)
    assert pyepics.caget(status + "PVS") >= 3 + 7 + 2    # counter + status + STATE PVs
    assert wait_until(lambda: pyepics.caget(status + "UPTIME", use_monitor=False) > 0)
    assert pyepics.caget(status + "MEMORY") > 1.0
    assert pyepics.caget(status + "CPU") >= 0.0
    assert pyepics.caget(status + "MOUNT:one:STATE", as_string=True) == "running"
    assert pyepics.caget(status + "MOUNT:idle:STATE", as_string=True) == "disabled"
    assert wait_until(lambda: pyepics.caget(status + "CLIENTS", use_monitor=False) >= 1, 3)
    assert wait_until(lambda: pyepics.caget(status + "CHANNELS", use_monitor=False) >= 9, 3)
    with pytest.raises(pyepics.ca.CASeverityException, match="Write access denied"):
        pyepics.caput(status + "MOUNTS", 99, wait=True, timeout=TIMEOUT)   # read-only


def test_runtime_mount_and_unmount_are_seen_by_a_client(ca_server, make_host, pyepics,
                                                        caproto_context, unique_prefix,
                                                        events):
    P = unique_prefix
    host = make_host("""\
        mounts:
          - {name: base, ioc: test-counter, prefix: "$(P)BASE:"}
          - {name: spare, ioc: test-counter, prefix: "$(P)SPARE:", enabled: false,
             options: {start: 3}}
        """)
    name = P + "LIVE:COUNT"
    assert name not in ca_server.database                       # not served yet
    ca_server.call(host.mount({"name": "live", "ioc": "test-counter", "prefix": "$(P)LIVE:",
                               "options": {"start": 42}, "helpers": {"test-recorder": {}}}))
    states = []
    pv = pyepics.PV(name, connection_callback=lambda conn=None, **kw: states.append(conn))
    assert pv.wait_for_connection(TIMEOUT)
    assert wait_until(lambda: pv.get(use_monitor=False) == 42)
    assert pyepics.caget(P + "HOST:MOUNT:live:STATE", as_string=True) == "running"
    assert "mounted live" in events and "helper-start live " in events

    ca_server.call(host.unmount("live"))
    assert wait_until(lambda: states and states[-1] is False)     # SERVER_DISCONN
    assert host.mounts["live"].state == "unmounted" and name not in ca_server.database
    assert f"ioc-shutdown {P}LIVE: 42" in events                # its shutdown hook ran
    order = [e for e in events if e.split()[0] in ("helper-stop", "ioc-shutdown",
                                                   "unmounted")]
    # the helper stops after the shutdown hooks: autosave's last save holds their state
    assert order == [f"ioc-shutdown {P}LIVE: 42", "helper-stop live ", "unmounted live"]
    assert pyepics.caget(P + "HOST:MOUNT:live:STATE", as_string=True,
                         use_monitor=False) == "unmounted"
    assert pyepics.caget(P + "BASE:COUNT", use_monitor=False) == 0   # others keep serving

    pv.disconnect()

    # mount again by name, and a configured but disabled mount; a fresh client (caproto's,
    # whose search is not in libca's reconnect back-off) finds both at once
    ca_server.call(host.mount("live"))
    ca_server.call(host.mount("spare"))
    live, spare = caproto_context.get_pvs(name, P + "SPARE:COUNT", timeout=TIMEOUT)
    assert live.read(timeout=TIMEOUT).data[0] == 42
    assert spare.read(timeout=TIMEOUT).data[0] == 3
    assert events.count("mounted live") == 2


def test_runtime_mount_refuses_with_every_problem(ca_server, make_host, unique_prefix):
    host = make_host("""\
        mounts:
          - {name: base, ioc: test-counter, prefix: "$(P)BASE:"}
        """, status=False)
    from iochost.pv.data import ChannelDouble
    ca_server.add({unique_prefix + "EXT:COUNT": ChannelDouble(value=0.0)})  # not a mount's
    cases = [
        ({"name": "base", "ioc": "test-counter", "prefix": "$(P)X:"}, "is already mounted"),
        ({"name": "ext", "ioc": "test-counter", "prefix": "$(P)EXT:"},
         f"PV '{unique_prefix}EXT:COUNT' is already served"),
        ({"name": "dup", "ioc": "test-counter", "prefix": "$(P)BASE:"},
         f"PV '{unique_prefix}BASE:COUNT' is already provided by mount 'base'"),
        ({"name": "bad", "ioc": "no-such-ioc"}, "unknown IOC 'no-such-ioc'"),
        ({"name": "bad", "ioc": "test-counter", "options": {"start": "x"}},
         "option 'start' of IOC 'test-counter': the string 'x' is not an integer"),
        ({"name": "bad", "ioc": "test-counter", "prefix": "$(UNDEFINED_MACRO)"},
         "prefix: mount 'bad': undefined macro $(UNDEFINED_MACRO)"),
        ({"ioc": "test-counter"}, "missing required key 'name'"),
    ]
    for spec, message in cases:
        with pytest.raises(ConfigError) as info:
            ca_server.call(host.mount(spec))
        assert message in str(info.value)
    assert set(host.mounts) == {"base"}
    with pytest.raises(KeyError, match="no mount named 'ghost' is mounted"):
        ca_server.call(host.unmount("ghost"))
    ca_server.remove([unique_prefix + "EXT:COUNT"])


def test_a_failing_startup_hook_is_logged_with_its_mount(make_host, pyepics, unique_prefix,
                                                         caplog):
    P = unique_prefix
    with caplog.at_level(logging.ERROR):
        host = make_host("""\
            mounts:
              - {name: sick, ioc: test-counter, prefix: "$(P)SICK:",
                 options: {fail_startup: true}}
              - {name: well, ioc: test-counter, prefix: "$(P)WELL:", options: {start: 1}}
            """, status=False)
        assert wait_until(lambda: host.mounts["sick"].errors == 1)
    failure = next(r for r in caplog.records if "[mount sick]" in r.getMessage())
    assert "startup hook" in failure.getMessage() and "sensor offline" in caplog.text
    assert pyepics.caget(P + "WELL:COUNT", timeout=2) == 1      # the other mount serves
    assert pyepics.caget(P + "SICK:STEP", timeout=2) == 1.0     # and so does the sick one


class FlakyScanPlugin:
    """An IOC whose subgroup's scan hook raises on every pass."""

    @staticmethod
    @hookimpl
    def iochost_register_iocs(register):
        from iochost import PVGroup, SubGroup, pvproperty

        class Probe(PVGroup):
            TICK = pvproperty(value=0)

            @TICK.scan(period=0.02)
            async def TICK(self, instance, async_lib):
                raise OSError("probe unplugged")

        class FlakyIOC(PVGroup):
            OK = pvproperty(value=1)
            probe = SubGroup(Probe, prefix="PROBE:")

        register("flaky", FlakyIOC)


def test_a_failing_scan_hook_is_logged_with_its_mount(make_host, pyepics, unique_prefix,
                                                      caplog):
    with caplog.at_level(logging.ERROR):
        host = make_host("""\
            mounts:
              - {name: flaky, ioc: flaky, prefix: "$(P)FLAKY:"}
            """, status=False, extra_plugins={"flaky": FlakyScanPlugin})
        assert wait_until(lambda: host.mounts["flaky"].errors >= 2)
    assert host.mounts["flaky"].state == "degraded"       # serves on, a hook failing
    assert host.mounts["flaky"].faults == {f"{unique_prefix}FLAKY:PROBE:TICK": "scan hook"}
    assert f"[mount flaky] scan hook of {unique_prefix}FLAKY:PROBE:TICK failed: OSError: " \
        "probe unplugged" in [r.getMessage() for r in caplog.records]
    assert "probe unplugged" in caplog.text
    assert pyepics.caget(unique_prefix + "FLAKY:OK", timeout=2) == 1   # still serving


class RaisingPlugin:
    """Its lifecycle hooks raise; the host must log them by plugin name and carry on."""

    @staticmethod
    @hookimpl
    def iochost_host_started(host):
        raise RuntimeError("started hook broke")

    @staticmethod
    @hookimpl
    async def iochost_ioc_mounted(host, mount):
        raise RuntimeError("mounted hook broke")


def test_lifecycle_hook_failures_are_logged_by_plugin_name(make_host, pyepics, unique_prefix,
                                                           caplog, events):
    with caplog.at_level(logging.ERROR, logger="iochost.host"):
        host = make_host("""\
            mounts:
              - {name: one, ioc: test-counter, prefix: "$(P)ONE:"}
            """, status=False, extra_plugins={"raiser": RaisingPlugin})
    messages = [r.getMessage() for r in caplog.records]
    assert "plugin 'raiser': iochost_host_started failed" in messages
    assert "plugin 'raiser': iochost_ioc_mounted failed" in messages
    assert host.mounts["one"].state == "running"
    assert pyepics.caget(unique_prefix + "ONE:COUNT", timeout=2) == 0


def test_stop_runs_stopping_hook_then_every_shutdown_hook(ca_server, catalog, events,
                                                          unique_prefix):
    """iochost_host_stopping first, then per mount (last first): helpers' stop(), the IOC's
    shutdown hooks, iochost_ioc_unmounted."""
    config = load_config_text(textwrap.dedent(f"""\
        host: {{status_prefix: null}}
        mounts:
          - {{name: a, ioc: test-counter, prefix: "{unique_prefix}A:", options: {{start: 1}}}}
          - {{name: b, ioc: test-counter, prefix: "{unique_prefix}B:", options: {{start: 2}},
             helpers: {{test-recorder: {{tag: t}}}}}}
        """), "t.yaml", environ={})
    host = Host(config, catalog, server=ca_server.server)
    ca_server.call(host.start())
    assert wait_until(lambda: len([e for e in events if e.startswith("ioc-startup")]) == 2)
    ca_server.call(host.stop())
    tail = events[events.index("host-stopping"):]
    assert tail == ["host-stopping", f"ioc-shutdown {unique_prefix}B: 2", "helper-stop b t",
                    "unmounted b", f"ioc-shutdown {unique_prefix}A: 1", "unmounted a"]
    assert not any(name.startswith(unique_prefix) for name in ca_server.database)
    assert ca_server.server._started           # an embedding host leaves the server running


class WatchPlugin:
    """Adds a built-in mount of its own and records every mount's state changes."""

    states: list[tuple[str, str]] = []

    @staticmethod
    @hookimpl
    def iochost_host_mounts(config):
        from iochost.host import MountConfig

        return [MountConfig(name="_watch", ioc="test-counter", description="a watcher",
                            prefix=config.macros["P"] + "WATCH:", options={"start": 9},
                            source=config.source, path=("host",))]

    @staticmethod
    @hookimpl
    def iochost_mount_state_changed(host, mount):
        WatchPlugin.states.append((mount.name, mount.state))


def test_a_plugins_builtin_mount_is_served_kept_and_mount_states_are_reported(
        ca_server, make_host, pyepics, unique_prefix):
    P, states = unique_prefix, WatchPlugin.states
    states.clear()
    host = make_host("""\
        mounts:
          - {name: one, ioc: test-counter, prefix: "$(P)ONE:"}
          - {name: idle, ioc: test-counter, prefix: "$(P)OFF:", enabled: false}
          - {name: flaky, ioc: flaky, prefix: "$(P)FLAKY:"}
        """, extra_plugins={"watch": WatchPlugin, "flaky": FlakyScanPlugin})
    assert pyepics.caget(P + "WATCH:COUNT", timeout=TIMEOUT) == 9   # mounted before the config's
    assert list(host.mounts) == ["_host", "_watch", "one", "idle", "flaky"]
    assert states[:4] == [("_host", "running"), ("_watch", "running"), ("one", "running"),
                          ("idle", "disabled")]
    assert wait_until(lambda: ("flaky", "degraded") in states)       # from a fault, in a task
    assert wait_until(lambda: pyepics.caget(P + "HOST:MOUNT:flaky:STATE", as_string=True,
                                            use_monitor=False) == "degraded")
    assert pyepics.caget(P + "HOST:MOUNTS", use_monitor=False) == 2  # built-ins not counted
    with pytest.raises(ValueError, match="'_watch' is a plugin's built-in mount"):
        ca_server.call(host.unmount("_watch"))
    ca_server.call(host.unmount("one"))
    assert states[-1] == ("one", "unmounted")
    assert pyepics.caget(P + "HOST:MOUNT:one:STATE", as_string=True,
                         use_monitor=False) == "unmounted"
    # a run-time mount gets a STATE PV of its own, withdrawn with the status mount
    ca_server.call(host.mount({"name": "late", "ioc": "test-counter", "prefix": "$(P)LATE:"}))
    assert pyepics.caget(P + "HOST:MOUNT:late:STATE", as_string=True, timeout=TIMEOUT) == \
        "running"
    assert P + "HOST:MOUNT:late:STATE" in host.mounts["_host"].pvnames
    ca_server.call(host.stop())
    assert not [name for name in ca_server.database if name.startswith(P)]
    assert states[-1] == ("_host", "unmounted")                # the first mounted goes last


class BadBuiltinPlugin:
    @staticmethod
    @hookimpl
    def iochost_host_mounts(config):
        from iochost.host import MountConfig

        if config.host.name == "raises":
            raise OSError("no such device")
        return [MountConfig(name="watch", ioc="test-counter", prefix="W:")]


@pytest.mark.parametrize("name, message", [
    ("raises", "plugin 'bad' failed to list its built-in mounts: OSError: no such device"),
    ("t", "plugin 'bad' adds a mount named 'watch': the name of a plugin's built-in mount "
          "starts with '_' (the plugin must change)")])
def test_a_plugin_whose_builtin_mounts_are_wrong_is_named(plugin_site, clean_env, name,
                                                          message):
    from iochost.host import validate

    catalog = load_plugins(blocked=["broken-import"], extra_plugins={"bad": BadBuiltinPlugin})
    config = load_config_text(f"host: {{name: {name}}}\n", "bad.yaml", environ={})
    with pytest.raises(ConfigError) as info:
        validate(config, catalog)
    assert [(str(p.location), p.message) for p in info.value.problems] == [("bad.yaml", message)]


def test_served_objects_are_frozen_and_an_unmounted_ioc_is_collected(ca_server, make_host):
    # freeze_heap keeps the collector off what the host serves; an unmount thaws it, so the
    # unmounted IOC (its group and channels reference each other) is freed, not leaked.
    import gc
    import weakref

    host = make_host("""\
        mounts:
          - {name: base, ioc: test-counter, prefix: "$(P)BASE:"}
        """)
    assert gc.get_freeze_count() > 0
    ioc = weakref.ref(host.mounts["base"].ioc)
    channel = weakref.ref(next(iter(host.mounts["base"].ioc.pvdb.values())))
    ca_server.call(host.unmount("base"))
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ioc() is None and channel() is None

"""Reloading a serving host's config as a diff, with real CA clients watching.

A client subscribed to an unchanged mount sees no disconnect across a reload that adds,
removes and changes other mounts; a broken config on reload changes nothing.
"""
import gc
import os
import signal
import subprocess
import sys
import time
import urllib.request
import weakref
from pathlib import Path

import pytest

from iochost.host import Host, hookimpl, load_config, load_plugins
from iochost.pv.data import ChannelDouble
from iochost.host.reload import plan_reload, reload_host
from iochost.testing import wait_until

STARTUP_TIMEOUT = 30.0


def config_text(prefix, mounts, name="r", extra=""):
    return (f"host: {{name: {name}, status_prefix: '{prefix}HOST:'}}\n{extra}"
            f"macros: {{P: '{prefix}'}}\nmounts:\n" + "".join(
                f"  - {entry}\n" for entry in mounts))


KEEP = "{name: keep, ioc: test-counter, prefix: '$(P)KEEP:', options: {start: 1}}"
GONE = "{name: gone, ioc: test-counter, prefix: '$(P)GONE:'}"
EDIT = "{name: edit, ioc: test-counter, prefix: '$(P)EDIT:', options: {label: before}}"
EDITED = "{name: edit, ioc: test-counter, prefix: '$(P)EDIT:', options: {label: after}}"
LATER = "{name: later, ioc: test-counter, prefix: '$(P)LATER:', enabled: false}"
LATER_ON = "{name: later, ioc: test-counter, prefix: '$(P)LATER:'}"
NEW = "{name: new, ioc: test-counter, prefix: '$(P)NEW:', options: {start: 9}}"


class Reloaded:
    """Records iochost_host_reloaded calls (what an access-rules plugin would hook)."""

    calls: list = []

    @staticmethod
    @hookimpl
    def iochost_host_reloaded(host):
        Reloaded.calls.append(sorted(host.mounts))


@pytest.fixture
def served(ca_server, plugin_site, clean_env, unique_prefix, tmp_path):
    """A host serving ``tmp_path/host.yaml`` on the shared server."""
    path = tmp_path / "host.yaml"
    path.write_text(config_text(unique_prefix, [KEEP, GONE, EDIT, LATER]))
    catalog = load_plugins(blocked=["broken-import"], extra_plugins={"reloaded": Reloaded})
    host = Host(load_config(path), catalog, server=ca_server.server)
    ca_server.call(host.start())
    Reloaded.calls.clear()
    yield host, path
    ca_server.call(host.stop())


def test_plan_names_what_changes_and_what_needs_a_restart(tmp_path):
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(config_text("X:", [KEEP, GONE, EDIT, LATER]))
    new.write_text(config_text("X:", [KEEP, EDITED, LATER_ON, NEW], name="renamed",
                               extra="ca: {port: 5999}\nweb: {writable: true}\n"))
    plan = plan_reload(load_config(old, environ={}), load_config(new, environ={}),
                       serving={"keep", "gone", "edit"})
    assert (sorted(plan.unmount), sorted(plan.mount), plan.changed, plan.unchanged) == (
        ["edit", "gone"], ["edit", "later", "new"], ["edit"], ["keep"])
    assert plan.summary() == "unmounted: gone; mounted: later, new; remounted: edit"
    assert len(plan.restart_needed) == 3 and "ca section" in plan.restart_needed[0]
    assert "web section" in plan.restart_needed[2]


def test_a_host_macro_remounts_only_the_mounts_whose_entries_or_pv_names_use_it(tmp_path):
    """A new host macro for a new mount left every other mount "changed" (each mount's
    macros hold the host's), so their clients were dropped: a host macro counts for a
    mount when its entry uses it (prefix, options, helpers) or defines its own."""
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(config_text("X:", [KEEP, EDIT]).replace(
        "macros: {P:", "macros: {GONE: g, UNUSED: x, P:", 1))
    new.write_text(config_text("X:", [
        KEEP, EDIT, "{name: room, ioc: test-counter, prefix: '$(P)$(ROOM):'}"]).replace(
        "macros: {P:", "macros: {ROOM: R14, UNUSED: y, P:", 1))
    plan = plan_reload(load_config(old, environ={}), load_config(new, environ={}),
                       serving={"keep", "edit"})
    assert (plan.unchanged, plan.mount, plan.unmount) == (["keep", "edit"], ["room"], [])
    changed = tmp_path / "changed.yaml"   # P, which both prefixes use: both remounted
    changed.write_text(config_text("Y:", [KEEP, EDIT]))
    plan = plan_reload(load_config(old, environ={}), load_config(changed, environ={}),
                       serving={"keep", "edit"})
    assert sorted(plan.changed) == ["edit", "keep"]
    own = tmp_path / "own.yaml"           # a mount's own macro: that mount only
    own.write_text(config_text("X:", [KEEP, EDIT.replace("}", ", macros: {M: 1}}")]))
    plan = plan_reload(load_config(old, environ={}), load_config(own, environ={}),
                       serving={"keep", "edit"})
    assert plan.changed == ["edit"]


def test_an_unchanged_mounts_clients_see_no_disconnect(served, ca_server, pyepics,
                                                       unique_prefix, caplog):
    host, path = served
    P = unique_prefix
    events, connections = [], []
    keep = pyepics.PV(P + "KEEP:COUNT", auto_monitor=True,
                      callback=lambda value=None, **kw: events.append(value),
                      connection_callback=lambda conn=None, **kw: connections.append(conn))
    gone = pyepics.PV(P + "GONE:COUNT", connection_callback=lambda conn=None, **kw:
                      connections.append(("gone", conn)))
    assert keep.wait_for_connection(5) and gone.wait_for_connection(5)
    assert wait_until(lambda: events and events[-1] == 1)
    keep_ioc = host.mounts["keep"].ioc
    gone_ioc = weakref.ref(host.mounts["gone"].ioc)
    assert pyepics.caget(P + "EDIT:LABEL", as_string=True) == "before"

    path.write_text(config_text(P, [KEEP, EDITED, LATER_ON, NEW]))
    plan = ca_server.call(reload_host(host))
    assert plan is not None and plan.unchanged == ["keep"]
    # the removed IOC was freed (not kept frozen), and what is served is frozen again
    assert gone_ioc() is None and gc.get_freeze_count() > 0

    # the unchanged mount: same IOC object, same channel, updates still flowing
    assert host.mounts["keep"].ioc is keep_ioc
    assert pyepics.caput(P + "KEEP:COUNT", 5, wait=True, timeout=5) == 1
    assert wait_until(lambda: events[-1] == 5)
    assert [c for c in connections if c is not True and not isinstance(c, tuple)] == []
    # removed: its clients were told (SERVER_DISCONN); changed: remounted with new options
    assert wait_until(lambda: ("gone", False) in connections)
    assert wait_until(lambda: pyepics.caget(P + "EDIT:LABEL", as_string=True,
                                            use_monitor=False) == "after")
    assert wait_until(lambda: pyepics.caget(P + "NEW:COUNT", use_monitor=False) == 9)
    assert pyepics.caget(P + "LATER:COUNT", timeout=5) is not None   # enabled: false -> true
    assert {name: m.state for name, m in host.mounts.items()} == {
        "_host": "running", "keep": "running", "edit": "running", "later": "running",
        "new": "running"}
    assert pyepics.caget(P + "HOST:MOUNT:new:STATE", as_string=True, timeout=5) == "running"
    assert P + "HOST:MOUNT:gone:STATE" not in host.database
    assert Reloaded.calls == [["_host", "edit", "keep", "later", "new"]]
    keep.disconnect()
    gone.disconnect()


def test_a_remounted_mounts_clients_stay_connected(served, ca_server, pyepics,
                                                   unique_prefix):
    """A changed mount is remounted -- the old IOC's shutdown hooks, then the new one's
    startup -- but a PV the new IOC serves with the same type and metadata is handed over
    without a disconnect (libca searches for a dropped channel again only ~10 s later);
    a PV only the old IOC served is withdrawn after the new one started."""
    host, path = served
    P = unique_prefix
    labels, states = [], []
    label = pyepics.PV(P + "EDIT:LABEL", auto_monitor=True,
                       callback=lambda char_value=None, **kw: labels.append(char_value),
                       connection_callback=lambda conn=None, **kw: states.append(conn))
    count = pyepics.PV(P + "EDIT:COUNT",
                       connection_callback=lambda conn=None, **kw: states.append(conn))
    assert label.wait_for_connection(5) and count.wait_for_connection(5)
    assert wait_until(lambda: labels and labels[-1] == "before")
    old_ioc = host.mounts["edit"].ioc
    ca_server.call(lambda: host.add_pvs(old_ioc, {P + "EDIT:EXTRA": ChannelDouble(value=1.0)}))

    path.write_text(config_text(P, [KEEP, GONE, EDITED, LATER]))
    plan = ca_server.call(reload_host(host))
    assert plan is not None and plan.changed == ["edit"]
    new_ioc = host.mounts["edit"].ioc
    assert new_ioc is not old_ioc and host.mounts["edit"].state == "running"
    assert wait_until(lambda: labels[-1] == "after", 5)
    assert count.put(7, wait=True, timeout=5) == 1 and new_ioc.COUNT.value == 7
    assert states == [True, True]
    assert P + "EDIT:EXTRA" not in host.database    # the old IOC's own: withdrawn
    assert host.database[P + "EDIT:COUNT"] is new_ioc.COUNT
    label.disconnect()
    count.disconnect()


def test_a_callers_built_iocs_do_not_outlive_their_mounts(plugin_site, clean_env, ca_server,
                                                         unique_prefix, tmp_path,
                                                         monkeypatch):
    """`iochost serve` keeps the dict of IOCs the validation built for the life of the
    process, and a reload builds every mount's IOC but mounts only the changed ones: the
    first IOCs never died after a remount, and each reload that remounted nothing kept a
    copy of every unchanged mount's IOC (frozen with the heap). The host forgets them once
    mounted."""
    from iochost.host import validate

    path = tmp_path / "host.yaml"
    path.write_text(config_text(unique_prefix, [KEEP, EDIT]))
    config = load_config(path)
    catalog = load_plugins(blocked=["broken-import"])
    built = validate(config, catalog)                 # what the serve verb holds on to
    host = Host(config, catalog, server=ca_server.server)
    ca_server.call(host.start(built))
    try:
        first = weakref.ref(host.mounts["edit"].ioc)
        assert built == {}
        path.write_text(config_text(unique_prefix, [KEEP, EDITED]))
        assert ca_server.call(reload_host(host)).changed == ["edit"]
        gc.collect()
        assert first() is None
        from iochost.host import reload as reloading

        spares = []               # a reload that remounts nothing builds every IOC anyway

        def validated(*args, **kwargs):
            found = validate(*args, **kwargs)
            spares.extend(weakref.ref(ioc) for ioc in found.values())
            return found

        monkeypatch.setattr(reloading, "validate", validated)
        assert ca_server.call(reload_host(host)).empty
        gc.collect()
        assert spares and [ref() for ref in spares] == [None] * len(spares)
    finally:
        ca_server.call(host.stop())


def test_mounts_disabled_by_a_reload_read_disabled_as_at_start(served, ca_server, pyepics,
                                                              unique_prefix):
    """A mount switched to ``enabled: false`` read "unmounted", and one added disabled had
    no STATE PV at all, where a mount disabled at start reads "disabled"."""
    host, path = served
    P = unique_prefix
    assert pyepics.caget(P + "HOST:MOUNT:later:STATE", as_string=True, timeout=5) == "disabled"
    spare = "{name: spare, ioc: test-counter, prefix: '$(P)SPARE:', enabled: false}"
    path.write_text(config_text(P, [KEEP, GONE.replace("}", ", enabled: false}"), EDIT, LATER,
                                    spare]))
    heard = []
    assert ca_server.call(reload_host(host, report=lambda *outcome: heard.append(outcome))) \
        is not None, heard
    assert {name: host.mounts[name].state for name in ("gone", "later", "spare")} == \
        dict.fromkeys(("gone", "later", "spare"), "disabled")
    for name in ("gone", "later", "spare"):
        assert wait_until(lambda name=name: pyepics.caget(
            P + f"HOST:MOUNT:{name}:STATE", as_string=True, timeout=2,
            use_monitor=False) == "disabled"), name


def test_a_broken_config_on_reload_changes_nothing(served, ca_server, pyepics,
                                                   unique_prefix, caplog):
    host, path = served
    before = {name: (m.state, m.ioc) for name, m in host.mounts.items()}
    path.write_text(config_text(unique_prefix, [KEEP, "{name: bad, ioc: no-such-ioc}"]))
    assert ca_server.call(reload_host(host)) is None
    assert {name: (m.state, m.ioc) for name, m in host.mounts.items()} == before
    refused = [r.getMessage() for r in caplog.records if "reload refused" in r.getMessage()]
    assert any(f"{path}:5: mounts[1].ioc: mount 'bad': unknown IOC 'no-such-ioc'" in line
               for line in refused), refused
    assert pyepics.caget(unique_prefix + "GONE:COUNT", timeout=5) == 0   # still serving
    assert Reloaded.calls == []


def test_a_reload_unmounts_what_host_mount_added(served, ca_server, pyepics, unique_prefix):
    host, _path = served
    ca_server.call(host.mount({"name": "extra", "ioc": "test-counter",
                               "prefix": "$(P)EXTRA:"}))
    extra = host.mounts["extra"]
    assert pyepics.caget(unique_prefix + "EXTRA:COUNT", timeout=5) == 0
    assert ca_server.call(reload_host(host)) is not None       # the same file again
    assert "extra" not in host.mounts and extra.state != "running"
    assert unique_prefix + "EXTRA:COUNT" not in host.database   # withdrawn, not orphaned
    # so the name and its PVs can be mounted again
    ca_server.call(host.mount({"name": "extra", "ioc": "test-counter",
                               "prefix": "$(P)EXTRA:"}))
    assert host.mounts["extra"].state == "running"


def test_a_mount_whose_pvs_stay_served_elsewhere_is_refused(served, ca_server, unique_prefix):
    """The new config is checked against itself, but PVs outside it stay served (a run
    time add_pvs, status PVs of a prefix whose change needs a restart): a new mount that
    serves one of them is refused, not laid over it (removing it later deleted the PV)."""
    from iochost.pv.data import ChannelDouble

    host, path = served
    P = unique_prefix
    extra = ChannelDouble(value=1.0)
    host.add_pvs(host.mounts["keep"].ioc, {P + "NEW:COUNT": extra})
    path.write_text(config_text(P, [KEEP, GONE, EDIT, LATER, NEW]))
    heard = []
    assert ca_server.call(reload_host(host, report=lambda *outcome: heard.append(outcome))) \
        is None
    ((applied, (_, reason)),) = heard
    assert not applied and reason == (f"mount 'new': 1 PV(s) already served, e.g. "
                                      f"{P}NEW:COUNT (by keep)")
    assert "new" not in host.mounts and ca_server.database[P + "NEW:COUNT"] is extra


def test_an_emptied_config_file_does_not_unmount_every_ioc(served, ca_server):
    host, path = served
    path.write_text("")                        # an editor's truncate, a full disk
    heard = []
    assert ca_server.call(reload_host(host, report=lambda *outcome: heard.append(outcome))) \
        is None
    ((applied, (_, reason)),) = heard
    assert not applied and "no 'mounts:' key" in reason and "write 'mounts: []'" in reason
    assert host.mounts["keep"].serving
    path.write_text("mounts: []\n")             # on purpose
    assert ca_server.call(reload_host(host)) is not None
    assert not host.mounts.get("keep")


def test_sighup_through_iochost_reload_applies_the_new_config(plugin_site_dir, tmp_path,
                                                               pyepics):
    P = f"HUP{os.getpid()}:"
    path = tmp_path / "host.yaml"
    path.write_text(config_text(P, [KEEP]))
    pid_file = tmp_path / "serve.pid"
    env = dict(os.environ, **plugin_site_dir.env, RUNTIME_DIRECTORY=str(tmp_path / "run"),
               EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    err = tmp_path / "serve.err"
    with open(err, "w") as stream:
        proc = subprocess.Popen([sys.executable, "-m", "iochost", "serve", str(path),
                                 "--pid-file", str(pid_file)], env=env, stderr=stream)
    try:
        assert wait_until(lambda: " serving " in err.read_text() or proc.poll() is not None,
                          STARTUP_TIMEOUT), err.read_text()
        keep = pyepics.PV(P + "KEEP:COUNT")
        assert keep.wait_for_connection(10), err.read_text()
        path.write_text(config_text(P, [KEEP, NEW]))
        reload = subprocess.run([sys.executable, "-m", "iochost", "reload", str(pid_file)],
                                env=env, capture_output=True, text=True, timeout=60)
        # the verb waits for the outcome and prints it, as the host logged it
        assert reload.returncode == 0, reload.stderr
        assert reload.stdout == f"reload of {path} applied: mounted: new\n"
        assert f"reload of {path} applied: mounted: new" in err.read_text()
        assert wait_until(lambda: pyepics.caget(P + "NEW:COUNT", timeout=2) == 9, 10)
        assert keep.connected
        # a broken config: refused, exit status 1, the problem with file:line on stderr
        path.write_text(config_text(P, [KEEP, NEW]).replace("mounts:", "mounts:\n  - {}"))
        refused = subprocess.run([sys.executable, "-m", "iochost", "reload",
                                  "--pid", str(proc.pid)],    # found from its command line
                                 env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 1 and refused.stdout == ""
        first, *problems = refused.stderr.splitlines()
        assert first.startswith(f"reload of {path} refused: ") and problems
        assert all(line.startswith(f"  {path}:") for line in problems), refused.stderr
        assert keep.connected and pyepics.caget(P + "NEW:COUNT", timeout=2) == 9
        keep.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, err.read_text()
    assert not pid_file.exists() and not (tmp_path / "serve.pid.reload").exists()


def test_reload_signals_only_an_iochost_process(tmp_path):
    import io

    from iochost.host import verbs

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for pid, why in ((0, "0 is not a process id"), (-1, "-1 is not a process id"),
                         (sleeper.pid, f"process {sleeper.pid} is not iochost serve")):
            err = io.StringIO()
            assert verbs.reload(None, pid, err=err) == 1
            assert why in err.getvalue()
        stale = tmp_path / "host.pid"
        stale.write_text(f"{sleeper.pid}\n")   # a pid file whose pid now names another process
        err = io.StringIO()
        assert verbs.reload(str(stale), None, err=err) == 1 and "stale" in err.getvalue()
        assert sleeper.poll() is None            # it was not signalled
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_pid_file_of_a_running_host_is_not_taken_over(tmp_path):
    """A second serve given a live host's pid file overwrote it, then deleted it on exit:
    ``iochost reload`` then lost the first host (or reloaded the wrong one)."""
    from iochost.host import verbs

    pid_file = tmp_path / "host.pid"
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "iochost"])
    try:
        pid_file.write_text(f"{host.pid}\n")     # names a live iochost process
        assert wait_until(lambda: b"iochost" in Path(f"/proc/{host.pid}/cmdline").read_bytes())
        with pytest.raises(OSError, match=f"names process {host.pid}, an iochost serve "
                                          f"still running"):
            verbs.PidFile(str(pid_file)).__enter__()
        assert pid_file.read_text() == f"{host.pid}\n"
    finally:
        host.kill()
        host.wait()
    with verbs.PidFile(str(pid_file)):             # stale now: taken over
        assert pid_file.read_text() == f"{os.getpid()}\n"
    assert not pid_file.exists()


def test_a_plugin_installed_while_serving_is_loaded_by_a_reload(
        plugin_site_dir, clean_env, monkeypatch, ca_server, pyepics, unique_prefix, tmp_path):
    """pip install a device plugin, then reload: its IOC mounts and serves, its
    iochost_host_started runs, the mount already serving is not touched, and the broken
    plugins installed alongside are reported by name."""
    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", ",".join(plugin_site_dir.distributions))
    P = unique_prefix
    path = tmp_path / "host.yaml"
    web = "web: {listen: '127.0.0.1:0'}\n"
    path.write_text(config_text(P, ["{name: demo, ioc: simple, prefix: '$(P)DEMO:'}"],
                                extra=web))
    host = Host(load_config(path), load_plugins(), server=ca_server.server)
    assert "testgood" not in host.catalog.plugins    # not installed yet
    ca_server.call(host.start())
    try:
        demo = host.mounts["demo"].ioc
        with urllib.request.urlopen(host.web.url + "healthz", timeout=30) as page:
            assert page.status == 200                     # the page is built now
        for entry in reversed(plugin_site_dir.paths):
            monkeypatch.syspath_prepend(entry)           # now it is
        path.write_text(config_text(P, [
            "{name: demo, ioc: simple, prefix: '$(P)DEMO:'}",
            "{name: new, ioc: test-counter, prefix: '$(P)NEW:', options: {start: 9}, "
            "helpers: {test-recorder: {tag: late}}}"], extra=web))
        heard = []
        plan = ca_server.call(reload_host(host, report=lambda *outcome: heard.append(outcome)))
        assert plan is not None and plan.mount == ["new"] and plan.unchanged == ["demo"]
        assert host.mounts["demo"].ioc is demo
        assert pyepics.caget(P + "NEW:COUNT", timeout=5) == 9
        from iochost_testgood.plugin import EVENTS
        # started once the reload applied the config (its mount is up), as at start
        assert EVENTS.index("mounted new") < EVENTS.index("host-started 3")
        assert "helper-start new late" in EVENTS
        ((applied, lines),) = heard
        assert applied and ("plugin testgood (iochost-testplugin-good 1.2.3) installed since the "
                            "start, loaded (iocs: test-counter; helpers: test-recorder)") in lines
        failed = [line for line in lines if "failed to load" in line]
        assert any(line.startswith("plugin broken-import (iochost-testplugin-zz-broken 0.0.1) ") and
                   "cannot import" in line for line in failed), lines
        assert host.catalog.plugins["testgood"].loaded
        assert ("plugin testgood: restart iochost to serve its web routes (the page is "
                "already built)") in lines
        # a second reload finds nothing new
        heard.clear()
        assert ca_server.call(reload_host(host, report=lambda *outcome: heard.append(outcome)))
        assert not [line for line in heard[0][1] if "installed since" in line]
    finally:
        ca_server.call(host.stop())
        for module in [m for m in sys.modules if m.split(".")[0] in ("iochost_testgood",
                                                                    "iochost_broken")]:
            del sys.modules[module]


def install(site, module, text):
    """Install module ``module`` (its ``text``) as distribution and plugin
    ``module.replace('_', '-')`` 1.0 in directory ``site``, as pip would (its dist-info)."""
    dist = module.replace("_", "-")
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[iochost]\n{dist} = {module}\n")
    (site / f"{module}.py").write_text(text)


def started_demo_host(ca_server, prefix, tmp_path):
    """A Host serving the ``simple`` example as ``demo`` (loaded plugins: those installed
    now) on the shared server, from ``tmp_path/host.yaml``."""
    path = tmp_path / "host.yaml"
    path.write_text(config_text(prefix, ["{name: demo, ioc: simple, prefix: '$(P)DEMO:'}"]))
    host = Host(load_config(path), load_plugins(), server=ca_server.server)
    ca_server.call(host.start())
    return host


LATE_PLUGIN = '''
import os

from iochost.host import hookimpl
from iochost.host.hostconfig import MountConfig


@hookimpl
def iochost_host_mounts(config):
    return [MountConfig(name="_late", ioc="simple", prefix=os.environ["LATE_PREFIX"],
                        source=config.source, path=("host",))]
'''


def test_a_plugin_loaded_by_a_reload_mounts_its_built_in_mounts(
        clean_env, monkeypatch, ca_server, pyepics, unique_prefix, tmp_path):
    P = unique_prefix
    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", "iochost-examples,iochost-late-site")
    monkeypatch.setenv("LATE_PREFIX", P + "LATE:")
    host = started_demo_host(ca_server, P, tmp_path)
    try:
        site = tmp_path / "site"
        site.mkdir()
        install(site, "iochost_late_site", LATE_PLUGIN)
        monkeypatch.syspath_prepend(str(site))
        assert ca_server.call(reload_host(host)) is not None
        assert host.mounts["_late"].state == "running"
        assert pyepics.caget(P + "LATE:A", timeout=5) == 1
        assert list(host.mounts) == ["_host", "demo", "_late"]
    finally:
        ca_server.call(host.stop())
        sys.modules.pop("iochost_late_site", None)


def test_a_plugin_pip_installed_editable_while_serving_is_loaded_by_a_reload(
        clean_env, monkeypatch, ca_server, pyepics, unique_prefix, tmp_path):
    """``pip install -e`` leaves the package where it is and writes a ``.pth`` file that
    puts it on the path -- a file Python reads only at its start: the reload read none, and
    the plugin failed to load (No module named ...). A .pth written since the start is read
    by the reload, as Python reads them."""
    from iochost.host import plugins

    P = unique_prefix
    site, source = tmp_path / "site-packages", tmp_path / "checkout"
    site.mkdir()
    source.mkdir()
    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", "iochost-examples,iochost-late-editable")
    monkeypatch.setenv("LATE_PREFIX", P + "EDIT:")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(plugins, "_site_dirs", lambda: [str(site)], raising=False)
    host = started_demo_host(ca_server, P, tmp_path)
    try:
        install(site, "iochost_late_editable", LATE_PLUGIN)
        (site / "iochost_late_editable.py").rename(source / "iochost_late_editable.py")
        (site / "__editable__.iochost_late_editable-1.0.pth").write_text(f"{source}\n")
        assert ca_server.call(reload_host(host)) is not None
        assert host.catalog.plugins["iochost-late-editable"].loaded, \
            host.catalog.plugins["iochost-late-editable"].error
        assert pyepics.caget(P + "EDIT:A", timeout=5) is not None
    finally:
        ca_server.call(host.stop())
        sys.modules.pop("iochost_late_editable", None)
        if str(source) in sys.path:
            sys.path.remove(str(source))


def test_callers_reloading_at_once_each_get_their_own_reloads_outcome(tmp_path):
    """Operator A's reload is under way when B edits the file and reloads: each
    ``iochost reload`` reads the outcome of the reload that began after its request
    (B was told A's "applied" while its own file was refused)."""
    from iochost.host import verbs

    with verbs.PidFile(str(tmp_path / "serve.pid")) as pids:
        last = verbs.outcome_file(pids.path)
        a, b = (last.with_name(f"{last.name}.{who}") for who in "AB")
        a.with_name(a.name + ".request").touch()
        first = pids.reload_reporter()               # A's SIGHUP: a reload begins
        b.with_name(b.name + ".request").touch()      # B asks while it runs
        first(True, ["reload of h.yaml applied: unmounted: slow"])
        assert verbs._read_outcome(a) == (True, ["reload of h.yaml applied: unmounted: slow"])
        assert verbs._read_outcome(b) is None         # not B's reload
        second = pids.reload_reporter()              # B's SIGHUP's reload
        second(False, ["reload of h.yaml refused: 1 problem(s)", "h.yaml:3: bad key"])
        assert verbs._read_outcome(b) == verbs._read_outcome(last) == (
            False, ["reload of h.yaml refused: 1 problem(s)", "h.yaml:3: bad key"])
        assert verbs._read_outcome(a)[0] is True      # A's answer stays A's
        # a caller killed while waiting never reads (nor removes) its answer: once stale,
        # the next reload does
        old = time.time() - verbs.STALE_OUTCOME - 1
        os.utime(a, (old, old))
        pids.reload_reporter()
        assert not a.exists() and b.exists()
    assert list(tmp_path.iterdir()) == []             # the pid file and outcomes go


BROKEN_LATE = {
    "iochost_exits": "import sys\nsys.exit('parses its arguments at import')\n",
    "iochost_hangs": (
        "import asyncio\nfrom iochost.host import hookimpl\n\n\n@hookimpl\n"
        "async def iochost_host_started(host):\n    await asyncio.sleep(1e6)\n"),
}


def test_a_plugin_that_exits_or_hangs_cannot_take_a_reload_down(
        clean_env, monkeypatch, ca_server, pyepics, unique_prefix, tmp_path):
    """A plugin installed while serving that calls sys.exit() at import (SystemExit got
    past the loader: the host stopped) or whose iochost_host_started never returns (the
    reload, later reloads and the shutdown hung): reported, the host serves on."""
    from iochost.host import host as host_module

    monkeypatch.setattr(host_module, "PLUGIN_START_TIMEOUT", 0.3)
    P = unique_prefix
    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", "iochost-examples,iochost-exits,iochost-hangs")
    host = started_demo_host(ca_server, P, tmp_path)
    try:
        site = tmp_path / "site"
        site.mkdir()
        for module, text in BROKEN_LATE.items():
            install(site, module, text)
        monkeypatch.syspath_prepend(str(site))
        heard = []
        assert ca_server.call(reload_host(host, report=lambda *outcome: heard.append(outcome)),
                              timeout=10) is not None
        ((applied, lines),) = heard
        assert applied and any(
            line.startswith("plugin iochost-exits (iochost-exits 1.0) installed since the "
                            "start failed to load: cannot import 'iochost_exits': SystemExit")
            for line in lines), lines
        assert ("plugin iochost-hangs: iochost_host_started did not finish within 0.3 s: "
                "cancelled") in lines
        assert pyepics.caget(P + "DEMO:A", timeout=5) == 1          # still serving
        assert ca_server.call(reload_host(host), timeout=10) is not None   # and reloading
    finally:
        ca_server.call(host.stop(), timeout=10)
        for module in BROKEN_LATE:
            sys.modules.pop(module, None)


class RoomPlugin:
    """An IOC whose PV name uses a macro of the host: ``{ROOM}T``."""

    @staticmethod
    @hookimpl
    def iochost_register_iocs(register):
        from iochost import PVGroup, pvproperty

        class Roomy(PVGroup):
            t = pvproperty(value=0, name="{ROOM}T")

        register("roomy", Roomy)


def test_a_host_macro_in_an_iocs_pv_names_remounts_it(clean_env, ca_server, unique_prefix,
                                                      tmp_path):
    P = unique_prefix
    path = tmp_path / "host.yaml"
    entries = ["{name: room, ioc: roomy, prefix: '$(P)'}",
               "{name: demo, ioc: simple, prefix: '$(P)DEMO:'}"]
    path.write_text(config_text(P, entries).replace("macros: {P:", "macros: {ROOM: a, P:"))
    catalog = load_plugins(extra_plugins={"room": RoomPlugin})
    host = Host(load_config(path), catalog, server=ca_server.server)
    ca_server.call(host.start())
    try:
        assert P + "aT" in host.database
        path.write_text(config_text(P, entries).replace("macros: {P:", "macros: {ROOM: b, P:"))
        plan = ca_server.call(reload_host(host))
        assert (plan.changed, plan.unchanged) == (["room"], ["demo"])
        assert P + "bT" in host.database and P + "aT" not in host.database
    finally:
        ca_server.call(host.stop())


def test_a_reload_that_changes_nothing_frees_cycles_the_last_one_froze(served, ca_server):
    """Each reload freezes the heap again; objects alive at one reload and dead since in a
    reference cycle (a browser's socket, an exception's traceback) must be freed by the
    next, even one that changes nothing (SIGHUP for the access rules): they were frozen
    for good."""
    host, _ = served

    class Cyclic:
        pass

    kept = Cyclic()
    kept.self = kept                         # only a collection that sees it frees it
    gone = weakref.ref(kept)
    ca_server.call(reload_host(host))        # freezes it with the heap
    del kept
    gc.collect()
    assert gone() is not None                # frozen: out of the collector's reach
    plan = ca_server.call(reload_host(host))
    assert plan is not None and not plan.changed
    assert gone() is None

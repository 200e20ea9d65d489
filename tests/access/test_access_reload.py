"""Access rules follow host reloads: ``reload_host`` (what SIGHUP runs) re-reads the rules
file and a mount's ``asg:``; a real ``iochost serve`` reloaded by SIGHUP changes the rights
of an already connected client, which hears ACCESS_RIGHTS."""
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from test_access_clients import RULES, TIMEOUT, catalog  # noqa: F401 (a fixture)

from iochost.host import Host, load_config
from iochost.host.reload import plan_reload, reload_host
from iochost.testing import wait_until

STARTUP_TIMEOUT = 60.0


def write_config(path, prefix, rules, asg="", host_match="name", host_keys=""):
    path.write_text(textwrap.dedent(f"""\
        host: {{name: acc, status_prefix: null{host_keys}}}
        macros: {{P: '{prefix}'}}
        access: {{file: {rules}, host_match: {host_match}}}
        mounts:
          - {{name: acc, ioc: access-test, prefix: '$(P)', asg: '{asg}'}}
        """))


@pytest.fixture
def serve(ca_server, catalog, unique_prefix, tmp_path):
    """``serve(rules_text, host_keys="") -> (host, config path, rules path)``: a host on the
    shared server mounting ``access-test`` under ``unique_prefix``, stopped at teardown."""
    hosts = []

    def start(rules_text=RULES, host_keys=""):
        rules = tmp_path / "site.acf"
        rules.write_text(rules_text)
        path = tmp_path / "host.yaml"
        write_config(path, unique_prefix, rules, host_keys=host_keys)
        host = Host(load_config(path, environ={}), catalog, server=ca_server.server)
        ca_server.call(host.start())
        hosts.append(host)
        return host, path, rules

    yield start
    for host in hosts:
        ca_server.call(host.stop())


def test_reload_host_rereads_rules_and_mount_groups(serve, ca_server, caproto_as,
                                                    unique_prefix):
    host, path, rules = serve()
    context = caproto_as("operator", "laptop")
    (pv,) = context.get_pvs(unique_prefix + "OPEN", timeout=TIMEOUT)
    pv.wait_for_connection(timeout=TIMEOUT)
    heard = []

    def on_rights(pv, rights):
        heard.append(int(rights))

    pv.access_rights_callback.add_callback(on_rights)
    assert int(pv.access_rights) == 3
    write_config(path, unique_prefix, rules, asg="RO")   # the mount moves to RO
    plan = ca_server.call(reload_host(host))
    assert plan is not None and plan.unchanged == ["acc"]   # no remount, no disconnect
    assert wait_until(lambda: heard == [1], TIMEOUT), heard
    rules.write_text(RULES.replace("ASG(RO) { RULE(1, READ) }", "ASG(RO)"))
    assert ca_server.call(reload_host(host)) is not None   # the ACF is re-read too
    assert wait_until(lambda: heard == [1, 0], TIMEOUT), heard


def test_turning_access_on_or_changing_host_match_needs_a_restart(tmp_path):
    rules = tmp_path / "site.acf"
    rules.write_text(RULES)
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    write_config(first, "X:", rules)
    write_config(second, "X:", rules, host_match="address")
    plan = plan_reload(load_config(first, environ={}), load_config(second, environ={}),
                       {"acc"})
    assert any("host_match" in what for what in plan.restart_needed)


def test_sighup_reloads_the_rules_of_a_running_serve(tmp_path, caproto_as):
    P = f"ACCHUP{os.getpid()}:"
    rules = tmp_path / "site.acf"
    rules.write_text("ASG(DEFAULT) { RULE(1, READ) }\n")
    path = tmp_path / "host.yaml"
    path.write_text(textwrap.dedent(f"""\
        host: {{name: hup, status_prefix: null}}
        access: {{file: site.acf}}
        mounts:
          - {{name: s, ioc: simple, prefix: '{P}'}}
        """))
    env = dict(os.environ, RUNTIME_DIRECTORY=str(tmp_path / "run"),
               EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    err = tmp_path / "serve.err"
    with open(err, "w") as stream:
        proc = subprocess.Popen([sys.executable, "-m", "iochost", "serve", str(path)],
                                env=env, stderr=stream)
    try:
        assert wait_until(lambda: " serving " in err.read_text() or proc.poll() is not None,
                          STARTUP_TIMEOUT), err.read_text()
        context = caproto_as("operator", "console1")
        (pv,) = context.get_pvs(P + "B", timeout=TIMEOUT)
        pv.wait_for_connection(timeout=20)
        granted = threading.Event()

        def on_rights(pv, rights):
            if int(rights) == 3:
                granted.set()

        pv.access_rights_callback.add_callback(on_rights)
        assert int(pv.access_rights) == 1
        rules.write_text("ASG(DEFAULT) { RULE(1, WRITE) }\n")
        proc.send_signal(signal.SIGHUP)
        assert granted.wait(20), err.read_text()
        assert err.read_text().count(f"access security: {rules} loaded") == 2
        assert pv.write([2.5], wait=True, timeout=TIMEOUT).status.code_with_severity == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, err.read_text()


def test_a_put_to_iocstats_readacf_reloads_the_rules(serve, caproto_as, unique_prefix,
                                                     tmp_path, caplog):
    stats = unique_prefix.split(":")[0] + "ACFSTATS"
    _, _, rules = serve(host_keys=f", stats_prefix: '{stats}', autosave_dir: '{tmp_path}/as'")
    context = caproto_as("operator", "laptop")
    ro, readacf = context.get_pvs(unique_prefix + "RO", f"{stats}:READACF", timeout=TIMEOUT)
    ro.wait_for_connection(timeout=TIMEOUT)
    readacf.wait_for_connection(timeout=TIMEOUT)
    granted = threading.Event()

    def on_rights(pv, rights):
        if int(rights) == 3:
            granted.set()

    ro.access_rights_callback.add_callback(on_rights)
    assert int(ro.access_rights) == 1
    rules.write_text("ASG(DEFAULT) { RULE(1, WRITE, BAD) }\n")
    with caplog.at_level(logging.WARNING):
        refused = readacf.write([1], wait=True, timeout=TIMEOUT)
    assert refused.status.code_with_severity != 1   # a bad file: the put fails
    # the file's error and the refusal, each a line: a refusal is no fault
    assert "rules in force are kept" in caplog.text and "Traceback" not in caplog.text
    assert not granted.wait(0.3)
    rules.write_text(RULES.replace("ASG(RO) { RULE(1, READ) }",
                                   "ASG(RO) { RULE(1, WRITE) { UAG(ops) } }"))
    assert readacf.write([1], wait=True, timeout=TIMEOUT).status.code_with_severity == 1
    assert granted.wait(TIMEOUT)


def test_a_record_moved_by_its_asg_field_gets_its_configured_group_on_reload(
        serve, ca_server, caproto_as, unique_prefix):
    """A put to ``.ASG`` moves the record until the host config is reloaded (docs/access.md):
    the group given in code (AO: ``asg="RO"``) comes back, and a changed mount ``asg:``
    does not skip the moved record."""
    host, _, _ = serve(RULES.replace(
        "ASG(RO) { RULE(1, READ) }", "ASG(RO) { RULE(1, READ) RULE(1, WRITE) { UAG(admins) } }"))
    admin = caproto_as("admin", "x")
    (asg,) = admin.get_pvs(unique_prefix + "AO.ASG", timeout=TIMEOUT)
    asg.wait_for_connection(timeout=TIMEOUT)
    (ao,) = caproto_as("operator", "laptop").get_pvs(unique_prefix + "AO", timeout=TIMEOUT)
    ao.wait_for_connection(timeout=TIMEOUT)
    assert int(ao.access_rights) == 1
    asg.write([b"DEFAULT"], wait=True, timeout=TIMEOUT)
    assert wait_until(lambda: int(ao.access_rights) == 3, TIMEOUT)
    assert asg.read(timeout=TIMEOUT).data == [b"DEFAULT"]
    assert ca_server.call(reload_host(host)) is not None
    assert wait_until(lambda: int(ao.access_rights) == 1, TIMEOUT)
    assert asg.read(timeout=TIMEOUT).data == [b"RO"]


def test_a_reload_whose_rules_file_is_bad_is_refused_whole(serve, ca_server, caproto_as,
                                                           unique_prefix):
    """As 'iochost check' refuses it: the mounts' changes are not applied with the old
    rules either (a mount moved to a group only the bad file defines would be DEFAULT)."""
    host, path, rules = serve()
    (pv,) = caproto_as("operator", "laptop").get_pvs(unique_prefix + "OPEN", timeout=TIMEOUT)
    pv.wait_for_connection(timeout=TIMEOUT)
    assert int(pv.access_rights) == 3
    rules.write_text(RULES + "ASG(LOCKED) { RULE(1, 5) }\n")
    write_config(path, unique_prefix, rules, asg="LOCKED")
    heard = []
    assert ca_server.call(reload_host(host, report=lambda *outcome: heard.append(outcome))) \
        is None
    ((applied, (headline, reason)),) = heard
    assert not applied and headline.startswith(f"reload of {path} refused: 1 problem(s)")
    assert reason.startswith(f"access rules: {rules}:") and "found '5'" in reason
    assert host.config.mounts[0].asg == "" and int(pv.access_rights) == 3


def test_what_needs_a_restart_is_reported_at_every_reload_until_then(
        serve, ca_server, unique_prefix):
    """The second reload of the same file said nothing: the host had taken the new
    (unapplied) host_match as its config, while the old one stayed in force."""
    host, path, rules = serve()
    write_config(path, unique_prefix, rules, host_match="address")
    for _ in range(2):
        plan = ca_server.call(reload_host(host))
        assert any("host_match" in what for what in plan.restart_needed)
    assert host.config.access.host_match == "name"      # what is in force

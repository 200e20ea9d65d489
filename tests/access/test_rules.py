"""Deciding rights as base's asComputePvt does; HAG resolution; CALC inputs from real
channel data; reloads keep the old rules on a bad file."""
import asyncio
import logging

import pytest

from iochost.access import (
    AccessSecurity,
    AccessSettings,
    AcfError,
    HostMatch,
    Level,
    OnError,
    compile_rules,
    parse_acf,
)
from iochost.pv.data import ChannelDouble

RULES = """\
UAG(ops) { alice }
UAG(admin) { root, alice }
HAG(console) { Console1, localhost }
ASG(DEFAULT) { RULE(1, READ) }
ASG(OPS) {
    RULE(1, READ)
    RULE(1, WRITE, TRAPWRITE) { UAG(ops) HAG(console) }
    RULE(0, WRITE) { UAG(admin) }
}
ASG(LOCKED)
"""


def decide(rules, group, level, user, host):
    config = rules.config
    return rules.decide(config.group(group), None, level, user, host)


def test_the_highest_access_of_the_applying_rules_wins():
    rules = compile_rules(parse_acf(RULES), HostMatch.NAME)
    assert decide(rules, "OPS", 1, "alice", "CONSOLE1") == (Level.WRITE, True)  # any case
    assert decide(rules, "OPS", 1, "alice", "elsewhere") == (Level.READ, False)
    assert decide(rules, "OPS", 1, "bob", "console1") == (Level.READ, False)
    # level: RULE(0, ...) covers ASL0 channels only
    assert decide(rules, "OPS", 0, "root", "anywhere") == (Level.WRITE, False)
    assert decide(rules, "OPS", 1, "root", "anywhere") == (Level.READ, False)
    assert decide(rules, "LOCKED", 0, "alice", "console1") == (Level.NONE, False)
    assert decide(rules, "NO-SUCH-GROUP", 0, "alice", "x") == (Level.READ, False)  # DEFAULT


def test_address_mode_resolves_hag_names_once_at_load():
    asked = []

    def resolve(host):
        asked.append(host)
        if host == "localhost":
            return ["127.0.0.1"]
        raise OSError("unknown host")

    rules = compile_rules(parse_acf(RULES, "r.acf"), HostMatch.ADDRESS, resolve)
    assert asked == ["console1", "localhost"]
    assert rules.host_groups == {"127.0.0.1": frozenset({"console"})}
    assert any("cannot resolve host 'console1'" in w for w in rules.warnings)
    assert decide(rules, "OPS", 1, "alice", "127.0.0.1") == (Level.WRITE, True)
    assert decide(rules, "OPS", 1, "alice", "localhost") == (Level.READ, False)


def test_the_default_resolver_resolves_loopback_names():
    rules = compile_rules(parse_acf("HAG(h) { localhost, 127.0.0.1 }"), HostMatch.ADDRESS)
    assert rules.host_groups == {"127.0.0.1": frozenset({"h"})}


CALC_RULES = """\
ASG(DEFAULT) {
    INPA("ENABLE")
    INPB("LIMIT")
    RULE(1, READ)
    RULE(1, WRITE) { CALC("A=1 && B<10") }
}
"""


def write_rules(tmp_path, text, name="site.acf"):
    path = tmp_path / name
    path.write_text(text)
    return path


async def test_calc_rules_follow_their_inputs(tmp_path):
    channels = {"ENABLE": ChannelDouble(value=0.0), "LIMIT": ChannelDouble(value=5.0)}
    security = AccessSecurity(AccessSettings(write_rules(tmp_path, CALC_RULES)))
    security.load()
    heard = []
    security.add_change_listener(heard.append)
    assert security.rights("DEFAULT", 1, "h", "u") == 1  # inputs not attached: bad
    security.attach_inputs(channels.get)
    assert security.rights("DEFAULT", 1, "h", "u") == 1
    await channels["ENABLE"].write(1.0)
    assert security.rights("DEFAULT", 1, "h", "u") == 3
    assert heard[-1] == frozenset({"DEFAULT"})
    await channels["LIMIT"].write(20.0)
    assert security.rights("DEFAULT", 1, "h", "u") == 1
    await channels["LIMIT"].write(2.0)
    assert security.rights("DEFAULT", 1, "h", "u") == 3
    # an INVALID input makes the rule stop applying, as asCa does
    await channels["LIMIT"].write(3.0, severity=3, status=17)
    assert security.rights("DEFAULT", 1, "h", "u") == 1
    await channels["LIMIT"].write(3.0, severity=0, status=0)
    assert security.rights("DEFAULT", 1, "h", "u") == 3
    count = len(heard)
    await channels["LIMIT"].write(4.0)  # same result: nobody is told
    assert len(heard) == count
    security.close()


async def test_val_in_a_calc_rule_is_its_last_result(tmp_path):
    """base's asComputeAsg passes the rule's previous result (1 or 0) as VAL: a rule can
    hold itself on -- a hysteresis."""
    rules = 'ASG(DEFAULT) { INPA(EN) RULE(1, READ) RULE(1, WRITE) { CALC("VAL ? A>=1 : A>=5") } }'
    channels = {"EN": ChannelDouble(value=0.0)}
    security = AccessSecurity(AccessSettings(write_rules(tmp_path, rules)))
    security.load()
    security.attach_inputs(channels.get)
    rights = []
    for value in (2.0, 5.0, 2.0, 0.0, 2.0):
        await channels["EN"].write(value)
        rights.append(security.rights("DEFAULT", 1, "h", "u"))
    assert rights == [1, 3, 3, 1, 1]
    security.close()


async def test_an_input_is_read_through_its_monitor_deadband(tmp_path):
    """base's asCa reads an input through a DBE_VALUE|DBE_ALARM monitor: with MDEL 5
    (``value_atol``), moving 0 -> 1 posts nothing and grants nothing; 6 does."""
    rules = 'ASG(DEFAULT) { INPA(EN) RULE(1, READ) RULE(1, WRITE) { CALC("A>=1") } }'
    channels = {"EN": ChannelDouble(value=0.0, value_atol=5.0)}
    security = AccessSecurity(AccessSettings(write_rules(tmp_path, rules)))
    security.load()
    security.attach_inputs(channels.get)
    rights = []
    for value in (1.0, 3.0, 6.0):
        await channels["EN"].write(value)
        rights.append(security.rights("DEFAULT", 1, "h", "u"))
    assert rights == [1, 1, 3]
    security.close()


async def test_overlapping_reloads_leave_the_last_file_read_in_force(tmp_path):
    """A reload whose host-name look-ups take their time, overtaken by a second reload of
    a newer file: the newer file is in force at the end (reloads run one after another)."""
    import threading
    import time as _time

    slow = threading.Event()

    def resolve(host):
        if host == "slowhost":
            slow.set()
            _time.sleep(0.5)
        return ["127.0.0.1"]

    path = write_rules(tmp_path, "HAG(h) { slowhost } ASG(DEFAULT) { RULE(1, WRITE) }")
    security = AccessSecurity(AccessSettings(path, host_match=HostMatch.ADDRESS), resolve=resolve)
    security.load()
    slow.clear()
    first = asyncio.ensure_future(security.reload())
    while not slow.is_set():          # the first reload has read its file
        await asyncio.sleep(0.01)
    path.write_text("ASG(DEFAULT) { RULE(1, NONE) }")
    assert await asyncio.gather(first, security.reload()) == [True, True]
    assert security.rights("DEFAULT", 1, "127.0.0.1", "u") == 0
    security.close()


async def test_an_unserved_input_stays_bad_and_is_said_at_load(tmp_path, caplog):
    security = AccessSecurity(AccessSettings(write_rules(tmp_path, CALC_RULES)))
    security.load()
    with caplog.at_level(logging.WARNING, "iochost.access"):
        security.attach_inputs({"ENABLE": ChannelDouble(value=1.0)}.get)
    assert "INPB 'LIMIT' of ASG DEFAULT is not served by this host" in caplog.text
    assert "no CA client watches remote inputs" in caplog.text
    assert security.rights("DEFAULT", 1, "h", "u") == 1
    # the PV appears later (a mount): the input connects
    limit = ChannelDouble(value=1.0)
    security.attach_inputs({"ENABLE": ChannelDouble(value=1.0), "LIMIT": limit}.get)
    assert security.rights("DEFAULT", 1, "h", "u") == 3


async def test_an_input_no_mount_serves_is_watched_remotely(tmp_path):
    """The host hands a RemoteWatch (its CA client); values arrive by callback, None
    while the remote PV is disconnected or INVALID."""
    security = AccessSecurity(AccessSettings(write_rules(tmp_path, CALC_RULES)))
    security.load()
    watching: dict[str, object] = {}
    stopped: list[str] = []

    def watch(pv, on_value):
        watching[pv] = on_value
        return lambda: stopped.append(pv)

    enable = ChannelDouble(value=1.0)
    security.attach_inputs({"ENABLE": enable}.get, watch)
    assert list(watching) == ["LIMIT"] and security.rights("DEFAULT", 1, "h", "u") == 1
    watching["LIMIT"](2.0)
    assert security.rights("DEFAULT", 1, "h", "u") == 3
    watching["LIMIT"](None)                      # disconnected: the rule stops applying
    assert security.rights("DEFAULT", 1, "h", "u") == 1
    watching["LIMIT"](3.0)
    # the local ENABLE goes (an unmount): watched remotely from then on, bad until a value
    security.inputs_removed(["ENABLE"])
    assert "ENABLE" in watching and security.rights("DEFAULT", 1, "h", "u") == 1
    watching["ENABLE"](1.0)
    assert security.rights("DEFAULT", 1, "h", "u") == 3
    security.close()
    assert sorted(stopped) == ["ENABLE", "LIMIT"]


async def test_reload_keeps_the_old_rules_when_the_file_is_bad(tmp_path, caplog):
    path = write_rules(tmp_path, "ASG(DEFAULT) { RULE(1, READ) }")
    security = AccessSecurity(AccessSettings(path))
    security.load()
    heard = []
    security.add_change_listener(heard.append)
    path.write_text("ASG(DEFAULT) {\n RULE(1, WRITE\n}")
    with caplog.at_level(logging.ERROR, "iochost.access"):
        assert await security.reload() is False
    assert f"{path}:3:1: expected ')'" in caplog.text
    assert security.rights("DEFAULT", 1, "h", "u") == 1 and heard == []
    path.write_text("ASG(DEFAULT) { RULE(1, WRITE) }")
    assert await security.reload() is True
    assert security.rights("DEFAULT", 1, "h", "u") == 3 and heard == [None]


def test_a_bad_first_load_refuses_or_starts_read_only(tmp_path):
    path = write_rules(tmp_path, "ASG(DEFAULT) { RULE(1, WRITE }")
    with pytest.raises(AcfError, match=r"site.acf:1:30: expected '\)'"):
        AccessSecurity(AccessSettings(path)).load()
    with pytest.raises(AcfError, match="cannot read the rules file"):
        AccessSecurity(AccessSettings(tmp_path / "missing.acf")).load()
    security = AccessSecurity(AccessSettings(path, on_error=OnError.READ_ONLY))
    security.load()
    assert security.rules is None
    assert security.rights("DEFAULT", 0, "h", "u") == 1  # read-only, never writable
    assert security.rights("ANY", 1, "h", "root") == 1


def test_trapwrite_reports_go_to_the_log_and_the_listeners(tmp_path, caplog):
    security = AccessSecurity(AccessSettings(write_rules(
        tmp_path, "ASG(DEFAULT) { RULE(1, WRITE, TRAPWRITE) }")))
    security.load()
    events = []
    security.add_trap_listener(events.append)
    member = security.member(None)    # no group named: DEFAULT's rules, ASG reads ""
    assert member.group == "" and member.traps_write(0, "h", "u")
    with caplog.at_level(logging.INFO, "iochost.access"):
        member.write_trapped("X:PV", "h", "u", 1.0, 2.0)
    assert "TRAPWRITE u@h X:PV: 1.0 -> 2.0" in caplog.text
    assert [(e.pv, e.user, e.host, e.old, e.new) for e in events] == \
        [("X:PV", "u", "h", 1.0, 2.0)]


def test_asyncio_reload_runs_the_parse_off_the_loop(tmp_path):
    path = write_rules(tmp_path, "ASG(DEFAULT) { RULE(1, READ) }")
    security = AccessSecurity(AccessSettings(path))
    security.load()
    assert asyncio.run(security.reload())


async def test_inputs_follow_their_pvs_being_removed_and_added_again(tmp_path):
    enable, limit = ChannelDouble(value=1.0), ChannelDouble(value=2.0)
    served = {"ENABLE": enable, "LIMIT": limit}
    security = AccessSecurity(AccessSettings(write_rules(tmp_path, CALC_RULES)))
    security.load()
    heard = []
    security.add_change_listener(heard.append)
    security.attach_inputs(served.get)
    assert security.rights("DEFAULT", 1, "h", "u") == 3
    del served["LIMIT"]
    security.inputs_removed(["LIMIT"])            # an unmount: the input goes bad
    assert security.rights("DEFAULT", 1, "h", "u") == 1
    assert heard[-1] == frozenset({"DEFAULT"})
    await limit.write(50.0)                       # the old channel is no longer watched
    served["LIMIT"] = ChannelDouble(value=3.0)
    security.inputs_added(["OTHER", "LIMIT"])     # mounted again: connected and read
    assert security.rights("DEFAULT", 1, "h", "u") == 3
    security.inputs_added(["LIMIT"])              # nothing new: nobody is told
    count = len(heard)
    security.inputs_added(["LIMIT"])
    assert len(heard) == count

"""Access security end to end: a host config with an ``access:`` section, real CA clients
under different user and host names (caproto's client sets CLIENT_NAME/HOST_NAME; the raw
client checks the exact ECA codes; pyepics is EPICS' own libca under the OS user).

The IOC and the ``iochost_trapwrite`` implementation below are a real plugin: this module
is handed to the plugin manager (``extra_plugins``), as an installed plugin would be.
"""
import getpass
import os
import logging
import socket
import sys
import textwrap
import threading

import pytest
from ca_raw_client import RawCircuit

from iochost import PVGroup, pvproperty
from iochost.ca import commands as ca
from iochost.ca.dbr import ChannelType, decode_dbr
from iochost.ca.eca import ECA_NORDACCESS, ECA_NORMAL, ECA_NOWTACCESS
from iochost.host import ConfigError, Host, hookimpl, load_config_text, load_plugins
from iochost.server import ServerConfig
from iochost.testing import wait_until

TIMEOUT = 5.0
TRAPPED: list = []

RULES = """\
# the rules of these tests ($(P) is the test's PV prefix)
UAG(ops) { operator }
UAG(admins) { admin }
HAG(console) { console1 }
HAG(local) { localhost }
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) }
}
ASG(RO) { RULE(1, READ) }
ASG(HIDDEN) { RULE(1, READ) { UAG(admins) } }
ASG(CONSOLE) {
    RULE(1, READ)
    RULE(1, WRITE, TRAPWRITE) { UAG(ops) HAG(console) }
}
ASG(GATED) {
    INPA("$(P)ENABLE")
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) CALC("A=1") }
}
ASG(LOCAL) {
    RULE(1, READ)
    RULE(1, WRITE) { HAG(local) }
}
"""


class AccessIOC(PVGroup):
    """One PV per access security group of RULES."""

    OPEN = pvproperty(value=1.0, doc="the mount's group (DEFAULT)")
    RO = pvproperty(value=2.0, asg="RO")
    HIDDEN = pvproperty(value=3.0, asg="HIDDEN")
    CONSOLE = pvproperty(value=4.0, asg="CONSOLE")
    LABEL = pvproperty(value="console", record="stringout", asg="CONSOLE",
                       doc="a text written as NAME$ too")
    GATED = pvproperty(value=5.0, asg="GATED")
    ENABLE = pvproperty(value=0)
    LOCAL = pvproperty(value=6.0, asg="LOCAL")
    AO = pvproperty(value=1.5, record="ao", asg="RO")


@hookimpl
def iochost_register_iocs(register):
    register("access-test", AccessIOC)


@hookimpl
def iochost_trapwrite(host, event):
    TRAPPED.append(event)


@pytest.fixture
def catalog():
    return load_plugins(extra_plugins={"access-test": sys.modules[__name__]})


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "site.acf"
    path.write_text(RULES)
    return path


def host_config(unique_prefix, rules_file, **access):
    options = "".join(f", {key}: {value}" for key, value in access.items())
    return load_config_text(textwrap.dedent(f"""\
        host: {{name: acc, status_prefix: null}}
        macros: {{P: '{unique_prefix}'}}
        access: {{file: {rules_file}{options}}}
        mounts:
          - {{name: acc, ioc: access-test, prefix: '$(P)'}}
        """), "access.yaml", environ={})


@pytest.fixture
def host(ca_server, catalog, unique_prefix, rules_file):
    """A host with the rules, mounted on the session's server."""
    started = Host(host_config(unique_prefix, rules_file), catalog, server=ca_server.server)
    ca_server.call(started.start())
    TRAPPED.clear()
    yield started
    ca_server.call(started.stop())


def rights_of(context, names):
    pvs = context.get_pvs(*names, timeout=TIMEOUT)
    for pv in pvs:
        pv.wait_for_connection(timeout=TIMEOUT)
    return {pv.name.rsplit(":", 1)[1]: int(pv.access_rights) for pv in pvs}


ALL = ("OPEN", "RO", "HIDDEN", "CONSOLE", "GATED", "AO", "AO.DESC", "AO.ASG")


def test_rights_follow_user_and_host_names(host, caproto_as, unique_prefix):
    names = [unique_prefix + name for name in ALL]
    operator_at_console = rights_of(caproto_as("operator", "console1"), names)
    assert operator_at_console == {"OPEN": 3, "RO": 1, "HIDDEN": 0, "CONSOLE": 3,
                                   "GATED": 1, "AO": 1, "AO.DESC": 1, "AO.ASG": 1}
    operator_elsewhere = rights_of(caproto_as("operator", "laptop"), names)
    assert operator_elsewhere["CONSOLE"] == 1 and operator_elsewhere["OPEN"] == 3
    guest = rights_of(caproto_as("guest", "CONSOLE1"), names)
    assert guest == {"OPEN": 1, "RO": 1, "HIDDEN": 0, "CONSOLE": 1, "GATED": 1, "AO": 1,
                     "AO.DESC": 1, "AO.ASG": 1}
    admin = rights_of(caproto_as("admin", "x"), names)
    assert admin["HIDDEN"] == 1


def test_denied_requests_get_rsrvs_eca_codes_and_change_nothing(host, ca_server,
                                                                 unique_prefix):
    P = unique_prefix
    with RawCircuit(ca_server.tcp_port, user=b"guest", host=b"console1") as raw:
        rights, hidden = raw.create_channel(P + "HIDDEN")
        assert rights.access_rights == 0
        read = raw.read(hidden.sid, ChannelType.DOUBLE, 1, ioid=1)
        assert isinstance(read, ca.ReadNotifyResponse) and read.status == ECA_NORDACCESS
        raw.send(ca.EventAddRequest(data_type=ChannelType.DOUBLE, data_count=1,
                                    sid=hidden.sid, subscriptionid=9, low=0, high=0, to=0,
                                    mask=1))
        event = raw.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
        assert event.status == ECA_NORDACCESS
        rights, ro = raw.create_channel(P + "RO")
        assert rights.access_rights == 1
        payload = ChannelType.DOUBLE  # any double: the value must not change
        reply = raw.write(ro.sid, ChannelType.DOUBLE, 1, b"@\x8f@\x00\x00\x00\x00\x00", ioid=2)
        assert isinstance(reply, ca.WriteNotifyResponse) and reply.status == ECA_NOWTACCESS
        value = raw.read(ro.sid, ChannelType.DOUBLE, 1, ioid=3)
        assert value.status == ECA_NORMAL
        assert decode_dbr(payload, value.payload, 1)[0][0] == 2.0
        # the record's ASG field reads its group
        _, asg = raw.create_channel(P + "AO.ASG")
        text = raw.read(asg.sid, ChannelType.STRING, 1, ioid=4)
        assert decode_dbr(ChannelType.STRING, text.payload, 1)[0][0] == b"RO"


def test_pyepics_sees_read_only_and_no_access_channels(host, pyepics, unique_prefix):
    """libca under the OS user (neither operator nor admin): OPEN is read-only for it,
    HIDDEN has no access at all."""
    assert getpass.getuser() not in ("operator", "admin")
    P = unique_prefix
    ca = pyepics.ca
    hidden = ca.create_channel(P + "HIDDEN", connect=True, auto_cb=False)
    opened = ca.create_channel(P + "OPEN", connect=True, auto_cb=False)
    try:
        assert ca.connect_channel(hidden, timeout=TIMEOUT)
        assert ca.connect_channel(opened, timeout=TIMEOUT)
        assert (ca.read_access(hidden), ca.write_access(hidden)) == (0, 0)
        assert (ca.read_access(opened), ca.write_access(opened)) == (1, 0)
        assert ca.get(opened, timeout=TIMEOUT) == 1.0
        with pytest.raises(ca.CASeverityException, match="Read access denied"):
            ca.get(hidden, timeout=TIMEOUT)   # libca's ca_array_get_callback: ECA_NORDACCESS
        with pytest.raises(ca.CASeverityException, match="Write access denied"):
            ca.put(opened, 9.0, wait=True, timeout=TIMEOUT)  # ECA_NOWTACCESS
        assert ca.get(opened, timeout=TIMEOUT) == 1.0
    finally:
        ca.clear_channel(hidden)
        ca.clear_channel(opened)


def test_a_reload_grants_write_live_to_a_connected_client(host, ca_server, caproto_as,
                                                           unique_prefix, rules_file, caplog):
    context = caproto_as("operator", "laptop")
    (pv,) = context.get_pvs(unique_prefix + "RO", timeout=TIMEOUT)
    pv.wait_for_connection(timeout=TIMEOUT)
    changed = threading.Event()
    seen = []

    def on_rights(pv, rights):  # caproto keeps callbacks by weak reference: keep this one
        seen.append(int(rights))
        changed.set()

    pv.access_rights_callback.add_callback(on_rights)
    assert int(pv.access_rights) == 1
    refused = pv.write([7.0], wait=True, timeout=TIMEOUT)
    assert refused.status.code_with_severity == ECA_NOWTACCESS
    assert pv.read(timeout=TIMEOUT).data[0] == 2.0
    # a bad file: the old rules stay, the error names file:line
    rules_file.write_text(RULES.replace("ASG(RO) { RULE(1, READ) }", "ASG(RO) { RULE(1, 5) }"))
    with caplog.at_level(logging.ERROR, "iochost.access"):
        assert ca_server.call(host.reload_access()) is False
    assert f"{rules_file}:10:19: expected NONE, READ or WRITE, found '5'" in caplog.text
    assert not changed.wait(0.3)
    rules_file.write_text(RULES.replace("ASG(RO) { RULE(1, READ) }",
                                        "ASG(RO) { RULE(1, READ) RULE(1, WRITE) { UAG(ops) } }"))
    assert ca_server.call(host.reload_access()) is True
    assert changed.wait(TIMEOUT), "no ACCESS_RIGHTS after the reload"
    assert seen == [3] and int(pv.access_rights) == 3
    pv.write([7.0], wait=True, timeout=TIMEOUT)
    assert pv.read(timeout=TIMEOUT).data[0] == 7.0


def test_pyepics_access_callback_fires_on_reload(host, ca_server, pyepics, unique_prefix,
                                                 rules_file):
    user = getpass.getuser()
    heard = []
    pv = pyepics.PV(unique_prefix + "RO", auto_monitor=False,
                    access_callback=lambda read_access, write_access, pv=None:
                    heard.append((read_access, write_access)))
    try:
        assert pv.wait_for_connection(TIMEOUT)
        assert wait_until(lambda: heard and heard[-1] == (True, False), TIMEOUT)
        rules_file.write_text(RULES.replace(
            "ASG(RO) { RULE(1, READ) }", f"UAG(me) {{ {user} }}\n"
            "ASG(RO) { RULE(1, READ) RULE(1, WRITE) { UAG(me) } }"))
        assert ca_server.call(host.reload_access()) is True
        assert wait_until(lambda: heard[-1] == (True, True), TIMEOUT), heard
        assert pv.put(8.0, wait=True, timeout=TIMEOUT) == 1
    finally:
        pv.disconnect()


def test_a_calc_rule_follows_its_input_pv(host, caproto_as, unique_prefix):
    context = caproto_as("operator", "laptop")
    gated, enable = context.get_pvs(unique_prefix + "GATED", unique_prefix + "ENABLE",
                                    timeout=TIMEOUT)
    gated.wait_for_connection(timeout=TIMEOUT)
    enable.wait_for_connection(timeout=TIMEOUT)
    rights = []
    granted = threading.Event()

    def on_rights(pv, r):  # kept alive here: caproto holds callbacks weakly
        rights.append(int(r))
        if int(r) == 3:
            granted.set()

    gated.access_rights_callback.add_callback(on_rights)
    assert int(gated.access_rights) == 1
    enable.write([1], wait=True, timeout=TIMEOUT)
    assert granted.wait(TIMEOUT), "the CALC result changed but no ACCESS_RIGHTS came"
    gated.write([6.0], wait=True, timeout=TIMEOUT)
    enable.write([0], wait=True, timeout=TIMEOUT)
    assert wait_until(lambda: rights == [3, 1], TIMEOUT), rights


def test_a_subscription_without_read_access_wakes_when_access_is_granted(
        host, ca_server, unique_prefix, rules_file):
    P = unique_prefix
    with RawCircuit(ca_server.tcp_port, user=b"guest", host=b"x") as raw:
        _, hidden = raw.create_channel(P + "HIDDEN")
        raw.send(ca.EventAddRequest(data_type=ChannelType.DOUBLE, data_count=1,
                                    sid=hidden.sid, subscriptionid=4, low=0, high=0, to=0,
                                    mask=1))
        assert raw.recv_until(lambda m: isinstance(m, ca.EventAddResponse)).status == \
            ECA_NORDACCESS
        rules_file.write_text(RULES.replace("{ RULE(1, READ) { UAG(admins) } }",
                                            "{ RULE(1, READ) }"))
        assert ca_server.call(host.reload_access()) is True
        granted = raw.recv_until(lambda m: isinstance(m, ca.AccessRightsResponse))
        assert granted.access_rights == 1 and granted.cid == hidden.cid
        # the server's introspection (the web page's source) shows the rights now in force
        server = ca_server.server
        (me,) = [c for c in ca_server.call(server.clients) if c.user == "guest"]
        channels = ca_server.call(lambda: server.client_channels(me.client_id))
        assert [(c.name, int(c.rights)) for c in channels] == [(P + "HIDDEN", 1)]
        update = raw.recv_until(lambda m: isinstance(m, ca.EventAddResponse))
        assert update.status == ECA_NORMAL
        assert decode_dbr(ChannelType.DOUBLE, update.payload, 1)[0][0] == 3.0
        # and away again: one NORDACCESS update, then nothing
        rules_file.write_text(RULES)
        assert ca_server.call(host.reload_access()) is True
        assert raw.recv_until(lambda m: isinstance(m, ca.AccessRightsResponse)).access_rights \
            == 0
        assert raw.recv_until(lambda m: isinstance(m, ca.EventAddResponse)).status == \
            ECA_NORDACCESS
        # a reload that changes nothing for this channel sends nothing
        assert ca_server.call(host.reload_access()) is True
        assert not [m for m in raw.recv_for(0.3) if isinstance(m, ca.AccessRightsResponse)]


def test_a_change_of_write_access_alone_posts_each_subscription_once(host, ca_server,
                                                                      unique_prefix):
    """RSRV's casAccessRightsCB posts every subscription of a channel whose rights changed,
    read access kept or not: ACCESS_RIGHTS, then the current value."""
    P = unique_prefix
    with RawCircuit(ca_server.tcp_port, user=b"operator", host=b"laptop") as raw:
        _, gated = raw.create_channel(P + "GATED")
        _, enable = raw.create_channel(P + "ENABLE")
        raw.send(ca.EventAddRequest(data_type=ChannelType.DOUBLE, data_count=1,
                                    sid=gated.sid, subscriptionid=4, low=0, high=0, to=0,
                                    mask=1))
        assert raw.recv_until(lambda m: isinstance(m, ca.EventAddResponse)).status == ECA_NORMAL
        for value, rights in ((1, 3), (0, 1)):
            raw.write(enable.sid, ChannelType.LONG, 1, value.to_bytes(4, "big"), ioid=value)
            seen = [m for m in raw.recv_for(0.5)
                    if isinstance(m, (ca.AccessRightsResponse, ca.EventAddResponse))]
            assert [(type(m).__name__, getattr(m, "access_rights", None)) for m in seen] == \
                [("AccessRightsResponse", rights), ("EventAddResponse", None)]
            assert seen[1].status == ECA_NORMAL and seen[1].subscriptionid == 4


def test_trapwrite_is_logged_and_handed_to_the_plugin(host, caproto_as, unique_prefix, caplog):
    context = caproto_as("operator", "console1")
    (pv,) = context.get_pvs(unique_prefix + "CONSOLE", timeout=TIMEOUT)
    pv.wait_for_connection(timeout=TIMEOUT)
    with caplog.at_level(logging.INFO, "iochost.access"):
        pv.write([6.5], wait=True, timeout=TIMEOUT)
        assert wait_until(lambda: TRAPPED, TIMEOUT)
    assert f"TRAPWRITE operator@console1 {unique_prefix}CONSOLE: 4.0 -> 6.5" in caplog.text
    (event,) = TRAPPED
    assert (event.pv, event.user, event.host, event.old, event.new) == \
        (unique_prefix + "CONSOLE", "operator", "console1", 4.0, 6.5)
    # a put through the long-string view (NAME$) is trapped as RSRV traps every put
    (label,) = context.get_pvs(unique_prefix + "LABEL.DESC$", timeout=TIMEOUT)
    label.wait_for_connection(timeout=TIMEOUT)
    label.write(b"short\0", wait=True, timeout=TIMEOUT)
    assert wait_until(lambda: len(TRAPPED) == 2, TIMEOUT)
    assert (TRAPPED[1].pv, TRAPPED[1].old, TRAPPED[1].new) == (
        unique_prefix + "LABEL.DESC", "a text written as NAME$ too", "short")
    # so is an alarm acknowledgement (PUT_ACKS, PUT_ACKT; nothing to acknowledge: ACKS
    # stays 0): the report names the field
    pv.write([2], data_type=ChannelType.PUT_ACKS, wait=True, timeout=TIMEOUT)
    pv.write([0], data_type=ChannelType.PUT_ACKT, wait=True, timeout=TIMEOUT)
    assert wait_until(lambda: len(TRAPPED) == 4, TIMEOUT)
    assert [(event.pv, event.old, event.new) for event in TRAPPED[2:]] == [
        (unique_prefix + "CONSOLE.ACKS", 0, 0), (unique_prefix + "CONSOLE.ACKT", 1, 0)]


def test_address_matching_ignores_the_claimed_host_name(ca_server, catalog, unique_prefix,
                                                          rules_file):
    """host_match: address -- HAG(local) { localhost } is resolved to 127.0.0.1 at load;
    a client claiming 'console1' is matched by its address only. (HAG console names an
    address here: resolving 'console1' would send a DNS query off the machine.)"""
    rules_file.write_text(RULES.replace("HAG(console) { console1 }",
                                        "HAG(console) { 127.0.0.9 }"))
    config = host_config(unique_prefix, rules_file, host_match="address")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    own = Host(config, catalog, server_config=ServerConfig(
        interfaces=("127.0.0.1",), port=port, beacon_addresses=(("127.0.0.1", port),),
        auto_beacon=False))
    ca_server.call(own.start())
    try:
        with RawCircuit(own.server.tcp_port, user=b"operator", host=b"console1") as raw:
            assert raw.create_channel(unique_prefix + "LOCAL")[0].access_rights == 3
            assert raw.create_channel(unique_prefix + "CONSOLE")[0].access_rights == 1
        clients = ca_server.call(own.server.clients)
        assert clients == [] or all(c.host == "127.0.0.1" for c in clients)
    finally:
        ca_server.call(own.stop())


def test_address_matching_on_a_server_that_matches_names_refuses_to_start(
        ca_server, catalog, unique_prefix, rules_file):
    """A Host given a server that takes claimed host names cannot enforce host_match:
    address (a client could claim '127.0.0.1'): it says so and serves nothing."""
    from iochost.host.problems import ConfigError

    rules_file.write_text(RULES.replace("HAG(console) { console1 }",
                                        "HAG(console) { 127.0.0.9 }"))   # no DNS query
    config = host_config(unique_prefix, rules_file, host_match="address")
    embedded = Host(config, catalog, server=ca_server.server)
    with pytest.raises(ConfigError) as refused:
        ca_server.call(embedded.start())
    assert "access.host_match" in str(refused.value)
    assert "use_host_names=False" in str(refused.value)
    assert ca_server.server.database.resolve(unique_prefix + "LOCAL") is None


def test_a_bad_rules_file_refuses_to_start_or_starts_read_only(ca_server, catalog,
                                                                unique_prefix, tmp_path):
    bad = tmp_path / "bad.acf"
    bad.write_text("UAG(ops) { operator }\nASG(DEFAULT) {\n  RULE(1, WRITE) { UAG(opz) }\n}\n")
    refused = Host(host_config(unique_prefix, bad), catalog, server=ca_server.server)
    with pytest.raises(ConfigError) as caught:
        ca_server.call(refused.start())
    assert f"{bad}:3" in str(caught.value) and "opz" in str(caught.value)
    assert unique_prefix + "OPEN" not in ca_server.server.database
    fallback = Host(host_config(unique_prefix, bad, on_error="read-only"), catalog,
                    server=ca_server.server)
    ca_server.call(fallback.start())
    try:
        with RawCircuit(ca_server.tcp_port, user=b"operator", host=b"console1") as raw:
            assert raw.create_channel(unique_prefix + "OPEN")[0].access_rights == 1
            assert raw.create_channel(unique_prefix + "HIDDEN")[0].access_rights == 1
    finally:
        ca_server.call(fallback.stop())


REMOTE_RULES = """\
UAG(ops) { operator }
ASG(DEFAULT) { RULE(1, READ) }
ASG(GATED) {
    INPA("$(P)R:ENABLE")
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) CALC("A=1") }
}
"""


def test_a_calc_input_on_another_server_is_watched_over_ca(ca_server, catalog, caproto_as,
                                                           unique_prefix, rules_file, caplog):
    """INPA names a PV of another IOC (RSRV, in a subprocess): the host's CA client
    watches it, as base's asCa does; a disconnect makes the input bad (rule off)."""
    from softioc_process import running_softioc

    P = unique_prefix
    rules_file.write_text(REMOTE_RULES)
    remote_port = int(os.environ["IOCHOST_TEST_SUBPROCESS_PORT"])
    with running_softioc(f'record(bo, "{P}R:ENABLE") {{ field(ZNAM, "off") '
                         f'field(ONAM, "on") field(PINI, "YES") }}', remote_port):
        with caplog.at_level(logging.INFO, "iochost.access"):
            host = Host(host_config(P, rules_file), catalog, server=ca_server.server)
            ca_server.call(host.start())
        try:
            assert f"INPA '{P}R:ENABLE' of ASG GATED is not served by this host: watched " \
                "over CA" in caplog.text
            context = caproto_as("operator", "laptop")
            gated, enable = context.get_pvs(P + "GATED", P + "R:ENABLE", timeout=TIMEOUT)
            gated.wait_for_connection(timeout=TIMEOUT)
            enable.wait_for_connection(timeout=TIMEOUT)
            rights = []

            def on_rights(pv, r):  # kept alive here: caproto holds callbacks weakly
                rights.append(int(r))

            gated.access_rights_callback.add_callback(on_rights)
            assert int(gated.access_rights) == 1            # ENABLE is 0: no write
            enable.write([1], wait=True, timeout=TIMEOUT)      # on the other IOC
            assert wait_until(lambda: rights[-1:] == [3], TIMEOUT), rights
            gated.write([6.0], wait=True, timeout=TIMEOUT)
            assert gated.read(timeout=TIMEOUT).data[0] == 6.0
            enable.write([0], wait=True, timeout=TIMEOUT)
            assert wait_until(lambda: rights[-1:] == [1], TIMEOUT), rights
            enable.write([1], wait=True, timeout=TIMEOUT)
            assert wait_until(lambda: rights[-1:] == [3], TIMEOUT), rights
        except BaseException:
            ca_server.call(host.stop())
            raise
    # the other IOC went away while ENABLE was 1: the input is bad, the rule stops applying
    try:
        assert wait_until(lambda: rights[-1:] == [1], TIMEOUT), rights
    finally:
        ca_server.call(host.stop())


def test_user_names_that_are_not_utf8_are_matched_byte_for_byte(ca_server, catalog,
                                                                  unique_prefix, tmp_path):
    """Base compares names as bytes: two names that are not UTF-8 must not match each
    other's UAG entries (decoded with replacement both read as U+FFFD)."""
    rules = tmp_path / "site.acf"
    rules.write_bytes(b'UAG(ops) { "op\xe9" }\nASG(DEFAULT) { RULE(1, READ) '
                      b'RULE(1, WRITE) { UAG(ops) } }\n')
    host = Host(host_config(unique_prefix, rules), catalog, server=ca_server.server)
    ca_server.call(host.start())
    try:
        for user, rights in ((b"op\xe9", 3), (b"op\xe8", 1), (b"op\xef\xbf\xbd", 1)):
            with RawCircuit(ca_server.tcp_port, user=user, host=b"x") as raw:
                granted, _ = raw.create_channel(unique_prefix + "OPEN")
                assert granted.access_rights == rights, user
    finally:
        ca_server.call(host.stop())


def test_group_names_a_client_put_are_forgotten_once_no_record_uses_them(host, ca_server,
                                                                         unique_prefix):
    """A put to a record's ASG moves it to the group it names, any name (one the rules do
    not define has DEFAULT's rules): a host running for months must not keep one object
    per name ever put."""
    import gc

    from iochost.access.security import AccessMember

    def members() -> int:
        return ca_server.call(lambda: sum(isinstance(o, AccessMember) for o in gc.get_objects()))

    with RawCircuit(ca_server.tcp_port, user=b"operator", host=b"console1") as raw:
        _, asg = raw.create_channel(unique_prefix + "LABEL.ASG")

        def move(name: str) -> None:
            reply = raw.write(asg.sid, ChannelType.STRING, 1, name.encode().ljust(40, b"\0"),
                              ioid=1)
            assert isinstance(reply, ca.WriteNotifyResponse) and reply.status == ECA_NORMAL

        move("CONSOLE")
        before = members()
        for i in range(200):
            move(f"SITE-{i}")
        move("CONSOLE")
        text = raw.read(asg.sid, ChannelType.STRING, 1, ioid=2)
    assert decode_dbr(ChannelType.STRING, text.payload, 1)[0][0] == b"CONSOLE"
    assert members() <= before

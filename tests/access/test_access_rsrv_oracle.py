"""Oracle: softioc (RSRV) loads the same ACF as iochost; clients with the same names get
the same ACCESS_RIGHTS and the same ECA codes from both, channel by channel.

Every ao record exists on both servers with the same ASG; channels cover the record (VAL,
ASL0) and fields at ASL1 (DESC, EGU, HIHI) and the ASG field itself.
"""
import importlib.util

import pytest
from ca_raw_client import RawCircuit
from softioc_process import free_port, running_softioc

from iochost import PVGroup, pvproperty
from iochost.access import AccessSecurity, AccessSettings
from iochost.ca.dbr import ChannelType
from iochost.testing import ServerThread

if importlib.util.find_spec("softioc") is None:
    pytest.skip("softioc is not installed", allow_module_level=True)

ACF = """\
UAG(ops) { operator }
UAG(admins) { admin, "root-ish" }
HAG(console) { console1, Console2, "Ünïcode", kiosk }
HAG(local) { 127.0.0.1 }
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) }
}
ASG(RO) { RULE(1, READ) }
ASG(NOACC)
ASG(CONSOLE) {
    RULE(1, READ)
    RULE(1, WRITE, TRAPWRITE) { UAG(ops) HAG(console) }
}
ASG(L0) {
    RULE(0, WRITE)
    RULE(1, READ) { UAG(ops, admins) }
}
ASG(LOCAL) {
    RULE(1, READ)
    RULE(1, WRITE) { HAG(local) }
}
ASG(NEWER) {
    RULE(1, READ)
    RULE(1, WRITE) { UAG(ops) METHOD("ca") }
    RULE(1, RPC)
    RULE(0, WRITE) { UAG(admins) }
}
AUTHORITY(site, "CN=site CA") { ISSUED(x) { y } }
ASG(ADMIN) {
    RULE(1, NONE)
    RULE(0, READ) { HAG(console) }
    RULE(1, WRITE) { UAG(admins) }
}
"""
GROUPS = {"OPEN": "", "RO": "RO", "NOACC": "NOACC", "CONSOLE": "CONSOLE", "L0": "L0",
          "ADMIN": "ADMIN", "LOCAL": "LOCAL", "NEWER": "NEWER",
          "UNKNOWN": "NOT-IN-THE-FILE", "NAMED": "DEFAULT"}
FIELDS = ("", ".DESC", ".EGU", ".HIHI", ".ASG")
CLIENTS = [(b"operator", b"console1"), (b"operator", b"laptop"), (b"guest", b"CONSOLE2"),
           (b"admin", b"console2"), (b"root-ish", b"x"),
           # no HOST_NAME: RSRV matches "", not the address; names compare as ASCII
           # without case, byte for byte otherwise (no Unicode case folding)
           (b"operator", None), (b"operator", "ünïcode".encode()),
           (b"operator", "Ünïcode".encode()), (b"operator", "\u212aiosk".encode())]

DB = "".join(f'record(ao, "ACO:{name}") {{ field(ASG, "{asg}") }}\n'
             for name, asg in GROUPS.items())


def oracle_group(security):
    namespace = {name: pvproperty(value=0.0, record="ao", asg=asg or None)
                 for name, asg in GROUPS.items()}
    cls = type("AccessOracleIOC", (PVGroup,), namespace)
    group = cls(prefix="ACO:")
    for channel in group.pvdb.values():
        channel.access_gate = security.member(channel.pvspec.asg)
    return group


def conversation(port, user, host):
    """ACCESS_RIGHTS per channel, then the status of a read and of a write of each."""
    seen = []
    with RawCircuit(port, user=user, host=host) as raw:
        for name in GROUPS:
            for field in FIELDS:
                pv = f"ACO:{name}{field}"
                rights, reply = raw.create_channel(pv)
                read = raw.read(reply.sid, ChannelType.STRING, 1, ioid=1)
                write = raw.write(reply.sid, ChannelType.STRING, 1,
                                  b"7".ljust(40, b"\0"), ioid=2)
                # what ASG reads: "" for a record given no group, as "DEFAULT" is not
                text = read.payload.rstrip(b"\0") if field == ".ASG" else None
                seen.append((pv, rights.access_rights, read.status, text,
                             getattr(write, "status", type(write).__name__)))
    return seen


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    rules = tmp_path_factory.mktemp("acf") / "oracle.acf"
    rules.write_text(ACF, encoding="utf-8")
    security = AccessSecurity(AccessSettings(rules))
    security.load()
    group = oracle_group(security)
    with running_softioc(DB, acf=ACF) as rsrv_port, \
            ServerThread(group.pvdb, port=free_port()) as ours:
        yield rsrv_port, ours.tcp_port


@pytest.mark.parametrize("user, host", CLIENTS)
def test_access_rights_and_eca_codes_match_rsrv(servers, user, host):
    rsrv_port, our_port = servers
    theirs = conversation(rsrv_port, user, host)
    ours = conversation(our_port, user, host)
    assert ours == theirs
    # the comparison is not vacuous: every kind of answer occurs for some client
    assert {rights for _, rights, _, _, _ in theirs} <= {0, 1, 3}


def test_the_clients_see_every_kind_of_rights(servers):
    rsrv_port, _ = servers
    kinds = {rights for user, host in CLIENTS
             for _, rights, _, _, _ in conversation(rsrv_port, user, host)}
    assert kinds == {0, 1, 3}

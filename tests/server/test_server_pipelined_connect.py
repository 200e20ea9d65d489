"""A circuit's first chunk as libca sends it when it connects many channels at once --
VERSION, HOST_NAME, CLIENT_NAME, then a run of CREATE_CHANs in one write -- is answered in
order, with the rights of the names it set, also when other messages sit between runs."""
from ca_raw_client import MINOR_VERSION, RawCircuit

from iochost.ca import commands as ca
from iochost.pv.data import ChannelDouble
from iochost.server import ServerConfig
from iochost.testing import ServerThread

CHANNELS = 600  # more than one REPLY_BATCH: the replies leave in several writes


def _only_alice_writes(host: str, user: str) -> int:
    return 3 if (host, user) == ("ws-alice", "alice") else 1


def _creates(names: list[str], first_cid: int) -> list[ca.CreateChanRequest]:
    return [ca.CreateChanRequest(name=name.encode(), cid=first_cid + i, version=MINOR_VERSION)
            for i, name in enumerate(names)]


def _received_through(raw: RawCircuit, cid: int) -> list:
    """Every message received up to the CREATE_CHAN reply for `cid` (the last one sent)."""
    last = raw.recv_until(lambda m: isinstance(m, ca.CreateChanResponse) and m.cid == cid)
    return [*raw.received, last]


def _connect_in_one_write(port: int, user: bytes, names: list[str]) -> list:
    with RawCircuit(port, handshake=False) as raw:
        raw.send(ca.VersionRequest(priority=0, version=MINOR_VERSION),
                 ca.HostNameRequest(name=b"ws-alice"), ca.ClientNameRequest(name=user),
                 *_creates(names, 1))
        last = len(names)
        return _received_through(raw, last)


def _serve(prefix: str):
    pvs = {f"{prefix}P{i:04d}": ChannelDouble(value=float(i), access_check=_only_alice_writes)
           for i in range(CHANNELS)}
    config = ServerConfig(interfaces=("127.0.0.1",), port=0, auto_beacon=False,
                          use_host_names=True)
    return list(pvs), ServerThread(pvs, config=config)


def test_names_set_ahead_of_a_run_of_creates_in_one_chunk_decide_the_rights(unique_prefix):
    names, server = _serve(unique_prefix)
    with server:
        for user, rights in ((b"alice", 3), (b"bob", 1)):
            replies = _connect_in_one_write(server.tcp_port, user, names)
            granted = [m for m in replies if isinstance(m, ca.AccessRightsResponse)]
            created = [m for m in replies if isinstance(m, ca.CreateChanResponse)]
            assert [m.cid for m in created] == list(range(1, CHANNELS + 1))
            assert len({m.sid for m in created}) == CHANNELS
            assert [m.cid for m in granted] == list(range(1, CHANNELS + 1))
            assert {m.access_rights for m in granted} == {rights}, user
            # each ACCESS_RIGHTS comes right before its channel's reply
            kinds = [type(m) for m in replies if isinstance(
                m, (ca.AccessRightsResponse, ca.CreateChanResponse))]
            assert kinds == [ca.AccessRightsResponse, ca.CreateChanResponse] * CHANNELS


def test_a_message_between_two_runs_of_creates_is_answered_between_them(unique_prefix):
    names, server = _serve(unique_prefix)
    half = CHANNELS // 2
    with server, RawCircuit(server.tcp_port, handshake=False) as raw:
        # a CLIENT_NAME after channels exist is refused with an ERROR (as RSRV), in order
        raw.send(ca.VersionRequest(priority=0, version=MINOR_VERSION),
                 ca.ClientNameRequest(name=b"alice"), *_creates(names[:half], 1),
                 ca.ClientNameRequest(name=b"mallory"), ca.EchoRequest(),
                 *_creates(names[half:], half + 1))
        replies = [m for m in _received_through(raw, CHANNELS)
                   if not isinstance(m, ca.VersionResponse)]
        order = [(type(m).__name__, m.cid if isinstance(m, ca.CreateChanResponse) else None)
                 for m in replies if not isinstance(m, ca.AccessRightsResponse)]
        assert order == ([("CreateChanResponse", cid) for cid in range(1, half + 1)]
                         + [("ErrorResponse", None), ("EchoResponse", None)]
                         + [("CreateChanResponse", cid)
                            for cid in range(half + 1, CHANNELS + 1)])
        # the refused name changed nothing: every channel has the first user's rights
        # (not alice's full rights: the host is the peer's address, not ws-alice)
        assert {m.access_rights for m in replies
                if isinstance(m, ca.AccessRightsResponse)} == {1}

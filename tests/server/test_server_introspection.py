"""The server's read-only introspection (clients, their channels, totals) seen through a
real client (caproto's threading client, its own context so it is one identifiable circuit)."""
import time

import pytest

from iochost.ca.dbr import AccessRights
from iochost.pv.data import ChannelDouble
from iochost.server import ChannelInfo, ClientInfo, ServerTotals
from iochost.testing import wait_until


@pytest.fixture
def own_client():
    from caproto.threading.client import Context

    user = f"introspect{time.monotonic_ns()}"
    context = Context(timeout=5.0, host_name="inspected-host", client_name=user)
    yield context, user
    context.disconnect()


def mine(ca_server, user) -> ClientInfo | None:
    return next((c for c in ca_server.call(ca_server.server.clients) if c.user == user), None)


def test_a_client_is_listed_with_its_channels_subscriptions_and_bytes(ca_server, serve_pvs,
                                                                      own_client):
    context, user = own_client
    channel = ChannelDouble(value=1.0)
    read_only = ChannelDouble(value=2.0, read_only=True)
    names = serve_pvs({"A": channel, "RO": read_only})
    before = ca_server.call(ca_server.server.totals)
    pv, ro = context.get_pvs(names["A"], names["RO"])
    pv.wait_for_connection()
    ro.wait_for_connection()
    received = []

    def on_update(sub, response):  # caproto holds callbacks weakly: keep a name for it
        received.append(response.data[0])

    sub = pv.subscribe()
    sub.add_callback(on_update)
    assert wait_until(lambda: received, what="first monitor update")

    info = wait_until(lambda: (c := mine(ca_server, user)) and c.subscriptions == 1 and c)
    assert info.host == "inspected-host"
    assert info.peer.startswith("127.0.0.1:")
    assert info.channels == 2
    assert info.bytes_sent > 0 and info.bytes_received > 0
    assert info.updates_sent == 1
    assert info.connected_at <= time.time()

    for value in (2.0, 3.0, 4.0):
        ca_server.call(channel.write(value))
    assert wait_until(lambda: received[-1] == 4.0)
    info = wait_until(lambda: (c := mine(ca_server, user)) and c.updates_sent == 4 and c)

    channels = ca_server.call(lambda: ca_server.server.client_channels(info.client_id))
    assert channels == [ChannelInfo(names["A"], AccessRights.READ | AccessRights.WRITE, 1),
                        ChannelInfo(names["RO"], AccessRights.READ, 0)]
    assert ca_server.call(lambda: ca_server.server.client_channels(-1)) is None

    totals = ca_server.call(ca_server.server.totals)
    assert isinstance(totals, ServerTotals)
    assert totals.updates_sent >= before.updates_sent + 4
    assert totals.bytes_sent > before.bytes_sent
    assert totals.clients >= 1 and totals.subscriptions >= 1 and totals.channels >= 2


def test_totals_keep_what_a_closed_client_counted(ca_server, serve_pvs):
    from caproto.threading.client import Context

    names = serve_pvs({"B": ChannelDouble(value=1.0)})
    user = f"leaver{time.monotonic_ns()}"
    context = Context(timeout=5.0, client_name=user)
    try:
        pv, = context.get_pvs(names["B"])
        pv.wait_for_connection()
        pv.read()
        info = wait_until(lambda: mine(ca_server, user))
        during = ca_server.call(ca_server.server.totals)
    finally:
        context.disconnect()
    assert wait_until(lambda: mine(ca_server, user) is None, what="client gone")
    after = ca_server.call(ca_server.server.totals)
    assert after.bytes_sent >= during.bytes_sent >= info.bytes_sent > 0
    assert after.bytes_received >= during.bytes_received
    assert after.updates_sent >= during.updates_sent
    stats = ca_server.stats()
    assert stats["bytes_out"] >= after.bytes_sent and stats["bytes_in"] >= after.bytes_received


def test_a_clients_channels_are_counted_by_rights_as_they_open_change_and_close(
        ca_server, serve_pvs, own_client):
    # The web's per-client rights summary reads these counts: they must follow every
    # CREATE_CHAN, rights change (refresh_access) and CLEAR_CHANNEL without a walk.
    context, user = own_client
    granted = {"rights": 3}
    names = serve_pvs({"RW": ChannelDouble(value=1.0),
                       "RO": ChannelDouble(value=2.0, read_only=True),
                       "GATED": ChannelDouble(value=3.0,
                                              access_check=lambda h, u: granted["rights"])})
    pvs = context.get_pvs(names["RW"], names["RO"], names["GATED"])
    for pv in pvs:
        pv.wait_for_connection()

    def counts():
        info = mine(ca_server, user)
        same = ca_server.call(lambda: ca_server.server.client(info.client_id))
        assert (same.user, same.channels_by_rights) == (user, info.channels_by_rights)
        return info.channels_by_rights

    assert wait_until(lambda: counts() == (0, 1, 0, 2))
    granted["rights"] = 0
    assert ca_server.call(ca_server.server.refresh_access) == 1
    assert counts() == (1, 1, 0, 1)
    assert wait_until(lambda: pvs[2].access_rights == 0, what="ACCESS_RIGHTS reached caproto")
    pvs[0].go_idle()  # caproto clears the channel
    assert wait_until(lambda: counts() == (1, 1, 0, 0), what="CLEAR_CHANNEL counted")
    assert ca_server.call(lambda: ca_server.server.client(-1)) is None

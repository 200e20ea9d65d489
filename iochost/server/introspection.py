"""A read-only view of what the server is doing: its clients and its totals.

The web page, the iocStats-style status PVs and the access helper all ask the same
questions -- who is connected, with how many channels and subscriptions, how much has been
sent. The circuits keep the answers as plain integer attributes that the hot paths bump
(``+= 1`` on an attribute, no dict look-up, no lock, no timestamp); nothing here runs until
somebody asks, and then it builds an immutable snapshot by walking the open circuits once.

Counters of closed circuits are folded into the server's running totals when they close,
so totals never go backwards while clients come and go.

This module knows only the server layer (no ``iochost.pv``/``host``/``web`` imports).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iochost.ca.dbr import AccessRights

if TYPE_CHECKING:
    from .circuit import VirtualCircuit

__all__ = ["ClientInfo", "ChannelInfo", "ServerTotals", "ClosedCircuitTotals",
           "client_info", "channel_infos", "server_totals"]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """One connected CA client (one TCP virtual circuit), as of the snapshot."""

    client_id: int          #: unique per server run; names the client in ``client_channels``
    host: str               #: HOST_NAME the client sent (its peer address until then)
    user: str               #: CLIENT_NAME the client sent ('' until then)
    peer: str               #: "address:port" of the TCP peer
    priority: int           #: CA priority from VERSION
    protocol_version: int   #: CA minor version from VERSION
    connected_at: float     #: Unix time the circuit was accepted
    channels: int           #: open channels
    subscriptions: int      #: live subscriptions (EVENT_ADD)
    bytes_sent: int         #: bytes written to this client
    bytes_received: int     #: bytes read from this client
    updates_sent: int       #: monitor updates queued for sending (coalesced ones excluded)
    backlog: int            #: updates held back by flow control right now
    #: open channels by the client's access rights bits: (none, read, write, read-write)
    channels_by_rights: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One channel a client has open."""

    name: str               #: the name the client asked for (may name a field: 'REC.EGU')
    rights: AccessRights    #: what the client may do on it (from ``check_access``)
    subscriptions: int      #: live subscriptions on this channel


@dataclass(frozen=True, slots=True)
class ServerTotals:
    """Server-wide figures; the counters (not the sizes) only ever grow."""

    clients: int            #: connected clients now
    channels: int           #: open channels now, over every client
    subscriptions: int      #: live subscriptions now
    pvs: int                #: names in the database now
    updates_sent: int       #: monitor updates sent since start
    bytes_sent: int         #: bytes written to clients since start (TCP)
    bytes_received: int     #: bytes read from clients since start (TCP)
    circuits_opened: int    #: TCP circuits accepted since start
    searches: int           #: UDP search requests seen since start


class ClosedCircuitTotals:
    """What circuits that are gone had counted (folded in when each one closes)."""

    __slots__ = ("updates_sent", "bytes_sent", "bytes_received")

    def __init__(self) -> None:
        self.updates_sent = 0
        self.bytes_sent = 0
        self.bytes_received = 0

    def fold(self, circuit: VirtualCircuit) -> None:
        self.updates_sent += circuit.updates_sent
        self.bytes_sent += circuit.bytes_sent
        self.bytes_received += circuit.bytes_received


def client_info(circuit: VirtualCircuit) -> ClientInfo:
    """A snapshot of one circuit."""
    return ClientInfo(
        client_id=circuit.client_id, host=circuit.host, user=circuit.user,
        peer=f"{circuit.peer[0]}:{circuit.peer[1]}", priority=circuit.priority,
        protocol_version=circuit.client_version, connected_at=circuit.connected_at,
        channels=len(circuit.channels), subscriptions=circuit.subscription_count,
        bytes_sent=circuit.bytes_sent, bytes_received=circuit.bytes_received,
        updates_sent=circuit.updates_sent, backlog=len(circuit.backlog),
        channels_by_rights=tuple(circuit.channels_by_rights))  # type: ignore[arg-type]


def channel_infos(circuit: VirtualCircuit) -> list[ChannelInfo]:
    """The channels one circuit has open, in the order it created them."""
    return [ChannelInfo(channel.name, AccessRights(channel.rights), len(channel.subscriptions))
            for channel in circuit.channels.values()]


def server_totals(circuits: Iterable[VirtualCircuit], closed: ClosedCircuitTotals, pvs: int,
                  circuits_opened: int, searches: int) -> ServerTotals:
    """Totals over the open ``circuits`` plus what ``closed`` ones had counted."""
    clients = channels = subscriptions = 0
    updates = closed.updates_sent
    sent = closed.bytes_sent
    received = closed.bytes_received
    for circuit in circuits:
        clients += 1
        channels += len(circuit.channels)
        subscriptions += circuit.subscription_count
        updates += circuit.updates_sent
        sent += circuit.bytes_sent
        received += circuit.bytes_received
    return ServerTotals(clients=clients, channels=channels, subscriptions=subscriptions,
                        pvs=pvs, updates_sent=updates, bytes_sent=sent,
                        bytes_received=received, circuits_opened=circuits_opened,
                        searches=searches)

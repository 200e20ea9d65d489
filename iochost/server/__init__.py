"""The asyncio Channel Access server.

``Server`` serves a :class:`PVDatabase` (a ``name -> ServedChannel`` mapping that may change
while serving) over CA on UDP (searches, beacons) and TCP (virtual circuits)::

    server = Server(PVDatabase({"TEST:PV": channel}), ServerConfig.from_env())
    await server.start()
"""
from .settings import ServerConfigError, ServerConfig
from .database import PVDatabase, ServedChannel
from .introspection import ChannelInfo, ClientInfo, ServerTotals
from .server import Server, new_event_loop, run

__all__ = ["Server", "ServerConfig", "ServerConfigError", "PVDatabase", "ServedChannel", "run",
           "new_event_loop", "ClientInfo", "ChannelInfo", "ServerTotals"]

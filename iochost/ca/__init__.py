"""The Channel Access protocol core (v4.13), sans-I/O: bytes in, messages out, and back.

Nothing here touches sockets, event loops, threads or clocks (``tests/ca/test_sans_io.py``
enforces it).  Modules: ``errors`` (error types), ``codes`` (the protocol's numbers as plain
ints: commands, versions, flags, access bits, DBE bits, sizes), ``alarm_codes`` (alarm
status and severity numbers), ``eca`` (status codes),
``header`` (16/24-byte headers), ``packers`` (whole messages packed from ints: the hot
paths' encoders, for server and client), ``commands`` (one class per message), ``parser``
(TCP stream and UDP datagram parsing) and ``dbr`` (DBR payload encoding).  Every public name
except the packers' is re-exported here (import those from ``iochost.ca.packers``);
``docs/protocol.md`` summarises what the core implements.
"""
from __future__ import annotations

from . import (alarm_codes, codes, commands, dbr, eca, errors, header, packers,  # noqa: F401
               parser)
from .alarm_codes import *  # noqa: F403
from .codes import *  # noqa: F403
from .commands import *  # noqa: F403
from .dbr import *  # noqa: F403
from .eca import *  # noqa: F403
from .errors import *  # noqa: F403
from .header import *  # noqa: F403
from .parser import *  # noqa: F403

# dbr re-exports a few of codes' names (DBE_*, sizes): each is listed once.
__all__ = list(dict.fromkeys([
    *errors.__all__, *alarm_codes.__all__, *codes.__all__, *eca.__all__, *header.__all__,
    *commands.__all__, *parser.__all__, *dbr.__all__,
]))

"""The Channel Access protocol core (v4.13), sans-I/O: bytes in, messages out, and back.

Nothing here touches sockets, event loops, threads or clocks (``tests/ca/test_sans_io.py``
enforces it).  Modules: ``errors`` (error types), ``eca`` (status codes), ``header``
(16/24-byte headers), ``commands`` (one class per message), ``parser`` (TCP stream and UDP
datagram parsing) and ``dbr`` (DBR payload encoding).  Every public name is re-exported here;
``docs/protocol.md`` summarises what the core implements.
"""
from __future__ import annotations

from . import commands, dbr, eca, errors, header, parser
from .commands import *  # noqa: F401,F403
from .dbr import *  # noqa: F401,F403
from .eca import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .header import *  # noqa: F401,F403
from .parser import *  # noqa: F401,F403

__all__ = [
    *errors.__all__, *eca.__all__, *header.__all__, *commands.__all__, *parser.__all__,
    *dbr.__all__,
]

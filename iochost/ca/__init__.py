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

``commands`` is imported when one of its names is first asked for here, not before: a
server never builds message objects, and the 35 classes are a third of the core's import.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import alarm_codes, codes, dbr, eca, errors, header, packers, parser  # noqa: F401
from .alarm_codes import *  # noqa: F403
from .codes import *  # noqa: F403
from .dbr import *  # noqa: F403
from .eca import *  # noqa: F403
from .errors import *  # noqa: F403
from .header import *  # noqa: F403
from .parser import *  # noqa: F403

if TYPE_CHECKING:
    from . import commands  # noqa: F401
    from .commands import *  # noqa: F403


def __getattr__(name: str) -> Any:
    """``commands`` and its names (and ``__all__``, which lists them), on first use."""
    module = importlib.import_module(".commands", __name__)
    if name == "commands":
        return module
    if name == "__all__":
        # dbr re-exports a few of codes' names (DBE_*, sizes): each is listed once.
        every = list(dict.fromkeys([
            *errors.__all__, *alarm_codes.__all__, *codes.__all__, *eca.__all__,
            *header.__all__, *module.__all__, *parser.__all__, *dbr.__all__]))
        globals()["__all__"] = every
        return every
    if name in module.__all__:
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

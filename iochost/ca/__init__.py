"""The Channel Access protocol core (v4.13), sans-I/O: bytes in, messages out, and back.

Nothing here touches sockets, event loops, threads or clocks (``tests/ca/test_sans_io.py``
enforces it).  Modules: ``errors`` (error types), ``eca`` (status codes), ``header``
(16/24-byte headers), ``commands`` (one class per message), ``parser`` (TCP stream and UDP
datagram parsing) and ``dbr`` (DBR payload encoding).  Every public name is re-exported here.

``dbr`` is imported on first use of one of its names, so the rest of the core stays usable
(and importable) even while ``dbr`` is missing or broken.
"""
from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec
from typing import Any

from . import commands, eca, errors, header, parser
from .commands import *  # noqa: F401,F403
from .eca import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .header import *  # noqa: F401,F403
from .parser import *  # noqa: F401,F403

#: ``dbr.__all__``, resolved lazily by ``__getattr__`` (tests/ca/test_sans_io.py keeps it in step)
_DBR_NAMES = (
    "ChannelType", "AccessRights", "Metadata", "Layout", "LAYOUTS",
    "DBE_VALUE", "DBE_LOG", "DBE_ARCHIVE", "DBE_ALARM", "DBE_PROPERTY",
    "EPICS_EPOCH", "MAX_STRING_SIZE", "MAX_UNITS_SIZE", "MAX_ENUM_STRING_SIZE",
    "MAX_ENUM_STATES", "NATIVE_TYPES", "NATIVE_DTYPES", "WIRE_DTYPES", "FAMILIES",
    "GR_LIMITS", "CTRL_LIMITS",
    "native_type", "family", "promote", "check_type", "fields_of",
    "to_epics_time", "from_epics_time", "from_epics_time_ns",
    "encode_dbr", "decode_dbr", "convert_values", "format_number", "payload_size",
)

__all__ = [
    *errors.__all__, *eca.__all__, *header.__all__, *commands.__all__, *parser.__all__,
]
if find_spec(f"{__name__}.dbr") is not None:  # listed once the module exists
    __all__ += _DBR_NAMES


def __getattr__(name: str) -> Any:
    if name == "dbr" or name in _DBR_NAMES:
        dbr = import_module(f"{__name__}.dbr")
        return dbr if name == "dbr" else getattr(dbr, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

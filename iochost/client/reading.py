"""What a get or a subscription update returns: :class:`Reading`, one object holding the
value, the metadata and the timestamp of one DBR payload.

``Reading.data`` is the decoded data as :mod:`iochost.ca` decodes it (numeric types as a
native-byte-order numpy array, STRING as ``list[bytes]``); ``Reading.value`` is the friendly
form (a Python scalar for one element, ``str`` for strings, the array otherwise).  Text is
decoded as latin-1, the default ``string_encoding`` of iochost's channel data, which also
maps every byte an IOC may send.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from iochost.ca.dbr import (ChannelType, Metadata, check_type, decode_dbr, family,
                            from_epics_time, native_type)

__all__ = ["TEXT_ENCODING", "Reading", "decode_reading"]

#: How the client turns CA strings (39-byte fields, units, enum states) into ``str``.
TEXT_ENCODING = "latin-1"

Data = np.ndarray | list[bytes]


@dataclass(slots=True)
class Reading:
    """One value of a channel as the server sent it, with everything its DBR type carries."""

    name: str
    dbr_type: ChannelType
    data: Data
    meta: Metadata

    @property
    def count(self) -> int:
        return len(self.data)

    @property
    def native_type(self) -> ChannelType:
        return native_type(self.dbr_type)

    @property
    def value(self) -> object:
        """One element as a Python scalar (``str`` for strings), several as an array
        (strings: a list of ``str``)."""
        data = self.data
        if isinstance(data, list):
            texts = [item.decode(TEXT_ENCODING) for item in data]
            return texts[0] if len(texts) == 1 else texts
        return data[0].item() if len(data) == 1 else data

    @property
    def timestamp(self) -> float | None:
        """Unix time of the value (TIME types only; None otherwise)."""
        if family(self.dbr_type) != "time":
            return None
        return from_epics_time(self.meta.secs, self.meta.nsecs)

    @property
    def status(self) -> int:
        return self.meta.status

    @property
    def severity(self) -> int:
        return self.meta.severity

    @property
    def units(self) -> str:
        return self.meta.units.decode(TEXT_ENCODING)

    @property
    def enum_strings(self) -> tuple[str, ...]:
        return tuple(text.decode(TEXT_ENCODING) for text in self.meta.enum_strings)


def decode_reading(name: str, dbr_type: int, count: int, payload: bytes | memoryview
                   ) -> Reading:
    """Decode one DBR payload; numeric data are copied into native byte order (the payload
    buffer may be reused)."""
    decoded, meta = decode_dbr(dbr_type, payload, count)
    data: Data
    if isinstance(decoded, np.ndarray):
        data = decoded.astype(decoded.dtype.newbyteorder("="))
    else:
        data = decoded
    return Reading(name, check_type(dbr_type), data, meta)   # (decode_dbr checked it)

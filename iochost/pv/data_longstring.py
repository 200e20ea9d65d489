"""The long-string view: a text channel seen as a NUL-terminated CHAR array (``NAME.$``).

Public names are re-exported by :mod:`iochost.pv.data`.  ``ChannelString`` and
``ChannelChar(report_as_string=True)`` hand one out from ``long_string()``; the server's
PV database resolves ``NAME.$`` to it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..ca.dbr import AccessRights, ChannelType, convert_values, decode_dbr, encode_dbr
from .data_errors import ACK_PUTS, check_put, unreadable

if TYPE_CHECKING:  # pragma: no cover
    from .data_core import ChannelData, Listener

__all__ = ["LongStringView"]


class LongStringView:
    """The text of ``parent`` as a CHAR array of ``parent.long_string_max_length``.

    Reads give the encoded text, cut to that length and followed by a NUL when there is
    room; a put of a CHAR array (up to its first NUL) or of a DBR_STRING writes the text
    through the parent's ``write()``.  Read results live in the parent's cache, so they
    are dropped on the parent's next change; listeners are relayed from the parent.
    """

    __slots__ = ("_parent", "_relays")

    native_type = ChannelType.CHAR
    needs_async_read = False

    def __init__(self, parent: ChannelData):
        self._parent = parent
        self._relays: dict[Listener, Listener] = {}

    @property
    def parent(self) -> ChannelData:
        """The text channel viewed."""
        return self._parent

    @property
    def max_length(self) -> int:
        return self._parent.long_string_max_length

    @property
    def puts_disabled(self) -> bool:
        return self._parent.puts_disabled

    def check_access(self, host: str, user: str) -> AccessRights:
        return self._parent.check_access(host, user)

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        parent = self._parent
        cache = parent._cache
        key = ("$", dbr_type, count)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                return hit
        else:
            cache = parent._cache = {}
        if dbr_type in ACK_PUTS:
            raise unreadable(dbr_type)
        # A count beyond max_length is padded with zeros, as RSRV does (and not kept).
        result = encode_dbr(dbr_type, ChannelType.CHAR, self._chars(), parent._metadata(),
                            count, long_string=True)
        if count <= self.max_length and len(cache) < parent.cached_reads:
            cache[key] = result
        return result

    def _chars(self) -> np.ndarray:
        limit = self.max_length
        text = self._parent._long_string_bytes()[:limit]
        if len(text) < limit:
            text += b"\0"
        return np.frombuffer(text, dtype=np.uint8)

    async def aread_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        return self.read_dbr(dbr_type, count)

    async def write_dbr(self, dbr_type: int, count: int, payload: Any, host: str,
                        user: str) -> None:
        if dbr_type in ACK_PUTS:  # acknowledging the alarm is the parent's business
            await self._parent.write_dbr(dbr_type, count, payload, host, user)
            return
        source = check_put(self, dbr_type, host, user)
        # beyond the view's characters (or one DBR_STRING) dropped, as dbPut drops them
        count = min(count, 1 if source is ChannelType.STRING else self.max_length)
        values, _ = decode_dbr(dbr_type, payload, count)
        if source is ChannelType.STRING:
            text = values[0] if len(values) else b""
        else:
            chars = cast("np.ndarray", convert_values(values, source, ChannelType.CHAR))
            text = chars.tobytes().split(b"\0", 1)[0]
        parent = self._parent
        await parent.write_from_client(text.decode(parent.string_encoding), host, user)

    def add_listener(self, fn: Listener) -> None:
        def relay(_channel: Any, flags: int) -> None:
            fn(self, flags)

        self.remove_listener(fn)
        self._relays[fn] = relay
        self._parent.add_listener(relay)

    def remove_listener(self, fn: Listener) -> None:
        relay = self._relays.pop(fn, None)
        if relay is not None:
            self._parent.remove_listener(relay)

    def get_field(self, field: str) -> None:
        return None

    def long_string(self) -> LongStringView:
        return self

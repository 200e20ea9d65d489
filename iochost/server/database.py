"""The PV database: the one contract between the IOC framework and the server.

A :class:`PVDatabase` maps full PV names to channel data (anything implementing
:class:`ServedChannel`).  It may change while the server runs: an added name is searchable at
once (searches consult the mapping directly), and removing a name tells every removal
listener, so the server can send SERVER_DISCONN to the channels that were open on it.

Name resolution (:meth:`PVDatabase.resolve`) follows the EPICS conventions:

* ``NAME`` -- the exact entry;
* ``NAME.FIELD`` -- ``db['NAME'].get_field('FIELD')`` (``NAME.VAL`` is ``NAME`` itself);
* ``NAME.$``, ``NAME.FIELD$``, ``NAME$`` -- the long-string (CHAR array) view of the channel;
* any of these followed by channel filters (``NAME.[2:5]``, ``NAME.{"dec":{"n":10}}``): a
  :class:`~iochost.server.filters.FilteredChannel` made for that one client channel.

A database made from a mapping that may answer for names it does not list -- not a plain
``dict``: caproto's "pathological" examples serve a ``defaultdict`` whose ``__missing__``
makes a channel for any name asked for -- asks it, as caproto's server does, for a name
it does not hold (the whole name first), and keeps what it answers as an entry.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["PVDatabase", "ServedChannel", "RemovalListener"]

logger = logging.getLogger("iochost.server")

#: ``fn(names)``, called after entries have been deleted or added (or replaced).
RemovalListener = Callable[[list[str]], None]


@runtime_checkable
class ServedChannel(Protocol):
    """What the server needs of a channel (``iochost.pv.data.ChannelData`` implements it)."""

    native_type: int
    max_length: int
    needs_async_read: bool

    def check_access(self, host: str, user: str) -> int: ...

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]: ...

    async def aread_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]: ...

    async def write_dbr(self, dbr_type: int, count: int, payload: Any, host: str,
                        user: str) -> None: ...

    def add_listener(self, fn: Callable[[Any, int], None]) -> None: ...

    def remove_listener(self, fn: Callable[[Any, int], None]) -> None: ...

    def get_field(self, field: str) -> ServedChannel | None: ...

    def long_string(self) -> ServedChannel | None: ...


def _may_be_reference(raw: bytes) -> bool:
    """Could ``raw`` name a field (``NAME.FIELD``), a long string (``...$``) or carry
    channel filters (``NAME$[0:4]``)?"""
    return b"." in raw or raw.endswith(b"$") or b"[" in raw


def _surrogate_key(raw: bytes) -> str | None:
    """``raw`` decoded with lone surrogates allowed (how a name holding them is encoded),
    or None when it is not UTF-8 even so."""
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


def _open_ended(entries: Mapping[str, ServedChannel] | None) -> bool:
    """May ``entries`` answer for names it does not list?  A dict that says how to make a
    missing entry or looks names up its own way; any other mapping but a database."""
    if isinstance(entries, dict):
        cls = type(entries)
        return hasattr(cls, "__missing__") or cls.__getitem__ is not dict.__getitem__
    return entries is not None and not isinstance(entries, PVDatabase)


class PVDatabase(MutableMapping[str, ServedChannel]):
    """A mutable ``name -> ServedChannel`` mapping with field/long-string resolution."""

    __slots__ = ("_entries", "_source", "_removal_listeners", "_addition_listeners")

    def __init__(self, entries: Mapping[str, ServedChannel] | None = None, *,
                 follow: bool = False):
        # One index of every name: requested names, which arrive as UTF-8 bytes, are
        # decoded to be looked up (~60 ns a name more than a bytes-keyed index, which cost
        # ~100 B a PV: 10 MB for 100,000).
        self._entries: dict[str, ServedChannel] = dict(entries or {})
        #: the mapping asked for names not held (see the module's docstring), or None;
        #: with ``follow`` a plain dict too (caproto's run() serves the dict itself: an IOC
        #: that adds to its pvdb later is found)
        self._source = entries if _open_ended(entries) or (follow and entries is not None) \
            else None
        self._removal_listeners: list[RemovalListener] = []
        self._addition_listeners: list[RemovalListener] = []

    # -- mapping protocol -----------------------------------------------------------------
    def __getitem__(self, name: str) -> ServedChannel:
        return self._entries[name]

    def __setitem__(self, name: str, channel: ServedChannel) -> None:
        previous = self._entries.get(name)
        self._entries[name] = channel
        if previous is channel:
            return
        if previous is not None:
            # Clients hold channels on the old object: they must reconnect to the new one.
            self._notify_removed([name])
        self._notify(self._addition_listeners, [name])

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._notify_removed([name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def update(self, other: Any = (), /, **kwargs: ServedChannel) -> None:
        """Add or replace many entries at once (one removal notification for replacements)."""
        items = dict(other, **kwargs)
        entries = self._entries
        replaced = [name for name, channel in items.items()
                    if name in entries and entries[name] is not channel]
        added = [name for name, channel in items.items() if entries.get(name) is not channel]
        entries.update(items)
        if replaced:
            self._notify_removed(replaced)
        if added:
            self._notify(self._addition_listeners, added)

    def remove_many(self, names: Iterable[str]) -> list[str]:
        """Delete the given names that exist; returns those removed (one notification)."""
        entries = self._entries
        removed = [name for name in names if entries.pop(name, None) is not None]
        if removed:
            self._notify_removed(removed)
        return removed

    # -- resolution -----------------------------------------------------------------------
    def search_predicate(self) -> Callable[[bytes], bool]:
        """``serves(raw_name) -> bool`` for the search responder, given a name as the bytes it
        arrived as: the exact name is decoded and looked up; only a name that could be a
        field or long-string reference is resolved further."""
        entries = self._entries  # never rebound, so the closure sees every later change
        resolve_bytes = self.resolve_bytes
        asks_source = self._source is not None

        def serves(raw: bytes) -> bool:
            try:
                if raw.decode() in entries:
                    return True
            except UnicodeDecodeError:
                return resolve_bytes(raw) is not None
            # Another server's name (most searches on a shared network): settle it here.
            return (asks_source or _may_be_reference(raw)) and resolve_bytes(raw) is not None

        return serves

    def exact_entries(self) -> Mapping[str, ServedChannel]:
        """The live ``name -> channel`` entries, for hot paths that resolve exact names in
        bulk (a run of CREATE_CHANs, decoded as UTF-8); read them, never write. They stay
        current: they are never rebound."""
        return self._entries

    def resolve_bytes(self, raw: bytes) -> tuple[str, str, ServedChannel] | None:
        """``(name, database key, channel)`` for a name as it arrived (UTF-8 bytes).

        Invalid UTF-8 matches no exact name (but one whose lone surrogates were encoded as
        they are) and is decoded with replacement characters to resolve a reference.
        """
        entries = self._entries
        key: str | None
        try:
            name = key = raw.decode()
        except UnicodeDecodeError:
            name, key = raw.decode("utf-8", "replace"), _surrogate_key(raw)
        if key is not None and (channel := entries.get(key)) is not None:
            return key, key, channel
        if self._source is None and not _may_be_reference(raw):
            return None  # what resolve_entry would conclude without the entry
        found = self.resolve_entry(name)
        return None if found is None else (name, *found)

    def resolve(self, name: str) -> ServedChannel | None:
        """The channel a client asking for ``name`` gets, or None."""
        found = self.resolve_entry(name)
        return None if found is None else found[1]

    def resolve_entry(self, name: str) -> tuple[str, ServedChannel] | None:
        """``(database key, channel)`` for ``name``; the key is what a removal is about."""
        channel = self._entries.get(name)
        if channel is None and self._source is not None:
            channel = self._ask_source(name)
        if channel is not None:
            return name, channel
        if "[" in name or "{" in name:  # perhaps modifiers: imported the first time
            from .filters import FilterError, filtered, split_modifiers
            modified = split_modifiers(name)
            if modified is not None:
                found = self.resolve_entry(modified[0])
                if found is None:
                    return None
                try:
                    return found[0], filtered(found[1], modified[1])
                except FilterError as exc:
                    logger.debug("%s: %s", name, exc)
                    return None
        long_string = name.endswith("$")
        if long_string:
            name = name[:-1]
        base, dot, field = name.rpartition(".")
        if not dot:
            base, field = name, ""
        channel = self._entries.get(base)
        if channel is None:
            return None
        if field and field != "VAL":
            channel = channel.get_field(field)
            if channel is None:
                return None
        if long_string:
            channel = channel.long_string()
            if channel is None:
                return None
        return base, channel

    def _ask_source(self, name: str) -> ServedChannel | None:
        """What the source mapping answers for ``name``, kept as its entry (None if nothing
        servable: a KeyError, an error of its own -- logged -- or not channel data)."""
        try:
            channel = self._source[name]  # type: ignore[index]
        except LookupError:
            return None
        except Exception:
            logger.exception("the PV database's mapping failed to answer for %r", name)
            return None
        if not isinstance(channel, ServedChannel):
            logger.warning("the PV database's mapping answered %r for %r: not channel data",
                           type(channel).__name__, name)
            return None
        # kept without notifying: its client is connecting now (no beacon ramp needed)
        self._entries[name] = channel
        return channel

    # -- notifications ---------------------------------------------------------------------
    def add_removal_listener(self, fn: RemovalListener) -> None:
        """Call ``fn(names)`` after entries are deleted or replaced."""
        self._removal_listeners.append(fn)

    def remove_removal_listener(self, fn: RemovalListener) -> None:
        """Stop notifying ``fn`` (missing listeners are ignored)."""
        try:
            self._removal_listeners.remove(fn)
        except ValueError:
            pass

    def add_addition_listener(self, fn: RemovalListener) -> None:
        """Call ``fn(names)`` after entries are added or replaced (the server restarts its
        beacon ramp then, so clients waiting for those names search again soon)."""
        self._addition_listeners.append(fn)

    def remove_addition_listener(self, fn: RemovalListener) -> None:
        """Stop notifying ``fn`` of additions (missing listeners are ignored)."""
        try:
            self._addition_listeners.remove(fn)
        except ValueError:
            pass

    def _notify_removed(self, names: list[str]) -> None:
        self._notify(self._removal_listeners, names)

    @staticmethod
    def _notify(listeners: list[RemovalListener], names: list[str]) -> None:
        for listener in list(listeners):
            try:
                listener(names)
            except Exception:  # one broken listener must not stop the others
                logger.exception("PV database listener %r failed", listener)

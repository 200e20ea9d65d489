"""The ChannelData base class: state, the write path, publishing and the DBR cache.

Public names are re-exported by :mod:`iochost.pv.data`; import them from there.

A channel data is two things at once:

* caproto's ``ChannelData`` for IOC authors: ``value``, ``timestamp``, ``alarm``,
  ``async write()``, ``write_metadata()``, and the ``verify_value`` / ``update_fields``
  override points;
* the server's ``ServedChannel`` (``docs/internals.md``): ``read_dbr`` answers from a
  cache keyed by ``(dbr_type, count)`` that lives until the next change, so one update is
  encoded once however many clients subscribe; ``write_dbr`` decodes a client's put and
  runs the same path as ``write()``.

The write path, in order: normalise the value (type, length), check the control limits,
``await verify_value`` (the framework's putter), ``await update_fields``, store the value,
stamp the time (``time.time_ns()``), evaluate alarm limits, publish.  Any failure before
the store keeps the old value; ``SkipWrite`` keeps it silently.  A refusal by the limits,
the putter or ``update_fields`` also runs ``write_failed`` (WRITE/MAJOR alarm, as caproto).

Publishing calls each listener ``fn(channel, dbe_flags)`` synchronously, after the new
state is visible.  Listeners are not called when the flags are 0 (a write that moved
nothing past its deadbands), but the cache is dropped all the same.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import math
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from ..ca.dbr import (DBE_LOG, DBE_PROPERTY, DBE_VALUE, EPICS_EPOCH, SCALAR_PACKERS,
                      AccessRights, ChannelType, Metadata, convert_values, decode_dbr,
                      encode_dbr, to_epics_time)
from .accessgate import AccessGate
from .alarms import AlarmSeverity, AlarmStatus, ChannelAlarm
from .data_errors import (ACK_PUTS, ChannelValueError, SkipWrite, check_put,
                          unreadable, write_mapping_errors)
from .data_longstring import LongStringView

__all__ = ["ChannelData", "TimeStamp", "Listener", "timestamp_to_ns"]

logger = logging.getLogger("iochost.pv")

#: ``fn(channel, dbe_flags)``: called synchronously by ``publish()``.
Listener = Callable[[Any, int], None]

_NS = 1_000_000_000
_VALUE_LOG = DBE_VALUE | DBE_LOG
_READ_ONLY = AccessRights.READ
#: ``_scalar_put``'s "no shortcut: decode the general way".
NOT_SCALAR = object()
_READ_WRITE = AccessRights.READ_WRITE
_READ_ONLY_BITS, _READ_WRITE_BITS = int(_READ_ONLY), int(_READ_WRITE)
#: AccessRights(bits) costs a microsecond; these are made once
_RIGHTS_BY_BITS = tuple(AccessRights(bits) for bits in range(4))
_ALARM_KEYS = frozenset(("status", "severity"))
# Metadata's fields: the channel's properties sit between the alarm/time head and the
# ACKT/ACKS/class-name tail, so a Metadata is built positionally from a cached tuple.
_META_FIELDS = tuple(f.name for f in dataclasses.fields(Metadata))
_META_HEAD, _META_TAIL = ("status", "severity", "secs", "nsecs"), ("ackt", "acks", "class_name")
if _META_FIELDS[:4] != _META_HEAD or _META_FIELDS[-3:] != _META_TAIL:  # pragma: no cover
    raise ImportError(f"iochost.ca.dbr.Metadata fields changed order: {_META_FIELDS}")
_STATIC_FIELDS = _META_FIELDS[4:-3]
_STATIC_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Metadata)}
# Most channels share their properties (no units, zero limits): share the tuples too.
_INTERNED: dict[tuple, tuple] = {}
_MAX_INTERNED = 4096


def _intern_static(properties: dict[str, Any]) -> tuple:
    """The static part of a Metadata, shared with identical channels when possible."""
    static = tuple([properties.get(name, _STATIC_DEFAULTS[name]) for name in _STATIC_FIELDS])
    shared = _INTERNED.get(static)
    if shared is not None:
        return shared
    if len(_INTERNED) < _MAX_INTERNED:  # bounded: properties may change forever
        _INTERNED[static] = static
    return static


class TimeStamp:
    """An EPICS time stamp: seconds since 1990 and nanoseconds, as caproto's ``TimeStamp``
    (``TimeStamp.now()``, fields that can be set, equal to its ``(seconds, nanoseconds)``
    pair); ``write(value, timestamp=...)`` takes one as it is."""

    __slots__ = ("secondsSinceEpoch", "nanoSeconds")

    def __init__(self, secondsSinceEpoch: int = 0, nanoSeconds: int = 0) -> None:
        self.secondsSinceEpoch = secondsSinceEpoch
        self.nanoSeconds = nanoSeconds

    @classmethod
    def from_unix_timestamp(cls, timestamp: float) -> TimeStamp:
        """The time stamp of a Unix time in seconds (before 1990: the epoch)."""
        return cls(*to_epics_time(timestamp))

    @classmethod
    def now(cls) -> TimeStamp:
        """The time stamp of this moment."""
        return cls(*to_epics_time(unix_ns=time.time_ns()))

    @classmethod
    def from_flexible_value(cls, timestamp: Any) -> TimeStamp:
        """Any form ``write(timestamp=...)`` takes (:func:`timestamp_to_ns`): Unix seconds,
        an EPICS ``(seconds, nanoseconds)`` pair, a TimeStamp."""
        return cls(*to_epics_time(unix_ns=timestamp_to_ns(timestamp)))

    @property
    def timestamp(self) -> float:
        """The Unix time in seconds."""
        return EPICS_EPOCH + self.secondsSinceEpoch + self.nanoSeconds / _NS

    def as_datetime(self) -> datetime.datetime:
        """The local date and time."""
        return datetime.datetime.fromtimestamp(self.timestamp)

    def __iter__(self) -> Iterator[int]:
        return iter((self.secondsSinceEpoch, self.nanoSeconds))

    def __eq__(self, other: object) -> bool:
        try:
            return tuple(self) == tuple(other)  # type: ignore[arg-type]
        except TypeError:
            return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # its fields can change, as caproto's

    def __repr__(self) -> str:
        return (f"TimeStamp(secondsSinceEpoch={self.secondsSinceEpoch}, "
                f"nanoSeconds={self.nanoSeconds})")


def timestamp_to_ns(timestamp: Any) -> int:
    """Unix nanoseconds of a caproto-style timestamp argument.

    Accepted: Unix seconds (int or float); an EPICS ``(seconds, nanoseconds)`` pair such
    as :class:`TimeStamp`; or an object with ``secondsSinceEpoch`` and ``nanoSeconds``.
    """
    if isinstance(timestamp, float):
        # whole seconds apart: seconds * 1e9 as a float has lost its last ~8 bits of ns
        whole = math.floor(timestamp)
        return whole * _NS + round((timestamp - whole) * _NS)
    if isinstance(timestamp, int) and not isinstance(timestamp, bool):
        return timestamp * _NS
    if isinstance(timestamp, tuple) and len(timestamp) == 2:
        secs, nsecs = timestamp
        return (EPICS_EPOCH + int(secs)) * _NS + int(nsecs)
    secs = getattr(timestamp, "secondsSinceEpoch", None)
    nsecs = getattr(timestamp, "nanoSeconds", None)
    if secs is None or nsecs is None:
        raise TypeError(f"timestamp must be Unix seconds or an EPICS (seconds, nanoseconds) "
                        f"pair, not {timestamp!r}")
    return (EPICS_EPOCH + int(secs)) * _NS + int(nsecs)


def _unwrap_0d(value: Any) -> Any:
    """A 0-d numpy array is a scalar in disguise (``np.array(5.0)``): unwrap it."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        return value.item()
    return value


def _pop_alarm_change(metadata: dict[str, Any]) -> dict[str, Any]:
    """Take ``status``/``severity`` (those not None) out of ``metadata``."""
    change = {}
    for key in _ALARM_KEYS & metadata.keys():
        value = metadata.pop(key)
        if value is not None:
            change[key] = value
    return change


def gated_rights(gate: AccessGate, level: int, read_only: bool, host: str,
                 user: str) -> AccessRights:
    """What ``gate``'s rules grant a client on a channel of ``level``, within what a
    read-only channel allows (RSRV: asCheckPut and the field's own put check)."""
    allowed = _READ_ONLY_BITS if read_only else _READ_WRITE_BITS
    return _RIGHTS_BY_BITS[gate.rights(level, host, user) & allowed]


#: the classes that set ``_packs_scalars`` themselves (``ChannelData.__init_subclass__``)
_SCALAR_OWNERS: set[type] = set()


class ChannelData:
    """Data, metadata and alarm of one channel (caproto's ``ChannelData`` API).

    Concrete classes (``ChannelDouble``, ``ChannelEnum``, ...) set ``data_type`` and
    implement the value hooks ``preprocess_value``, ``_wire_values`` and
    ``_value_from_wire``.  ``read_only`` makes clients' puts fail (ECA_NOWTACCESS) but
    leaves ``write()`` usable by the IOC; ``access_check(host, user)`` may decide rights
    per client instead; ``access_gate`` (an :class:`AccessGate`: the channel's access
    security group, which the host assigns) decides them within ``read_only``.
    """

    # What most channels keep their defaults of are class attributes, set on an instance
    # (in its ``__dict__``, made on first use) only when different: 8 bytes a slot saved on
    # every channel, paid for by the few that differ.
    __slots__ = ("_value", "_timestamp_ns", "_alarm", "_max_length", "access_gate",
                 "_listeners", "_cache_type", "_cache_count", "_cache_value", "_cache",
                 "_static_meta", "__dict__", "__weakref__")
    string_encoding: str = "latin-1"
    reported_record_type: str = "iochost"
    read_only: bool = False
    access_check: Callable[[str, str], AccessRights] | None = None
    _long_string_view: LongStringView | None = None
    #: payloads kept per value beyond the first read's (see read_dbr)
    cached_reads = 8
    #: a record's DISP: client puts are refused (ECA_PUTFAIL), code's writes are not
    puts_disabled: bool = False

    data_type: ClassVar[ChannelType] = ChannelType.LONG
    #: True when reads must go through ``aread_dbr`` (a getter exists).
    needs_async_read: ClassVar[bool] = False
    #: CHAR data that are text: read as DBR_STRING they give the text, not numbers.
    _chars_are_text: ClassVar[bool] = False
    #: Metadata keywords ``write_metadata`` accepts beyond timestamp/status/severity.
    _property_names: ClassVar[tuple[str, ...]] = ()

    #: True in a class whose one-element value goes on the wire as ``_value`` itself, a
    #: number of ``data_type`` (``_pack_scalar``): a class sets it for itself; a subclass
    #: keeps it only while it keeps that class's wire form (``__init_subclass__``)
    _packs_scalars: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("_packs_scalars"):
            _SCALAR_OWNERS.add(cls)
            return
        owner = next((k for k in cls.__mro__ if k in _SCALAR_OWNERS), None)
        cls._packs_scalars = owner is not None and all(
            getattr(cls, name) is getattr(owner, name)
            for name in ("_wire_values", "native_type", "_metadata", "_pack_scalar"))

    def __init__(
        self,
        *,
        alarm: ChannelAlarm | None = None,
        value: Any = None,
        timestamp: Any = None,
        max_length: int | None = None,
        string_encoding: str = "latin-1",
        reported_record_type: str = "iochost",
        read_only: bool = False,
        access_check: Callable[[str, str], AccessRights] | None = None,
    ):
        cls = type(self)
        if string_encoding != cls.string_encoding:
            self.string_encoding = string_encoding
        if reported_record_type != cls.reported_record_type:
            self.reported_record_type = reported_record_type
        if read_only != cls.read_only:
            self.read_only = read_only
        if access_check is not None:
            self.access_check = access_check
        self.access_gate: AccessGate | None = None
        self._listeners: tuple[Listener, ...] = ()
        # The read cache: the first (type, count) in three slots (the common case: one
        # subscription type per channel), any others in a dict.
        self._cache_type: int | None = None
        self._cache_count = 0
        self._cache_value: tuple[bytes, int] | None = None
        self._cache: dict | None = None
        self._static_meta: tuple | None = None
        # not through the ``alarm`` setter: nothing to disconnect, no cache to drop yet
        self._alarm: ChannelAlarm | None = alarm if alarm is not None else ChannelAlarm(
            string_encoding=string_encoding)
        self._alarm.connect(self)
        value = self.default_value() if value is None else _unwrap_0d(value)
        if max_length is None:
            max_length = max(self.calculate_length(value), 1)
        elif max_length < 1:
            raise ValueError(f"{type(self).__name__}: max_length must be at least 1, "
                             f"got {max_length}")
        self._max_length = int(max_length)
        self._value = self._store_form(self.preprocess_value(value))
        self._timestamp_ns = time.time_ns() if timestamp is None else timestamp_to_ns(timestamp)

    # -- value hooks for the concrete classes --------------------------------------------------
    def default_value(self) -> Any:
        """The value used when none is given."""
        return 0

    def calculate_length(self, value: Any) -> int:
        """The number of elements of ``value``."""
        if isinstance(value, (str, bytes, bytearray)) or not hasattr(value, "__len__"):
            return 1
        return len(value)

    def preprocess_value(self, value: Any) -> Any:
        """Normalise ``value`` to this channel's Python form; raise ChannelValueError if unfit."""
        return value

    def _store_form(self, value: Any) -> Any:
        """What is kept in ``_value`` for a preprocessed value (ChannelEnum keeps an index)."""
        return value

    # The two wire hooks below make this class itself a plain LONG channel, as caproto's
    # ChannelData is (its "pathological" examples serve ``ChannelData(value=0)``); every
    # concrete class overrides them.
    def _wire_values(self) -> Any:
        """The value as ``iochost.ca.dbr`` expects it for ``native_type`` (here: the value's
        elements, a number as one)."""
        value = self._value
        return value if isinstance(value, (list, tuple)) or hasattr(value, "dtype") \
            else (value,)

    def _value_from_wire(self, values: Any) -> Any:
        """A client's put, already converted to ``native_type``, as a Python value (here: a
        number for one element, the array for several)."""
        return values[0].item() if len(values) == 1 else values

    def _change_flags(self, value: Any) -> int:
        """DBE_VALUE/DBE_LOG for a new value (deadbands); non-numeric data always post."""
        return _VALUE_LOG

    def evaluate_alarm(self, value: Any) -> tuple[AlarmStatus, AlarmSeverity] | None:
        """The alarm a new value raises, or None to leave the alarm alone (the default)."""
        return None

    def check_limits(self, value: Any) -> None:
        """Raise :class:`CannotExceedLimits` when ``value`` is refused by control limits."""

    # -- caproto attributes ----------------------------------------------------------------------
    @property
    def value(self) -> Any:
        """The current value (read-only: change it with ``write()``)."""
        return self._value

    @property
    def native_type(self) -> ChannelType:
        """The DBR native type served to clients."""
        return self.data_type

    @property
    def max_length(self) -> int:
        """The element count reported to clients."""
        return self._max_length

    @property
    def length(self) -> int:
        """The number of elements of the current value."""
        return self.calculate_length(self.value)

    def __len__(self) -> int:
        return self.length

    @property
    def timestamp(self) -> float:
        """Unix time (seconds) of the last write."""
        return self._timestamp_ns / _NS

    @property
    def timestamp_ns(self) -> int:
        """Unix time (integer nanoseconds) of the last write."""
        return self._timestamp_ns

    @property
    def epics_timestamp(self) -> TimeStamp:
        """The time of the last write as EPICS (seconds, nanoseconds) since 1990."""
        secs, nsecs = divmod(self._timestamp_ns, _NS)
        return TimeStamp(max(secs - EPICS_EPOCH, 0), nsecs)

    @property
    def alarm(self) -> ChannelAlarm:
        """The (possibly shared) alarm of this channel."""
        return self._alarm

    @alarm.setter
    def alarm(self, alarm: ChannelAlarm) -> None:
        if alarm is self._alarm:
            return
        if self._alarm is not None:
            self._alarm.disconnect(self)
        self._alarm = alarm
        alarm.connect(self)
        self._drop_cache()

    @property
    def status(self) -> AlarmStatus:
        """Alarm status."""
        return self._alarm.status

    @property
    def severity(self) -> AlarmSeverity:
        """Alarm severity."""
        return self._alarm.severity

    def __repr__(self) -> str:
        return f"<{type(self).__name__} value={self.value!r} alarm={self._alarm!r}>"

    # -- writing from Python ----------------------------------------------------------------------
    async def verify_value(self, value: Any) -> Any:
        """Override point: check ``value`` before it is stored (the framework runs the putter).

        Return None to keep ``value``, or a replacement; raise to refuse it (the channel
        keeps its old value), or raise :class:`SkipWrite` to drop it silently.
        """
        return value

    async def update_fields(self, value: Any) -> None:
        """Override point: update record fields from the value about to be stored."""

    async def write_failed(self, error: Exception) -> None:
        """Hook run when the control limits, ``verify_value`` (the putter) or
        ``update_fields`` refuse a value, before the error propagates.

        caproto's behaviour: WRITE alarm with MAJOR severity.  Override to change it.
        (Values of the wrong type or length are refused earlier, without an alarm.)
        """
        await self._alarm.write(status=AlarmStatus.WRITE, severity=AlarmSeverity.MAJOR)

    async def write(self, value: Any, *, flags: int = 0, verify_value: bool = True,
                    update_fields: bool = True, **metadata: Any) -> None:
        """Store a new value and publish it (the caproto call).

        ``metadata`` takes the keywords of :meth:`write_metadata`; ``status`` and
        ``severity`` given here win over the alarm limits.  ``flags`` are DBE bits to
        post in addition to those the change calls for.  With ``verify_value=False`` the
        control limits and the ``verify_value`` hook are skipped.
        """
        if metadata:
            self._check_metadata_names(metadata)
        # A malformed value (type, length) never reaches the device: refused, no alarm.
        value = self.preprocess_value(_unwrap_0d(value))
        try:
            if verify_value:
                self.check_limits(value)
                replacement = await self.verify_value(value)
                if replacement is SkipWrite:
                    return
                if replacement is not None and replacement is not value:
                    try:
                        value = self.preprocess_value(_unwrap_0d(replacement))
                    except ChannelValueError as error:   # the putter's bug, not the client's
                        raise TypeError(f"the putter returned {replacement!r}, which "
                                        f"{type(self).__name__} cannot hold: {error}") from None
            if update_fields:
                await self.update_fields(value)
        except SkipWrite:
            return
        except Exception as error:
            await self.write_failed(error)
            raise
        self._commit(value, flags, metadata)

    def _commit(self, value: Any, flags: int, metadata: dict[str, Any]) -> None:
        """Store a verified value with its metadata and publish once (synchronous)."""
        self._value = self._store_form(value)
        timestamp = metadata.pop("timestamp", None)
        self._timestamp_ns = time.time_ns() if timestamp is None else timestamp_to_ns(timestamp)
        flags |= self._change_flags(value)
        alarm_change = _pop_alarm_change(metadata) if metadata else None
        if not alarm_change:
            evaluated = self.evaluate_alarm(value)
            if evaluated is not None:
                alarm_change = {"status": evaluated[0], "severity": evaluated[1]}
        if metadata and self._apply_properties(metadata):
            flags |= DBE_PROPERTY
        self._publish_with_alarm(flags, alarm_change)

    def _publish_with_alarm(self, flags: int, alarm_change: dict[str, Any]) -> None:
        """Publish ``flags`` plus an alarm change: once here, once on each sharing channel."""
        alarm_flags = self._alarm.update(**alarm_change) if alarm_change else 0
        self.notify(flags | alarm_flags)
        if alarm_flags:
            self._alarm.notify(alarm_flags, except_for=(self,))

    async def write_metadata(self, publish: bool = True, **metadata: Any) -> None:
        """Change metadata: ``timestamp``, ``status``, ``severity`` and the class's own
        (``units``, ``precision``, limits, ``enum_strings``...).

        A change of anything but the time stamp posts DBE_PROPERTY; an alarm change posts
        DBE_ALARM.  ``publish=False`` changes silently (clients see it on their next read).
        """
        self._check_metadata_names(metadata)
        timestamp = metadata.pop("timestamp", None)
        if timestamp is not None:
            self._timestamp_ns = timestamp_to_ns(timestamp)
        alarm_change = _pop_alarm_change(metadata)
        flags = DBE_PROPERTY if self._apply_properties(metadata) else 0
        if publish:
            self._publish_with_alarm(flags, alarm_change)
        else:
            if alarm_change:
                self._alarm.update(**alarm_change)
                self._alarm.notify(0)
            self.notify(0)

    def _check_metadata_names(self, metadata: dict[str, Any]) -> None:
        unknown = metadata.keys() - _ALARM_KEYS - {"timestamp"} - set(self._property_names)
        if unknown:
            allowed = ", ".join(sorted({"timestamp", *_ALARM_KEYS, *self._property_names}))
            raise TypeError(f"{type(self).__name__} has no metadata "
                            f"{', '.join(sorted(unknown))} (it takes: {allowed})")

    def _apply_properties(self, properties: dict[str, Any]) -> bool:
        """Set the class's own metadata; True if any of it changed.  None means unchanged."""
        changed = False
        for name, new in properties.items():
            if new is None:
                continue
            new = self._normalise_property(name, new)
            if getattr(self, name) != new:
                setattr(self, "_" + name, new)
                changed = True
        if changed:
            self._static_meta = None
        return changed

    def _normalise_property(self, name: str, value: Any) -> Any:
        return value

    def store_unpublished(self, value: Any) -> None:
        """Keep a preprocessed ``value`` without publishing it or a new time stamp: what
        EPICS' dbPut leaves in a record that then does not process (a disabled one)."""
        self._value = self._store_form(value)
        self.notify(0)  # reads encode it from now on

    # -- publishing -------------------------------------------------------------------------------
    async def publish(self, flags: int) -> None:
        """Tell listeners about a change (caproto's call); see :meth:`notify`."""
        self.notify(flags)

    def notify(self, flags: int) -> None:
        """Drop the encoded cache and call each listener with ``flags`` (if non-zero)."""
        self._cache_type = self._cache_value = self._cache = None
        if flags:
            for fn in self._listeners:
                try:
                    fn(self, flags)
                except Exception:  # one broken subscriber must not stop the others
                    logger.exception("listener %r of %r failed", fn, self)

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(channel, dbe_flags)`` on every published change."""
        # Copy-on-write: publish() may be iterating the old tuple right now.
        self._listeners = (*self._listeners, fn)

    def remove_listener(self, fn: Listener) -> None:
        """Stop calling ``fn`` (no error if it was not registered)."""
        listeners = list(self._listeners)
        if fn in listeners:
            listeners.remove(fn)
            self._listeners = tuple(listeners)

    # -- the server's side ------------------------------------------------------------------------
    def access_level(self) -> int:
        """The channel's access security level (a record's VAL and plain PVs: ASL0)."""
        return 0

    def gate_in_force(self) -> AccessGate | None:
        """The access security group this channel answers to (None: no rules)."""
        return self.access_gate

    def check_access(self, host: str, user: str) -> AccessRights:
        """READ|WRITE by default, READ when ``read_only``; with an access gate, what its
        rules grant this client (never more than ``read_only`` allows); ``access_check``'s
        answer when one is set."""
        if self.access_check is not None:
            return AccessRights(self.access_check(host, user))
        # The slot, not gate_in_force(): every CREATE_CHAN asks, and without rules this is
        # all it costs. Module constants: enum member look-ups cost more than the rest.
        gate = self.access_gate
        if gate is None:
            return _READ_ONLY if self.read_only else _READ_WRITE
        return gated_rights(gate, self.access_level(), self.read_only, host, user)

    @property
    def access_group(self) -> str:
        """The name of the access security group ('' when none was assigned)."""
        gate = self.gate_in_force()
        return gate.group if gate is not None else ""

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        """The payload of ``dbr_type`` for ``count`` elements (0: current length), cached
        until the value changes: the first read, and ``cached_reads`` more types and counts
        (a client may ask any count: the rest are encoded each time, padded ones never
        kept)."""
        if dbr_type == self._cache_type and count == self._cache_count:
            return self._cache_value
        cache = self._cache
        if cache is not None:
            hit = cache.get((dbr_type, count))
            if hit is not None:
                return hit
        result = self._encode(dbr_type, count)
        if count > self._max_length:
            return result   # padded: not kept
        if self._cache_type is None:
            self._cache_type, self._cache_count, self._cache_value = dbr_type, count, result
        elif cache is None:
            self._cache = {(dbr_type, count): result}
        elif len(cache) < self.cached_reads:
            cache[(dbr_type, count)] = result
        return result

    def _drop_cache(self) -> None:
        self._cache_type = self._cache_value = self._cache = None

    def _encode(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        """Encode the current state (a cache miss).  Wire values and metadata are built
        per miss rather than kept: memory per channel matters more than the rare second
        type read in one update."""
        if self._packs_scalars and count <= 1 and self._max_length == 1:
            packed = self._pack_scalar(dbr_type)
            if packed is not None:
                return packed, 1
        # A count beyond max_length is padded with zeros, as RSRV does (the server refuses
        # counts whose bytes would be too large before asking).
        if dbr_type in ACK_PUTS:
            raise unreadable(dbr_type)
        if dbr_type == ChannelType.CLASS_NAME and not count:
            count = self.max_length  # as RSRV: one string per element, the name first
        return encode_dbr(dbr_type, self.native_type, self._wire_values(), self._metadata(),
                          count, long_string=self._chars_are_text)

    def _pack_scalar(self, dbr_type: int) -> bytes | None:
        """One element in the channel's own type, plain, STS or TIME (what monitors and
        most gets ask for), in one struct call rather than numpy arrays and a Metadata; the
        same bytes as ``encode_dbr``'s (tests/pv/test_scalar_encoding.py).  None: the
        general path."""
        fast = SCALAR_PACKERS.get(dbr_type)
        if fast is None or fast[0] != self.data_type:
            return None
        _, fields, packer = fast
        try:
            if not fields:
                return packer.pack(self._value)
            status, severity, _, _ = self._alarm.dbr_fields()
            if fields == 2:
                return packer.pack(status, severity, self._value)
            return packer.pack(status, severity, *self._epics_time(), self._value)
        except (struct.error, OverflowError):
            return None     # a value struct cannot pack as numpy would

    def _metadata(self) -> Metadata:
        """Everything a DBR layout may carry, from this channel's state."""
        status, severity, ackt, acks = self._alarm.dbr_fields()
        secs, nsecs = self._epics_time()
        static = self._static_meta
        if static is None:
            static = self._static_meta = _intern_static(self._metadata_properties())
        return Metadata(status, severity, secs, nsecs, *static, ackt, acks,
                        self.reported_record_type.encode(self.string_encoding))

    def _epics_time(self) -> tuple[int, int]:
        """The time stamp as (seconds since 1990, nanoseconds); before 1990: (0, 0)."""
        secs, nsecs = divmod(self._timestamp_ns, _NS)
        secs -= EPICS_EPOCH
        return (secs, nsecs) if secs >= 0 else (0, 0)

    def _metadata_properties(self) -> dict[str, Any]:
        """The class's own metadata in wire form (units as bytes, limits, enum strings...),
        by ``Metadata`` field name; rebuilt only after a change of properties."""
        return {}

    async def aread_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        """``read_dbr`` for servers that await reads (a getter subclass overrides it)."""
        return self.read_dbr(dbr_type, count)

    async def write_dbr(self, dbr_type: int, count: int, payload: Any, host: str,
                        user: str) -> None:
        """A client's put: check access, decode, convert, then the path of ``write()``.

        Raises ``CaStatusError``: NOWTACCESS (no write right), BADTYPE (a type that cannot
        be put), NOCONVERT (no conversion), PUTFAIL (the value was refused).  PUT_ACKT /
        PUT_ACKS acknowledge the alarm.
        """
        source = check_put(self, dbr_type, host, user)
        acknowledge = ACK_PUTS.get(dbr_type)
        if acknowledge is not None:
            values, _ = decode_dbr(dbr_type, payload, 1)
            await self._acknowledge(acknowledge, int(values[0]), host, user)
            return
        count = self._put_count(source, count)
        if count == 0 and self._max_length == 1:
            return   # no element for a scalar: RSRV's dbPut copies none, the value stays
        value = self._scalar_put(dbr_type, count, payload)
        if value is NOT_SCALAR:
            values, _ = decode_dbr(dbr_type, payload, count)
            value = self._value_from_wire(self._convert_put(values, source))
        await self.write_from_client(value, host, user)

    async def write_from_client(self, value: Any, host: str, user: str) -> None:
        """Store a client's decoded put; one a TRAPWRITE rule grants is reported (old and
        new value), whichever view of the channel (``NAME$``...) it came through."""
        gate = self.gate_in_force()
        if gate is not None and gate.traps_write(self.access_level(), host, user):
            old = self.value
            await write_mapping_errors(self, value)
            gate.write_trapped(self.trap_name(), host, user, old, self.value)
            return
        await write_mapping_errors(self, value)

    async def _acknowledge(self, acknowledge: tuple[str, str], value: int, host: str,
                           user: str) -> None:
        """PUT_ACKT / PUT_ACKS: set ACKT or ACKS; trapped as RSRV traps every put (the
        report names the field, ``NAME.ACKS``, with its old and new value)."""
        attribute, field = acknowledge
        gate = self.gate_in_force()
        if gate is None or not gate.traps_write(self.access_level(), host, user):
            await self._alarm.write(**{attribute: value})
            return
        old = int(getattr(self._alarm, attribute))
        await self._alarm.write(**{attribute: value})
        gate.write_trapped(f"{self.trap_name()}.{field}", host, user, old,
                           int(getattr(self._alarm, attribute)))

    def trap_name(self) -> str:
        """What a TRAPWRITE report calls this channel (channels in a group: the PV name)."""
        return repr(self)

    def _put_count(self, source: ChannelType, count: int) -> int:
        """How many of a put's ``count`` elements are stored: those beyond the channel's are
        dropped (no ECA_BADCOUNT), as RSRV's dbPut copies at most a field's count."""
        return min(count, self.max_length)

    def _scalar_put(self, dbr_type: int, count: int, payload: Any) -> Any:
        """The put's value read straight from ``payload`` where that is exact and cheaper
        than decoding an array (numeric scalars), else ``NOT_SCALAR``."""
        return NOT_SCALAR

    def _convert_put(self, values: Any, source: ChannelType) -> Any:
        return convert_values(values, source, self.native_type, array=self._max_length > 1)

    # -- fields and views -------------------------------------------------------------------------
    def get_field(self, field: str) -> Any:
        """The channel of ``NAME.FIELD``: this one for '' and 'VAL', else ``field_channel``."""
        if field in ("", "VAL"):
            return self
        return self.field_channel(field)

    def field_channel(self, field: str) -> Any:
        """Override point for record fields: the channel of ``field``, or None (default)."""
        return None

    def long_string(self) -> LongStringView | None:
        """The CHAR-array view for ``NAME.$``, or None when the data is not text."""
        return None

    def _text_view(self) -> LongStringView:
        """This channel's long-string view (one per channel, made on first use)."""
        if self._long_string_view is None:
            self._long_string_view = LongStringView(self)
        return self._long_string_view

    def _long_string_bytes(self) -> bytes:
        """The text a long-string view serves: the (str) value, encoded."""
        return self._value.encode(self.string_encoding)

    @property
    def long_string_max_length(self) -> int:
        """Element count of the long-string view."""
        return self._max_length

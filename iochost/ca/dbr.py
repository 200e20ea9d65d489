"""DBR payloads: the data part of READ/EVENT/WRITE messages, as db_access.h lays them out.

Public API (the contract in docs/internals.md):

* :class:`ChannelType` (0..38), ``DBE_*``, :class:`AccessRights`, ``EPICS_EPOCH``,
  :func:`native_type`, :func:`family`, :func:`promote`, :func:`to_epics_time`,
  :func:`from_epics_time` -- from :mod:`iochost.ca.dbr_types`;
* :func:`convert_values` -- from :mod:`iochost.ca.dbr_convert` (the conversion rules),
  :func:`format_number` -- from :mod:`iochost.ca.dbr_text` (numbers as IOC text);
* :class:`Metadata`, :func:`encode_dbr`, :func:`decode_dbr` -- here, on top of the layout
  table in :mod:`iochost.ca.dbr_layouts`.

A payload is the metadata block (status, severity, stamp, units, limits, ... with the C
structs' RISC padding), then ``count`` big-endian elements, then zeros up to a multiple
of 8 bytes.  ``encode_dbr`` is on the server's hottest path: every type's packer is a
closure built at import, so a call does one ``struct.pack``, one numpy ``tobytes`` and a
join.
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any
from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from .dbr_convert import NATIVE_DTYPES, as_native_array, cast_numeric, convert_values
from .dbr_layouts import CTRL_LIMITS, GR_LIMITS, LAYOUTS, WIRE_DTYPES, Layout
from .dbr_text import format_number
from .dbr_types import (DBE_ALARM, DBE_ARCHIVE, DBE_LOG, DBE_PROPERTY, DBE_VALUE,
                        EPICS_EPOCH, FAMILIES, MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE,
                        MAX_STRING_SIZE, MAX_UNITS_SIZE, NATIVE_TYPES, AccessRights,
                        ChannelType, check_type, family, from_epics_time,
                        from_epics_time_ns, native_type, promote, to_epics_time)
from .eca import ECA_BADTYPE
from .errors import CaProtocolError, CaStatusError, LocalProtocolError

__all__ = [
    "ChannelType", "AccessRights", "Metadata", "Layout", "LAYOUTS",
    "DBE_VALUE", "DBE_LOG", "DBE_ARCHIVE", "DBE_ALARM", "DBE_PROPERTY",
    "EPICS_EPOCH", "MAX_STRING_SIZE", "MAX_UNITS_SIZE", "MAX_ENUM_STRING_SIZE",
    "MAX_ENUM_STATES", "NATIVE_TYPES", "NATIVE_DTYPES", "WIRE_DTYPES", "FAMILIES",
    "GR_LIMITS", "CTRL_LIMITS",
    "native_type", "family", "promote", "check_type", "fields_of",
    "to_epics_time", "from_epics_time", "from_epics_time_ns",
    "encode_dbr", "decode_dbr", "convert_values", "format_number", "payload_size",
    "SCALAR_PACKERS",
]


@dataclass(slots=True)
class Metadata:
    """Everything a DBR layout can carry, in the channel's native type.

    Times are EPICS-epoch ``secs``/``nsecs``; texts are ``bytes`` (units at most 7,
    enum strings at most 25 each and 16 of them, class name at most 39 -- longer ones
    are truncated on the wire).  Limits hold numbers of the native type; a request for
    another type converts them like values.
    """

    status: int = 0
    severity: int = 0
    secs: int = 0
    nsecs: int = 0
    units: bytes = b""
    precision: int = 0
    upper_disp_limit: int | float = 0
    lower_disp_limit: int | float = 0
    upper_alarm_limit: int | float = 0
    upper_warning_limit: int | float = 0
    lower_warning_limit: int | float = 0
    lower_alarm_limit: int | float = 0
    upper_ctrl_limit: int | float = 0
    lower_ctrl_limit: int | float = 0
    enum_strings: tuple[bytes, ...] = ()
    #: how an ENUM index without a state string reads as text: ``(limit, text)`` gives
    #: "" below ``limit`` and ``text`` from it (records: mbbi ``(16, b"Illegal Value")``);
    #: None gives the decimal index when there are no states at all (never on the wire)
    unnamed_states: tuple[int, bytes] | None = None
    ackt: int = 0
    acks: int = 0
    class_name: bytes = b""

    @property
    def timestamp(self) -> float:
        """The stamp as a Unix time (float seconds)."""
        return from_epics_time(self.secs, self.nsecs)


def fields_of(dbr_type: int) -> tuple[str, ...]:
    """The :class:`Metadata` fields a DBR type carries on the wire."""
    layout = LAYOUTS[check_type(dbr_type)]
    names = tuple(dict.fromkeys(_DECODED_NAME.get(n, n) for n in layout.head_fields))
    return names + layout.limits + \
        (("class_name",) if layout.dbr_type == ChannelType.CLASS_NAME else ())


# ---------------------------------------------------------------- head fields

_STR_FIELD = MAX_STRING_SIZE - 1
_ENUM_FIELD = MAX_ENUM_STRING_SIZE - 1
_DECODED_NAME = {"no_str": "enum_strings", "strs": "enum_strings"}


def _pack_enum_strings(strings: Sequence[bytes]) -> bytes:
    return b"".join(s[:_ENUM_FIELD].ljust(MAX_ENUM_STRING_SIZE, b"\0")
                    for s in strings[:MAX_ENUM_STATES])


# Head fields that are not a plain Metadata attribute: how to produce them.
_SPECIAL_GETTERS: dict[str, Callable[[Metadata], object]] = {
    "units": lambda m: m.units[: MAX_UNITS_SIZE - 1],   # keep the NUL terminator
    "no_str": lambda m: min(len(m.enum_strings), MAX_ENUM_STATES),
    "strs": lambda m: _pack_enum_strings(m.enum_strings),
}


def _head_packer(layout: Layout) -> Callable[[Metadata], bytes]:
    names, pack = layout.head_fields, layout.head.pack
    if not names:
        empty = pack()
        return lambda meta: empty
    if not any(n in _SPECIAL_GETTERS for n in names):
        getter = attrgetter(*names)
        if len(names) == 1:
            return lambda meta: pack(getter(meta))
        return lambda meta: pack(*getter(meta))
    getters = [_SPECIAL_GETTERS.get(n) or attrgetter(n) for n in names]
    return lambda meta: pack(*[g(meta) for g in getters])


# Positions of the four alarm limits within GR_LIMITS / CTRL_LIMITS.
_ALARM_LIMITS = slice(2, 6)


def _limits_packer(layout: Layout) -> Callable[[Metadata, bool], bytes] | None:
    if not layout.limits:
        return None
    getter, wire, target = attrgetter(*layout.limits), layout.value_dtype, layout.value_type
    pad = b"\0" * layout.tail_pad
    # Fast path for limits already of the channel's type: one struct.pack.
    exact = struct.Struct(f">{len(layout.limits)}{wire.char}{layout.tail_pad}x").pack

    def pack_limits(meta: Metadata, converted: bool) -> bytes:
        if not converted:
            try:
                return exact(*getter(meta))
            except (struct.error, OverflowError):  # floats for integers, out of range
                pass
        limits = np.array(getter(meta))  # a fresh array: safe to modify
        if converted or limits.dtype.kind != wire.kind:
            # Limits of another native type (or floats for an integer channel) convert
            # like values; a plain cast keeps same-kind limits exact.
            if limits.dtype.kind == "f" and wire.kind in "iu":
                # dbAccess get_alarm: a non-finite alarm limit becomes 0 as an integer
                # (display and control limits are plain casts).
                alarm = limits[_ALARM_LIMITS]
                limits[_ALARM_LIMITS] = np.where(np.isfinite(alarm), alarm, 0.0)
            limits = cast_numeric(limits, target)
        return limits.astype(wire).tobytes() + pad
    return pack_limits


def _text(field: bytes) -> bytes:
    return field.split(b"\0", 1)[0]


def _unpack_head(layout: Layout, payload: Buffer, meta: Metadata) -> None:
    no_str = 0
    for name, value in zip(layout.head_fields, layout.head.unpack_from(payload)):
        if name == "units":
            meta.units = _text(value)
        elif name == "no_str":
            no_str = max(0, min(value, MAX_ENUM_STATES))
        elif name == "strs":
            meta.enum_strings = tuple(
                _text(value[i: i + MAX_ENUM_STRING_SIZE])
                for i in range(0, no_str * MAX_ENUM_STRING_SIZE, MAX_ENUM_STRING_SIZE))
        else:
            setattr(meta, name, value)
    if layout.limits:
        limits = np.frombuffer(payload, layout.value_dtype, len(layout.limits),
                               layout.head.size).tolist()
        for name, value in zip(layout.limits, limits):
            setattr(meta, name, value)


# ---------------------------------------------------------------- values

#: A payload as received: bytes, or a view of a buffer the parser filled.
Buffer = bytes | bytearray | memoryview
_PAD8 = tuple(b"\0" * n for n in range(8))
_JOIN_AS_BUFFER = 16384


def _pack_strings(strings: Sequence[bytes], count: int) -> bytes:
    try:
        data = b"".join([s[:_STR_FIELD].ljust(MAX_STRING_SIZE, b"\0") for s in strings[:count]])
    except TypeError:
        raise LocalProtocolError(f"STRING data must be bytes, got {list(strings)!r}") from None
    missing = count - len(strings)
    return data + b"\0" * (missing * MAX_STRING_SIZE) if missing > 0 else data


def _unpack_strings(payload: Buffer, offset: int, count: int) -> list[bytes]:
    raw = bytes(payload[offset: offset + count * MAX_STRING_SIZE])
    if count > 1 and len(raw) < (count - 1) * MAX_STRING_SIZE + 1:
        raise CaProtocolError(
            f"DBR payload holds {len(raw)} bytes of strings, too few for {count}")
    return [raw[i: i + MAX_STRING_SIZE].split(b"\0", 1)[0][:_STR_FIELD]
            for i in range(0, count * MAX_STRING_SIZE, MAX_STRING_SIZE)]


@dataclass(frozen=True, slots=True)
class _Codec:
    """Per-type precomputed pieces of encode/decode."""

    layout: Layout
    pack_head: Callable[[Metadata], bytes]
    pack_limits: Callable[[Metadata, bool], bytes] | None
    is_string: bool
    kind: str           # numpy kind and item size of the values' native dtype,
    itemsize: int       # for the no-conversion fast path


_CODECS: dict[int, _Codec] = {
    layout.dbr_type: _Codec(
        layout, _head_packer(layout), _limits_packer(layout), layout.value_dtype.kind == "S",
        NATIVE_DTYPES.get(layout.value_type, layout.value_dtype).kind,
        NATIVE_DTYPES.get(layout.value_type, layout.value_dtype).itemsize)
    for layout in LAYOUTS
}
_CLASS_NAME = ChannelType.CLASS_NAME


def _codec(dbr_type: int) -> _Codec:
    try:
        codec = _CODECS.get(dbr_type)
    except TypeError:  # unhashable
        codec = None
    if codec is None:
        raise CaStatusError(ECA_BADTYPE, f"invalid DBR type {dbr_type!r}")
    return codec


def _scalar_packer(layout: Layout) -> struct.Struct:
    """One struct for a whole one-element payload: head fields, the value, the padding."""
    code = np.dtype(layout.value_dtype).newbyteorder("=").char
    pad = -(layout.prefix_size + layout.value_size) % 8
    return struct.Struct(f"{layout.head.format}{code}{pad}x")


#: dbr_type -> (native type of its value, head fields, packer) for the plain, STS and TIME
#: types of a number: ``packer.pack(*head, value)`` is ``encode_dbr``'s payload for one
#: element of that native type (no limits, strings or conversion to look at), head being
#: (), (status, severity) or (status, severity, secs, nsecs).  struct refuses a value it
#: cannot hold exactly (``struct.error``, OverflowError): the general path takes those.
SCALAR_PACKERS: dict[int, tuple[ChannelType, int, struct.Struct]] = {
    layout.dbr_type: (layout.value_type, len(layout.head_fields), _scalar_packer(layout))
    for layout in LAYOUTS
    if layout.dbr_type <= ChannelType.TIME_DOUBLE and layout.value_dtype.kind in "iuf"
}


def encode_dbr(dbr_type: int, native: int, values: Any, meta: Metadata,
               count: int | None = None, *, long_string: bool = False) -> tuple[bytes, int]:
    """Lay out ``values`` (of native type ``native``) and ``meta`` as ``dbr_type``.

    Values are converted to the request's native type first (see
    :func:`convert_values`; ``meta.precision`` prints floats as strings).  ``count``
    None/0 sends every element; fewer truncates; more pads with zeros, as RSRV does.
    Returns ``(payload, count_sent)``; the payload length is a multiple of 8.
    CLASS_NAME sends ``meta.class_name`` (then empty strings up to ``count``) and
    ignores ``values``.

    Raises ``CaStatusError(ECA_BADTYPE)`` for an invalid type, ``(ECA_NOCONVERT)`` when
    the values do not convert, ``LocalProtocolError`` for data of the wrong kind or
    metadata out of its field's range.
    """
    codec = _codec(dbr_type)
    layout = codec.layout
    target = layout.value_type
    if layout.dbr_type == _CLASS_NAME:
        values, native = [meta.class_name], ChannelType.STRING
    elif native != target:
        values = convert_values(values, native, target, meta.enum_strings,
                                precision=meta.precision, long_string=long_string,
                                unnamed_states=meta.unnamed_states, reading=True)

    try:
        head = codec.pack_head(meta)
    except Exception as exc:  # struct.error, OverflowError, TypeError
        raise LocalProtocolError(
            f"metadata does not fit {layout.dbr_type.name}: {exc} ({meta!r})") from None
    if codec.pack_limits is not None:
        head += codec.pack_limits(meta, native != target)

    data: bytes | np.ndarray
    if codec.is_string:
        data, nbytes, count = _string_data(values, count)
    else:
        data, nbytes, count = _numeric_data(codec, values, count)
    # (numpy arrays are buffers; numpy's stubs do not declare it)
    return b"".join((head, data, _PAD8[-(len(head) + nbytes) % 8])), count  # type: ignore[arg-type]


def _string_data(values: bytes | Sequence[bytes], count: int | None
                 ) -> tuple[bytes, int, int]:
    # Always whole 40-byte fields: RSRV cuts a one-element DBR_STRING after its NUL only
    # in replies to the obsolete CA_PROTO_READ, never for READ_NOTIFY or monitors.
    if isinstance(values, bytes):
        values = [values]
    count = count or len(values)
    data = _pack_strings(values, count)
    return data, len(data), count


def _numeric_data(codec: _Codec, values: Any, count: int | None
                  ) -> tuple[bytes | np.ndarray, int, int]:
    if type(values) is np.ndarray and values.ndim == 1 \
            and values.dtype.kind == codec.kind and values.dtype.itemsize == codec.itemsize:
        arr = values
    else:
        arr = as_native_array(values, codec.layout.value_type)
    n = arr.shape[0]
    count = count or n
    dtype = codec.layout.value_dtype
    wire = np.ascontiguousarray(arr[:count] if count < n else arr, dtype)
    if count > n:  # RSRV fills a request beyond the current length with zeros
        return wire.tobytes() + bytes((count - n) * dtype.itemsize), count * dtype.itemsize, \
            count
    # join() takes a big array as a buffer, saving a copy; for small ones the
    # buffer-protocol overhead costs more than tobytes().
    return (wire if wire.nbytes > _JOIN_AS_BUFFER else wire.tobytes()), wire.nbytes, count


def decode_dbr(dbr_type: int, payload: Buffer, count: int | None
               ) -> tuple[np.ndarray | list[bytes], Metadata]:
    """Read a ``dbr_type`` payload of ``count`` elements: ``(values, Metadata)``.

    Numeric values come back as a read-only big-endian numpy view of ``payload``;
    strings as ``list[bytes]`` (each cut at its NUL, at most 39 bytes).  ``count``
    None infers the element count from the payload size.  A payload too short for the
    metadata or for ``count`` elements raises ``CaProtocolError``; an invalid type
    ``CaStatusError(ECA_BADTYPE)``.
    """
    codec = _codec(dbr_type)
    layout = codec.layout
    size = len(payload)
    offset = layout.prefix_size
    if size < offset:
        raise CaProtocolError(
            f"{layout.dbr_type.name} payload of {size} bytes is shorter than its "
            f"{offset}-byte metadata")
    meta = Metadata()
    _unpack_head(layout, payload, meta)
    itemsize = layout.value_dtype.itemsize
    if count is None:
        count = max((size - offset) // itemsize, 1 if codec.is_string else 0)
    if codec.is_string:
        values = _unpack_strings(payload, offset, count)
        if layout.dbr_type == _CLASS_NAME:
            meta.class_name = values[0] if values else b""
        return values, meta
    if size - offset < count * itemsize:
        raise CaProtocolError(
            f"{layout.dbr_type.name} payload of {size} bytes is too short for "
            f"{count} elements")
    return np.frombuffer(payload, layout.value_dtype, count, offset), meta


def payload_size(dbr_type: int, count: int) -> int:
    """The padded payload size of ``count`` elements of ``dbr_type`` (``dbr_size_n`` + pad)."""
    layout = _codec(dbr_type).layout
    size = layout.prefix_size + count * layout.value_dtype.itemsize
    return size + (-size % 8)

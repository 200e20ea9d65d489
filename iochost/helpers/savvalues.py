"""Channel values <-> ``.sav`` value texts, and ``.sav`` names <-> channels of a mount.

``saved_text(channel)`` gives what save_restore would write for the channel's value: a
double ``%.14g``, a float ``%.7g``, an integer ``%d``, an enum its index, a string its text,
an array (``max_length > 1``) a tuple of element texts. ``value_from_entry(channel,
entry)`` turns a ``.sav`` entry back into a value the channel accepts, or raises
:class:`UnfitValue` (the wrong type, outside the control limits, an enum index out of
range); the channel is not touched. An array saved longer than the channel holds gives its
first ``max_length`` elements, as dbrestore restores the first NELM.

Names are relative to the mount's prefix: ``m1`` (the value), ``m1.EGU`` (a record
field), ``desc$`` (a long string: the whole text of a CHAR-array string PV).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from iochost.ca.dbr import ChannelType
from iochost.pv.data import ChannelData
from iochost.pv.data_text import state_index

from .savfile import SavEntry, format_double, format_float

__all__ = [
    "LONG_STRING_MARK",
    "UnfitValue",
    "field_name_of",
    "resolve",
    "saved_text",
    "value_from_entry",
]

LONG_STRING_MARK = "$"
_INTEGER_TYPES = (ChannelType.INT, ChannelType.LONG, ChannelType.CHAR)


class UnfitValue(ValueError):
    """A saved value that no longer fits its channel."""


def _is_text(channel: ChannelData) -> bool:
    return isinstance(channel.value, str) and channel.native_type != ChannelType.ENUM


def _as_bytes(channel: ChannelData, text: str) -> str:
    """Text as the bytes a CA client reads of it, one character per byte: a ``.sav`` file
    holds bytes (a C IOC's, in whatever encoding its clients use)."""
    return text.encode(channel.string_encoding, "replace").decode("latin-1")


def _from_bytes(channel: ChannelData, text: str) -> str:
    """The inverse of :func:`_as_bytes` (bytes that do not decode become U+FFFD)."""
    return text.encode("latin-1", "replace").decode(channel.string_encoding, "replace")


def _element_text(native: ChannelType, item: Any) -> str:
    if native == ChannelType.DOUBLE:
        return format_double(float(item))
    if native == ChannelType.FLOAT:
        return format_float(float(item))
    if native in _INTEGER_TYPES:
        return f"{int(item)}"
    return str(item)


def saved_text(channel: ChannelData) -> str | tuple[str, ...]:
    """The ``.sav`` value text of ``channel`` (a tuple for an array)."""
    return text_of(channel, channel.value)


def text_of(channel: ChannelData, value: Any) -> str | tuple[str, ...]:
    """The ``.sav`` text of ``value`` as ``channel`` holds it (as ``preprocess_value``
    returns it): see :func:`saved_text`."""
    native = channel.native_type
    if native == ChannelType.ENUM:
        strings = tuple(getattr(channel, "enum_strings", ()))
        return f"{state_index(strings, value) if isinstance(value, str) else int(value)}"
    if isinstance(value, str):
        return _as_bytes(channel, value)
    if native == ChannelType.STRING:
        return tuple(_as_bytes(channel, item) for item in value)
    if isinstance(value, (bytes, bytearray)):
        return tuple(f"{byte}" for byte in value)
    if channel.max_length > 1 or isinstance(value, (np.ndarray, list, tuple)):
        items = np.atleast_1d(np.asarray(value)).tolist()
        return tuple(_element_text(native, item) for item in items)
    return _element_text(native, value)


def _number(native: ChannelType, text: str) -> float | int:
    text = text.strip()
    try:
        if native in (ChannelType.DOUBLE, ChannelType.FLOAT):
            return float(text)
        return int(text, 0) if text[:2].lower() == "0x" else int(float(text))
    except ValueError:
        raise UnfitValue(f"{text!r} is not a number") from None


def _parse(channel: ChannelData, entry: SavEntry) -> Any:
    native = channel.native_type
    raw = entry.value
    if native == ChannelType.ENUM:
        if isinstance(raw, tuple):
            raise UnfitValue("an array cannot restore an enum")
        text = raw.strip()
        try:
            index = int(text)
        except ValueError:
            return text                          # a state string (hand-written files)
        strings = getattr(channel, "enum_strings", ())
        if strings and not 0 <= index < len(strings):
            raise UnfitValue(f"enum index {index} is out of range (0..{len(strings) - 1})")
        return index
    if native == ChannelType.STRING and not _is_text(channel):   # an array of strings
        items = raw if isinstance(raw, tuple) else (raw,)
        return [_from_bytes(channel, item) for item in items[:channel.max_length]]
    if _is_text(channel):
        if not isinstance(raw, tuple):
            return _from_bytes(channel, raw)
        if native == ChannelType.CHAR:   # text saved as its bytes (a C IOC's CHAR waveform)
            data = bytes(int(_number(ChannelType.CHAR, item)) & 0xFF for item in raw)
            return data.rstrip(b"\0").decode(channel.string_encoding)
        return _from_bytes(channel, raw[0]) if raw else ""
    if isinstance(channel.value, (bytes, bytearray)):
        items = raw if isinstance(raw, tuple) else (raw,)
        return bytes(int(_number(ChannelType.CHAR, item)) & 0xFF
                     for item in items[:channel.max_length])
    if isinstance(raw, tuple) or channel.max_length > 1:
        items = (raw if isinstance(raw, tuple) else (raw,))[:channel.max_length]
        numbers = [_number(native, item) for item in items]
        if channel.max_length == 1:
            return numbers[0] if numbers else 0
        return np.asarray(numbers, dtype=np.asarray(channel.value).dtype)
    return _number(native, raw)


def value_from_entry(channel: ChannelData, entry: SavEntry) -> Any:
    """The value ``entry`` restores into ``channel``, checked as a write would check it
    (type, length, control limits); raises :class:`UnfitValue` otherwise."""
    value = _parse(channel, entry)
    try:
        value = channel.preprocess_value(value)
        channel.check_limits(value)
    except UnfitValue:
        raise
    except Exception as error:  # the channel's own refusal (ChannelValueError, limits ...)
        raise UnfitValue(str(error) or type(error).__name__) from None
    return value


def resolve(pvdb: Mapping[str, ChannelData], prefix: str, name: str) -> ChannelData | None:
    """The channel a relative ``.sav`` name stands for in a mount's ``pvdb`` (full names):
    ``NAME``, ``NAME.VAL``, ``NAME.FIELD`` (a record field) or ``NAME$`` / ``NAME.VAL$``.
    A full name that starts with the prefix (a C IOC's file) is found too."""
    if name.endswith(LONG_STRING_MARK):
        name = name[:-1]
    channel = _resolve_full(pvdb, prefix + name)
    if channel is None and prefix and name.startswith(prefix):
        channel = _resolve_full(pvdb, name)
    return channel


def _resolve_full(pvdb: Mapping[str, ChannelData], full: str) -> ChannelData | None:
    channel = pvdb.get(full)
    if channel is not None:
        return channel
    base, dot, field = full.rpartition(".")
    if not dot:
        return None
    owner = pvdb.get(base)
    if owner is None:
        return None
    return owner.get_field(field)


def value_name(name: str) -> str:
    """The name of a PV's value however an entry spells it: ``m2``, ``m2.VAL``, ``m2$``."""
    return name.removesuffix(LONG_STRING_MARK).removesuffix(".VAL")


def field_name_of(channel: ChannelData, field: str) -> str:
    """The EPICS name of a record field given by its EPICS name or caproto's attribute
    name (``description`` -> ``DESC``); other names are returned upper-cased."""
    fields = getattr(channel, "field_inst", None)
    if fields is not None and not field.isupper():
        try:
            return type(fields).field_name(field)
        except (AttributeError, KeyError):
            pass
    return field.upper()

"""What the web side knows of a PV: read through the server's ``ServedChannel`` contract.

The web layer never reaches into the framework's channel classes: it reads a PV the way a
CA client would, through ``read_dbr`` (TIME family for value, alarm and stamp; CTRL family
for units, precision, limits and enum strings) and decodes with :func:`decode_dbr`. So any
served channel -- a pvproperty, a record field, a plugin's own ChannelData -- shows the
same on the page as in ``caget``, and an encoded update is shared with the CA subscribers
of the same type (``read_dbr`` caches per type until the next publish).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from iochost.ca.dbr import EPICS_EPOCH, ChannelType, Metadata, decode_dbr, promote
from iochost.server import ServedChannel

__all__ = ["Display", "Reading", "SEVERITY_NAMES", "aread_value", "json_float", "read_display",
           "read_value", "severity_name", "text_encoding"]

#: Alarm severities by number as pvws (and Phoebus' VType) name them; beyond INVALID is
#: UNDEFINED there too.
SEVERITY_NAMES = ("NONE", "MINOR", "MAJOR", "INVALID")


def severity_name(severity: int) -> str:
    return SEVERITY_NAMES[severity] if 0 <= severity < len(SEVERITY_NAMES) else "UNDEFINED"


def text_encoding(channel: ServedChannel) -> str:
    """How the channel's text is encoded (channel data say; CA's default otherwise)."""
    return getattr(channel, "string_encoding", "latin-1")


@dataclass(frozen=True, slots=True)
class Reading:
    """A PV's value, alarm and time stamp at one moment."""

    native_type: ChannelType
    is_array: bool
    #: float/int/str scalar, or a native-order numpy array (a list of str for STRING arrays);
    #: text held in a CHAR array is a str
    value: Any
    severity: int
    status: int
    seconds: int                #: Unix time
    nanos: int

    def json_value(self) -> Any:
        """The value as JSON can carry it (NaN and the infinities as text)."""
        value = self.value
        if isinstance(value, np.ndarray):
            return [json_float(v) for v in value.tolist()]
        if isinstance(value, float):
            return json_float(value)
        return value


def json_float(value: Any) -> Any:
    """A float JSON can carry: NaN and the infinities as pvws' strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


@dataclass(frozen=True, slots=True)
class Display:
    """A PV's static metadata (CTRL family); changes only with DBE_PROPERTY."""

    units: str
    precision: int
    lower_disp_limit: float
    upper_disp_limit: float
    lower_warning_limit: float
    upper_warning_limit: float
    lower_alarm_limit: float
    upper_alarm_limit: float
    lower_ctrl_limit: float
    upper_ctrl_limit: float
    enum_strings: tuple[str, ...]
    description: str = ""  # the record's DESC, where the reader looked it up


def _decode_time(channel: ServedChannel, payload: bytes, count: int) -> Reading:
    native = ChannelType(channel.native_type)
    values, meta = decode_dbr(promote(native, "time"), payload, count)
    is_array = channel.max_length != 1  # 0: a filter left no element
    encoding = text_encoding(channel)
    value: Any
    if native == ChannelType.CHAR and channel.long_string() is not None:
        # text held as a CHAR array (what 'NAME.$' serves): shown as the text it is
        raw = np.asarray(values, dtype=np.uint8).tobytes()
        return Reading(native, False, raw.split(b"\0", 1)[0].decode(encoding, "replace"),
                       meta.severity, meta.status, _unix_seconds(meta), meta.nsecs)
    if native == ChannelType.STRING:
        texts = [v.decode(encoding, "replace") for v in cast(list[bytes], values)]
        value = texts if is_array else (texts[0] if texts else "")
    else:
        array = np.asarray(values)
        array = array.astype(array.dtype.newbyteorder("="))
        value = array if is_array else (array[0].item() if array.size else 0)
    return Reading(native, is_array, value, meta.severity, meta.status, _unix_seconds(meta),
                   meta.nsecs)


def _unix_seconds(meta: Metadata) -> int:
    """Unix seconds of a stamp; 0 for the never-set (EPICS epoch zero) stamp."""
    return meta.secs + EPICS_EPOCH if meta.secs or meta.nsecs else 0


def read_value(channel: ServedChannel) -> Reading:
    """The current value (synchronous; for a channel that ``needs_async_read`` use
    :func:`aread_value`)."""
    payload, count = channel.read_dbr(promote(ChannelType(channel.native_type), "time"), 0)
    return _decode_time(channel, payload, count)


async def aread_value(channel: ServedChannel) -> Reading:
    """The current value, through the channel's getter when it has one."""
    if not channel.needs_async_read:
        return read_value(channel)
    payload, count = await channel.aread_dbr(
        promote(ChannelType(channel.native_type), "time"), 0)
    return _decode_time(channel, payload, count)


def read_display(channel: ServedChannel) -> Display:
    """Units, precision, limits and enum strings (one element of the CTRL family)."""
    native = ChannelType(channel.native_type)
    payload, _ = channel.read_dbr(promote(native, "ctrl"), 1)
    _, meta = decode_dbr(promote(native, "ctrl"), payload, 1)
    return _display(meta, text_encoding(channel))


def _display(meta: Metadata, encoding: str) -> Display:
    return Display(
        units=meta.units.decode(encoding, "replace"), precision=meta.precision,
        lower_disp_limit=meta.lower_disp_limit, upper_disp_limit=meta.upper_disp_limit,
        lower_warning_limit=meta.lower_warning_limit,
        upper_warning_limit=meta.upper_warning_limit,
        lower_alarm_limit=meta.lower_alarm_limit, upper_alarm_limit=meta.upper_alarm_limit,
        lower_ctrl_limit=meta.lower_ctrl_limit, upper_ctrl_limit=meta.upper_ctrl_limit,
        enum_strings=tuple(s.decode(encoding, "replace") for s in meta.enum_strings))

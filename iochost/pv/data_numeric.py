"""Numeric channel data: DOUBLE, FLOAT, LONG, INT and raw CHAR bytes.

Public names are re-exported by :mod:`iochost.pv.data`.

A scalar (``max_length == 1``) holds a Python ``int``/``float``; an array holds a
read-only 1-D numpy array of the native dtype (lists are converted on write, so reads
never convert).  Deadbands follow EPICS' MDEL/ADEL: a new value posts DBE_VALUE when it
differs from the last value *posted* with DBE_VALUE by more than ``value_atol`` (any
change when 0, every write when negative), and DBE_LOG likewise with ``log_atol``.
An array posts on every write unless given tolerances (the waveform record's MPST/APST
"Always", and caproto's way); with ``value_atol=0`` (MPST "On Change") it posts when any
element moved by more than the tolerance, or the length changed.
"""
from __future__ import annotations

import math
import operator
import struct
from array import array
from typing import Any
from collections.abc import Callable

import numpy as np

from ..ca.dbr import DBE_LOG, DBE_VALUE, ChannelType
from .alarms import AlarmSeverity, AlarmStatus, limit_alarm
from .data_core import NOT_SCALAR, ChannelData
from .data_errors import CannotExceedLimits, ChannelValueError, TooManyElements, WrongValueType

__all__ = ["ChannelNumeric", "ChannelDouble", "ChannelFloat", "ChannelInteger",
           "ChannelShort", "ChannelByte", "LIMIT_NAMES"]

#: The numeric limits, in the order of a DBR CTRL layout.
LIMIT_NAMES: tuple[str, ...] = (
    "upper_disp_limit", "lower_disp_limit", "upper_alarm_limit", "upper_warning_limit",
    "lower_warning_limit", "lower_alarm_limit", "upper_ctrl_limit", "lower_ctrl_limit",
)
_SEQUENCES = (list, tuple, np.ndarray, array)
_FLT_MAX = float(np.finfo(np.float32).max)
_FLOAT32 = np.dtype(np.float32)
_INT_RANGES = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max))
               for t in (np.int16, np.int32, np.uint8)}
_MAX_UNITS = 7  # char[8] with its NUL


#: the limits of a channel that sets none: one tuple, shared
_NO_LIMITS = (0,) * len(LIMIT_NAMES)
_LIMIT_INDEX = {name: index for index, name in enumerate(LIMIT_NAMES)}


def _limit_getter(index: int) -> Callable[[ChannelNumeric], Any]:
    return lambda self: self._limits[index]


def _read_only(name: str) -> property:
    index = _LIMIT_INDEX.get(name)
    getter = operator.attrgetter("_" + name) if index is None else _limit_getter(index)
    return property(getter, doc=f"{name} (read-only: change it with write_metadata)")


def _stored_limit(index: int) -> property:
    """``_<limit name>``: one limit in the channel's tuple of them (``write_metadata``
    and record fields set them by these names)."""

    def set_limit(self: ChannelNumeric, value: Any) -> None:
        limits = list(self._limits)
        limits[index] = value
        self._limits = tuple(limits)

    return property(_limit_getter(index), set_limit)


#: The big-endian wire form of one element of each numeric native type.
_WIRE_SCALARS = {ChannelType.DOUBLE: struct.Struct(">d"), ChannelType.FLOAT: struct.Struct(">f"),
                 ChannelType.LONG: struct.Struct(">i"), ChannelType.INT: struct.Struct(">h"),
                 ChannelType.CHAR: struct.Struct(">B")}


class ChannelNumeric(ChannelData):
    """Base of the numeric channel data: units, precision, limits and deadbands."""

    # the eight limits in one tuple (LIMIT_NAMES order), shared by the channels without any
    __slots__ = ("_units", "_precision", "_limits", "value_atol", "log_atol", "_mlst",
                 "_alst")

    _property_names = ("units", "precision", *LIMIT_NAMES)
    #: numpy dtype of the native type
    _dtype: np.dtype = np.dtype(np.int32)
    #: set per class by __init_subclass__ (None: no scalar put shortcut)
    _wire_scalar: struct.Struct | None = None
    _packs_scalars = True   # a scalar's value is its wire element (ChannelData._pack_scalar)

    def __init__(self, *, value: Any = None, units: str = "", precision: int = 0,
                 upper_disp_limit: Any = 0, lower_disp_limit: Any = 0,
                 upper_alarm_limit: Any = 0, upper_warning_limit: Any = 0,
                 lower_warning_limit: Any = 0, lower_alarm_limit: Any = 0,
                 upper_ctrl_limit: Any = 0, lower_ctrl_limit: Any = 0,
                 value_atol: float | None = None, log_atol: float | None = None,
                 **kwargs: Any):
        self._units = str(units)
        self._precision = int(precision)
        limits = (upper_disp_limit, lower_disp_limit, upper_alarm_limit, upper_warning_limit,
                  lower_warning_limit, lower_alarm_limit, upper_ctrl_limit, lower_ctrl_limit)
        self._limits = _NO_LIMITS if limits == _NO_LIMITS else limits
        super().__init__(value=value, **kwargs)
        self._units = self._checked_units(units)
        always = -1.0 if self._max_length != 1 else 0.0   # see the module docstring
        self.value_atol = always if value_atol is None else value_atol
        self.log_atol = always if log_atol is None else log_atol
        self._mlst = self._alst = self._value

    # -- value normalisation ----------------------------------------------------------------------
    def default_value(self) -> Any:
        return self._dtype.type(0).item()

    def preprocess_value(self, value: Any) -> Any:
        if self._max_length == 1:
            if isinstance(value, _SEQUENCES):
                if len(value) != 1:
                    raise _wrong_count(self, len(value))
                value = value[0]
            return self._scalar(value)
        return self._array(value)

    def _scalar(self, value: Any) -> Any:
        if isinstance(value, (str, bytes, bytearray)):
            raise WrongValueType(f"{type(self).__name__} holds numbers, not {value!r}")
        if self._dtype.kind == "f":
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise WrongValueType(f"{type(self).__name__} holds numbers, not {value!r}") \
                    from None
            if self._dtype.itemsize == 4:
                if abs(number) > _FLT_MAX and not math.isinf(number):
                    raise ChannelValueError(f"{value!r} is out of the FLOAT range")
                number = float(np.float32(number))
            return number
        try:
            number = operator.index(value)
        except TypeError:
            try:
                real = float(value)
            except (TypeError, ValueError):
                raise WrongValueType(f"{type(self).__name__} holds integers, not {value!r}") \
                    from None
            if not math.isfinite(real):
                raise ChannelValueError(f"{type(self).__name__} cannot hold {value!r}") from None
            number = int(real)  # truncation toward zero, as a C cast
        low, high = _INT_RANGES[self._dtype]
        if not low <= number <= high:
            raise ChannelValueError(f"{value!r} is out of the {self.data_type.name} range "
                                    f"{low}..{high}")
        return number

    def _array(self, value: Any) -> np.ndarray:
        if isinstance(value, (str, bytes, bytearray)):
            raise WrongValueType(f"{type(self).__name__} holds numbers, not {value!r}")
        if isinstance(value, np.ndarray) and self._dtype.kind in "iu" and value.size \
                and value.dtype.kind in "iuf" and not np.can_cast(value.dtype, self._dtype):
            self._check_array_range(value)  # numpy's cast would wrap them silently
        try:
            with np.errstate(over="ignore"):  # a FLOAT's overflow: refused just below
                arr = np.array(value, dtype=self._dtype)  # a copy: the caller keeps theirs
        except (TypeError, ValueError, OverflowError) as exc:
            raise WrongValueType(f"{type(self).__name__} cannot hold {value!r}: {exc}") from None
        if arr.ndim != 1:
            arr = arr.reshape(-1)
        if len(arr) > self._max_length:
            raise _wrong_count(self, len(arr))
        if self._dtype == _FLOAT32:
            overflowed = np.isinf(arr)
            if overflowed.any() and \
                    np.isfinite(np.asarray(value, float).reshape(-1)[overflowed]).any():
                raise ChannelValueError(f"a number beyond the FLOAT range (+-{_FLT_MAX:g})")
        arr.flags.writeable = False
        return arr

    def _check_array_range(self, value: np.ndarray) -> None:
        """Refuse an array whose numbers the integer type cannot hold, as ``_scalar``
        refuses one number (a fraction is dropped, as a C cast does)."""
        low, high = _INT_RANGES[self._dtype]
        least, most = value.min(), value.max()  # NaN if any is
        if value.dtype.kind == "f":
            if not (np.isfinite(least) and np.isfinite(most)):
                raise ChannelValueError(f"{type(self).__name__} cannot hold non-finite "
                                        f"numbers")
            fits = low - 1 < least and most < high + 1  # what truncates into the range
        else:
            fits = low <= least and most <= high
        if not fits:
            raise ChannelValueError(f"values {least}..{most} are out of the "
                                    f"{self.data_type.name} range {low}..{high}")

    def calculate_length(self, value: Any) -> int:
        return len(value) if isinstance(value, _SEQUENCES) else 1

    # -- the write path ---------------------------------------------------------------------------
    def check_limits(self, value: Any) -> None:
        _, _, _, _, _, _, high, low = self._limits
        if self._max_length == 1 and low < high and not low <= value <= high:
            raise CannotExceedLimits(f"{value!r} is outside the control limits "
                                     f"[{low}, {high}] of {type(self).__name__}")

    def evaluate_alarm(self, value: Any) -> tuple[AlarmStatus, AlarmSeverity] | None:
        if self._max_length != 1:
            return None
        _, _, upper_alarm, upper_warning, lower_warning, lower_alarm, _, _ = self._limits
        return limit_alarm(value, lower_alarm, lower_warning, upper_warning, upper_alarm)

    def _change_flags(self, value: Any) -> int:
        if self._max_length != 1:
            return self._array_flags(value)
        flags = 0
        if _scalar_moved(value, self._mlst, self.value_atol):
            self._mlst = value
            flags = DBE_VALUE
        if _scalar_moved(value, self._alst, self.log_atol):
            self._alst = value
            flags |= DBE_LOG
        return flags

    def _array_flags(self, value: Any) -> int:
        # As the waveform record's hash: posting "Always" (a negative tolerance) leaves the
        # reference alone, so the first "On Change" write after it compares with an older one
        flags = 0
        if self.value_atol < 0:
            flags = DBE_VALUE
        elif _array_moved(value, self._mlst, self.value_atol):
            self._mlst = value
            flags = DBE_VALUE
        if self.log_atol < 0:
            flags |= DBE_LOG
        elif _array_moved(value, self._alst, self.log_atol):
            self._alst = value
            flags |= DBE_LOG
        return flags

    def _checked_units(self, units: Any) -> str:
        """``units`` as text the channel's ``string_encoding`` can send (else a clear error
        now, not a '?' in every client's display and an empty EGU field)."""
        text = str(units)
        try:
            text.encode(self.string_encoding)
        except UnicodeEncodeError:
            raise ValueError(f"units {text!r} are not {self.string_encoding} text: pass "
                             f"string_encoding='utf-8' (what EPICS databases hold) or write "
                             f"them otherwise") from None
        return text

    def _normalise_property(self, name: str, value: Any) -> Any:
        if name == "units":
            return self._checked_units(value)
        if name == "precision":
            return int(value)
        if isinstance(value, _SEQUENCES) and len(value) == 1:  # caproto unpacks these
            value = value[0]
        return value

    # -- the wire side ----------------------------------------------------------------------------
    def _wire_values(self) -> np.ndarray:
        value = self._value
        if isinstance(value, np.ndarray):
            return value
        return np.array((value,), dtype=self._dtype)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The scalar put shortcut gives what this class's _value_from_wire gives for one
        # element of the native type; a class that reads puts its own way keeps the general path.
        own_reading = cls._value_from_wire is ChannelNumeric._value_from_wire
        cls._wire_scalar = _WIRE_SCALARS.get(cls.data_type) if own_reading else None

    def _scalar_put(self, dbr_type: int, count: int, payload: Any) -> Any:
        # Most puts are one element of the native type to a scalar: struct reads it exactly
        # as decode_dbr + _value_from_wire would, at a fraction of the cost.
        wire = self._wire_scalar
        if (wire is not None and count == 1 and dbr_type == self.data_type
                and self._max_length == 1 and len(payload) >= wire.size):
            return wire.unpack_from(payload)[0]
        return NOT_SCALAR

    def _value_from_wire(self, values: np.ndarray) -> Any:
        if self._max_length == 1:
            if len(values) != 1:
                raise _wrong_count(self, len(values))
            return values[0].item()
        return values  # preprocess_value copies it into a native-order array

    def _metadata_properties(self) -> dict[str, Any]:
        as_native = float if self._dtype.kind == "f" else _clamped_int(self._dtype)
        properties = dict(zip(LIMIT_NAMES, map(as_native, self._limits)))
        properties["units"] = self._units.encode(self.string_encoding)[:_MAX_UNITS]
        properties["precision"] = self._precision
        return properties


for _name in ("units", "precision", *LIMIT_NAMES):
    setattr(ChannelNumeric, _name, _read_only(_name))
for _name, _index in _LIMIT_INDEX.items():
    setattr(ChannelNumeric, "_" + _name, _stored_limit(_index))
del _name, _index


def _wrong_count(channel: ChannelData, count: int) -> ChannelValueError:
    if count == 0:
        return ChannelValueError(f"{type(channel).__name__} cannot hold an empty value")
    return TooManyElements(f"{count} elements do not fit {type(channel).__name__}"
                           f"(max_length={channel._max_length})")


def _clamped_int(dtype: np.dtype):
    info = np.iinfo(dtype)

    def convert(limit: Any) -> int:
        limit = float(limit)
        if not math.isfinite(limit):
            return info.max if limit > 0 else info.min
        return min(max(int(limit), info.min), info.max)
    return convert


def _scalar_moved(new: Any, last: Any, atol: float) -> bool:
    """True when ``new`` is past the deadband ``atol`` around the last posted value."""
    if atol < 0:
        return True
    if new == last:
        return False
    new_nan, last_nan = new != new, last != last
    if new_nan or last_nan:  # moved unless both are NaN
        return not (new_nan and last_nan)
    return abs(new - last) > atol


def _array_moved(new: np.ndarray, last: Any, atol: float) -> bool:
    """Array form of :func:`_scalar_moved` (``atol`` >= 0): any element past the deadband,
    or a new length."""
    if not isinstance(last, np.ndarray) or new.shape != last.shape:
        return True
    if atol == 0:
        return not np.array_equal(new, last, equal_nan=new.dtype.kind == "f")
    if new.dtype.kind == "f" and np.any(np.isnan(new) != np.isnan(last)):
        return True
    with np.errstate(invalid="ignore"):
        diff = np.abs(new.astype(np.float64) - last)
    return bool(np.any(diff > atol))  # NaN differences (both NaN) compare False


class ChannelDouble(ChannelNumeric):
    """64-bit floating point data (DBR_DOUBLE)."""

    __slots__ = ()
    data_type = ChannelType.DOUBLE
    _dtype = np.dtype(np.float64)


class ChannelFloat(ChannelNumeric):
    """32-bit floating point data (DBR_FLOAT); values are rounded to float32 on write."""

    __slots__ = ()
    data_type = ChannelType.FLOAT
    _dtype = np.dtype(np.float32)


class ChannelInteger(ChannelNumeric):
    """32-bit integer data (DBR_LONG)."""

    __slots__ = ()
    data_type = ChannelType.LONG
    _dtype = np.dtype(np.int32)


class ChannelShort(ChannelNumeric):
    """16-bit integer data (DBR_INT, a.k.a. SHORT)."""

    __slots__ = ()
    data_type = ChannelType.INT
    _dtype = np.dtype(np.int16)


class ChannelByte(ChannelNumeric):
    """Raw 8-bit data (DBR_CHAR) held as ``bytes`` -- for text use :class:`ChannelChar`.

    As in caproto, trailing NULs are stripped unless ``strip_null_terminator=False``.
    Limits are served as metadata but raise no alarms; every write posts.
    """

    __slots__ = ("strip_null_terminator",)
    data_type = ChannelType.CHAR
    _dtype = np.dtype(np.uint8)

    def __init__(self, *, strip_null_terminator: bool = True, **kwargs: Any):
        self.strip_null_terminator = strip_null_terminator
        super().__init__(**kwargs)

    def default_value(self) -> bytes:
        return b""

    def calculate_length(self, value: Any) -> int:
        if isinstance(value, int):
            return 1
        return len(value)

    def preprocess_value(self, value: Any) -> bytes:
        if isinstance(value, str):
            raise WrongValueType("ChannelByte holds bytes, not str (ChannelChar holds text)")
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        elif isinstance(value, (int, np.integer)):
            if not 0 <= value <= 255:
                raise ChannelValueError(f"{value!r} is not a byte (0..255)")
            data = bytes((int(value),))
        else:
            if isinstance(value, np.ndarray) and value.dtype.kind in "iuf" \
                    and value.dtype.itemsize > 1 and value.size \
                    and not -128 <= value.min() <= value.max() <= 255:  # (False for NaN)
                # numpy's cast would wrap them (300 -> 44); a signed byte's -1 is 0xFF
                raise ChannelValueError(f"{value.min()}..{value.max()} are not bytes "
                                        f"(-128..255)")
            try:
                data = np.array(value, dtype=np.uint8).reshape(-1).tobytes()
            except (TypeError, ValueError, OverflowError) as exc:
                raise WrongValueType(f"ChannelByte cannot hold {value!r}: {exc}") from None
        if self.strip_null_terminator and not isinstance(value, (int, np.integer)):
            data = data.rstrip(b"\0")  # a terminator; a single number 0 is a value
        if len(data) > self._max_length:
            raise _wrong_count(self, len(data))
        return data

    def check_limits(self, value: Any) -> None:
        pass

    def evaluate_alarm(self, value: Any) -> None:
        return None

    def _change_flags(self, value: Any) -> int:
        return DBE_VALUE | DBE_LOG

    def _wire_values(self) -> np.ndarray:
        return np.frombuffer(self._value, dtype=np.uint8)  # empty: a count-0 read gets none

    def _value_from_wire(self, values: np.ndarray) -> bytes:
        return values.astype(np.uint8, copy=False).tobytes()

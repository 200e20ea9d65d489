"""Text-like channel data: ENUM, STRING and CHAR-array strings.

Public names are re-exported by :mod:`iochost.pv.data`.  Text is ``str`` on the Python
side and bytes in ``string_encoding`` on the wire.  Every write of these posts
DBE_VALUE|DBE_LOG (caproto's behaviour: no deadband applies to text).
"""
from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..ca.dbr import (MAX_ENUM_STATES, MAX_ENUM_STRING_SIZE, MAX_STRING_SIZE, ChannelType,
                      convert_values)
from .data_core import ChannelData
from .data_errors import ChannelValueError, TooManyElements, WrongValueType

if TYPE_CHECKING:  # pragma: no cover
    from .data_longstring import LongStringView

__all__ = ["ChannelEnum", "ChannelString", "ChannelChar", "EnumState", "RecordStates",
           "state_index"]

_SEQUENCES = (list, tuple, np.ndarray)
_MAX_TEXT = MAX_STRING_SIZE - 1  # a DBR_STRING element is char[40] with its NUL


def _single(channel: ChannelData, value: Any) -> Any:
    """The one element of a 1-element sequence, or ``value`` itself."""
    if isinstance(value, _SEQUENCES):
        if len(value) != 1:
            raise TooManyElements(f"{type(channel).__name__} holds one value, got "
                                  f"{len(value)}")
        return value[0]
    return value


def _text(channel: ChannelData, value: Any) -> str:
    """``value`` as str that encodes in the channel's encoding (bytes are decoded)."""
    encoding = channel.string_encoding
    try:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value).decode(encoding)
        if isinstance(value, np.bytes_):
            return value.decode(encoding)
        if isinstance(value, str):
            value.encode(encoding)
            return str(value)
        if isinstance(value, (int, float, np.integer, np.floating)) \
                and not isinstance(value, (bool, np.bool_)):
            return str(value)  # caproto's str(): write(42) to a text PV holds "42"
    except UnicodeError as exc:
        raise ChannelValueError(f"{value!r} is not valid {encoding} text: {exc}") from None
    raise WrongValueType(f"{type(channel).__name__} holds text, not {value!r}")


def _wire_text(text: str, encoding: str) -> bytes:
    """One DBR_STRING element: encoded, cut at a NUL and to 39 bytes."""
    return text.encode(encoding).split(b"\0", 1)[0][:_MAX_TEXT]


class EnumState(str):
    """A state string that remembers its index: an enum's states need not differ (an
    mbbo's unused states are all ''), and the index is what is stored and saved."""

    state_index: int


def _state(strings: Sequence[str], index: int) -> str:
    """State ``index``'s string; an :class:`EnumState` when an earlier state has the same
    text (a plain str otherwise, the common case)."""
    text = strings[index]
    if strings.index(text) == index:
        return text
    state = EnumState(text)
    state.state_index = index
    return state


def state_index(strings: Sequence[str], text: str) -> int:
    """The index of a state string (its own for an :class:`EnumState`)."""
    index = getattr(text, "state_index", None)
    return strings.index(text) if index is None else index


class RecordStates(NamedTuple):
    """The states of an EPICS record's ENUM value (bi, bo, mbbi, mbbo VAL; a mirror of
    one): it holds any index 0..65535, as dbPut stores whatever index it is given, where
    a plain ChannelEnum refuses one past its states (caproto's rule).  The fields are how
    the record support treats text."""

    #: how an index without a state string reads (``Metadata.unnamed_states``; None: ""
    #: below 16, "Illegal Value" from 16 on, or the number when there are no states)
    unnamed: tuple[int, bytes] | None = None
    #: a state number put as text must be the whole text (bi, bo, mbbi; else the number
    #: it starts with is taken: an mbbo takes "1.5" and "1abc" as 1)
    whole_numbers: bool = False
    #: "" names the first state without a string once any state is named (the mbbi/mbbo
    #: put_enum_str compares the text with all 16 state strings)
    empty_state: bool = False


class ChannelEnum(ChannelData):
    """ENUM data: the value is one of ``enum_strings`` (a str), its index goes on the wire.

    Writes take a state string or an index.  The index is what is stored, so changing
    ``enum_strings`` keeps the index and renames the value; an index with no string (or
    any index when there are no strings) reads back as the int.  An index past the states
    is refused, unless ``record_states`` (:class:`RecordStates`) says the value is an EPICS
    record's.
    """

    __slots__ = ("_enum_strings", "record_states")
    data_type = ChannelType.ENUM
    _property_names = ("enum_strings",)
    _packs_scalars = True   # the stored index is the wire element (ChannelData._pack_scalar)

    def __init__(self, *, enum_strings: Any = None, record_states: RecordStates | None = None,
                 **kwargs: Any):
        self._enum_strings = self._validate_enum_strings(enum_strings or (), kwargs.get(
            "string_encoding", "latin-1"))
        if kwargs.get("max_length", 1) not in (None, 1):
            raise ValueError("ChannelEnum holds one value: arrays of ENUM are not supported")
        self.record_states = record_states
        super().__init__(**kwargs)

    @property
    def unnamed_states(self) -> tuple[int, bytes] | None:
        """How an index without a state string reads as text (``Metadata.unnamed_states``):
        the record's rule, else None."""
        states = self.record_states
        return None if states is None else states.unnamed

    @staticmethod
    def _validate_enum_strings(enum_strings: Any, encoding: str) -> tuple[str, ...]:
        strings = tuple(str(s) for s in enum_strings)
        if len(strings) > MAX_ENUM_STATES:
            raise ValueError(f"at most {MAX_ENUM_STATES} enum states, got {len(strings)}")
        try:
            sizes = [len(s.encode(encoding)) for s in strings]
        except UnicodeEncodeError as exc:
            raise ValueError(f"enum strings must be {encoding} text: {exc}") from None
        too_long = [s for s, size in zip(strings, sizes) if size >= MAX_ENUM_STRING_SIZE]
        if too_long:
            raise ValueError(f"enum strings are at most {MAX_ENUM_STRING_SIZE - 1} bytes: "
                             f"{too_long!r} are longer")
        return strings

    @property
    def enum_strings(self) -> tuple[str, ...]:
        """The state strings (read-only: change them with write_metadata)."""
        return self._enum_strings

    @property
    def value(self) -> Any:
        index, strings = self._value, self._enum_strings
        return _state(strings, index) if index < len(strings) else index

    @property
    def raw_value(self) -> int:
        """The index of the current value."""
        return self._value

    def get_raw_value(self, value: Any) -> int | None:
        """The index of state string ``value``, or None."""
        try:
            return self._enum_strings.index(value)
        except ValueError:
            return None

    def default_value(self) -> Any:
        return self._enum_strings[0] if self._enum_strings else 0

    def calculate_length(self, value: Any) -> int:
        return 1

    def preprocess_value(self, value: Any) -> Any:
        value = _single(self, value)
        strings = self._enum_strings
        if isinstance(value, EnumState) and value.state_index < len(strings) \
                and strings[value.state_index] == value:
            return value
        if isinstance(value, (str, bytes, bytearray, np.bytes_)):
            text = _text(self, value)
            if text in strings:
                return text
            raise ChannelValueError(f"{text!r} is not one of the states {strings!r}")
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)  # caproto takes 1.0 for state 1
        try:
            index = operator.index(value)
        except TypeError:
            raise WrongValueType(f"ChannelEnum takes a state string or an index, not "
                                 f"{value!r}") from None
        if strings:
            if 0 <= index < len(strings):
                return _state(strings, index)
            if self.record_states is None:
                raise ChannelValueError(f"index {index} is not one of the {len(strings)} "
                                        f"states")
        if not 0 <= index <= 0xFFFF:
            raise ChannelValueError(f"index {index} is out of the ENUM range 0..65535")
        return index

    def _store_form(self, value: Any) -> int:
        return state_index(self._enum_strings, value) if isinstance(value, str) else value

    def _normalise_property(self, name: str, value: Any) -> Any:
        return self._validate_enum_strings(value, self.string_encoding)

    def _encoded_strings(self) -> tuple[bytes, ...]:
        return tuple(s.encode(self.string_encoding) for s in self._enum_strings)

    def _wire_values(self) -> np.ndarray:
        return np.array((self._value,), dtype=np.uint16)

    def _metadata_properties(self) -> dict[str, Any]:
        return {"enum_strings": self._encoded_strings(), "unnamed_states": self.unnamed_states}

    def _convert_put(self, values: Any, source: ChannelType) -> Any:
        strings, states = self._encoded_strings(), self.record_states
        if states is None:
            return convert_values(values, source, ChannelType.ENUM, enum_strings=strings)
        if states.empty_state and source is ChannelType.STRING and list(values) == [b""] \
                and any(strings) and b"" not in strings and len(strings) < MAX_ENUM_STATES:
            return np.array((len(strings),), dtype=np.uint16)  # the first unnamed state
        return convert_values(values, source, ChannelType.ENUM, enum_strings=strings,
                              whole_numbers=states.whole_numbers)

    def _value_from_wire(self, values: np.ndarray) -> int:
        if len(values) != 1:
            raise TooManyElements(f"ChannelEnum holds one value, got {len(values)}")
        return int(values[0])


class ChannelString(ChannelData):
    """STRING data: a str, or a list of str when ``max_length > 1``.

    Clients see at most 39 bytes per element (DBR_STRING); the full text of a scalar is
    served as a CHAR array by :meth:`long_string` (``NAME.$``), up to
    ``long_string_max_length`` bytes.
    """

    __slots__ = ("_long_string_max_length",)
    data_type = ChannelType.STRING

    def __init__(self, *, long_string_max_length: int = 81, **kwargs: Any):
        self._long_string_max_length = int(long_string_max_length)
        super().__init__(**kwargs)

    def default_value(self) -> str:
        return ""

    def calculate_length(self, value: Any) -> int:
        return len(value) if isinstance(value, _SEQUENCES) else 1

    def preprocess_value(self, value: Any) -> Any:
        if self._max_length == 1:
            return _text(self, _single(self, value))
        if not isinstance(value, _SEQUENCES):
            value = [value]
        if len(value) > self._max_length:
            raise TooManyElements(f"{len(value)} strings do not fit ChannelString"
                                  f"(max_length={self._max_length})")
        return [_text(self, v) for v in value]

    @property
    def long_string_max_length(self) -> int:
        return self._long_string_max_length

    def _wire_values(self) -> list[bytes]:
        encoding, value = self.string_encoding, self._value
        if isinstance(value, str):
            return [_wire_text(value, encoding)]
        return [_wire_text(v, encoding) for v in value]

    def _value_from_wire(self, values: list[bytes]) -> Any:
        if self._max_length == 1:
            return values[0] if len(values) else b""
        return list(values)

    def long_string(self) -> LongStringView | None:
        return self._text_view() if self._max_length == 1 else None


#: The bytes a text channel (ChannelChar) holds when ``max_length`` is not given.
TEXT_CAPACITY = 256


#: record types whose VAL EPICS holds as text (DBF_STRING, or a long string)
TEXT_RECORDS = frozenset({"stringin", "stringout", "lsi", "lso", "printf"})


class ChannelChar(ChannelData):
    """Text held as a CHAR array (a ``str`` value; ``max_length`` counts encoded bytes).

    With ``report_as_string`` the channel is served as one DBR_STRING (first 39 bytes) and
    its CHAR-array form is the long-string view.  Otherwise a read as DBR_STRING carries
    the text, and a put of DBR_STRING elements converts each to one number, as caproto and
    RSRV's CHAR waveforms do (``caput -a PV 2 65 66`` stores "AB"; "abc" is refused): text
    goes as DBR_CHAR (``caput -S``) -- except to the VAL of a text record (``TEXT_RECORDS``,
    a ``record='stringout'`` pvproperty), which takes a DBR_STRING as its text, as RSRV's.
    """

    __slots__ = ("report_as_string",)
    _chars_are_text = True

    def __init__(self, *, report_as_string: bool = False, **kwargs: Any):
        self.report_as_string = report_as_string
        super().__init__(**kwargs)
        if kwargs.get("max_length") is None:
            # caproto stores text of any length: a status PV declared with 'Idle' is later
            # written 'Running a long operation'. Room for a line of text, or the initial
            # one if longer, rather than exactly the initial text's bytes.
            self._max_length = max(self._max_length, TEXT_CAPACITY)

    @property
    def data_type(self) -> ChannelType:  # type: ignore[override]
        return ChannelType.STRING if self.report_as_string else ChannelType.CHAR

    @property
    def max_length(self) -> int:
        return 1 if self.report_as_string else self._max_length

    @property
    def long_string_max_length(self) -> int:
        return self._max_length

    def default_value(self) -> str:
        return ""

    def calculate_length(self, value: Any) -> int:
        if isinstance(value, str):
            return len(value.encode(self.string_encoding))
        if isinstance(value, int):
            return 1
        return len(value)

    def preprocess_value(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = bytes((value,)) if 0 <= value <= 255 else value
        elif isinstance(value, (list, tuple, np.ndarray)):
            try:
                value = np.array(value, dtype=np.uint8).reshape(-1).tobytes()
            except (TypeError, ValueError, OverflowError) as exc:
                raise WrongValueType(f"ChannelChar cannot hold {value!r}: {exc}") from None
        text = _text(self, value)
        size = len(text.encode(self.string_encoding))
        if size > self._max_length:
            raise TooManyElements(f"{size} bytes of text do not fit ChannelChar"
                                  f"(max_length={self._max_length})")
        return text

    def _wire_values(self) -> Any:
        if self.report_as_string:
            return [_wire_text(self._value, self.string_encoding)]
        return np.frombuffer(self._value.encode(self.string_encoding), dtype=np.uint8)

    def _strings_are_text(self) -> bool:
        """A DBR_STRING put is text when the channel is served as one, or is the VAL of a
        record EPICS holds as text (a stringout's, an lso's: RSRV takes text there); else
        each of its elements is a number."""
        return self.report_as_string or self.reported_record_type in TEXT_RECORDS

    def _put_count(self, source: ChannelType, count: int) -> int:
        # one DBR_STRING of text, or the array's characters (numbers as strings included)
        if source is ChannelType.STRING and self._strings_are_text():
            return min(count, 1)
        return min(count, self._max_length)

    def _convert_put(self, values: Any, source: ChannelType) -> Any:
        return convert_values(values, source, self.native_type, array=True,
                              long_string=source is not ChannelType.STRING or
                              self._strings_are_text())

    def _value_from_wire(self, values: Any) -> Any:
        if self.report_as_string:
            # one DBR_STRING longer than the text holds: cut to its size, as dbPut copies
            # at most a field's size (a character cut in two is dropped)
            raw = bytes(values[0]) if len(values) else b""
            return raw[:self._max_length].decode(self.string_encoding, "ignore")
        # the bytes sent, less the NULs that end them (a text put's terminator, a fixed
        # buffer's padding): embedded ones are kept, as RSRV and caproto keep every byte;
        # more than the text holds (a DBR_STRING put) is cut to its size, as dbPut cuts
        raw = values.astype(np.uint8, copy=False).tobytes().rstrip(b"\0")
        if len(raw) > self._max_length:
            return raw[:self._max_length].decode(self.string_encoding, "ignore")
        return raw

    def long_string(self) -> Any:
        return self._text_view() if self.report_as_string else self  # already a CHAR array

"""How EPICS' caget, caput and camonitor print values (base's ``tool_lib``), option for
option: the text of the client verbs.

Pure functions of a :class:`Reading` and a :class:`Style` (the tools' format options).
One deliberate difference: text that is valid UTF-8 beyond ASCII is printed as text, where
the tools print each byte as ``\\xNN`` (they escape whatever the C locale cannot print);
ASCII is escaped exactly as they escape it, so that a value is always one line.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from iochost.ca.alarm_codes import AlarmSeverity, AlarmStatus
from iochost.ca.dbr import EPICS_EPOCH, ChannelType, family

from .reading import Reading

__all__ = ["Clock", "Style", "alarm_name", "block", "disconnected_line", "element_texts",
           "escaped", "not_found_line", "now_text", "plain_line", "stamp_text", "type_name",
           "unescaped", "value_part", "wide_line"]

NAME_WIDTH = 30  # the tools pad a one-element value's name to 30 characters
MAX_ENUM_STATES = 16
_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", "\\": "\\\\", "'": "\\'", '"': '\\"', "\0": "\\0"}
_UNESCAPES = {"a": b"\a", "b": b"\b", "f": b"\f", "n": b"\n", "r": b"\r", "t": b"\t",
              "v": b"\v", "\\": b"\\", "'": b"'", '"': b'"', "0": b"\0"}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_FLOATS = (ChannelType.FLOAT, ChannelType.DOUBLE)


@dataclass(frozen=True)
class Style:
    """The tools' format options (their letters in brackets)."""

    separator: str = " "            # -F: the first character of its argument
    enum_as_number: bool = False    # -n
    float_as_string: bool = False   # -s (caget, camonitor): the server's text of a float
    float_format: str = "%g"        # -e/-f/-g N: "%-.Ne" ...
    float_base: str = ""            # -lx/-lo/-lb: a float rounded to an integer, base x/o/b
    integer_base: str = ""          # -0x/-0o/-0b
    long_string: bool = False       # -S
    counted: bool = False           # -# given: the element count is always printed

    def read_type(self, native: ChannelType | None) -> ChannelType | str:
        """What the tools ask for: the native TIME type; an enum as TIME_STRING (its
        state's text as the server has it) or, with -n, TIME_SHORT; a float with -s as
        TIME_STRING."""
        if native is ChannelType.ENUM:
            return ChannelType.TIME_INT if self.enum_as_number else ChannelType.TIME_STRING
        if self.float_as_string and native in _FLOATS:
            return ChannelType.TIME_STRING
        return "time"


def escaped(raw: bytes) -> str:
    """CA text as the tools print it (epicsStrnEscapedFromRaw): C escapes for controls,
    backslash and quotes, ``\\xNN`` for other bytes that do not print; UTF-8 beyond ASCII
    as text."""
    text = raw.decode("utf-8", "surrogateescape")
    if text.isascii() and text.isprintable() and not any(c in _ESCAPES for c in text):
        return text
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable() and not 0xDC80 <= ord(char) <= 0xDCFF:
            out.append(char)
        else:
            out.extend(f"\\x{byte:02x}" for byte in
                       char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def unescaped(text: str) -> bytes:
    """A command-line word as caput sends it (epicsStrnRawFromEscaped): ``\\n``, ``\\t``,
    ``\\xNN``... become their bytes; the rest is the word's UTF-8."""
    if "\\" not in text:
        return text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        i += 1
        if char != "\\" or i == len(text):
            if char != "\\":
                out += char.encode("utf-8")
            continue
        char = text[i]
        i += 1
        if char == "x":
            digits = ""
            while i < len(text) and len(digits) < 2 and text[i] in _HEX_DIGITS:
                digits += text[i]
                i += 1
            if digits:
                out.append(int(digits, 16))
        else:
            out += _UNESCAPES.get(char, char.encode("utf-8"))
    return bytes(out)


def alarm_name(cls: type[AlarmStatus | AlarmSeverity], number: int) -> str:
    try:
        return cls(number).name
    except ValueError:
        return str(number)


def type_name(number: int) -> str:
    """A DBR or DBF type's name as EPICS' tools print it (INT is "SHORT")."""
    return ChannelType(number).name.replace("INT", "SHORT")


def _integer_text(value: int, base: str) -> str:
    """sprint_long: a 32-bit integer in decimal, or its unsigned bits in hex, octal or
    binary."""
    if not base:
        return str(value)
    bits = value & 0xFFFFFFFF
    if base == "x":
        return f"0x{bits:X}"
    if base == "o":
        return f"0o{bits:o}"
    return format(bits, "b")


def _rounded(value: float) -> int:
    """(dbr_long_t)(value +- 0.5): halves away from zero, then the C conversion (out of
    range: what x86 gives, INT_MIN)."""
    rounded = value + 0.5 if value > 0.0 else value - 0.5
    if not -2.0**31 - 1.0 < rounded < 2.0**31:   # NaN fails this too
        return -(2**31)
    return int(rounded)


def _float_text(value: float, style: Style) -> str:
    if style.float_base:
        return _integer_text(_rounded(value), style.float_base)
    text = style.float_format % value
    if math.isnan(value) and math.copysign(1.0, value) < 0:
        return "-" + text    # glibc prints a negative NaN as -nan
    return text


def _enum_text(index: int, states: tuple[bytes, ...]) -> str:
    if index >= MAX_ENUM_STATES:
        return f"Illegal Value ({index})"
    if index >= len(states):
        return f"Enum Index Overflow ({index})"
    return states[index].decode("utf-8", "replace")


def element_texts(reading: Reading, style: Style) -> list[str]:
    """Each element as val2str prints it."""
    data = reading.data
    if isinstance(data, list):                       # STRING types
        return [escaped(item) for item in data]
    kind = reading.native_type
    values = data.tolist()
    if kind is ChannelType.ENUM:
        if family(reading.dbr_type) in ("gr", "ctrl") and not style.enum_as_number:
            states = reading.meta.enum_strings
            return [_enum_text(index, states) for index in values]
        return [str(index) for index in values]
    if kind is ChannelType.CHAR:                     # dbr_char_t, printed signed
        return [str(value) for value in data.astype(np.int8).tolist()]
    if kind in _FLOATS:
        return [_float_text(value, style) for value in values]
    return [_integer_text(value, style.integer_base) for value in values]


def _long_string(reading: Reading, style: Style) -> str | None:
    """-S: a CHAR array's bytes up to the first NUL, escaped (None: not one)."""
    if not (style.long_string and reading.native_type is ChannelType.CHAR
            and (style.counted or reading.count > 1)):
        return None
    raw = bytes(np.asarray(reading.data, dtype=np.uint8))
    return escaped(raw.split(b"\0", 1)[0])


def value_part(reading: Reading, style: Style) -> str:
    """The value as caget prints it after the name (caget -t: alone): one element alone,
    several (or any with -#) after their count; a long string with -S."""
    text = _long_string(reading, style)
    if text is not None:
        return text
    sep = style.separator
    texts = sep.join(element_texts(reading, style))
    if style.counted or reading.count > 1:
        return f"{reading.count}{sep}{texts}"
    return texts


def _name(name: str, count: int, style: Style) -> str:
    return f"{name:<{NAME_WIDTH}}" if count <= 1 and style.separator == " " else name


def plain_line(name: str, reading: Reading, style: Style) -> str:
    """caget's default line: ``NAME VALUE``."""
    return _name(name, reading.count, style) + style.separator + value_part(reading, style)


def _epics_time(secs: int, nsecs: int) -> str:
    """epicsTime's "%Y-%m-%d %H:%M:%S.%06f": the microseconds rounded, and a rounded-up
    999999.5 us wrapped to 000000 without a carry into the seconds (as the tools show)."""
    micro = (nsecs + 500) % 1_000_000_000 // 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(secs)) + f".{micro:06d}"


def _now() -> tuple[int, int]:
    now = time.time_ns()
    return now // 1_000_000_000, now % 1_000_000_000


def stamp_text(reading: Reading) -> str:
    """The value's time stamp as the tools print it; a type without one: now."""
    if family(reading.dbr_type) != "time":
        return _epics_time(*_now())
    secs, nsecs = reading.meta.secs, reading.meta.nsecs
    if not secs and not nsecs:       # a record never processed
        return "<undefined>"
    return _epics_time(secs + EPICS_EPOCH, nsecs)


def now_text() -> str:
    return _epics_time(*_now())


def wide_line(name: str, reading: Reading, style: Style, stamp: str) -> str:
    """print_time_val_sts: ``NAME STAMP VALUE STAT SEVR`` (caget -a, caput -l, camonitor);
    without an alarm the two fields are empty (the line ends in two separators)."""
    sep = style.separator
    parts = [_name(name, reading.count, style), sep, stamp]
    text = _long_string(reading, style)
    if text is not None:
        parts += [sep, text]
    else:
        if style.counted or reading.count > 1:
            parts += [sep, str(reading.count)]
        for element in element_texts(reading, style):
            parts += [sep, element]
    if reading.status or reading.severity:
        parts += [sep, alarm_name(AlarmStatus, reading.status), sep,
                  alarm_name(AlarmSeverity, reading.severity)]
    else:
        parts += [sep, sep]
    return "".join(parts)


def disconnected_line(name: str, count: int, style: Style) -> str:
    return f"{_name(name, count, style)}{style.separator}{now_text()} *** disconnected"


def not_found_line(name: str, style: Style) -> str:
    return f"{_name(name, 0, style)}{style.separator}*** Not connected (PV not found)"


def _limit_text(value: object, integer: bool) -> str:
    return f"{value:8d}" if integer else format(value, "g")


def block(name: str, native: ChannelType | None, reading: Reading, style: Style) -> str:
    """caget -d: every field the DBR type carries, in caget's order and words."""
    meta = reading.meta
    lines = [name,
             f"    Native data type: DBF_{type_name(native) if native is not None else '?'}",
             f"    Request type:     DBR_{type_name(reading.dbr_type)}"]
    if reading.dbr_type is ChannelType.CLASS_NAME:
        return "\n".join([*lines, f"    Class Name:       {element_texts(reading, style)[0]}"])
    text = _long_string(reading, style)
    if text is None:
        text = style.separator.join(element_texts(reading, style))
    lines += [f"    Element count:    {reading.count}",
              f"    Value:            {text}"]
    if reading.dbr_type is ChannelType.STSACK_STRING:
        return "\n".join([*lines,
                          f"    Status:           {alarm_name(AlarmStatus, meta.status)}",
                          f"    Severity:         {alarm_name(AlarmSeverity, meta.severity)}",
                          f"    Ack transient?:   {'YES' if meta.ackt else 'NO'}",
                          f"    Ack severity:     {alarm_name(AlarmSeverity, meta.acks)}"])
    fam = family(reading.dbr_type)
    if fam == "time":
        lines.append(f"    Timestamp:        {stamp_text(reading)}")
    if fam != "native":
        lines += [f"    Status:           {alarm_name(AlarmStatus, meta.status)}",
                  f"    Severity:         {alarm_name(AlarmSeverity, meta.severity)}"]
    kind = reading.native_type
    if fam not in ("gr", "ctrl") or kind is ChannelType.STRING:
        return "\n".join(lines)
    if kind is ChannelType.ENUM:
        states = reading.enum_strings
        lines.append(f"    Enums:            ({len(states):2d})")
        lines += [f"                      [{i:2d}] {state}" for i, state in enumerate(states)]
        return "\n".join(lines)
    lines.append(f"    Units:            {reading.units}")
    integer = kind not in _FLOATS
    if not integer:
        lines.append(f"    Precision:        {meta.precision}")
    for label, limit in (("Lo disp limit", "lower_disp_limit"),
                         ("Hi disp limit", "upper_disp_limit"),
                         ("Lo alarm limit", "lower_alarm_limit"),
                         ("Lo warn limit", "lower_warning_limit"),
                         ("Hi warn limit", "upper_warning_limit"),
                         ("Hi alarm limit", "upper_alarm_limit"),
                         *((("Lo ctrl limit", "lower_ctrl_limit"),
                            ("Hi ctrl limit", "upper_ctrl_limit")) if fam == "ctrl" else ())):
        lines.append(f"    {label + ':':<18}{_limit_text(getattr(meta, limit), integer)}")
    return "\n".join(lines)


Stamp = tuple[int, int]   # (seconds, nanoseconds)


def _difference(new: Stamp, old: Stamp) -> float:
    """epicsTimeDiffInSeconds: whole seconds and nanoseconds apart (no float rounding of
    the absolute times)."""
    return (new[0] - old[0]) + (new[1] - old[1]) / 1e9


@dataclass
class Clock:
    """camonitor's -t KEY: which time stamps a line shows -- s(erver, the default),
    c(lient, in brackets), n(one) -- and how: absolute, or r(elative to the start and
    the first update), i(ncremental since the last update), I (since the channel's last
    update); the first line of each channel is absolute."""

    server: bool = True
    client: bool = False
    kind: str = ""                  # "", "r", "i" or "I"
    _start: Stamp = field(default_factory=_now)
    _first: Stamp | None = None
    _previous: tuple[Stamp, Stamp] = ((0, 0), (0, 0))      # (client, server)
    _by_channel: dict[str, tuple[Stamp, Stamp]] = field(default_factory=dict)

    @classmethod
    def parse(cls, key: str) -> Clock:
        unknown = set(key) - set("scnriI")
        if unknown:
            raise ValueError(f"unknown time stamp key {''.join(sorted(unknown))!r} (use s, c, "
                             f"n, r, i, I)")
        kinds = [letter for letter in key if letter in "riI"]
        return cls(server="s" in key, client="c" in key, kind=kinds[-1] if kinds else "")

    def text(self, name: str, reading: Reading) -> str:
        client = _now()        # Unix seconds, as the server's stamp below
        server = ((reading.meta.secs + EPICS_EPOCH, reading.meta.nsecs)
                  if family(reading.dbr_type) == "time" else client)
        if self._first is None:
            self._first = server
        reference = None
        if self.kind and name in self._by_channel:   # each channel's first is absolute
            reference = {"r": (self._start, self._first), "i": self._previous,
                         "I": self._by_channel[name]}[self.kind]
        if reference is None:
            text = (stamp_text(reading) if self.server else "") + \
                (f"({_epics_time(*client)})" if self.client else "")
        else:
            text = (f"              {_difference(server, reference[1]):+12.6f}"
                    if self.server else "") + \
                (f"              ({_difference(client, reference[0]):+12.6f})"
                 if self.client else "")
        self._previous = self._by_channel[name] = (client, server)
        return text

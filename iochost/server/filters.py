"""EPICS channel filters (field modifiers): ``PV.[s:i:e]`` and ``PV.{"dbnd":{"abs":1}}``.

A client may append modifiers to a channel name, as RSRV accepts them (EPICS 7,
``filters.dbd.pod``): after the field name (or after a bare ``.`` for VAL, or after the long
string ``$``) an optional subarray ``[start:incr:end]``, then an optional JSON5 map of
filters.  Each filter acts on that one client channel alone:

* ``arr`` ``{s, i, e}`` -- a strided subarray; indices may be negative (from the end), ``e``
  is inclusive; the channel's element count is the subarray's length (scalars unchanged);
* ``ts`` ``{}`` -- the timestamp is the time the value was read or the update was sent;
* ``dbnd`` ``{abs: d}`` / ``{rel: pct}`` / ``{d, m}`` -- a per-channel monitor deadband on
  scalar numbers (``recGblCheckDeadband``: an update passes when it moved by more than d);
* ``dec`` ``{n}`` -- the first update, then every n-th;
* ``sync`` ``{m: s}`` / ``{m, s}`` -- gate updates by a named state (see :data:`STATES`);
* ``ts`` also takes ``epoch`` (it only matters to the modes not offered here).

Malformed modifiers, unknown filters or options make the name unresolvable, so
CREATE_CHAN fails, as in RSRV.  Filters compose in the order written (a filter named twice
is applied twice).  Options are read as chfPlugin reads them (see :func:`_read_options`):
a key or enum value may be any prefix of a name, the JSON types convert as C converts them,
and a JSON integer must fit an epicsInt32 whatever the option.

What differs from RSRV, and why: ``ts``'s numeric and string modes (``num``, ``str``) are
not offered (they change the channel's type); maps nest at most 32 deep (bounded recursion);
a double NaN given for an integer option is read as x86 converts it, INT_MIN (in C it is
undefined); a JSON Infinity is always a number (RSRV's yajl takes it for an overflow while
errno still holds an earlier ERANGE).  Monitor filters see each update as this server
posts it (one coalesced update per publish), and ``sync``'s ``before``/``last`` modes
forward the value current at the state change rather than the previous one (the server
does not keep old values); the first update of a new subscription counts as the first
each filter sees, but a ``sync`` filter, or a ``dbnd`` filter with an infinite or NaN
deadband, cannot hold it back.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from iochost.ca.dbr import (ChannelType, Metadata, decode_dbr, encode_dbr, fields_of,
                            native_type, to_epics_time)
from iochost.ca.dbr_text import integer_prefix, strtod

__all__ = ["FilterError", "FilteredChannel", "STATES", "split_modifiers", "parse_filters",
           "filtered"]

#: Named boolean states for the ``sync`` filter (EPICS' ``dbStateCreate``/``dbStateSet``).
#: A plugin or IOC sets them: ``STATES["beam"] = True``; a sync filter naming a state
#: that does not exist is refused, as in base; it is named by at most 19 characters (a longer
#: name in a filter is cut, as sync.c's char[20] cuts it).
STATES: dict[str, bool] = {}

Listener = Callable[[Any, int], None]


class FilterError(ValueError):
    """The modifier part of a channel name is malformed or names an unknown filter."""


# -- parsing ------------------------------------------------------------------------------


def split_modifiers(name: str) -> tuple[str, str] | None:
    """``(channel name, modifiers)`` when ``name`` carries modifiers, else None.

    ``PV.[2:5]`` -> ``('PV', '[2:5]')``; ``PV.EGU{"ts":{}}`` -> ``('PV.EGU', '{"ts":{}}')``;
    ``PV.NAME$[0:4]`` -> ``('PV.NAME$', '[0:4]')``.
    """
    cut = min((i for i in (name.find("["), name.find("{")) if i > 0), default=-1)
    if cut < 0:
        return None
    head = name[:cut]
    if head.endswith("."):
        head = head[:-1]
    elif "." not in head and not head.endswith("$"):
        return None  # modifiers follow a field name, a bare '.', or '$'
    return head, name[cut:]


def parse_filters(text: str) -> list[Filter]:
    """The filters of a modifier string, in order.  Raises :class:`FilterError`."""
    filters: list[Filter] = []
    rest = text
    if rest.startswith("["):
        array, rest = _subarray(rest)
        filters.append(array)
    if rest:
        spec = _Json5(rest).document()
        if not isinstance(spec, _Map):
            raise FilterError(f"channel filters must be a JSON map, got {rest!r}")
        for key, params in spec:
            maker = _MAKERS.get(key)
            if maker is None:
                raise FilterError(f"unknown channel filter {key!r} (known: {sorted(_MAKERS)})")
            filters.append(maker(params))
    return filters


def _strtol(text: str, at: int) -> tuple[int | None, int]:
    """C's strtol(text + at, &end, 0): the number (None: no digits) and where it ended;
    saturated at a C long's bounds."""
    parsed = integer_prefix(text[at:].encode("utf-8", "surrogatepass"))
    if parsed is None:
        return None, at
    value, end = parsed   # (a number's characters are ASCII: bytes and characters agree)
    return max(-1 << 63, min(value, (1 << 63) - 1)), at + end


def _strtod(text: str) -> float | None:
    """epicsParseDouble's number at the start of ``text``: None for none, or a range error."""
    try:
        return strtod(text.encode("utf-8", "surrogatepass"))
    except ValueError:
        return None


def _int32(value: int) -> int:
    """A C long stored in an epicsInt32: its low 32 bits."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _subarray(text: str) -> tuple[Filter, str]:
    """``[s]``, ``[s:e]`` or ``[s:i:e]`` at the start of ``text`` as dbChannel parses it
    (numbers read by strtol into epicsInt32s, any of them left out), and the rest."""
    first, at = _strtol(text, 1)
    if text[at:at + 1] == "]" and first is not None:
        return ArrayFilter(_int32(first), 1, _int32(first)), text[at + 1:]
    numbers = [first]
    while text[at:at + 1] == ":" and len(numbers) < 3:
        number, at = _strtol(text, at + 1)
        numbers.append(number)
    if text[at:at + 1] != "]" or len(numbers) == 1:
        raise FilterError(f"{text!r}: an array range is [start], [start:end] or "
                          f"[start:increment:end]")
    start, end = numbers[0], numbers[-1]
    step = numbers[1] if len(numbers) == 3 else None
    return ArrayFilter(*(default if number is None else _int32(number)
                         for number, default in ((start, 0), (step, 1), (end, -1)))), \
        text[at + 1:]


class _Map(list[tuple[str, Any]]):
    """A JSON map as its (key, value) pairs in order: a key may repeat, and yajl hands each
    pair on in turn (to dbChannel, then to the filter's chfPlugin)."""


class _Json5:
    """The JSON5 that EPICS' yajl reads for channel filters: maps (a :class:`_Map`) with
    quoted or bare keys, strings in single or double quotes, numbers (with +, leading or
    trailing ., Infinity, unsigned NaN, hex; no leading zeros), true/false/null, arrays,
    trailing commas and comments."""

    #: an integer (decimal or hex) unless it has a fraction or an exponent, as yajl lexes
    _NUMBER = re.compile(r"[+-]?(?:Infinity|0[xX][0-9a-fA-F]+|(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?"
                         r"|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)|NaN")
    _IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
    #: How deep maps and arrays may nest (the filters need 2; a name is at most a few kB).
    MAX_DEPTH = 32

    def __init__(self, text: str):
        self.text, self.pos, self.depth = text, 0, 0

    def document(self) -> Any:
        value = self.value()
        self.skip()
        if self.pos != len(self.text):
            self.fail("end of the filter specification")
        return value

    def fail(self, expected: str) -> None:
        raise FilterError(f"channel filter {self.text!r}: expected {expected} at "
                          f"character {self.pos + 1}")

    def skip(self) -> None:
        """Past white space and comments (an unclosed one runs to the end, as in yajl)."""
        text = self.text
        while self.pos < len(text):
            if text[self.pos] in " \t\r\n\f\v":
                self.pos += 1
            elif text.startswith(("/*", "//"), self.pos):
                close = "*/" if text[self.pos + 1] == "*" else "\n"
                end = text.find(close, self.pos + 2)
                self.pos = len(text) if end < 0 else end + len(close)
            else:
                return

    def value(self) -> Any:
        self.skip()
        if self.pos >= len(self.text):
            self.fail("a value")
        char = self.text[self.pos]
        if char == "{":
            return self.container("}", self.member)
        if char == "[":
            return self.container("]", self.value)
        if char in "\"'":
            return self.string()
        match = self._NUMBER.match(self.text, self.pos)
        if match:
            word = match.group()
            if word.lstrip("+-") in ("Infinity", "NaN"):
                number: Any = float(word.replace("Infinity", "inf"))
            elif "x" in word or "X" in word:
                number = int(word, 16)
            elif any(c in word for c in ".eE"):
                number = float(word)
                if math.isinf(number):  # yajl: "numeric (floating point) overflow"
                    self.fail("a number a double can hold")
            elif len(word) > 4300:  # int() refuses it; yajl: "integer overflow"
                self.fail("a number of at most 4300 digits")
            else:
                number = int(word)
            self.pos = match.end()
            return number
        ident = self._IDENT.match(self.text, self.pos)
        words = {"true": True, "false": False, "null": None}
        if ident and ident.group() in words:
            self.pos = ident.end()
            return words[ident.group()]
        self.fail("a value")

    def container(self, close: str, item: Callable[[], Any]) -> Any:
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            self.fail(f"at most {self.MAX_DEPTH} nested maps or arrays")
        self.pos += 1
        items: list[Any] = []
        while True:
            self.skip()
            if self.text.startswith(close, self.pos):
                self.pos += 1
                self.depth -= 1
                return _Map(items) if close == "}" else items
            items.append(item())
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith(close, self.pos):
                self.fail(f"',' or '{close}'")

    def member(self) -> tuple[str, Any]:
        self.skip()
        if self.pos < len(self.text) and self.text[self.pos] in "\"'":
            key = self.string()
        else:
            ident = self._IDENT.match(self.text, self.pos)
            if ident is None:
                self.fail("a key")
            assert ident is not None
            key, self.pos = ident.group(), ident.end()
        self.skip()
        if not self.text.startswith(":", self.pos):
            self.fail("':'")
        self.pos += 1
        return key, self.value()

    def string(self) -> str:
        quote, out = self.text[self.pos], list[str]()
        self.pos += 1
        escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v",
                   "0": "\0", "\n": ""}
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == quote:
                return "".join(out)
            if char == "\\" and self.pos < len(self.text):
                esc = self.text[self.pos]
                self.pos += 1
                if esc in "xu":
                    width = 2 if esc == "x" else 4
                    digits = self.text[self.pos:self.pos + width]
                    if len(digits) != width or not all(c in "0123456789abcdefABCDEF"
                                                       for c in digits):
                        self.fail(f"{width} hex digits")
                    out.append(chr(int(digits, 16)))
                    self.pos += width
                elif esc in "123456789":
                    self.fail("an escape other than \\1 to \\9")
                else:
                    out.append(escapes.get(esc, esc))
            elif char < " ":
                self.fail("no control character in a string")
            else:
                out.append(char)
        self.fail(f"a closing {quote}")
        return ""


# -- filter options, as chfPlugin reads them -------------------------------------------------
_INT32 = range(-1 << 31, 1 << 31)


@dataclass(frozen=True)
class _Option:
    """An option as a filter declares it to chfPlugin (``chfInt32``, ``chfTagDouble``...).

    ``kind``: int (an epicsInt32), float (a double), str (a state name, a char[20]) or a
    tuple (an enum's names, valued by position).  ``slot``: the value it sets; a tagged
    option shares another's slot and also sets ``tag`` = (slot, value).  ``convert``: a
    JSON value of another type is converted (else refused)."""
    kind: Any
    slot: str
    convert: bool = True
    tag: tuple[str, int] | None = None


def _c_equal(text: str, name: str) -> bool:
    """strncmp(text, name, len(text)) == 0: how chfPlugin matches option names and enum
    values, so any prefix of ``name`` (the empty one too) matches, up to a NUL."""
    head, nul, _ = text.partition("\0")
    return name == head if nul else name.startswith(text)


def _read_options(name: str, params: Any, options: dict[str, _Option],
                  values: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The slot values of filter ``name`` (from the defaults ``values``) after its JSON
    ``params``, read pair by pair as chfPlugin does: a key picks the first option it
    matches, a nested map's pairs count as the outer map's, a later value overwrites an
    earlier one; then each ``required`` slot must have been named."""
    if not isinstance(params, _Map):
        raise FilterError(f"filter {name!r} takes a map of options, got {params!r}")
    named: set[str] = set()

    def read(pairs: _Map) -> None:
        for key, value in pairs:
            option = next((o for n, o in options.items() if _c_equal(key, n)), None)
            if option is None:
                raise FilterError(f"filter {name!r} has no option {key!r} "
                                  f"(it takes {list(options)})")
            named.add(option.slot)
            if option.tag:
                values[option.tag[0]] = option.tag[1]
                named.add(option.tag[0])
            if isinstance(value, _Map):
                read(value)
            else:
                values[option.slot] = _convert(option, value, f"filter {name!r}: {key!r}")

    read(params)
    for slot in required:
        if slot not in named:
            raise FilterError(f"filter {name!r} needs {slot!r}")
    return values


def _convert(option: _Option, value: Any, where: str) -> Any:
    """``value`` as the option's type, as chfPlugin's store_*_value converts it."""
    kind = option.kind
    refused = FilterError(f"{where} cannot take {value!r}"
                          + (f" (it takes one of {list(kind)})" if isinstance(kind, tuple) else ""))
    if isinstance(value, str):
        if kind is str:
            return value[:19].partition("\0")[0]  # strncpy into a char[20]
        if isinstance(kind, tuple):
            for index, enum in enumerate(kind):
                if _c_equal(value, enum):
                    return index
            raise refused
        if not option.convert:
            raise refused
        # epicsParseDouble / epicsParseInt32 (base 0): the number the text starts with
        text = value.partition("\0")[0]
        number = _strtod(text) if kind is float else _strtol(text, 0)[0]
        if number is None or (kind is int and number not in _INT32):
            raise refused
        return number
    if value is None or isinstance(value, list):
        raise refused  # chfPlugin takes no null and no array
    native = type(value)
    if native is int and value not in _INT32:
        raise refused  # chfPlugin's parse_integer: an epicsInt32 whatever the option
    if (kind is not native and not option.convert) or kind is str \
            or (isinstance(kind, tuple) and native is not int):
        raise refused  # no string option converts; an enum converts from its value only
    if isinstance(kind, tuple):
        if value not in range(len(kind)):
            raise refused
        return value
    if kind is int and native is float:
        if value < -2**31 or value > 2**31 - 1:  # a NaN passes, as in C
            raise refused
        return -1 << 31 if math.isnan(value) else int(value)  # (epicsInt32) truncates
    return kind(value)


# -- the filters --------------------------------------------------------------------------
class Filter:
    """One filter of a channel.  ``reshape`` changes what a read returns; ``monitor`` makes
    the per-subscription gate (None: every update passes)."""

    def element_count(self, count: int) -> int:
        return count

    def reshape(self, values: Any, meta: Metadata) -> Any:
        return values

    def reshapes(self, dbr_type: int) -> bool:
        return False

    def monitor(self, base: Any) -> Callable[[int], bool] | None:
        return None


@dataclass(frozen=True)
class ArrayFilter(Filter):
    start: int
    incr: int
    end: int

    def __post_init__(self) -> None:
        if self.incr <= 0:  # RSRV serves [1:0:3] and {"arr":{"i":-1}} with a step of 1
            object.__setattr__(self, "incr", 1)

    def indices(self, length: int) -> tuple[int, int, int]:
        """``wrapArrayIndices``: negative indices count from the end; ``end`` inclusive."""
        start, end = self.start, self.end
        if start < 0:
            start = max(length + start, 0)
        start = min(start, length)
        if end < 0:
            end = max(length + end, -1)
        end = min(end, length - 1)
        count = 1 + (end - start) // self.incr if end >= start else 0
        return start, end, count

    def element_count(self, count: int) -> int:
        return count if count <= 1 else self.indices(count)[2]  # arrays only, as arr.c

    def reshapes(self, dbr_type: int) -> bool:
        return True

    def reshape(self, values: Any, meta: Metadata) -> Any:
        if len(values) <= 1:
            return values
        start, end, count = self.indices(len(values))
        return values[start:end + 1:self.incr] if count else values[:0]


@dataclass(frozen=True)
class TimestampFilter(Filter):
    def reshapes(self, dbr_type: int) -> bool:
        return "secs" in fields_of(dbr_type)

    def reshape(self, values: Any, meta: Metadata) -> Any:
        meta.secs, meta.nsecs = to_epics_time(time.time())
        return values


@dataclass(frozen=True)
class DeadbandFilter(Filter):
    delta: float
    relative: bool

    def monitor(self, base: Any) -> Callable[[int], bool] | None:
        if base.max_length != 1 or base.native_type == ChannelType.STRING:
            return None  # scalars only: strings and arrays pass, as dbnd.c
        state = {"last": math.nan, "hyst": self.delta}

        def passes(flags: int) -> bool:
            payload, _ = base.read_dbr(ChannelType.DOUBLE, 1)
            values, _meta = decode_dbr(ChannelType.DOUBLE, payload, 1)
            value = float(values[0])
            last = state["last"]
            # recGblCheckDeadband: a move to or from NaN or an infinity, or from one infinity
            # to the other, is infinite (and so passes unless the deadband is infinite or NaN)
            if math.isfinite(value) and math.isfinite(last):
                delta = abs(last - value)
            elif math.isnan(value) != math.isnan(last) or math.isinf(value) != math.isinf(last) \
                    or (math.isinf(value) and value != last):
                delta = math.inf
            else:
                delta = 0.0
            moved = delta > state["hyst"]
            if moved:
                state["last"] = value
                if self.relative:
                    state["hyst"] = value * self.delta / 100.0
            return moved

        return passes


@dataclass(frozen=True)
class DecimationFilter(Filter):
    n: int

    def monitor(self, base: Any) -> Callable[[int], bool] | None:
        counter = [0]

        def passes(flags: int) -> bool:
            passed = counter[0] == 0
            counter[0] = (counter[0] + 1) % self.n
            return passed

        return passes


@dataclass(frozen=True)
class SyncFilter(Filter):
    mode: str
    state: str

    def monitor(self, base: Any) -> Callable[[int], bool] | None:
        previous = [STATES.get(self.state, False)]
        mode = self.mode

        def passes(flags: int) -> bool:
            now, was = STATES.get(self.state, False), previous[0]
            if mode == "while":
                return now
            if mode == "unless":
                return not now
            previous[0] = now
            if mode in ("before", "first"):
                return now and not was
            return was and not now  # "last", "after"

        return passes


_SYNC_MODES = ("before", "first", "last", "after", "while", "unless")  # as sync.c's enum

#: each filter's options in its declaration order (a key prefix picks the first it matches)
_OPTIONS: dict[str, dict[str, _Option]] = {
    "arr": {"s": _Option(int, "s"), "i": _Option(int, "i"), "e": _Option(int, "e")},
    "ts": {"num": _Option(("dbl", "sec", "nsec", "ts"), "num", convert=False),
           "epoch": _Option(("epics", "unix"), "epoch", convert=False),
           "str": _Option(("epics", "iso"), "str", convert=False)},
    "dbnd": {"d": _Option(float, "d"), "m": _Option(("abs", "rel"), "m"),
             "abs": _Option(float, "d", tag=("m", 0)), "rel": _Option(float, "d", tag=("m", 1))},
    "dec": {"n": _Option(int, "n", convert=False)},
    "sync": {"m": _Option(_SYNC_MODES, "m"), "s": _Option(str, "s", convert=False),
             **{mode: _Option(str, "s", convert=False, tag=("m", index))
                for index, mode in enumerate(_SYNC_MODES)}},
}


def _make_arr(params: Any) -> Filter:
    got = _read_options("arr", params, _OPTIONS["arr"], {"s": 0, "i": 1, "e": -1})
    return ArrayFilter(got["s"], got["i"], got["e"])


def _make_ts(params: Any) -> Filter:
    got = _read_options("ts", params, _OPTIONS["ts"], {"num": None, "epoch": 0, "str": None})
    if got["num"] is not None or got["str"] is not None:
        raise FilterError("filter 'ts': the numeric and string modes are not offered")
    return TimestampFilter()


def _make_dbnd(params: Any) -> Filter:
    got = _read_options("dbnd", params, _OPTIONS["dbnd"], {"d": 0.0, "m": 0})
    return DeadbandFilter(got["d"], got["m"] == 1)


def _make_dec(params: Any) -> Filter:
    got = _read_options("dec", params, _OPTIONS["dec"], {"n": 0}, required=("n",))
    if got["n"] < 1:
        raise FilterError(f"filter 'dec': 'n' must be a positive integer, got {got['n']}")
    return DecimationFilter(got["n"])


def _make_sync(params: Any) -> Filter:
    got = _read_options("sync", params, _OPTIONS["sync"], {"m": 0, "s": ""},
                        required=("m", "s"))
    if got["s"] not in STATES:
        raise FilterError(f"filter 'sync': no state named {got['s']!r}")
    return SyncFilter(_SYNC_MODES[got["m"]], got["s"])


_MAKERS: dict[str, Callable[[Any], Filter]] = {
    "arr": _make_arr, "ts": _make_ts, "dbnd": _make_dbnd, "dec": _make_dec, "sync": _make_sync,
}


# -- the channel a filtered name resolves to ------------------------------------------------
class FilteredChannel:
    """A :class:`~iochost.server.database.ServedChannel` seen through filters.

    One is made per CREATE_CHAN, so each client channel keeps its own filter state
    (decimation counters, deadband reference), as each RSRV channel does.
    """

    def __init__(self, base: Any, filters: list[Filter]):
        self.base = base
        self.filters = filters
        self.native_type: int = base.native_type
        count = base.max_length
        for f in filters:
            count = f.element_count(count)
        self.max_length: int = count
        self.needs_async_read: bool = base.needs_async_read
        self._listeners: dict[Listener, Listener] = {}

    def __repr__(self) -> str:
        return f"<FilteredChannel {self.base!r} {self.filters!r}>"

    def check_access(self, host: str, user: str) -> int:
        return self.base.check_access(host, user)  # type: ignore[no-any-return]

    def _reshapes(self, dbr_type: int) -> bool:
        return dbr_type < ChannelType.PUT_ACKT and any(f.reshapes(dbr_type) for f in self.filters)

    def _reshape(self, dbr_type: int, count: int, payload: bytes, sent: int) -> tuple[bytes, int]:
        values, meta = decode_dbr(dbr_type, payload, sent)
        for f in self.filters:
            values = f.reshape(values, meta)
        return encode_dbr(dbr_type, native_type(dbr_type), values, meta, count or None)

    def read_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        if not self._reshapes(dbr_type):
            return self.base.read_dbr(dbr_type, count)  # type: ignore[no-any-return]
        payload, sent = self.base.read_dbr(dbr_type, 0)
        return self._reshape(dbr_type, count, payload, sent)

    async def aread_dbr(self, dbr_type: int, count: int) -> tuple[bytes, int]:
        if not self._reshapes(dbr_type):
            return await self.base.aread_dbr(dbr_type, count)  # type: ignore[no-any-return]
        payload, sent = await self.base.aread_dbr(dbr_type, 0)
        return self._reshape(dbr_type, count, payload, sent)

    async def write_dbr(self, dbr_type: int, count: int, payload: Any, host: str,
                        user: str) -> None:
        await self.base.write_dbr(dbr_type, count, payload, host, user)

    def add_listener(self, fn: Listener) -> None:
        gates = [g for g in (f.monitor(self.base) for f in self.filters) if g is not None]

        def gated(_base: Any, flags: int) -> None:
            for gate in gates:
                if not gate(flags):
                    return
            fn(self, flags)

        # The server sends a new subscription's first update itself; in RSRV that update
        # runs through the filters too, so it is the first each gate sees.
        for gate in gates:
            gate(0)
        self._listeners[fn] = gated
        self.base.add_listener(gated)

    def remove_listener(self, fn: Listener) -> None:
        self.base.remove_listener(self._listeners.pop(fn))

    def get_field(self, field: str) -> None:
        return None  # nothing may follow the filters

    def long_string(self) -> None:
        return None


def filtered(base: Any, modifiers: str) -> FilteredChannel:
    """``base`` seen through the filters of ``modifiers``; raises :class:`FilterError`."""
    return FilteredChannel(base, parse_filters(modifiers))

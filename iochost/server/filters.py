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
* ``sync`` ``{m: s}`` / ``{m, s}`` -- gate updates by a named state (see :data:`STATES`).

Malformed modifiers, unknown filters or parameters make the name unresolvable, so
CREATE_CHAN fails, as in RSRV.  Filters compose in the order written.

What differs from RSRV, and why: monitor filters see each update as this server posts it
(one coalesced update per publish), and ``sync``'s ``before``/``last`` modes forward the
value current at the state change rather than the previous one (the server does not keep
old values); the first update of a new subscription counts as the first each filter sees,
but a ``sync`` filter cannot hold it back.
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

__all__ = ["FilterError", "FilteredChannel", "STATES", "split_modifiers", "parse_filters",
           "filtered"]

#: Named boolean states for the ``sync`` filter (EPICS' ``dbStateCreate``/``dbStateSet``).
#: A plugin or IOC sets them: ``STATES["beam"] = True``; a sync filter naming a state
#: that does not exist is refused, as in base.
STATES: dict[str, bool] = {}

Listener = Callable[[Any, int], None]


class FilterError(ValueError):
    """The modifier part of a channel name is malformed or names an unknown filter."""


# -- parsing ------------------------------------------------------------------------------
#: what C's strtol(text, &end, 0) reads: space, a sign, then hex (0x), octal (0) or decimal
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")


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
        if not isinstance(spec, dict):
            raise FilterError(f"channel filters must be a JSON map, got {rest!r}")
        for key, params in spec.items():
            maker = _MAKERS.get(key)
            if maker is None:
                raise FilterError(f"unknown channel filter {key!r} (known: {sorted(_MAKERS)})")
            if not isinstance(params, dict):
                raise FilterError(f"filter {key!r} takes a map of parameters")
            filters.append(maker(params))
    return filters


def _strtol(text: str, at: int) -> tuple[int | None, int]:
    """C's strtol(text + at, &end, 0): the number (None: no digits) and where it ended;
    saturated at a C long's bounds."""
    match = _STRTOL.match(text, at)
    if match is None:
        return None, at
    sign, hexadecimal, octal, decimal = match.groups()
    digits = hexadecimal or octal or decimal
    if len(digits) > 64:   # past a long however read (and int() refuses 4,300 digits)
        value = 1 << 64
    else:
        value = int(hexadecimal, 16) if hexadecimal else int(octal, 8) if octal \
            else int(decimal)
    value = -value if sign == "-" else value
    return max(-1 << 63, min(value, (1 << 63) - 1)), match.end()


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


class _Json5:
    """The JSON5 subset that channel filters use: maps with quoted or bare keys, strings in
    single or double quotes, numbers (with +, leading ., Infinity, NaN, hex), true/false/
    null, arrays and trailing commas."""

    _NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|Infinity|NaN|"
                         r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
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
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n\f\v\xa0":
            self.pos += 1

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
            word = match.group().lstrip("+")
            try:
                if "x" in word.lower():
                    number: Any = int(word, 16)
                elif word.lstrip("-") in ("Infinity", "NaN"):
                    number = float(word.replace("Infinity", "inf"))
                else:
                    number = float(word) if any(c in word for c in ".eE") else int(word)
            except ValueError:  # more digits than Python converts
                self.fail("a number of at most 4300 digits")
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
                return dict(items) if close == "}" else items
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
        escapes = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0",
                   "\n": ""}
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
                else:
                    out.append(escapes.get(esc, esc))
            else:
                out.append(char)
        self.fail(f"a closing {quote}")
        return ""


def _params(name: str, params: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(params) - allowed
    if unknown:
        raise FilterError(f"filter {name!r} has no parameter {sorted(unknown)[0]!r} "
                          f"(it takes {sorted(allowed)})")


def _integer(name: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value != int(value):
        raise FilterError(f"filter {name!r}: {key!r} must be an integer, got {value!r}")
    return int(value)


def _number(name: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(f"filter {name!r}: {key!r} must be a number, got {value!r}")
    return float(value)


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
            # recGblCheckDeadband: NaN/infinity transitions always pass
            moved = (math.isnan(last) or math.isnan(value) or math.isinf(value)
                     or math.isinf(last) or abs(last - value) > state["hyst"])
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


def _make_arr(params: dict[str, Any]) -> Filter:
    _params("arr", params, {"s", "i", "e"})
    return ArrayFilter(_integer("arr", "s", params.get("s", 0)),
                       _integer("arr", "i", params.get("i", 1)),
                       _integer("arr", "e", params.get("e", -1)))


def _make_ts(params: dict[str, Any]) -> Filter:
    _params("ts", params, set())
    return TimestampFilter()


def _make_dbnd(params: dict[str, Any]) -> Filter:
    _params("dbnd", params, {"d", "m", "abs", "rel"})
    relative = False
    delta = 0.0
    if "m" in params:
        if params["m"] not in ("abs", "rel"):
            raise FilterError(f"filter 'dbnd': 'm' must be \"abs\" or \"rel\", got {params['m']!r}")
        relative = params["m"] == "rel"
    if "d" in params:
        delta = _number("dbnd", "d", params["d"])
    for key in ("abs", "rel"):
        if key in params:
            delta, relative = _number("dbnd", key, params[key]), key == "rel"
    return DeadbandFilter(delta, relative)


def _make_dec(params: dict[str, Any]) -> Filter:
    _params("dec", params, {"n"})
    if "n" not in params:
        raise FilterError("filter 'dec' needs 'n', the decimation factor")
    n = _integer("dec", "n", params["n"])
    if n < 1:
        raise FilterError(f"filter 'dec': 'n' must be a positive integer, got {n}")
    return DecimationFilter(n)


_SYNC_MODES = ("before", "first", "while", "last", "after", "unless")


def _make_sync(params: dict[str, Any]) -> Filter:
    _params("sync", params, {"m", "s", *_SYNC_MODES})
    mode, state = params.get("m"), params.get("s")
    for key in _SYNC_MODES:
        if key in params:
            mode, state = key, params[key]
    if mode not in _SYNC_MODES:
        raise FilterError(f"filter 'sync' needs a mode, one of {list(_SYNC_MODES)}")
    if not isinstance(state, str) or not state:
        raise FilterError("filter 'sync' needs a state name")
    if state not in STATES:
        raise FilterError(f"filter 'sync': no state named {state!r}")
    return SyncFilter(mode, state)


_MAKERS: dict[str, Callable[[dict[str, Any]], Filter]] = {
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

"""The ``iochost get`` / ``put`` / ``monitor`` verbs: ``caget``/``caput``/``camonitor``
on any CA server, with their options and their output (see :mod:`.printing`).

Output (stdout), one line per value unless ``-d`` asks for a DBR type's full contents:

* get: ``NAME VALUE`` (arrays: ``NAME COUNT V1 V2 ...``; enums as their state string),
  ``-t`` the value alone, ``-a`` ``NAME STAMP VALUE STAT SEVR``;
* put: ``Old : NAME VALUE`` then ``New : NAME VALUE`` (``-t``: the new value; ``-l``:
  the wide lines); a refused put prints the old value, then the error;
* monitor: ``NAME STAMP VALUE STAT SEVR`` per update (the alarm fields empty without an
  alarm), ``NAME STAMP *** disconnected`` when the server goes away;
* ``--json``: one JSON object per value (name, value, count, type, timestamp, status,
  severity, units).

Errors go to stderr as one line, ``iochost VERB: NAME: what failed (ECA text)``, and the
exit status is 1 when any PV was not found, timed out or refused the request; 0 otherwise
(unlike caget, the PVs that did connect are printed when another was not found).
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
import threading
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from iochost.ca.alarm_codes import AlarmSeverity, AlarmStatus
from iochost.ca.codes import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE, DEFAULT_PRIORITY
from iochost.ca.dbr import FAMILIES, AccessRights, ChannelType
from iochost.ca.eca import ECA_BADCOUNT, ECA_BADTYPE

from . import printing
from .channel import Channel, DbrSpec
from .config import ConfigError
from .context import Context
from .errors import ClientError, RequestFailed
from .printing import Style, alarm_name, unescaped
from .reading import Reading

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "GetOptions",
    "MonitorOptions",
    "PutOptions",
    "Style",
    "get",
    "info",
    "monitor",
    "parse_dbr_type",
    "parse_mask",
    "parse_stamps",
    "put",
]

EXIT_OK = 0
#: Any PV not found, timed out, or refused the request.
EXIT_FAILED = 1
_MASK_LETTERS = {"v": DBE_VALUE, "l": DBE_LOG, "a": DBE_ALARM, "p": DBE_PROPERTY}


def parse_dbr_type(text: str) -> DbrSpec:
    """``DBR_TIME_DOUBLE``, ``time_double`` or ``20`` -> 20; a family of the channel's native
    type (``ctrl``, ``time``, ...) stays a family name (ValueError otherwise)."""
    if text.strip().lower() in FAMILIES:
        return text.strip().lower()
    upper = text.strip().upper()
    if upper.isdigit():
        return int(ChannelType(int(upper)))
    upper = upper.removeprefix("DBR_")
    try:
        return int(ChannelType[upper])
    except KeyError:
        raise ValueError(f"unknown DBR type {text!r} (e.g. DBR_TIME_DOUBLE, ctrl_long, 20, "
                         f"or a family: {', '.join(FAMILIES)})") from None


def parse_mask(letters: str) -> int:
    """camonitor's ``-m``: v(alue) l(og) a(larm) p(roperty) -> DBE bits."""
    mask = 0
    for letter in letters:
        if letter not in _MASK_LETTERS:
            raise ValueError(f"unknown mask letter {letter!r} (use v, l, a, p)")
        mask |= _MASK_LETTERS[letter]
    if not mask:
        raise ValueError("empty mask")
    return mask


def parse_stamps(key: str) -> str:
    """camonitor's ``-t`` key (ValueError if it has a letter it does not know)."""
    printing.Clock.parse(key)
    return key


# -- JSON ------------------------------------------------------------------------------------
def _json_values(reading: Reading, enum_strings: Sequence[str]) -> list[str]:
    if isinstance(reading.data, list):
        return [_text(item) for item in reading.data]
    return [enum_strings[i] if 0 <= i < len(enum_strings) else str(i)
            for i in reading.data.tolist()]


def _text(raw: bytes) -> str:
    """CA text: UTF-8, else latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _json(reading: Reading, enum_strings: Sequence[str], as_string: bool = False,
          array: bool | None = None) -> str:
    """One JSON object; ``array`` (the channel has more than one element; None: the
    reading's count decides) makes the value a list."""
    data = reading.data
    value: object
    scalar = len(data) == 1 if array is None else not array
    if as_string and reading.native_type is ChannelType.CHAR:
        value = bytes(np.asarray(data, dtype=np.uint8)).split(b"\0", 1)[0].decode(
            "utf-8", "replace")
    elif isinstance(data, list) or (reading.native_type is ChannelType.ENUM and enum_strings):
        texts = _json_values(reading, enum_strings)
        value = (texts[0] if texts else "") if scalar else texts
    elif scalar:
        value = data[0].item() if len(data) else None
    else:
        value = np.asarray(data).tolist()
    record = {"name": reading.name, "value": value, "count": reading.count,
              "type": f"DBR_{reading.dbr_type.name}", "timestamp": reading.timestamp,
              "status": alarm_name(AlarmStatus, reading.status),
              "severity": alarm_name(AlarmSeverity, reading.severity)}
    if reading.meta.units:
        record["units"] = reading.units
    return json.dumps(record)


# -- the verbs ----------------------------------------------------------------------------------
def _fail(verb: str, error: Exception, err: TextIO) -> None:
    print(f"iochost {verb}: {error}", file=err)


async def _enum_strings(channel: Channel, timeout: float) -> tuple[str, ...]:
    if channel.native_type is not ChannelType.ENUM:
        return ()
    return (await channel.get("ctrl", timeout=timeout)).enum_strings


async def _connect_all(context: Context, names: Sequence[str], timeout: float, priority: int
                       ) -> list[tuple[Channel, Channel | BaseException]]:
    """Each name's channel and its connection (or the error): one wait for all, as
    caget's one ca_pend_io, so that N missing PVs cost one timeout."""
    channels = [context.channel(name, priority) for name in names]
    connects = await asyncio.gather(*(channel.wait_connected(timeout) for channel in channels),
                                    return_exceptions=True)
    return list(zip(channels, connects, strict=True))


async def _get(names: Sequence[str], options: GetOptions, out: TextIO, err: TextIO) -> int:
    status = EXIT_OK
    style = options.style
    async with Context() as context:
        for channel, connected in await _connect_all(context, names, options.timeout,
                                                     options.priority):
            try:
                if isinstance(connected, Exception):
                    raise connected
                count = options.count
                if count <= 0:
                    # as caget: every element the channel has (not only the current length;
                    # a server pads); -c (a get with callback) asks for 0, the current length
                    count = 0 if options.callback else channel.count
                count = min(count, channel.count)
                dbr_type = options.dbr_type
                if options.as_json:
                    reading = await channel.get("time" if dbr_type is None else dbr_type,
                                                count, options.timeout)
                    enums = await _enum_strings(channel, options.timeout)
                else:
                    reading = await channel.get(style.read_type(channel.native_type)
                                                if dbr_type is None else dbr_type,
                                                count, options.timeout)
            except ClientError as error:
                _fail("get", error, err)
                status = EXIT_FAILED
                continue
            if options.as_json:
                text = _json(reading, enums, style.long_string, channel.count > 1)
            elif dbr_type is not None:
                text = printing.block(channel.name, channel.native_type, reading, style)
            elif options.layout == "wide":
                text = printing.wide_line(channel.name, reading, style,
                                          printing.stamp_text(reading))
            elif options.layout == "terse":
                text = printing.value_part(reading, style)
            else:
                text = printing.plain_line(channel.name, reading, style)
            print(text, file=out)
    return status


def _quiet_library_log() -> None:
    """The verbs report every failure themselves, as one line: the library's own warnings
    (a refused put's ERROR, say) must not print it a second time."""
    logging.getLogger("iochost.client").addHandler(logging.NullHandler())


def _run(verb: str, main: Coroutine[Any, Any, int], err: TextIO) -> int:
    """Run a verb; a bad EPICS_CA_* variable is its one-line error (exit status 1), and a
    skipped address-list entry or a PV served twice a warning line (libca prints those
    too)."""
    _quiet_library_log()
    warnings = logging.StreamHandler(err)
    warnings.setFormatter(logging.Formatter(f"iochost {verb}: warning: %(message)s"))
    warning_logs = [logging.getLogger(f"iochost.client.{name}") for name in ("config", "search")]
    for warning_log in warning_logs:
        warning_log.addHandler(warnings)
    try:
        return asyncio.run(main)
    except ConfigError as error:
        _fail(verb, error, err)
        return EXIT_FAILED
    finally:
        for warning_log in warning_logs:
            warning_log.removeHandler(warnings)


@dataclass(frozen=True)
class GetOptions:
    """``iochost get``'s options: caget's."""

    style: Style = field(default_factory=Style)
    layout: str = "plain"            # "plain", "terse" (-t) or "wide" (-a)
    dbr_type: DbrSpec | None = None  # -d: print every field of this type
    count: int = 0                   # -#: at most this many elements (0: all)
    callback: bool = False           # -c: without -#, the current length (count 0)
    timeout: float = 1.0
    priority: int = DEFAULT_PRIORITY
    as_json: bool = False


def get(names: Sequence[str], options: GetOptions = GetOptions(), out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    """``iochost get``; returns the exit status."""
    return _run("get", _get(names, options, out, err), err)


async def _host_name(server: str, timeout: float) -> str:
    """``host:port`` with the host's name (a reverse look-up, as libca's host name cache
    makes for cainfo), or as it is when none comes within ``timeout``.  The look-up runs
    in a daemon thread: a slow resolver must not hold up the verb's exit."""
    address, _, port = server.rpartition(":")
    loop = asyncio.get_running_loop()
    found: asyncio.Future[str] = loop.create_future()

    def look_up() -> None:
        try:
            name = socket.gethostbyaddr(address)[0]
        except (OSError, UnicodeError):
            name = address
        loop.call_soon_threadsafe(settle, name)

    def settle(name: str) -> None:
        if not found.done():         # (the wait may have timed out and cancelled it)
            found.set_result(name)

    threading.Thread(target=look_up, name="iochost-info-lookup", daemon=True).start()
    try:
        return f"{await asyncio.wait_for(found, timeout)}:{port}"
    except TimeoutError:
        return server


async def _info(names: Sequence[str], timeout: float, out: TextIO, err: TextIO) -> int:
    status = EXIT_OK
    hosts: dict[str, str] = {}        # server -> its name (one look-up each)
    async with Context() as context:
        for channel, connected in await _connect_all(context, names, timeout,
                                                     DEFAULT_PRIORITY):
            if isinstance(connected, Exception):
                _fail("info", connected, err)
                status = EXIT_FAILED
                continue
            native = printing.type_name(channel.native_type) \
                if channel.native_type is not None else "?"
            access = ", ".join(("read" if channel.access & AccessRights.READ else "no read",
                                "write" if channel.access & AccessRights.WRITE else
                                "no write"))
            server = str(channel.server)
            if server not in hosts:
                hosts[server] = await _host_name(server, timeout)
            print("\n".join([channel.name,
                             "    State:            connected",
                             f"    Host:             {hosts[server]}",
                             f"    Access:           {access}",
                             f"    Native data type: DBF_{native}",
                             f"    Request type:     DBR_{native}",
                             f"    Element count:    {channel.count}"]), file=out)
    return status


def info(names: Sequence[str], timeout: float = 1.0, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr) -> int:
    """``iochost info`` (cainfo): server, access rights, native type and element count."""
    return _run("info", _info(names, timeout, out, err), err)


@dataclass(frozen=True)
class PutOptions:
    """``iochost put``'s options: caput's."""

    style: Style = field(default_factory=Style)  # -S, -n (enum_as_number), -F
    layout: str = "plain"            # "plain", "terse" (-t) or "wide" (-l)
    wait: bool = False               # -c: WRITE_NOTIFY, wait for completion
    counted: bool = False            # -a: the first word is the element count
    enum_as_string: bool = False     # -s: an enum takes a state string only
    timeout: float = 1.0
    priority: int = DEFAULT_PRIORITY


def _counted(name: str, words: Sequence[str]) -> Sequence[str]:
    """caput -a: the first word is how many elements follow."""
    try:
        count = int(words[0])
    except ValueError:
        count = -1
    if count < 0 or count != len(words) - 1:
        raise RequestFailed(name, "put", ECA_BADCOUNT,
                            f"-a wants the number of elements, then that many values; got "
                            f"{words[0]!r} then {len(words) - 1} values")
    return words[1:]


def _enum_value(channel: Channel, text: str, enums: Sequence[str], options: PutOptions,
                err: TextIO) -> int:
    """caput's enum rules: a state string first, then an index (a state named "10" is
    state "10"); -n: an index only; -s: a state string only."""
    if text in enums and not options.style.enum_as_number:
        return enums.index(text)
    try:
        index = int(float(text)) if not options.enum_as_string else None
    except ValueError:
        index = None
    if index is None:
        why = (f"enum index value {text!r} is not a number" if options.style.enum_as_number
               else f"enum string value {text!r} invalid (states: "
                    f"{', '.join(map(repr, enums))})")
        raise RequestFailed(channel.name, "put", ECA_BADTYPE, why)
    if not 0 <= index < len(enums):
        print(f"iochost put: {channel.name}: warning: enum index value {index} may be "
              f"too large", file=err)
    return index


def _put_value(channel: Channel, words: Sequence[str], enums: Sequence[str],
               options: PutOptions, err: TextIO) -> object:
    """Command-line words as caput sends them: text (the terminal's UTF-8 bytes, with C
    escapes such as \\n and \\xNN turned into their bytes), which the server converts and
    checks (a number out of the field's range is refused there, not wrapped here).  A
    scalar takes the words joined by spaces; an array one element per word -- a CHAR
    array too (numbers), unless -S: then the words are one long string."""
    text = " ".join(words)
    if channel.native_type is ChannelType.ENUM:
        return _enum_value(channel, text, enums, options, err)
    if options.style.long_string and channel.native_type is ChannelType.CHAR:
        return unescaped(text) + b"\0"
    if channel.count > 1:
        return [unescaped(word) for word in words]
    return unescaped(text)


def _put_line(label: str, channel: Channel, reading: Reading, options: PutOptions) -> str:
    """caput's "Old : NAME VALUE" / "New : ..." (-l: the wide line; -t: the value alone)."""
    style = options.style
    if options.layout == "terse":
        return printing.value_part(reading, style)
    if options.layout == "wide":
        line = printing.wide_line(channel.name, reading, style,
                                  printing.stamp_text(reading))
    else:
        line = printing.plain_line(channel.name, reading, style)
    return f"{label} : {line}"


async def _put(name: str, values: Sequence[str], options: PutOptions, out: TextIO,
               err: TextIO) -> int:
    timeout = options.timeout
    async with Context() as context:
        try:
            words = _counted(name, values) if options.counted else values
            channel = await context.connect(name, timeout, options.priority)
            enums = await _enum_strings(channel, timeout)
            read_type = options.style.read_type(channel.native_type)
            value = _put_value(channel, words, enums, options, err)
            if options.layout != "terse":     # caput prints the old value before it writes
                old = await channel.get(read_type, channel.count, timeout)
                print(_put_line("Old", channel, old, options), file=out, flush=True)
            await channel.put(value, wait=options.wait, timeout=timeout)
            new = await channel.get(read_type, channel.count, timeout)
            if channel.put_error is not None:
                raise channel.put_error
        except ClientError as error:
            _fail("put", error, err)
            return EXIT_FAILED
        print(_put_line("New", channel, new, options), file=out)
    return EXIT_OK


def put(name: str, values: Sequence[str], options: PutOptions = PutOptions(),
        out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """``iochost put``; returns the exit status."""
    return _run("put", _put(name, values, options, out, err), err)


@dataclass(frozen=True)
class MonitorOptions:
    """``iochost monitor``'s options: camonitor's, and a number of updates to stop at."""

    style: Style = field(default_factory=Style)
    mask: int = DBE_VALUE | DBE_ALARM        # -m
    stamps: str = "s"                        # -t: camonitor's time stamp key
    count: int = 0                           # -#: at most this many elements (0: all)
    updates: int = 0                         # --updates: stop after this many (0: never)
    timeout: float = 1.0
    priority: int = DEFAULT_PRIORITY
    as_json: bool = False


async def _monitor(names: Sequence[str], options: MonitorOptions, out: TextIO, err: TextIO
                   ) -> int:
    status = EXIT_OK
    done = asyncio.Event()
    received = 0
    limit = options.updates if options.updates > 0 else None   # 0 or less: no limit
    style = options.style
    clock = printing.Clock.parse(options.stamps)
    counts: dict[str, int] = {}      # each channel's last update's element count
    refused: set[str] = set()
    async with Context() as context:

        def show(reading: Reading) -> None:
            nonlocal received
            if limit is not None and received >= limit:
                return
            received += 1
            counts[reading.name] = reading.count
            if options.as_json:
                print(_json(reading, ()), file=out, flush=True)
            else:
                print(printing.wide_line(reading.name, reading, style,
                                         clock.text(reading.name, reading)),
                      file=out, flush=True)
            if limit is not None and received >= limit:
                done.set()

        def failed(channel: Channel, error: Exception) -> None:
            nonlocal status
            _fail("monitor", error, err)
            status = EXIT_FAILED
            refused.add(channel.name)
            if len(refused) == len(names):      # nothing left to wait for
                done.set()

        def subscribe(channel: Channel) -> None:
            """On the first connect: an enum as DBR_TIME_STRING, so that each update
            carries its state string as the server has it now (camonitor's way); the
            count -# asks (0: each update's current length)."""
            subscription = channel.subscribe(style.read_type(channel.native_type),
                                             min(options.count, channel.count),
                                             mask=options.mask)
            subscription.add_callback(show)
            subscription.add_error_callback(lambda error: failed(channel, error))
            if subscription.error is not None:    # refused as it was made
                failed(channel, subscription.error)

        def connection(channel: Channel, connected: bool) -> None:
            if connected and not channel.subscriptions:  # after the connect has run
                asyncio.get_running_loop().call_soon(subscribe_once, channel)
            elif not connected and not options.as_json:
                print(printing.disconnected_line(channel.name, counts.get(channel.name, 0),
                                                 style), file=out, flush=True)

        async def watch(channel: Channel) -> None:
            channel.add_connection_callback(connection)
            try:
                await channel.wait_connected(options.timeout)
            except ClientError:   # camonitor's way: say so, and keep waiting for it
                if not options.as_json:
                    print(printing.not_found_line(channel.name, style), file=out, flush=True)
                return
            subscribe_once(channel)

        def subscribe_once(channel: Channel) -> None:
            if channel.connected and not channel.subscriptions:
                subscribe(channel)

        await asyncio.gather(*(watch(context.channel(name, options.priority))
                               for name in names))
        await done.wait()
    return status


def monitor(names: Sequence[str], options: MonitorOptions = MonitorOptions(),
            out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """``iochost monitor``: until ``options.updates`` updates were printed (or Ctrl-C)."""
    return _run("monitor", _monitor(names, options, out, err), err)

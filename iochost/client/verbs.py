"""The ``iochost get`` / ``put`` / ``monitor`` verbs: what ``caget``/``caput``/``camonitor``
users expect, on any CA server.

Output (stdout), one line per value unless ``-d`` asks for a DBR type's full contents:

* get: ``NAME VALUE`` (arrays: ``NAME COUNT V1 V2 ...``; enums as their state string),
  as ``caget`` prints;
* put: ``Old : NAME VALUE`` then ``New : NAME VALUE``, as ``caput`` prints;
* monitor: ``NAME DATE TIME VALUE [STATUS SEVERITY]`` per update (the alarm only when
  there is one), ``NAME *** disconnected`` when the server goes away, as ``camonitor``;
* ``--json``: one JSON object per value (name, value, count, type, timestamp, status,
  severity, units).

Errors go to stderr as one line, ``iochost VERB: NAME: what failed (ECA text)``, and the
exit status is 1 when any PV was not found, timed out or refused the request; 0 otherwise.
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Coroutine, Sequence
from typing import Any, TextIO

import numpy as np

from iochost.ca.alarm_codes import AlarmSeverity, AlarmStatus
from iochost.ca.codes import DBE_ALARM, DBE_LOG, DBE_PROPERTY, DBE_VALUE
from iochost.ca.dbr import EPICS_EPOCH, FAMILIES, AccessRights, ChannelType, family
from iochost.ca.eca import ECA_BADCOUNT, ECA_BADTYPE

from .channel import Channel, DbrSpec
from .config import ConfigError
from .context import Context
from .errors import ClientError, RequestFailed
from .reading import Reading

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "get",
    "info",
    "monitor",
    "parse_dbr_type",
    "parse_mask",
    "put",
]

EXIT_OK = 0
#: Any PV not found, timed out, or refused the request.
EXIT_FAILED = 1
_MASK_LETTERS = {"v": DBE_VALUE, "l": DBE_LOG, "a": DBE_ALARM, "p": DBE_PROPERTY}
_NAME_WIDTH = 30  # caget/camonitor pad names to 30 characters


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


# -- formatting -----------------------------------------------------------------------------
def _alarm_name(cls: type[AlarmStatus | AlarmSeverity], number: int) -> str:
    try:
        return cls(number).name
    except ValueError:
        return str(number)


def _number_text(value: object) -> str:
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def _text(raw: bytes) -> str:
    """CA text as a terminal shows the bytes caget prints: UTF-8, else latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _values_text(reading: Reading, enum_strings: Sequence[str]) -> list[str]:
    data = reading.data
    if isinstance(data, list):
        return [_text(item) for item in data]
    if reading.native_type is ChannelType.ENUM and enum_strings:
        return [enum_strings[i] if 0 <= i < len(enum_strings) else str(i)
                for i in data.tolist()]
    if reading.native_type is ChannelType.CHAR:   # caget's dbr_char_t is signed
        data = data.astype(np.int8)
    return [_number_text(item) for item in data.tolist()]


def long_string(reading: Reading) -> str | None:
    """A CHAR array's bytes up to the first NUL as text (caget -S), else None."""
    if reading.native_type is not ChannelType.CHAR:
        return None
    return bytes(np.asarray(reading.data, dtype=np.uint8)).split(b"\0", 1)[0].decode(
        "utf-8", "replace")


def value_text(reading: Reading, enum_strings: Sequence[str] = (), as_string: bool = False,
               array: bool | None = None) -> str:
    """The value as caget prints it: a scalar alone, an array as ``COUNT V1 V2 ...`` (also
    when it holds one element or none: ``array``, the channel's element count > 1, decides
    as caget's does); with ``as_string`` a CHAR array as its text (caget -S)."""
    text = long_string(reading) if as_string else None
    if text is not None:
        return text
    texts = _values_text(reading, enum_strings or reading.enum_strings)
    if _scalar(len(texts), array):
        return texts[0] if texts else ""     # a reply without elements (an empty lsi)
    return " ".join([str(len(texts)), *texts])


def _scalar(count: int, array: bool | None) -> bool:
    """Shown as one value: ``array`` (the channel has more than one element) decides, as
    caget's does; unknown (None), the reading's count does."""
    return count == 1 if array is None else not array


def _stamp_text(reading: Reading) -> str:
    """The value's time stamp as caget prints it, from the stamp's own seconds and
    nanoseconds: epicsTime's "%06f" rounds to the microsecond and wraps a rounded-up
    999999.5 us to 000000 without carrying a second; a type without a stamp: now."""
    if family(reading.dbr_type) != "time":
        now = time.time_ns()
        secs, nsecs = now // 1_000_000_000, now % 1_000_000_000
    else:
        secs, nsecs = reading.meta.secs + EPICS_EPOCH, reading.meta.nsecs
        if secs == EPICS_EPOCH and not nsecs:   # a record never processed: camonitor's
            return "<undefined>"
    micro = (nsecs + 500) % 1_000_000_000 // 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(secs)) + f".{micro:06d}"


def _line(name: str, text: str, scalar: bool) -> str:
    """``NAME VALUE``: the name padded to 30 columns for a scalar, as caget pads it."""
    return f"{name:<{_NAME_WIDTH}} {text}" if scalar else f"{name} {text}"


def _alarm_text(reading: Reading) -> str:
    if not reading.status and not reading.severity:
        return ""
    return (f" {_alarm_name(AlarmStatus, reading.status)}"
            f" {_alarm_name(AlarmSeverity, reading.severity)}")


def _json(reading: Reading, enum_strings: Sequence[str], as_string: bool = False,
          array: bool | None = None) -> str:
    data = reading.data
    value: object
    scalar = _scalar(len(data), array)
    text = long_string(reading) if as_string else None
    if text is not None:
        value = text
    elif isinstance(data, list) or (reading.native_type is ChannelType.ENUM and enum_strings):
        texts = _values_text(reading, enum_strings)
        value = (texts[0] if texts else "") if scalar else texts
    elif scalar:
        value = data[0].item() if len(data) else None
    else:
        value = np.asarray(data).tolist()
    record = {"name": reading.name, "value": value, "count": reading.count,
              "type": f"DBR_{reading.dbr_type.name}", "timestamp": reading.timestamp,
              "status": _alarm_name(AlarmStatus, reading.status),
              "severity": _alarm_name(AlarmSeverity, reading.severity)}
    if reading.meta.units:
        record["units"] = reading.units
    return json.dumps(record)


def _type_name(number: int) -> str:
    """A DBR or DBF type's name as EPICS' tools print it (INT is "SHORT")."""
    return ChannelType(number).name.replace("INT", "SHORT")


def _limit_text(value: object, integer: bool) -> str:
    return f"{value:8d}" if integer else _number_text(value)


def _block(channel: Channel, reading: Reading) -> str:
    """caget -d: every field the DBR type carries, in caget's order and words."""
    meta = reading.meta
    native = _type_name(channel.native_type) if channel.native_type is not None else "?"
    values = _values_text(reading, reading.enum_strings)
    lines = [reading.name,
             f"    Native data type: DBF_{native}",
             f"    Request type:     DBR_{_type_name(reading.dbr_type)}",
             f"    Element count:    {reading.count}",
             f"    Value:            {' '.join(values)}"]
    fam = family(reading.dbr_type)
    if fam == "time":
        lines.append(f"    Timestamp:        {_stamp_text(reading)}")
    if fam != "native":
        lines += [f"    Status:           {_alarm_name(AlarmStatus, meta.status)}",
                  f"    Severity:         {_alarm_name(AlarmSeverity, meta.severity)}"]
    kind = reading.native_type
    if fam not in ("gr", "ctrl") or kind is ChannelType.STRING:
        return "\n".join(lines)
    if kind is ChannelType.ENUM:
        lines.append(f"    Enums:            ({len(reading.enum_strings):2d})")
        lines += [f"                      [{i:2d}] {text}"
                  for i, text in enumerate(reading.enum_strings)]
        return "\n".join(lines)
    lines.append(f"    Units:            {reading.units}")
    integer = kind not in (ChannelType.FLOAT, ChannelType.DOUBLE)
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


# -- the verbs ----------------------------------------------------------------------------------
def _fail(verb: str, error: Exception, err: TextIO) -> None:
    print(f"iochost {verb}: {error}", file=err)


def _plain_type(channel: Channel) -> DbrSpec:
    """What caget and camonitor ask for: an enum as DBR_TIME_STRING (the state's text as
    the server has it: "" or "Illegal Value" for a state without one), else its own type."""
    return ChannelType.TIME_STRING if channel.native_type is ChannelType.ENUM else "time"


async def _enum_strings(channel: Channel, timeout: float) -> tuple[str, ...]:
    if channel.native_type is not ChannelType.ENUM:
        return ()
    return (await channel.get("ctrl", timeout=timeout)).enum_strings


async def _connect_all(context: Context, names: Sequence[str], timeout: float
                       ) -> list[tuple[Channel, Channel | BaseException]]:
    """Each name's channel and its connection (or the error): one wait for all, as
    caget's one ca_pend_io, so that N missing PVs cost one timeout."""
    channels = [context.channel(name) for name in names]
    connects = await asyncio.gather(*(channel.wait_connected(timeout) for channel in channels),
                                    return_exceptions=True)
    return list(zip(channels, connects, strict=True))


async def _get(names: Sequence[str], dbr_type: DbrSpec | None, count: int | None,
               timeout: float, as_json: bool, as_string: bool, out: TextIO, err: TextIO
               ) -> int:
    status = EXIT_OK
    async with Context() as context:
        for channel, connected in await _connect_all(context, names, timeout):
            try:
                if isinstance(connected, Exception):
                    raise connected
                # as caget: every element the channel has (not only the current length;
                # a server pads), at most -# of them (0 or less: all)
                wanted = channel.count if count is None or count <= 0 else \
                    min(count, channel.count)
                plain = dbr_type is None and not as_json
                reading = await channel.get(_plain_type(channel) if plain else
                                            "time" if dbr_type is None else dbr_type,
                                            wanted, timeout)
                enums = () if plain else await _enum_strings(channel, timeout)
            except ClientError as error:
                _fail("get", error, err)
                status = EXIT_FAILED
                continue
            array = channel.count > 1
            if as_json:
                print(_json(reading, enums, as_string, array), file=out)
            elif plain:
                print(_line(channel.name, value_text(reading, enums, as_string, array),
                            not array), file=out)
            else:
                print(_block(channel, reading), file=out)
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


def get(names: Sequence[str], dbr_type: DbrSpec | None = None, count: int | None = None,
        timeout: float = 1.0, as_json: bool = False, out: TextIO = sys.stdout,
        err: TextIO = sys.stderr, as_string: bool = False) -> int:
    """``iochost get``; returns the exit status."""
    return _run("get", _get(names, dbr_type, count, timeout, as_json, as_string, out, err),
                err)


async def _info(names: Sequence[str], timeout: float, out: TextIO, err: TextIO) -> int:
    status = EXIT_OK
    async with Context() as context:
        for channel, connected in await _connect_all(context, names, timeout):
            if isinstance(connected, Exception):
                _fail("info", connected, err)
                status = EXIT_FAILED
                continue
            native = _type_name(channel.native_type) if channel.native_type is not None \
                else "?"
            access = ", ".join(("read" if channel.access & AccessRights.READ else "no read",
                                "write" if channel.access & AccessRights.WRITE else
                                "no write"))
            print("\n".join([channel.name,
                             "    State:            connected",
                             f"    Host:             {channel.server}",
                             f"    Access:           {access}",
                             f"    Native data type: DBF_{native}",
                             f"    Request type:     DBR_{native}",
                             f"    Element count:    {channel.count}"]), file=out)
    return status


def info(names: Sequence[str], timeout: float = 1.0, out: TextIO = sys.stdout,
         err: TextIO = sys.stderr) -> int:
    """``iochost info`` (cainfo): server, access rights, native type and element count."""
    return _run("info", _info(names, timeout, out, err), err)


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


def _put_value(channel: Channel, words: Sequence[str], enums: Sequence[str],
               as_string: bool, err: TextIO) -> object:
    """Command-line words as caput sends them: text (the terminal's UTF-8 bytes), which the
    server converts and checks (a number out of the field's range is refused there, not
    wrapped here).  A scalar takes the words joined by spaces; an array one element per
    word -- a CHAR array too (numbers), unless ``as_string`` (caput -S): then the words
    are one long string.  An enum is matched against its state strings first, then taken
    as an index (a state named "10" is state "10", not index 10)."""
    text = " ".join(words)
    if channel.native_type is ChannelType.ENUM:
        if text in enums:
            return enums.index(text)
        try:
            index = int(text)
        except ValueError:
            raise RequestFailed(channel.name, "put", ECA_BADTYPE,
                                f"enum string value {text!r} invalid (states: "
                                f"{', '.join(map(repr, enums))})") from None
        if not 0 <= index < len(enums):
            print(f"iochost put: {channel.name}: warning: enum index value {index} may be "
                  f"too large", file=err)
        return index
    if as_string and channel.native_type is ChannelType.CHAR:
        return text.encode("utf-8") + b"\0"
    if channel.count > 1:
        return [word.encode("utf-8") for word in words]
    return text.encode("utf-8")


async def _put(name: str, values: Sequence[str], wait: bool, timeout: float, as_string: bool,
               counted: bool, out: TextIO, err: TextIO) -> int:
    async with Context() as context:
        try:
            words = _counted(name, values) if counted else values
            channel = await context.connect(name, timeout)
            enums = await _enum_strings(channel, timeout)
            old = await channel.get("time", channel.count, timeout)
            await channel.put(_put_value(channel, words, enums, as_string, err), wait=wait,
                              timeout=timeout)
            new = await channel.get("time", channel.count, timeout)
            if channel.put_error is not None:
                raise channel.put_error
        except ClientError as error:
            _fail("put", error, err)
            return EXIT_FAILED
        array = channel.count > 1
        for label, reading in (("Old", old), ("New", new)):
            print(f"{label} : " + _line(name, value_text(reading, enums, as_string, array),
                                        not array), file=out)
    return EXIT_OK


def put(name: str, values: Sequence[str], wait: bool = False, timeout: float = 1.0,
        out: TextIO = sys.stdout, err: TextIO = sys.stderr, as_string: bool = False,
        counted: bool = False) -> int:
    """``iochost put``; ``counted``: the first value is the element count (caput -a);
    returns the exit status."""
    return _run("put", _put(name, values, wait, timeout, as_string, counted, out, err), err)


async def _monitor(names: Sequence[str], mask: int, limit: int | None, timeout: float,
                   as_json: bool, out: TextIO, err: TextIO) -> int:
    status = EXIT_OK
    done = asyncio.Event()
    received = 0
    limit = limit if limit is not None and limit > 0 else None   # 0 or less: no limit
    refused: set[str] = set()
    async with Context() as context:

        def show(reading: Reading) -> None:
            nonlocal received
            if limit is not None and received >= limit:
                return
            received += 1
            if as_json:
                print(_json(reading, ()), file=out, flush=True)
            else:
                print(f"{reading.name:<{_NAME_WIDTH}} {_stamp_text(reading)} "
                      f"{value_text(reading)}{_alarm_text(reading)}", file=out, flush=True)
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
            carries its state string as the server has it now (camonitor's way)."""
            subscription = channel.subscribe(_plain_type(channel), mask=mask)
            subscription.add_callback(show)
            subscription.add_error_callback(lambda error: failed(channel, error))
            if subscription.error is not None:    # refused as it was made
                failed(channel, subscription.error)

        def connection(channel: Channel, connected: bool) -> None:
            if connected and not channel.subscriptions:  # after the connect has run
                asyncio.get_running_loop().call_soon(subscribe_once, channel)
            elif not connected and not as_json:
                print(f"{channel.name:<{_NAME_WIDTH}} *** disconnected", file=out, flush=True)

        async def watch(channel: Channel) -> None:
            channel.add_connection_callback(connection)
            try:
                await channel.wait_connected(timeout)
            except ClientError:   # camonitor's way: say so, and keep waiting for it
                if not as_json:
                    print(f"{channel.name:<{_NAME_WIDTH}} *** Not connected (PV not found)",
                          file=out, flush=True)
                return
            subscribe_once(channel)

        def subscribe_once(channel: Channel) -> None:
            if channel.connected and not channel.subscriptions:
                subscribe(channel)

        await asyncio.gather(*(watch(context.channel(name)) for name in names))
        await done.wait()
    return status


def monitor(names: Sequence[str], mask: int = DBE_VALUE | DBE_ALARM, limit: int | None = None,
            timeout: float = 1.0, as_json: bool = False, out: TextIO = sys.stdout,
            err: TextIO = sys.stderr) -> int:
    """``iochost monitor``: until ``limit`` updates were printed (or Ctrl-C)."""
    return _run("monitor", _monitor(names, mask, limit, timeout, as_json, out, err), err)

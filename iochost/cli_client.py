"""The client verbs' command line (``iochost get/put/monitor/info``): caget's, caput's and
camonitor's options, letter for letter, turned into :mod:`iochost.client.verbs`' options.

Argument parsing only: the client (numpy, asyncio) is imported when a verb runs.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

#: the tools' -e/-f/-g precision: 0..18 digits (caget's VALID_DOUBLE_DIGITS)
MAX_DIGITS = 18
CA_PRIORITY_MAX = 99
_BASES = ("x", "o", "b")


def seconds(text: str) -> float:
    """-w S: 0 (or less) waits forever, as ca_pend_io(0) does."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    return value if value > 0 else 1e9


def _priority(text: str) -> int:
    """-p: 0..99, more is 99 (as the tools clamp it)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a CA priority (0-99): {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"not a CA priority (0-99): {text!r}")
    return min(value, CA_PRIORITY_MAX)


def _float_format(letter: str) -> Callable[[str], str]:
    """-e/-f/-g N: a printf format with N digits."""
    def parse(text: str) -> str:
        try:
            digits = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of digits: {text!r}") from None
        if not 0 <= digits <= MAX_DIGITS:
            raise argparse.ArgumentTypeError(f"{digits} digits: use 0 to {MAX_DIGITS}")
        return f"%-.{digits}{letter}"
    return parse


def _separator(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError("an empty field separator")
    return text[0]


def _count(text: str) -> int:
    try:
        return max(int(text), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an element count: {text!r}") from None


def default_timeout() -> float:
    """The tools' default wait: EPICS_CLI_TIMEOUT when set to a number (else, with a
    warning as they give, 1 second)."""
    text = os.environ.get("EPICS_CLI_TIMEOUT")
    if text is None:
        return 1.0
    try:
        return seconds(text)
    except argparse.ArgumentTypeError:
        print(f"iochost: EPICS_CLI_TIMEOUT={text!r} is not a number of seconds; using 1",
              file=sys.stderr)
        return 1.0


def _timeout(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--timeout", "-w", type=seconds, metavar="S",
                     help="seconds to wait for the connections and each answer "
                          "(default: EPICS_CLI_TIMEOUT, else 1; 0: forever, as libca's)")
    sub.add_argument("-p", dest="priority", type=_priority, default=0, metavar="PRIO",
                     help="CA priority of the circuit (0-99, default 0)")


def _format_arguments(sub: argparse.ArgumentParser) -> None:
    """caget's and camonitor's value formats."""
    group = sub.add_argument_group("value format (as caget and camonitor)")
    group.add_argument("-n", dest="enum_as_number", action="store_true",
                       help="print an enum as its number (default: its state string)")
    group.add_argument("-#", dest="count", type=_count, default=0, metavar="COUNT",
                       help="at most COUNT elements of an array (default, or 0: all); the "
                            "count is then always printed")
    group.add_argument("-S", dest="long_string", action="store_true",
                       help="print a CHAR array as its text up to the first NUL (a long "
                            "string: a CHAR waveform, an lsi, NAME.FIELD$)")
    for letter in "efg":
        group.add_argument(f"-{letter}", dest="float_format", type=_float_format(letter),
                           metavar="N",
                           help=f"floats as printf's %%{letter} with N digits (default %%g)")
    group.add_argument("-s", dest="float_as_string", action="store_true",
                       help="read floats as text: the server's, with its precision")
    group.add_argument("-l", dest="float_base", choices=_BASES, default="",
                       help="-lx, -lo, -lb: floats rounded to integers, printed in hex, "
                            "octal or binary")
    group.add_argument("-0", dest="integer_base", choices=_BASES, default="",
                       help="-0x, -0o, -0b: integers in hex, octal or binary")
    group.add_argument("-F", dest="separator", type=_separator, default=" ", metavar="SEP",
                       help="separate the fields of a line by SEP's first character")
    sub.add_argument("--json", action="store_true", help="print one JSON object per value")


def add_arguments(sub: argparse.ArgumentParser, verb: str) -> None:
    """The options of client verb ``verb`` on its parser."""
    if verb == "put":
        sub.add_argument("pv", metavar="PV")
        sub.add_argument("values", metavar="VALUE", nargs="+")
        _timeout(sub)
        sub.add_argument("--wait", "-c", action="store_true",
                         help="wait until the put completed (WRITE_NOTIFY)")
        layout = sub.add_mutually_exclusive_group()
        layout.add_argument("-t", dest="layout", action="store_const", const="terse",
                            default="plain", help="print only the new value")
        layout.add_argument("-l", dest="layout", action="store_const", const="wide",
                            help="print 'NAME STAMP VALUE STAT SEVR' for the old and new "
                                 "value")
        enums = sub.add_mutually_exclusive_group()
        enums.add_argument("-n", dest="enum_as_number", action="store_true",
                           help="an enum's VALUE is its number")
        enums.add_argument("-s", dest="enum_as_string", action="store_true",
                           help="an enum's VALUE is one of its state strings")
        sub.add_argument("-S", dest="long_string", action="store_true",
                         help="write the words to a CHAR array as one long string (its "
                              "UTF-8 bytes and a NUL), as caput -S")
        sub.add_argument("-a", dest="counted", action="store_true",
                         help="the first VALUE is the number of array elements that follow, "
                              "as caput -a (without -a each word is one element too)")
        sub.add_argument("-F", dest="separator", type=_separator, default=" ", metavar="SEP",
                         help="separate the fields of a line by SEP's first character")
        return
    sub.add_argument("pvs", metavar="PV", nargs="+")
    _timeout(sub)
    if verb == "info":
        return
    _format_arguments(sub)
    if verb == "get":
        sub.add_argument("-c", dest="callback", action="store_true",
                         help="a get with callback: without -#, the array's current length")
        layout = sub.add_mutually_exclusive_group()
        layout.add_argument("-t", dest="layout", action="store_const", const="terse",
                            default="plain", help="print only the value")
        layout.add_argument("-a", dest="layout", action="store_const", const="wide",
                            help="print 'NAME STAMP VALUE STAT SEVR'")
        layout.add_argument("-d", dest="dbr_type", metavar="TYPE",
                            type=_client_parser("parse_dbr_type"),
                            help="request this DBR type (DBR_CTRL_DOUBLE, time_long, 20, "
                                 "...) or family of the native type (native, sts, time, "
                                 "gr, ctrl) and print all its fields")
        return
    sub.add_argument("-m", dest="mask", type=_client_parser("parse_mask"), default="va",
                     metavar="MASK",
                     help="events: v(alue) l(og) a(larm) p(roperty); default va")
    sub.add_argument("-t", dest="stamps", type=_client_parser("parse_stamps"), default="s",
                     metavar="KEY",
                     help="time stamps: s(erver, default) c(lient) n(one); r(elative), "
                          "i(ncremental), I (incremental by channel)")
    sub.add_argument("--updates", type=int, default=0, metavar="N",
                     help="stop after N updates (default, or 0 or less: run until Ctrl-C)")


def _client_parser(name: str) -> Callable[[str], Any]:
    """An argparse type: the client verbs' parser ``name``, imported at its first use (the
    client imports numpy and asyncio; ``iochost --help`` and the host's verbs need neither)."""
    def parse(text: str) -> object:
        from .client import verbs

        try:
            return getattr(verbs, name)(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def run(args: argparse.Namespace) -> int:
    """Run the client verb ``args`` asked for; its exit status."""
    from .client import verbs

    if args.timeout is None:
        args.timeout = default_timeout()
    if args.verb == "info":
        return verbs.info(args.pvs, args.timeout)
    if args.verb == "put":
        return verbs.put(args.pv, args.values, verbs.PutOptions(
            style=verbs.Style(separator=args.separator, enum_as_number=args.enum_as_number,
                              long_string=args.long_string),
            layout=args.layout, wait=args.wait, counted=args.counted,
            enum_as_string=args.enum_as_string, timeout=args.timeout,
            priority=args.priority))
    style = verbs.Style(separator=args.separator, enum_as_number=args.enum_as_number,
                        float_as_string=args.float_as_string,
                        float_format=args.float_format or "%g",
                        float_base=args.float_base, integer_base=args.integer_base,
                        long_string=args.long_string, counted=args.count > 0)
    if args.verb == "get":
        return verbs.get(args.pvs, verbs.GetOptions(
            style=style, layout=args.layout, dbr_type=args.dbr_type, count=args.count,
            callback=args.callback, timeout=args.timeout, priority=args.priority,
            as_json=args.json))
    return verbs.monitor(args.pvs, verbs.MonitorOptions(
        style=style, mask=args.mask, stamps=args.stamps, count=args.count,
        updates=args.updates, timeout=args.timeout, priority=args.priority,
        as_json=args.json))

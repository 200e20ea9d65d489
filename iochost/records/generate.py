"""Generate ``iochost/records/_fields.py`` from EPICS base's record definition files.

Run as ``python -m iochost.records.generate [--dbd-dir DIR] [--output PATH]``.

The input is the ``base.dbd`` shipped in the ``epicscorelibs`` wheel (the EPICS base an IOC
built from that wheel loads) and every file it includes: the ``menu*.dbd`` menus, the
``*Record.dbd`` record types with the shared ``dbCommon.dbd`` fields, and ``devSoft.dbd``'s
device support names (the choices of a record's DTYP field).

The dbd grammar needed here is small: ``#`` comments, ``%`` lines of C code (skipped),
``include "file"``, and statements ``word(arg, ...)`` optionally followed by a ``{ ... }``
body of further statements. Anything else at the top level (drivers, links, variables,
registrars, breakpoint tables) is parsed and ignored.

The output holds plain tuples, one row per field in the column order of
``iochost.records.tables.FieldDef``; the dbCommon rows are written once and shared by
every record type at load time.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

OUTPUT = Path(__file__).with_name("_fields.py")
COMMON_DBD = "dbCommon.dbd"

_TOKEN = re.compile(
    r'''(?P<string>"(?:[^"\\]|\\.)*")
      | (?P<comment>\#[^\n]*)
      | (?P<c_code>%[^\n]*)
      | (?P<punct>[(){},])
      | (?P<word>[^\s(){},"\#]+)
      | (?P<space>\s+)''',
    re.VERBOSE | re.MULTILINE,
)


class DbdSyntaxError(ValueError):
    """A dbd file does not follow the grammar above."""


@dataclass
class Statement:
    """``keyword(args) { body }``; ``include "file"`` is a statement with keyword 'include'."""

    keyword: str
    args: list[str]
    body: list[Statement] | None = None
    where: str = ""


def tokenize(text: str, path: str) -> list[tuple[str, str, int]]:
    """Split dbd text into (kind, text, line) tokens, dropping comments and C code."""
    tokens = []
    pos = 0
    line = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise DbdSyntaxError(f"{path}:{line}: cannot read {text[pos:pos + 20]!r}")
        kind = match.lastgroup
        value = match.group()
        if kind == "string":
            tokens.append(("string", re.sub(r"\\(.)", r"\1", value[1:-1]), line))
        elif kind in ("punct", "word"):
            tokens.append((kind if kind == "word" else value, value, line))
        line += value.count("\n")
        pos = match.end()
    return tokens


class _Parser:
    """Recursive-descent reader of one token list into statements."""

    def __init__(self, tokens: list[tuple[str, str, int]], path: str):
        self.tokens = tokens
        self.pos = 0
        self.path = path

    def _fail(self, message: str) -> DbdSyntaxError:
        line = self.tokens[min(self.pos, len(self.tokens) - 1)][2] if self.tokens else 0
        return DbdSyntaxError(f"{self.path}:{line}: {message}")

    def _next(self, *kinds: str) -> tuple[str, str, int]:
        if self.pos >= len(self.tokens):
            raise self._fail("unexpected end of file")
        token = self.tokens[self.pos]
        if kinds and token[0] not in kinds:
            raise self._fail(f"expected {' or '.join(kinds)}, found {token[1]!r}")
        self.pos += 1
        return token

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def statements(self, closing: str | None = None) -> list[Statement]:
        result = []
        while self._peek() != closing:
            if self._peek() is None:
                raise self._fail(f"missing {closing!r}")
            _, keyword, line = self._next("word")
            where = f"{self.path}:{line}"
            if keyword == "include":
                result.append(Statement("include", [self._next("string")[1]], where=where))
                continue
            self._next("(")
            args: list[str] = []
            while self._peek() != ")":
                args.append(self._next("word", "string")[1])
                if self._peek() == ",":
                    self._next(",")
            self._next(")")
            body = None
            if self._peek() == "{":
                self._next("{")
                body = self.statements("}")
                self._next("}")
            result.append(Statement(keyword, args, body, where))
        return result


def parse_file(path: Path, search: list[Path], _including: tuple[Path, ...] = ()
               ) -> list[Statement]:
    """Parse one dbd file, expanding every ``include`` (also inside bodies) in place."""
    if path.resolve() in _including:
        raise DbdSyntaxError(f"{path}: includes itself")
    parser = _Parser(tokenize(path.read_text(encoding="utf-8"), str(path)), str(path))
    return _expand(parser.statements(), search, (*_including, path.resolve()))


def _expand(statements: list[Statement], search: list[Path],
            including: tuple[Path, ...]) -> list[Statement]:
    result: list[Statement] = []
    for statement in statements:
        if statement.keyword == "include":
            name = statement.args[0]
            if name == COMMON_DBD:  # kept as a marker: dbCommon is emitted once
                result.append(statement)
                continue
            found = next((d / name for d in search if (d / name).is_file()), None)
            if found is None:
                raise DbdSyntaxError(f"{statement.where}: include {name!r} not found")
            result.extend(parse_file(found, search, including))
        else:
            if statement.body is not None:
                statement.body = _expand(statement.body, search, including)
            result.append(statement)
    return result


# Field attributes -> (column, converter); the columns follow tables.FieldDef.
_FIELD_ATTRIBUTES = {
    "prompt": ("prompt", str),
    "promptgroup": ("promptgroup", str),
    "initial": ("initial", str),
    "size": ("size", int),
    "menu": ("menu", str),
    "special": ("special", lambda s: s.removeprefix("SPC_")),
    "interest": ("interest", int),
    "pp": ("pp", lambda s: s.upper() == "TRUE"),
    "prop": ("prop", lambda s: s.upper() == "YES"),
    "asl": ("asl", lambda s: int(s.removeprefix("ASL"))),
}
_IGNORED_ATTRIBUTES = {"extra", "base"}
# Ordered so that the columns most often left at their default come last: rows are written
# with trailing defaults trimmed, which keeps the generated module small.
COLUMNS = ("name", "dbf", "prompt", "promptgroup", "special", "interest", "menu", "size",
           "initial", "pp", "prop", "asl")
_DEFAULTS = {"prompt": "", "promptgroup": "", "initial": "", "size": 0, "menu": "",
             "special": "", "interest": 0, "pp": False, "prop": False, "asl": 1}


def field_row(statement: Statement) -> tuple:
    """One ``field(NAME, DBF_TYPE) {...}`` statement as a row in COLUMNS order."""
    name, dbf = statement.args
    values = dict(_DEFAULTS, name=name, dbf=dbf.removeprefix("DBF_"))
    for attribute in statement.body or ():
        if attribute.keyword in _IGNORED_ATTRIBUTES:
            continue
        if attribute.keyword not in _FIELD_ATTRIBUTES:
            raise DbdSyntaxError(f"{attribute.where}: unknown field attribute "
                                 f"{attribute.keyword!r}")
        column, convert = _FIELD_ATTRIBUTES[attribute.keyword]
        values[column] = convert(attribute.args[0])
    row = [values[column] for column in COLUMNS]
    while len(row) > 2 and row[-1] == _DEFAULTS[COLUMNS[len(row) - 1]]:
        row.pop()
    return tuple(row)


@dataclass
class Definitions:
    """What the generated module holds."""

    menus: dict[str, tuple[str, ...]] = field(default_factory=dict)
    common: tuple[tuple, ...] = ()
    records: dict[str, tuple[tuple, ...]] = field(default_factory=dict)
    devices: dict[str, tuple[str, ...]] = field(default_factory=dict)


def collect(dbd_dir: Path, top: str = "base.dbd") -> Definitions:
    """Read ``top`` (and its includes) from ``dbd_dir`` into menus, fields and devices."""
    search = [dbd_dir]
    defs = Definitions()
    defs.common = tuple(field_row(s) for s in parse_file(dbd_dir / COMMON_DBD, search)
                        if s.keyword == "field")
    for statement in parse_file(dbd_dir / top, search):
        if statement.keyword == "menu":
            defs.menus[statement.args[0]] = tuple(
                choice.args[1] for choice in statement.body or () if choice.keyword == "choice")
        elif statement.keyword == "recordtype":
            defs.records[statement.args[0]] = _record_rows(statement)
        elif statement.keyword == "device":
            rtyp, choice = statement.args[0], statement.args[3]
            defs.devices[rtyp] = defs.devices.get(rtyp, ()) + (choice,)
    return defs


def _record_rows(statement: Statement) -> tuple[tuple, ...]:
    body = statement.body or []
    if not body or body[0].keyword != "include" or body[0].args != [COMMON_DBD]:
        # Every base record starts with dbCommon; the loader relies on that order.
        raise DbdSyntaxError(f"{statement.where}: record type does not start with dbCommon")
    return tuple(field_row(s) for s in body[1:] if s.keyword == "field")


def render(defs: Definitions, source: str) -> str:
    """The text of ``_fields.py``: deterministic for the same input."""
    out = [
        '"""EPICS record field tables: generated by iochost.records.generate -- do not edit.',
        "",
        f"Source: {source}.",
        "Regenerate with ``python -m iochost.records.generate``; read through",
        "``iochost.records.tables``.",
        '"""',
        "# Row columns: " + ", ".join(COLUMNS) + " (trailing defaults omitted)",
        "",
        "MENUS = {",
        *(f"    {name!r}: {choices!r}," for name, choices in defs.menus.items()),
        "}",
        "",
        "COMMON = (",
        *(f"    {row!r}," for row in defs.common),
        ")",
        "",
        "RECORDS = {",
    ]
    for rtyp, rows in defs.records.items():
        out.append(f"    {rtyp!r}: (")
        out.extend(f"        {row!r}," for row in rows)
        out.append("    ),")
    out += [
        "}",
        "",
        "DEVICES = {",
        *(f"    {rtyp!r}: {choices!r}," for rtyp, choices in defs.devices.items()),
        "}",
        "",
    ]
    return "\n".join(out)


def default_dbd_dir() -> Path:
    """The dbd directory of the installed epicscorelibs wheel."""
    import epicscorelibs.path

    return Path(epicscorelibs.path.base_path) / "dbd"


def generate(dbd_dir: Path | None = None) -> str:
    """The text of ``_fields.py`` for the installed (or given) EPICS base dbd files."""
    if dbd_dir is None:
        dbd_dir = default_dbd_dir()
        source = f"epicscorelibs {metadata.version('epicscorelibs')} dbd files"
    else:
        source = f"dbd files in {dbd_dir.name}/"
    return render(collect(dbd_dir), source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbd-dir", type=Path, help="read dbd files from here instead")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write")
    args = parser.parse_args(argv)
    try:
        text = generate(args.dbd_dir)
    except (DbdSyntaxError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

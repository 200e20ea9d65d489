"""The synApps autosave ``.sav`` format: text in, entries out, and back (no file I/O).

A ``.sav`` file, as synApps' ``save_restore.c`` writes it and ``dbrestore.c`` reads it::

    # autosave R5.11	Automatically generated - DO NOT MODIFY - 261203-101500
    ! 2 channel(s) not connected - or not all gets were successful
    xxx:m1.VAL 1.5
    xxx:m1.EGU mm
    #xxx:m2.VAL 0                         <- '#': not restored (a comment, or not saved)
    xxx:desc$ A long string, over 39 characters, C-escaped
    xxx:wave @array@ { "1" "2.5" "a \\"quoted\\" one" }
    <END>

* the first line is a header (``#``); a version ``R<n>`` in it >= 1.8 promises the
  ``<END>`` marker, which must then close the file (the writer's proof that it finished);
* a line is ``NAME`` (at most 80 characters), one separator character, then the value up
  to the end of the line: scalars are C-escaped (``\\n``, ``\\t``, ``\\"``, ``\\\\``,
  ``\\xHH``, ``\\ooo``), so a value may hold leading or trailing spaces or be empty;
* a name without a ``.FIELD`` means ``.VAL``; a name ending in ``$`` is a long string;
* ``@array@ { "e0" "e1" ... }`` is an array, read in dbrestore's two stages: inside an
  element ``\\"`` and ``\\\\`` lose their backslash, then the result is C-unescaped as a
  scalar is (so we write elements C-escaped, then escape that again); non-printable
  characters inside an element are dropped; an array may continue over several lines;
* ``! N ...`` says N values were not saved; ``<END>`` closes the file.

Numbers are written as the C code writes them: doubles ``%.14g``, floats ``%.7g``, integers
``%d``, enums as their index. This module deals in text only: which Python value a text
stands for is the autosave helper's business (it knows the channel's type).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "ARRAY_MARKER",
    "DATE_FORMAT",
    "END_MARKER",
    "WRITER_VERSION",
    "SavEntry",
    "SavFile",
    "SavFormatError",
    "escape_text",
    "format_double",
    "format_float",
    "format_sav",
    "parse_sav",
    "unescape_text",
]

END_MARKER = "<END>"
ARRAY_MARKER = "@array@"
#: the synApps release whose format we write (the version check reads the first 'R<n>')
WRITER_VERSION = "R5.11"
#: synApps' fGetDateStr: used in the header and in dated/RBAD file names
DATE_FORMAT = "%y%m%d-%H%M%S"
#: dbrestore reads names with "%80s"
MAX_NAME_LENGTH = 80

_SIMPLE_ESCAPES = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t",
                   "\v": "v", "\\": "\\", "'": "'", '"': '"'}
_UNESCAPES = {value: key for key, value in _SIMPLE_ESCAPES.items()}
_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|.)", re.DOTALL)
_LINE = re.compile(r"\s*(\S+)(?:\s(.*))?", re.DOTALL)


class SavFormatError(ValueError):
    """A ``.sav`` text that cannot be trusted; ``str()`` names the file and line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


@dataclass(frozen=True)
class SavEntry:
    """One ``NAME VALUE`` line: ``value`` is the unescaped text, or a tuple of element
    texts for an ``@array@``. ``saved`` is False for a ``#NAME value`` line."""

    name: str
    value: str | tuple[str, ...]
    line: int = 0
    saved: bool = True

    @property
    def is_array(self) -> bool:
        return isinstance(self.value, tuple)


@dataclass
class SavFile:
    """A parsed ``.sav`` text."""

    entries: list[SavEntry] = field(default_factory=list)
    header: str = ""
    #: the counts of the ``! N ...`` lines (values the writer could not save)
    not_saved: list[int] = field(default_factory=list)
    #: ``<END>`` was found where the header's version promises it
    complete: bool = False
    #: lines skipped as dbrestore skips them ("file:line: why"), the rest still restores
    skipped: list[str] = field(default_factory=list)

    def values(self) -> dict[str, SavEntry]:
        """The saved entries by name (a later duplicate wins, as a later restore would)."""
        return {entry.name: entry for entry in self.entries if entry.saved}


# -- escapes ------------------------------------------------------------------------------------
def escape_text(text: str) -> str:
    """C-escape ``text`` as EPICS' ``epicsStrPrintEscaped`` does (one line, printable)."""
    out: list[str] = []
    for char in text:
        simple = _SIMPLE_ESCAPES.get(char)
        if simple is not None:
            out.append("\\" + simple)
        elif 0x20 <= ord(char) < 0x7F:
            out.append(char)
        else:   # the file stays ASCII; beyond latin-1, the character's UTF-8 bytes
            out.extend(f"\\x{byte:02x}" for byte in char.encode(
                "latin-1" if ord(char) <= 0xFF else "utf-8"))
    return "".join(out)


def unescape_text(text: str) -> str:
    """Undo C escapes (``epicsStrnRawFromEscaped``): simple, ``\\xHH`` and ``\\ooo``; an
    unknown escape keeps the character after the backslash."""
    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        if body[0] == "x" and len(body) > 1:
            return chr(int(body[1:], 16))
        if body[0] in "01234567":
            return chr(int(body, 8) & 0xFF)
        return _UNESCAPES.get(body, body)
    return _ESCAPE.sub(replace, text)


def _escape_element(text: str) -> str:
    # dbrestore reads an element in two stages: '\"' and '\\' lose their backslash, then
    # epicsStrnRawFromEscaped runs on the result. So C-escape first, then escape the
    # delimiters and backslashes of that: every text survives both stages. (save_restore.c
    # itself escapes only once, so a C IOC mangles backslashes in string arrays.)
    return escape_text(text).replace("\\", "\\\\").replace('"', '\\"')


def format_double(value: float) -> str:
    """A double as save_restore writes it (``%.14g``)."""
    return f"{value:.14g}"


def format_float(value: float) -> str:
    """A float as save_restore writes it (``%.7g``)."""
    return f"{value:.7g}"


# -- writing ------------------------------------------------------------------------------------
def format_sav(entries: Iterable[tuple[str, str | Sequence[str]]], *, when: datetime,
               not_saved: int = 0, writer: str = f"iochost-autosave {WRITER_VERSION}") -> str:
    """The text of a ``.sav`` file: header, a ``!`` line if ``not_saved``, one line per
    ``(name, value)`` (a ``str`` is a scalar, any other sequence an array), ``<END>``."""
    header = (f"# {writer}\tAutomatically generated - DO NOT MODIFY - "
              f"{when.strftime(DATE_FORMAT)}")
    lines = [header]
    if not_saved:
        lines.append(f"! {not_saved} channel(s) not connected - or not all gets were successful")
    for name, value in entries:
        if not name or any(char.isspace() for char in name) or len(name) > MAX_NAME_LENGTH:
            raise ValueError(f"{name!r} cannot be written as a .sav name")
        if isinstance(value, str):
            text = escape_text(value)
            if text.startswith(ARRAY_MARKER):   # a text, not an array: the reader must see so
                text = "\\x40" + text[1:]
            lines.append(f"{name} {text}")
        else:
            elements = " ".join(f'"{_escape_element(str(item))}"' for item in value)
            lines.append(f"{name} {ARRAY_MARKER} {{ {elements} }}" if elements
                         else f"{name} {ARRAY_MARKER} {{ }}")
    lines.append(END_MARKER)
    return "\n".join(lines) + "\n"


# -- reading ------------------------------------------------------------------------------------
def _promises_end(first_line: str) -> bool:
    """checkFile(): the version is the number after the first 'R' of the first line (or,
    without an 'R', the first 'V'); 1.8 or later promises the end marker. No 'R' or 'V':
    the file is trusted as it is; a letter without a number is version 0."""
    at = first_line.find("R")
    if at < 0:
        at = first_line.find("V")
    if at < 0:
        return False
    number = re.match(r"\d+(?:\.\d*)?", first_line[at + 1:])
    return number is not None and float(number.group()) >= 1.8


class _ArrayReader:
    """Reads the elements of one ``@array@ { ... }`` value, across lines if need be."""

    def __init__(self, file: str, lines: list[str], index: int, start: str) -> None:
        self.file, self.lines, self.index, self.text, self.pos = file, lines, index, start, 0

    def _char(self) -> str | None:
        while self.pos >= len(self.text):
            self.index += 1
            if self.index >= len(self.lines):
                return None
            self.text, self.pos = self.lines[self.index] + "\n", 0
        return self.text[self.pos]

    def read(self) -> tuple[tuple[str, ...], int]:
        """(elements, index of the line where the array ended)."""
        elements: list[str] = []
        first_line = self.index + 1
        brace = self.text.find("{")
        if brace < 0:
            raise SavFormatError(self.file, first_line, "@array@ without '{'")
        self.pos = brace + 1
        while True:
            char = self._char()
            if char is None:
                raise SavFormatError(self.file, first_line, "array not closed with '}'")
            self.pos += 1
            if char == "}":
                return tuple(elements), self.index
            if char != '"':
                continue
            raw: list[str] = []
            while True:
                char = self._char()
                if char is None:
                    raise SavFormatError(self.file, first_line, "array element not closed")
                self.pos += 1
                if char == '"':
                    break
                if char == "\\":          # stage 1: an escaped delimiter or backslash
                    following = self._char()
                    if following is None:
                        raise SavFormatError(self.file, first_line, "array element not closed")
                    if following in '"\\':
                        self.pos += 1
                        char = following
                if char.isprintable():        # dbrestore drops line breaks inside elements
                    raw.append(char)
            elements.append(unescape_text("".join(raw)))   # stage 2


def parse_sav(text: str, file: str = "<sav>") -> SavFile:
    """Parse ``.sav`` text. Raises :class:`SavFormatError` (with file:line) for text that
    cannot be trusted: an empty file, no end marker where the header promises one, an
    array that does not close. A line whose name is not a PV name is skipped (reported in
    ``skipped``), as dbrestore skips it; ``!`` lines are reported in ``not_saved``."""
    # lines end at a newline only, as fgets reads them (\x85 or \f is text, not a break)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
    if not text.strip():   # checkFile: a file without even a header line is not a save
        raise SavFormatError(file, 1, "the file is empty")
    result = SavFile()
    if lines and lines[0].startswith("#"):
        result.header = lines[0]
    # checkFile: the file ends with the marker and one or two more characters
    if lines and _promises_end(lines[0]) and END_MARKER not in (text[-6:-1], text[-7:-2]):
        raise SavFormatError(file, max(len(lines), 1), f"no {END_MARKER} marker at the end "
                             f"(the file was not completely written)")
    index = 1 if result.header else 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        index += 1
        if not line.strip():
            continue
        if line.startswith(END_MARKER):
            result.complete = True
            break
        if line.startswith("!"):
            count = re.match(r"!\s*(\d+)", line)
            result.not_saved.append(int(count.group(1)) if count else 0)
            continue
        name, value = _split_line(line)
        saved = not name.startswith("#")
        name = name.lstrip("#")
        if not name:
            continue
        if not saved and not value.startswith(ARRAY_MARKER):
            result.entries.append(SavEntry(name, unescape_text(value), number, saved=False))
            continue
        read: str | tuple[str, ...]
        if value.startswith(ARRAY_MARKER):   # read whole, kept or not: it may span lines
            read, last = _ArrayReader(file, lines, number - 1, value).read()
            index = last + 1
        else:
            read = unescape_text(value)
        if len(name) > MAX_NAME_LENGTH or not (name[0].isalnum() or name[0] in "_$"):
            result.skipped.append(f"{file}:{number}: {name[:40]!r} is not a PV name; "
                                  f"line skipped")
            continue
        result.entries.append(SavEntry(name, read, number, saved))
    if not (lines and _promises_end(lines[0])):
        result.complete = True
    return result


def _split_line(line: str) -> tuple[str, str]:
    """dbrestore's "%80s%c%[^\\n\\r]": the name ends at white space, the one separator
    character after it is dropped, the rest of the line is the value."""
    match = _LINE.match(line)
    if match is None:
        return line.strip(), ""
    return match.group(1), match.group(2) or ""

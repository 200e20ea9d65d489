"""synApps autosave request files (``.req``): which PV names a save set holds.

::

    # positions of the first motor
    $(P)m1.VAL
    $(P)m1.DIR
    file "motor_settings.req", P=$(P), M=m2     # include another file with macros

A line is a comment (``#`` to the end of the line is dropped), blank, an include
(``file NAME [MACROS]``, the name quoted or not, macros ``A=x,B=y`` or ``A=x B=y``, quoted
or not), or a PV name. Macros follow EPICS' macLib (:mod:`iochost.host.macros`):
``$(NAME)``, ``${NAME}``, ``$(NAME=default)``, references nest; they expand from the
includer's macros plus the include's own. A file is looked up as given, next to the file
including it, then in each directory of the search path.

A top file that cannot be read is a :class:`RequestFileError`. Inside it, as synApps'
``readReqFile`` goes on past them, a missing or looping include and a line with an
undefined macro are left out, each reported (file and line) in ``problems`` when the
caller passes a list, else raised.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from iochost.host.macros import MacroError, MacroScope

__all__ = ["RequestFileError", "expand", "read_request_file"]

_INCLUDE = re.compile(r"file\s+(?:\"([^\"]+)\"|([^\s,\"]+))(?:\s*,?\s*(.*))?$", re.ASCII)


#: C's isspace: a name ends at ASCII white space only (Latin-1 \x85 and \xa0 are letters)
_SPACE = " \t\r\f\v"
_WORD = re.compile(r"[^ \t\r\f\v]*")


class RequestFileError(ValueError):
    """A request file that cannot be read; ``str()`` names the file and line."""


def expand(text: str, macros: Mapping[str, str], where: str) -> str:
    """Expand the macro references of ``text``; an undefined one raises."""
    try:
        return MacroScope(macros).expand(text)
    except MacroError as error:
        raise RequestFileError(f"{where}: {error}") from None


def _parse_macros(text: str, macros: Mapping[str, str], where: str) -> dict[str, str]:
    """``A=x,B=y`` or ``A=x B=y`` (quotes dropped, as readReqFile drops them)."""
    result: dict[str, str] = {}
    for item in re.split(r"[ \t\r\f\v,]+", text.replace('"', "")):
        if not item:
            continue
        name, equals, value = item.partition("=")
        if not equals:
            raise RequestFileError(f"{where}: macro definition {item!r} has no '='")
        result[name] = expand(value, macros, where)
    return result


def _find(name: str, search_path: Sequence[Path], including: Path | None) -> Path | None:
    candidates = [Path(name)]
    if including is not None:
        candidates.append(including.parent / name)
    candidates.extend(directory / name for directory in search_path)
    return next((path for path in candidates if path.is_file()), None)


def read_request_file(name: str | Path, macros: Mapping[str, str] | None = None,
                      search_path: Sequence[str | Path] = (),
                      problems: list[str] | None = None) -> list[str]:
    """The PV names of request file ``name`` and its includes, in order, expanded."""
    path_list = [Path(directory) for directory in search_path]
    names: list[str] = []
    _read(str(name), dict(macros or {}), path_list, None, [], names, problems)
    return names


def _read(name: str, macros: dict[str, str], search_path: list[Path], including: Path | None,
          stack: list[Path], names: list[str], problems: list[str] | None,
          where: str = "") -> None:
    path = _find(name, search_path, including)
    if path is None:
        looked = ", ".join(str(directory) for directory in search_path) or "no search path"
        raise RequestFileError(f"{where or name}: request file {name!r} not found "
                               f"(looked in the current directory, {looked})")
    resolved = path.resolve()
    if resolved in stack:
        raise RequestFileError(f"{where or path}: request file {name!r} includes itself")
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as error:
        raise RequestFileError(f"{path}: {error.strerror}") from None
    # lines end at a newline only (as fgets reads them), not at every character Python's
    # splitlines() takes for one
    for number, line in enumerate(text.split("\n"), 1):
        here = f"{path}:{number}"
        line = line.split("#", 1)[0].strip(_SPACE)
        if not line:
            continue
        try:
            include = _INCLUDE.match(line)
            if include is not None:
                child = include.group(1) or include.group(2)
                child_macros = {**macros, **_parse_macros(include.group(3) or "", macros, here)}
                _read(expand(child, macros, here), child_macros, search_path, path,
                      [*stack, resolved], names, problems, here)
            else:
                names.append(expand(_WORD.match(line).group(), macros, here))  # type: ignore[union-attr]
        except RequestFileError as error:
            if problems is None:
                raise
            problems.append(str(error))

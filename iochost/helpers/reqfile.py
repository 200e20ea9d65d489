"""synApps autosave request files (``.req``): which PV names a save set holds.

::

    # positions of the first motor
    $(P)m1.VAL
    $(P)m1.DIR
    file "motor_settings.req", P=$(P), M=m2     # include another file with macros

A line is a comment (``#`` to the end of the line is dropped), blank, an include
(``file NAME [MACROS]``, the name quoted or not, macros ``A=x,B=y`` quoted or not), or a PV
name. ``$(NAME)`` and ``${NAME}`` expand from the includer's macros plus the include's own;
``$(NAME=default)`` has a default. A file is looked up as given, then in each directory
of the search path. An include loop, a missing file or an undefined macro is a
:class:`RequestFileError` naming the file and line.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["RequestFileError", "expand", "read_request_file"]

_MACRO = re.compile(r"\$(?:\(([^)=]+)(?:=([^)]*))?\)|\{([^}=]+)(?:=([^}]*))?\})")
_INCLUDE = re.compile(r"file\s+(?:\"([^\"]+)\"|([^\s,\"]+))(?:\s*,?\s*(.*))?$")


class RequestFileError(ValueError):
    """A request file that cannot be read; ``str()`` names the file and line."""


def expand(text: str, macros: Mapping[str, str], where: str) -> str:
    """Expand ``$(A)``/``${A}`` (with ``=default``); an undefined macro raises."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2) if match.group(1) else match.group(4)
        if name in macros:
            return macros[name]
        if default is not None:
            return default
        raise RequestFileError(f"{where}: macro $({name}) is not defined")
    for _ in range(10):             # macros may expand to macros
        expanded = _MACRO.sub(replace, text)
        if expanded == text:
            return expanded
        text = expanded
    return text


def _parse_macros(text: str, macros: Mapping[str, str], where: str) -> dict[str, str]:
    text = text.strip().strip('"')
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, value = item.partition("=")
        if not equals:
            raise RequestFileError(f"{where}: macro definition {item!r} has no '='")
        result[name.strip()] = expand(value.strip().strip('"'), macros, where)
    return result


def _find(name: str, search_path: Sequence[Path], including: Path | None) -> Path | None:
    candidates = [Path(name)]
    if including is not None:
        candidates.append(including.parent / name)
    candidates.extend(directory / name for directory in search_path)
    return next((path for path in candidates if path.is_file()), None)


def read_request_file(name: str | Path, macros: Mapping[str, str] | None = None,
                      search_path: Sequence[str | Path] = ()) -> list[str]:
    """The PV names of request file ``name`` and its includes, in order, expanded."""
    path_list = [Path(directory) for directory in search_path]
    names: list[str] = []
    _read(str(name), dict(macros or {}), path_list, None, [], names)
    return names


def _read(name: str, macros: dict[str, str], search_path: list[Path], including: Path | None,
          stack: list[Path], names: list[str], where: str = "") -> None:
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
    for number, line in enumerate(text.splitlines(), 1):
        here = f"{path}:{number}"
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        include = _INCLUDE.match(line)
        if include is not None:
            child = include.group(1) or include.group(2)
            child_macros = {**macros, **_parse_macros(include.group(3) or "", macros, here)}
            _read(expand(child, macros, here), child_macros, search_path, path,
                  [*stack, resolved], names, here)
            continue
        pvname = expand(line.split()[0], macros, here)
        names.append(pvname)

"""EPICS macro substitution: ``$(NAME)``, ``${NAME}``, ``$(NAME=default)``.

As in EPICS' macLib: references nest (``$(P$(N))``), a default may itself hold references,
and a macro's value is expanded when it is used. A ``MacroScope`` is a stack of layers
searched in order -- for a mount: its own macros, then the host's, then the process
environment (EPICS' iocsh also expands environment variables with this syntax).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_OPEN = {"(": ")", "{": "}"}


class MacroError(Exception):
    """A reference cannot be expanded (undefined, circular or unterminated)."""


class UndefinedMacro(MacroError):
    """A reference to a macro no layer defines (and without a default)."""


class MacroScope:
    """Layers of macro definitions, searched first to last."""

    def __init__(self, *layers: Mapping[str, str],
                 environ: Mapping[str, str] | None = None) -> None:
        self.layers = layers
        self.environ: Mapping[str, str] = environ if environ is not None else {}

    def child(self, layer: Mapping[str, str]) -> MacroScope:
        """A scope whose ``layer`` overrides this one's definitions."""
        return MacroScope(layer, *self.layers, environ=self.environ)

    def raw(self, name: str) -> str | None:
        for layer in (*self.layers, self.environ):
            if name in layer:
                return layer[name]
        return None

    def value(self, name: str, _active: tuple[str, ...] = ()) -> str | None:
        """The expanded value of ``name``, None when undefined."""
        raw = self.raw(name)
        if raw is None:
            return None
        if name in _active:
            chain = " -> ".join((*_active, name))
            raise MacroError(f"circular macro definition: {chain}")
        return _expand(raw, self, (*_active, name))

    def expand(self, text: str) -> str:
        """``text`` with every macro reference replaced. Raises MacroError."""
        return _expand(text, self, ())

    def expand_tree(self, value: Any) -> Any:
        """Expand every string inside nested dicts and lists; other values stay as they are."""
        if isinstance(value, str):
            return self.expand(value)
        if isinstance(value, dict):
            return {key: self.expand_tree(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.expand_tree(item) for item in value]
        return value

    def flattened(self, *, lenient: bool = False) -> dict[str, str]:
        """Every macro defined in the layers (not the environment), expanded: what an IOC
        receives as ``macros``. Raises MacroError, unless ``lenient``: then a macro that
        cannot be expanded here keeps its text (a host macro that refers to a macro only
        some mounts define, in a mount that does not use it)."""
        names: dict[str, None] = {}
        for layer in reversed(self.layers):
            names.update(dict.fromkeys(layer))
        flat: dict[str, str] = {}
        for name in names:
            try:
                flat[name] = self.value(name) or ""
            except MacroError:
                if not lenient:
                    raise
                flat[name] = self.raw(name) or ""
        return flat


def _expand(text: str, scope: MacroScope, active: tuple[str, ...]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("$", i)
        if start < 0 or start + 1 >= len(text) or text[start + 1] not in _OPEN:
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start + 1])
            i = start + 1
            continue
        out.append(text[i:start])
        end = _matching_close(text, start + 1)
        out.append(_substitute(text[start + 2:end], scope, active))
        i = end + 1
    return "".join(out)


def _matching_close(text: str, open_index: int) -> int:
    """Index of the bracket closing the one at ``open_index`` (nesting allowed)."""
    stack = [_OPEN[text[open_index]]]
    for i in range(open_index + 1, len(text)):
        char = text[i]
        if char in _OPEN and text[i - 1] == "$":
            stack.append(_OPEN[char])
        elif char == stack[-1]:
            stack.pop()
            if not stack:
                return i
    raise MacroError(f"unterminated macro reference in {text!r}")


def _substitute(inner: str, scope: MacroScope, active: tuple[str, ...]) -> str:
    name_part, has_default, default = _split_default(inner)
    name = _expand(name_part, scope, active).strip()
    if not name:
        raise MacroError("empty macro name in $()")
    value = scope.value(name, active)
    if value is not None:
        return value
    if has_default:
        return _expand(default, scope, active)
    raise UndefinedMacro(f"undefined macro $({name})")


def _split_default(inner: str) -> tuple[str, bool, str]:
    """Split ``NAME=default`` at the first ``=`` outside nested references."""
    depth = 0
    for i, char in enumerate(inner):
        if char in _OPEN and i > 0 and inner[i - 1] == "$":
            depth += 1
        elif char in ")}" and depth:
            depth -= 1
        elif char == "=" and depth == 0:
            return inner[:i], True, inner[i + 1:]
    return inner, False, ""

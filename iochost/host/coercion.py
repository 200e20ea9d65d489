"""Option values -> the types an IOC's constructor annotates, with messages that say why not.

Macros expand to text, so ``max_temp: "$(MAXT)"`` reaches the IOC as the string ``'80'``;
YAML 1.1 (PyYAML) reads ``1e2`` as a string and ``yes``/``no``/``on``/``off`` as booleans.
``coerce_option`` turns a value into the option's annotated JSON type where the spelling is
unambiguous (an integer, a number, a boolean in the EPICS or YAML spellings; an integer for
a ``float`` option) and otherwise raises ``OptionTypeError`` naming the macro the text came
from and the YAML pitfall that applies.
"""
from __future__ import annotations

import math
import re
from typing import Any

#: boolean spellings accepted from text: YAML 1.1's and EPICS' (``YES``/``NO``), any case
TRUE_WORDS = frozenset({"true", "yes", "on", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "off", "n", "0"})

_MACRO_REFERENCE = re.compile(r"\$[({]([^)}=$]+)")
#: the text patterns (ECMA-262, for JSON Schema) a config may give for an option of a JSON
#: type, besides a value of that type: text ``coerce_option`` reads as the type, or a macro
#: reference, whose text is known only once expanded
MACRO_TEXT = r"\$[({]"
_BOOLEAN_WORDS = "|".join("".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)
                          for word in sorted(TRUE_WORDS | FALSE_WORDS))    # any case
_TEXT_PATTERNS = {
    "integer": r"^\s*[-+]?[0-9]+\s*$",
    "number": r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$",
    "boolean": r"^\s*(" + _BOOLEAN_WORDS + r")\s*$",
}
_YAML_EXPONENT = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")

NOUNS = {"integer": "an integer", "number": "a number", "boolean": "true or false",
         "string": "a string", "array": "a list", "object": "a mapping", "null": "null"}


class OptionTypeError(ValueError):
    """A value that is not (and cannot be read as) any of an option's types."""


def macro_names(raw: str) -> list[str]:
    """The macros ``raw`` refers to, in order: ``'$(A):$(B=1)'`` -> ``['A', 'B']``."""
    return list(dict.fromkeys(name.strip() for name in _MACRO_REFERENCE.findall(raw)))


def text_pattern(kinds: tuple[str, ...]) -> str | None:
    """The pattern of the text ``coerce_option`` reads as an option of ``kinds``: a macro
    reference, or the spelling of one of the kinds; None when it takes any text ("string")
    or none."""
    if "string" in kinds:
        return None
    spelled = [_TEXT_PATTERNS[kind] for kind in kinds if kind in _TEXT_PATTERNS]
    return "|".join([MACRO_TEXT, *spelled]) if spelled else None


def _origin(raw: str | None) -> str:
    names = macro_names(raw) if raw else []
    if not names:
        return ""
    return f" from macro {names[0]}" if len(names) == 1 else \
        f" from macros {', '.join(names)} ({raw!r})"


def _from_text(text: str, kind: str) -> Any:
    """``text`` read as a JSON ``kind``; raises ValueError when it is not spelled as one."""
    word = text.strip()
    if kind == "integer":
        return int(word, 10)
    if kind == "number":
        number = float(word)
        if not math.isfinite(number):
            raise ValueError(word)       # nan/inf: not what a config means by a number
        return number
    if kind == "boolean":
        if word.lower() in TRUE_WORDS:
            return True
        if word.lower() in FALSE_WORDS:
            return False
    raise ValueError(word)


def _is(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return False
        return isinstance(value, int) if kind == "integer" else isinstance(value, (int, float))
    python: dict[str, type | tuple[type, ...]] = {
        "boolean": bool, "string": str, "array": (list, tuple), "object": dict}
    return isinstance(value, python[kind])


def coerce_option(value: Any, kinds: tuple[str, ...], raw: str | None = None) -> Any:
    """``value`` as one of the JSON ``kinds`` (empty: anything goes, unchanged).

    ``raw`` is the text written in the config before macro expansion (None if the value had
    no macros). Raises OptionTypeError with the whole explanation.
    """
    if not kinds:
        return value
    for kind in kinds:
        if _is(value, kind):
            if kind == "number" and isinstance(value, int) and "integer" not in kinds:
                return float(value)      # an int written for a float option
            return value
    if isinstance(value, str) and "string" not in kinds:
        for kind in kinds:
            try:
                return _from_text(value, kind)
            except ValueError:
                continue
    if isinstance(value, int) and not isinstance(value, bool) and "string" in kinds:
        return str(value)                # `port: 0` for a text option: unambiguous
    if value in (0, 1) and type(value) is int and "boolean" in kinds and not \
            {"integer", "number"} & set(kinds):
        return bool(value)               # `simulate: 1`, as the text "1" reads
    raise OptionTypeError(_explain(value, kinds, raw))


def _explain(value: Any, kinds: tuple[str, ...], raw: str | None) -> str:
    wanted = " or ".join(NOUNS.get(kind, kind) for kind in kinds)
    if isinstance(value, str):
        message = f"the string {value!r}{_origin(raw)} is not {wanted}"
        if "integer" in kinds and _YAML_EXPONENT.fullmatch(value.strip()):
            message += (" (an exponent makes it a float; YAML 1.1 also reads "
                        f"{value.strip()} as a string: write the digits out)")
        elif _YAML_EXPONENT.fullmatch(value.strip()):
            message += f" (YAML 1.1 reads {value.strip()} as a string)"
        return message
    if isinstance(value, bool) and "string" in kinds:
        return (f"expected {wanted}, got the boolean {str(value).lower()} (YAML 1.1 reads "
                "yes/no/on/off/y/n as booleans: quote the word)")
    if isinstance(value, float) and "string" in kinds:
        return f"expected {wanted}, got the number {value!r} (quote it to keep its spelling)"
    kind_of = type(value).__name__
    return f"expected {wanted}, got {kind_of} {value!r}"

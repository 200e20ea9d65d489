"""What an IOC class accepts as ``options``: read from its constructor's signature.

An IOC class is built as ``cls(prefix=..., macros={...}, **options)``; its other keyword
parameters are the options a mount may set. Simple annotations (str, int, float, bool,
list, dict and their Optional forms) are checked and appear in ``iochost schema``.
"""
from __future__ import annotations

import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any

#: parameters the host supplies itself (or PVGroup uses internally)
RESERVED = frozenset({"self", "prefix", "macros", "parent", "name"})

_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number",
                                str: "string", list: "array", tuple: "array", dict: "object"}

_MISSING = inspect.Parameter.empty


@dataclass(frozen=True)
class IocOption:
    """One keyword option of an IOC class."""

    name: str
    json_types: tuple[str, ...]      # empty: any value
    required: bool
    default: Any = None

    def accepts(self, value: Any) -> bool:
        if not self.json_types:
            return True
        return any(_is_json_type(value, kind) for kind in self.json_types)


@dataclass(frozen=True)
class IocSignature:
    options: dict[str, IocOption]
    open_ended: bool                 # takes **kwargs: any option name is accepted
    description: str


def _is_json_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    python = {"boolean": bool, "string": str, "array": (list, tuple), "object": dict}[kind]
    return isinstance(value, python)


def _json_types(annotation: Any) -> tuple[str, ...]:
    if annotation is _MISSING or annotation is Any:
        return ()
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts: list[str] = []
        for arg in typing.get_args(annotation):
            kinds = ("null",) if arg is type(None) else _json_types(arg)
            if not kinds:
                return ()
            parts.extend(kinds)
        return tuple(dict.fromkeys(parts))
    base = origin or annotation
    kind = _JSON_TYPES.get(base) if isinstance(base, type) else None
    return (kind,) if kind else ()


def ioc_signature(cls: type) -> IocSignature:
    """The options ``cls`` accepts. An ``__init__`` that takes ``**kwargs`` is assumed to
    pass them on to its base class (the PVGroup convention), so the walk continues up the
    MRO until an ``__init__`` without ``**kwargs``; only if none is found are arbitrary
    option names accepted."""
    options: dict[str, IocOption] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if klass is object:
            break
        try:
            signature = inspect.signature(init)
        except (TypeError, ValueError):
            return IocSignature(options, True, _first_line(cls))
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # noqa: BLE001 - unresolvable string annotations: check names only
            hints = {}
        open_ended = False
        for param in list(signature.parameters.values())[1:]:  # skip self
            if param.kind is param.VAR_KEYWORD:
                open_ended = True
            elif param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD) and \
                    param.name not in RESERVED and param.name not in options:
                options[param.name] = IocOption(
                    name=param.name,
                    json_types=_json_types(hints.get(param.name, param.annotation)),
                    required=param.default is _MISSING,
                    default=None if param.default is _MISSING else param.default)
        if not open_ended:
            return IocSignature(options, False, _first_line(cls))
    return IocSignature(options, True, _first_line(cls))


def options_schema(cls: type) -> dict[str, Any]:
    """JSON Schema of a mount's ``options`` for IOC class ``cls``."""
    sig = ioc_signature(cls)
    properties: dict[str, Any] = {}
    for option in sig.options.values():
        prop: dict[str, Any] = {}
        if option.json_types:
            prop["type"] = list(option.json_types) if len(option.json_types) > 1 \
                else option.json_types[0]
        if not option.required and _jsonable(option.default):
            prop["default"] = option.default
        properties[option.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "additionalProperties": sig.open_ended}
    required = [o.name for o in sig.options.values() if o.required]
    if required:
        schema["required"] = required
    if sig.description:
        schema["description"] = sig.description
    return schema


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _first_line(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""

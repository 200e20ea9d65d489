"""What an IOC class accepts as ``options``: read from its constructor's signature.

An IOC class is built as ``cls(prefix=..., macros={...}, **options)``; its other keyword
parameters are the options a mount may set. Simple annotations (str, int, float, bool,
list, dict and their Optional forms) are checked (values are coerced to them, see
``iochost.host.coercion``) and appear in ``iochost schema``; so are the choices of a
``Literal[...]`` or an ``enum.Enum`` (a value or, for an Enum, a member's name: the IOC gets
the member) and the element type of ``list[int]``, ``list[str]``...

An option's description and units, shown by ``iochost schema`` (and so by an editor), come
from ``Annotated`` metadata -- a plain string is the description, an :class:`OptionInfo`
gives both -- or else from the class docstring's parameter list, one line per option in
the Google (``max_temp (float): Highest temperature [degC]``) or numpy style
(``max_temp : float`` then an indented description); ``[units]`` at the end of a
description gives the units.
"""
from __future__ import annotations

import collections.abc
import enum
import inspect
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from .coercion import OptionTypeError, coerce_option, text_pattern
from .problems import did_you_mean

#: parameters the host supplies itself (or PVGroup uses internally)
RESERVED = frozenset({"self", "prefix", "macros", "parent", "name"})

_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number",
                                str: "string", list: "array", tuple: "array", dict: "object",
                                # Sequence[str] (a str is one too, but a config means a list)
                                collections.abc.Sequence: "array",
                                collections.abc.Mapping: "object"}

_MISSING = inspect.Parameter.empty


@dataclass(frozen=True)
class IocOption:
    """One keyword option of an IOC class."""

    name: str
    json_types: tuple[str, ...]      # empty: any value
    required: bool
    default: Any = None
    description: str = ""
    units: str = ""
    #: the values a Literal or an Enum allows (None: any of the types)
    choices: tuple[Any, ...] | None = None
    #: the Enum whose member the IOC gets for a value or a member's name
    enum_type: type[enum.Enum] | None = None
    #: a list's element types (empty: any element)
    item_types: tuple[str, ...] = ()

    def coerce(self, value: Any, raw: str | None = None) -> Any:
        """``value`` as this option's type; raises ``OptionTypeError`` saying why not
        (``raw``: the config's text before macro expansion, to name the macros)."""
        value = coerce_option(value, self.json_types, raw)
        if self.item_types and isinstance(value, (list, tuple)):
            value = self._items(value)
        if self.choices is None or value is None:
            return value
        if self.enum_type is not None and isinstance(value, str) and \
                value in self.enum_type.__members__:
            return self.enum_type[value]
        if value not in self.choices:
            shown = ", ".join(map(repr, self.choices))
            hint = did_you_mean(value, [str(choice) for choice in self.choices]) \
                if isinstance(value, str) else ""
            raise OptionTypeError(f"{value!r} is not one of {shown}{hint}")
        return self.enum_type(value) if self.enum_type is not None else value

    def _items(self, values: list[Any] | tuple[Any, ...]) -> Any:
        try:
            items = [coerce_option(item, self.item_types) for item in values]
        except OptionTypeError as exc:
            raise OptionTypeError(f"an element: {exc}") from None
        return tuple(items) if isinstance(values, tuple) else items


@dataclass(frozen=True)
class OptionInfo:
    """``Annotated`` metadata of an IOC option: ``Annotated[float, OptionInfo("Highest
    temperature", units="degC")]``."""

    description: str = ""
    units: str = ""


@dataclass(frozen=True)
class IocSignature:
    options: dict[str, IocOption]
    open_ended: bool                 # takes **kwargs: any option name is accepted
    description: str


def _kind_of(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), "string")


def _core(annotation: Any) -> Any:
    """The type an option's annotation names, without ``Annotated`` metadata and an
    ``Optional`` around it."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _core(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return _core(members[0])
    return annotation


def _choices(annotation: Any) -> tuple[tuple[Any, ...] | None, type[enum.Enum] | None]:
    """(the values a Literal or an Enum allows, the Enum); (None, None) for other types
    (an Optional one allows None besides)."""
    core = _core(annotation)
    if typing.get_origin(core) is Literal:
        return typing.get_args(core), None
    if isinstance(core, type) and issubclass(core, enum.Enum):
        return tuple(member.value for member in core), core
    return None, None


def _item_types(annotation: Any) -> tuple[str, ...]:
    """The element types of ``list[int]``, ``Sequence[str]``... (empty: any)."""
    core = _core(annotation)
    args = typing.get_args(core)
    if typing.get_origin(core) in (list, collections.abc.Sequence) and len(args) == 1:
        return _json_types(args[0])
    return ()


def _json_types(annotation: Any) -> tuple[str, ...]:
    if annotation is _MISSING or annotation is Any:
        return ()
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _json_types(typing.get_args(annotation)[0])
    choices, _ = _choices(annotation)
    if choices is not None and origin not in (typing.Union, types.UnionType):
        return tuple(dict.fromkeys(_kind_of(choice) for choice in choices))
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


def ioc_signature(cls: type, *, leading: int = 1,
                  reserved: frozenset[str] = RESERVED) -> IocSignature:
    """The options ``cls`` accepts. An ``__init__`` that takes ``**kwargs`` is assumed to
    pass them on to its base class (the PVGroup convention), so the walk continues up the
    MRO until an ``__init__`` without ``**kwargs``; only if none is found are arbitrary
    option names accepted. ``leading`` parameters (``self``; a helper's ``self, mount``)
    and the ``reserved`` names the host passes itself are not options."""
    options: dict[str, IocOption] = {}
    if not isinstance(cls, type):   # a factory function: its options are not known
        return IocSignature(options, True, _first_line(cls))
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
        documented = _docstring_options(klass)
        try:
            hints = typing.get_type_hints(init, include_extras=True)
        except Exception:
            hints = {}
        open_ended = False
        for param in list(signature.parameters.values())[leading:]:
            if param.kind is param.VAR_KEYWORD:
                open_ended = True
            elif param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD) and \
                    param.name not in reserved and param.name not in options:
                annotation = hints.get(param.name, param.annotation)
                description, units = _annotated_info(annotation) or \
                    documented.get(param.name, ("", ""))
                choices, enum_type = _choices(annotation)
                default = None if param.default is _MISSING else param.default
                options[param.name] = IocOption(
                    name=param.name,
                    json_types=_json_types(annotation),
                    required=param.default is _MISSING,
                    default=default.value if isinstance(default, enum.Enum) else default,
                    description=description, units=units, choices=choices,
                    enum_type=enum_type, item_types=_item_types(annotation))
        if not open_ended:
            return IocSignature(options, False, _first_line(cls))
    return IocSignature(options, True, _first_line(cls))


def options_schema(cls: type) -> dict[str, Any]:
    """JSON Schema of a mount's ``options`` for IOC class ``cls``."""
    sig = ioc_signature(cls)
    properties: dict[str, Any] = {}
    for option in sig.options.values():
        prop: dict[str, Any] = {}
        kinds = list(option.json_types)
        # what the host accepts besides a value of the type (see coerce_option): text
        # spelled as the type or made by macros, and an integer for a text option
        pattern = text_pattern(option.json_types)
        numeric = "integer" in kinds or "number" in kinds
        if pattern is not None:
            kinds.append("string")
            prop["pattern"] = pattern
        elif "string" in kinds and not numeric:
            kinds.append("integer")
        if "boolean" in kinds and not numeric:   # an unquoted 1 or 0 reads as one too
            kinds.append("integer")
            prop.update(minimum=0, maximum=1)    # (numbers only: text keeps its pattern)
        if kinds:
            prop["type"] = kinds if len(kinds) > 1 else kinds[0]
        if option.choices is not None and all(map(_jsonable, option.choices)):
            prop["enum"] = list(option.choices) + (
                list(option.enum_type.__members__) if option.enum_type is not None else [])
        if option.item_types:
            items = list(option.item_types)
            prop["items"] = {"type": items if len(items) > 1 else items[0]}
        if option.description or option.units:
            units = f" [{option.units}]" if option.units else ""
            prop["description"] = f"{option.description}{units}".strip()
        if option.units:
            prop["x-units"] = option.units
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


def _annotated_info(annotation: Any) -> tuple[str, str] | None:
    """(description, units) from ``Annotated`` metadata, None when it carries none."""
    if typing.get_origin(annotation) is not Annotated:
        return None
    for item in annotation.__metadata__:
        if isinstance(item, OptionInfo):
            return item.description, item.units
        if isinstance(item, str):
            return _split_units(item)
        documentation = getattr(item, "documentation", None)   # PEP 727's Doc
        if isinstance(documentation, str):
            return _split_units(documentation)
    return None


_UNITS = re.compile(r"^(?P<text>.*?)\s*\[(?P<units>[^\[\]]+)\]\s*$", re.DOTALL)
#: ``name (type): text`` / ``name: text`` (Google) and ``name : type`` / ``name`` (numpy)
_GOOGLE_ITEM = re.compile(r"^(?P<name>\w+)\s*(\([^)]*\))?:\s+(?P<text>\S.*)$")
_NUMPY_ITEM = re.compile(r"^(?P<name>\w+)(\s+:\s+.*)?$")
_SECTIONS = frozenset({"args:", "arguments:", "options:", "parameters", "parameters:",
                       "options"})


def _split_units(text: str) -> tuple[str, str]:
    """``'Highest temperature [degC]'`` -> ``('Highest temperature', 'degC')``."""
    text = " ".join(text.split())
    match = _UNITS.match(text)
    return (match["text"], match["units"].strip()) if match else (text, "")


def _docstring_options(cls: type) -> dict[str, tuple[str, str]]:
    """Option name -> (description, units) from the parameter section of ``cls``'s own
    docstring (Google ``Args:``/``Options:`` or numpy ``Parameters``)."""
    found: dict[str, tuple[str, str]] = {}
    items: list[tuple[str, list[str]]] = []
    item_indent: int | None = None
    in_section = False
    for line in inspect.cleandoc(cls.__dict__.get("__doc__") or "").splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.lower() in _SECTIONS:
            in_section, item_indent = True, None
            continue
        if not in_section or not stripped or set(stripped) == {"-"}:
            continue
        if item_indent is None or indent <= item_indent:
            google, numpy = _GOOGLE_ITEM.match(stripped), _NUMPY_ITEM.match(stripped)
            if (item_indent is not None and indent < item_indent) or not (google or numpy):
                in_section = False            # the section ended
                continue
            item_indent = indent
            if numpy:
                items.append((numpy["name"], []))
            elif google:
                items.append((google["name"], [google["text"]]))
        elif items:
            items[-1][1].append(stripped)
    for name, parts in items:
        if parts:
            found[name] = _split_units(" ".join(parts))
    return found

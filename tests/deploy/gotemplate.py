"""The part of Helm's template language that ``deploy/helm`` uses, to render the chart
offline (Helm itself is not in any registry this project installs from).

Supported, with Go's semantics: ``{{- ... -}}`` whitespace trimming; ``range $v := X``,
``range $k, $v := X`` (a map's keys sorted, as Go does), ``if X`` (Go's truth: empty
values are false), ``end``; terms ``.Values.a.b``, ``$.Release.Name``, ``$v.a``, string
and number literals; pipelines with ``toYaml``, ``nindent N``, ``indent N``, ``quote``,
``printf FORMAT ARGS`` (``%v``, ``%s``, ``%d``). Anything else is a TemplateError: a
chart that grows beyond this subset fails its test instead of rendering wrongly.
"""
from __future__ import annotations

import re
import shlex
from typing import Any

import yaml

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)


class TemplateError(Exception):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    """("text", s) and ("action", s) in order, with Go's trim markers applied."""
    tokens: list[tuple[str, str]] = []
    position, trim_next = 0, False
    for match in ACTION.finditer(text):
        before = text[position:match.start()]
        if trim_next:
            before = before.lstrip()
        if match.group(1):
            before = before.rstrip()
        tokens.append(("text", before))
        tokens.append(("action", match.group(2)))
        trim_next = bool(match.group(3))
        position = match.end()
    rest = text[position:]
    tokens.append(("text", rest.lstrip() if trim_next else rest))
    return tokens


def _parse(tokens: list[tuple[str, str]], index: int = 0, closing: bool = False):
    """A tree of ("text", s) / ("expr", s) / ("range"|"if", head, body) nodes."""
    nodes: list[Any] = []
    while index < len(tokens):
        kind, value = tokens[index]
        index += 1
        if kind == "text":
            nodes.append(("text", value))
        elif value == "end":
            if not closing:
                raise TemplateError("{{ end }} without a block")
            return nodes, index
        elif value.split(" ", 1)[0] in ("range", "if"):
            word, head = value.split(" ", 1)
            body, index = _parse(tokens, index, closing=True)
            nodes.append((word, head, body))
        elif value.split(" ", 1)[0] in ("else", "with", "define", "template", "include",
                                        "block", "define"):
            raise TemplateError(f"unsupported action {{{{ {value} }}}}")
        else:
            nodes.append(("expr", value))
    if closing:
        raise TemplateError("a block without {{ end }}")
    return nodes, index


def _truth(value: Any) -> bool:
    return value not in (None, False, 0, "", [], {})


def _go_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<no value>"
    if isinstance(value, dict | list):
        raise TemplateError(f"printing a {type(value).__name__} needs toYaml: {value!r}")
    return str(value)


class Renderer:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def render(self, text: str) -> str:
        nodes, _ = _parse(_tokens(text))
        return self._nodes(nodes, {"$": self.root}, self.root)

    def _nodes(self, nodes, variables, dot) -> str:
        out = []
        for node in nodes:
            if node[0] == "text":
                out.append(node[1])
            elif node[0] == "expr":
                out.append(_go_text(self._pipeline(node[1], variables, dot)))
            elif node[0] == "if":
                if _truth(self._pipeline(node[1], variables, dot)):
                    out.append(self._nodes(node[2], variables, dot))
            else:
                out.append(self._range(node[1], node[2], variables, dot))
        return "".join(out)

    def _range(self, head: str, body, variables, dot) -> str:
        match = re.fullmatch(r"(\$\w+)(?:\s*,\s*(\$\w+))?\s*:=\s*(.+)", head)
        if not match:
            raise TemplateError(f"range needs '$v := X' or '$k, $v := X': {head!r}")
        first, second, source = match.groups()
        items = self._pipeline(source, variables, dot) or []
        pairs = sorted(items.items()) if isinstance(items, dict) else list(enumerate(items))
        out = []
        for key, value in pairs:
            scope = dict(variables)
            if second:
                scope[first], scope[second] = key, value
            else:
                scope[first] = value
            out.append(self._nodes(body, scope, value))
        return "".join(out)

    def _pipeline(self, text: str, variables, dot) -> Any:
        stages = [stage.strip() for stage in text.split("|")]
        value = self._command(stages[0], variables, dot, None)
        for stage in stages[1:]:
            value = self._command(stage, variables, dot, (value,))
        return value

    def _command(self, text: str, variables, dot, piped) -> Any:
        words = shlex.split(text, posix=False)
        head, args = words[0], [self._term(word, variables, dot) for word in words[1:]]
        if piped is not None:
            args = [*args, *piped]
        if head.startswith((".", "$", '"')) or head[0].isdigit():
            if args:
                raise TemplateError(f"not a function: {head!r}")
            return self._term(head, variables, dot)
        functions = {
            "toYaml": lambda v: yaml.safe_dump(v, default_flow_style=False).rstrip("\n"),
            "nindent": lambda n, v: "\n" + _indent(n, v),
            "indent": _indent,
            "quote": lambda v: '"' + _go_text(v).replace("\\", "\\\\").replace('"', '\\"')
                               + '"',
            "printf": _printf,
        }
        if head not in functions:
            raise TemplateError(f"unsupported function {head!r}")
        return functions[head](*args)

    def _term(self, word: str, variables, dot) -> Any:
        if word.startswith('"'):
            return word[1:-1]
        if word[0].isdigit():
            return int(word)
        if word.startswith("$"):
            name, _, path = word.partition(".")
            if name not in variables:
                raise TemplateError(f"undefined variable {name}")
            value = variables[name]
        else:
            value, path = dot, word[1:]
        for part in filter(None, path.split(".")):
            value = value.get(part) if isinstance(value, dict) else None
        return value


def _printf(fmt: str, *values: Any) -> str:
    remaining = iter(values)
    return re.sub(r"%[vsd]", lambda _match: _go_text(next(remaining)), fmt)


def _indent(n: int, text: Any) -> str:
    return "\n".join(" " * n + line for line in _go_text(text).split("\n"))

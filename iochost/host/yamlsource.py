"""Read a YAML document and remember the line each key and list item was written on.

The document is composed into nodes once; plain Python values are constructed from the
same nodes by PyYAML's safe constructor, and a walk over the nodes records, for every path
(``("mounts", 2, "prefix")``), the line of its key (mapping entries) or item (lists).
Duplicate keys, which PyYAML silently collapses, are reported as problems.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .problems import ConfigError, ConfigProblem, Location

PathKey = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Lines of a YAML document, by path from the root."""

    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def location(self, path: PathKey) -> Location:
        """Where ``path`` (or, if not written, its nearest written ancestor) is."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line:
                return Location(self.file, line)
        return Location(self.file)


def format_path(path: PathKey) -> str:
    """``("mounts", 2, "prefix")`` -> ``mounts[2].prefix``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def load_yaml_text(text: str, file: str) -> tuple[Any, SourceMap, list[ConfigProblem]]:
    """Parse one YAML document. Returns (data, source map, problems such as duplicate keys).

    Raises ConfigError for a syntax error (with its line).
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([syntax_problem(exc, file)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(Location(file), "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    source = SourceMap(file)
    problems: list[ConfigProblem] = []
    if node is not None:
        source.lines[()] = node.start_mark.line + 1
        _walk(node, (), source, problems)
    return data, source, problems


def _at(mark: yaml.Mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> ConfigProblem:
    """A YAML syntax error that names both of PyYAML's marks: where the construct opened
    (the context mark: an unclosed quote or bracket) and where the parser gave up (the
    problem mark, often at the end of the file)."""
    context, problem = exc.context_mark, exc.problem_mark
    opened = context or problem
    # The file:line is where to look: the opening of an unclosed quote or bracket, but the
    # offending line itself for an indentation slip (the "block" a line does not fit).
    shown = problem if problem is not None and "block" in (exc.context or "") else opened
    line = shown.line + 1 if shown is not None else 0
    if context is not None and problem is not None and \
            (context.line, context.column) != (problem.line, problem.column):
        reason = (f"{exc.context or 'in a construct'} started at {_at(context)}: "
                  f"{exc.problem} at {_at(problem)}")
    else:
        where = f" at {_at(opened)}" if opened is not None else ""
        reason = " ".join(part for part in (exc.context, exc.problem) if part) + where
    return ConfigProblem(Location(file, line), "", f"YAML syntax error: {reason}")


def load_yaml_file(path: str | Path) -> tuple[Any, SourceMap, list[ConfigProblem]]:
    """Like ``load_yaml_text`` for a file; a missing or unreadable file is a ConfigError."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problem = ConfigProblem(Location(file), "", f"cannot read the file: {reason}")
        raise ConfigError([problem]) from None
    return load_yaml_text(text, file)


def _walk(node: yaml.Node, path: PathKey, source: SourceMap, problems: list) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key == "<<":  # merge key: its entries keep their own lines
                continue
            if key in seen:
                problems.append(ConfigProblem(
                    Location(source.file, line), format_path(path + (key,)),
                    f"duplicate key (first written on line {seen[key]})"))
                continue
            seen[key] = line
            source.lines[path + (key,)] = line
            _walk(value_node, path + (key,), source, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            source.lines[path + (index,)] = item.start_mark.line + 1
            _walk(item, path + (index,), source, problems)

"""EPICS access-security configuration files (ACF): text -> :class:`AccessConfig`.

Contract: :func:`parse_acf` reads the language EPICS base 7.0's ``asLib`` accepts
(``asLib_lex.l`` / ``asLib.y``) and returns the rules as plain frozen data, or raises one
:class:`AcfError` carrying ``file:line:column`` and what was expected there.  It never
evaluates anything: CALC expressions are compiled by :mod:`.calc`.

The language, as base reads it::

    UAG(name) { user, user, ... }          # user access group (the body may be absent)
    HAG(name) { host, host, ... }          # host access group
    ASG(name) {                            # access security group
        INPA("pv name") ... INPU(...)      # inputs of CALC rules
        RULE(level, NONE|READ|WRITE[, TRAPWRITE|NOTRAPWRITE]) {
            UAG(name, ...)  HAG(name, ...)  CALC("expression")
        }
    }

* A token is a keyword (``UAG HAG ASG RULE CALC INPA``..``INPU``), a number (``-1``,
  ``+2``, ``.5``, ``1.5e3``: never a name), a bare name of ``[a-zA-Z0-9_-+:.[]<>;]``
  characters, a double-quoted string (its backslash escapes are kept as written, as base
  does), or one of ``( ) { } ,``.  The longest token wins, so ``UAGS``, ``12ab`` and
  ``1.2.3`` are names.  ``#`` starts a comment to the end of the line.
* Macros (``$(M)``, ``${M=default}``) are expanded line by line before reading (not in
  comments), as base's ``asInitFile`` does, by the ``expand`` callable the caller passes
  (the host's macro scope), so line numbers stay those of the file.
* As base: a group name may be defined once (``ASG(DEFAULT)`` replaces the empty default
  group); a rule may only name groups defined above it; a CALC expression must compile and
  must not store into an input.
* As base 7.0.10 reads what later releases write (secure PVAccess: the ``RPC`` access,
  ``METHOD``/``AUTHORITY``/``PROTOCOL`` conditions): a RULE with an access or a body item
  (``WORD(...) [{...}]``) it does not know is dropped, and a top-level block it does not
  know (``WORD(...) [{...}]``) skipped, each with a warning. Dropping a rule never grants
  more. Inside an ASG only INPx and RULE may stand, as in base.
* Where base 7.0.10 is clearly wrong this reads the file its own way (docs/access.md):
  a level beyond a C int is refused (base wraps it), and a RULE whose access is unknown
  drops only itself (base hands its TRAPWRITE and body to the rule before it).
"""
from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum

from ..calc import INPUT_NAMES, CalcError, CalcProgram, compile_calc

#: an ASG's inputs are INPA..INPU (base 7.0.10's asLib_lex.l and CALCPERFORM_NARGS)
ACCESS_INPUTS = len(INPUT_NAMES)
#: base stores a RULE's level in a C int
_LEVEL_MAX = 2**31 - 1

__all__ = [
    "DEFAULT_GROUP",
    "AccessConfig",
    "AccessGroup",
    "AcfError",
    "Level",
    "Rule",
    "parse_acf",
]

#: The group of every channel that names none (or names one the rules do not define).
DEFAULT_GROUP = "DEFAULT"

class Level(IntEnum):
    """A rule's access, ordered as base orders them (asNOACCESS < asREAD < asWRITE)."""

    NONE = 0
    READ = 1
    WRITE = 2


class AcfError(ValueError):
    """A rules file that cannot be used: where, and what was expected there."""

    def __init__(self, message: str, source: str, line: int, column: int):
        super().__init__(f"{source}:{line}:{column}: {message}")
        self.message = message
        self.source = source
        self.line = line
        self.column = column


@dataclass(frozen=True)
class Rule:
    """``RULE(level, access[, trap])`` and its conditions (empty tuples: any)."""

    level: int
    access: Level
    trapwrite: bool
    uags: tuple[str, ...] = ()
    hags: tuple[str, ...] = ()
    calc: CalcProgram | None = None
    line: int = 0


@dataclass(frozen=True)
class AccessGroup:
    """``ASG(name)``: its CALC inputs (index 0 is INPA -> PV name) and rules, in order."""

    name: str
    inputs: dict[int, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class AccessConfig:
    """A whole rules file. Users and hosts as written (hosts lower-cased, as base does)."""

    source: str
    uags: dict[str, tuple[str, ...]]
    hags: dict[str, tuple[str, ...]]
    groups: dict[str, AccessGroup]
    warnings: tuple[str, ...] = ()

    def group(self, name: str) -> AccessGroup:
        """The group ``name``, or DEFAULT when the rules do not define it (as base)."""
        return self.groups.get(name) or self.groups[DEFAULT_GROUP]


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Host names compare as base compares them: ASCII letters without case (C's
    ``tolower``), every other character as it is."""
    return text.translate(_ASCII_LOWER)


# -- lexer ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str   # 'keyword', 'inp', 'int', 'float', 'name', 'string', 'punct', 'end'
    text: str
    line: int
    column: int

    def describe(self) -> str:
        if self.kind == "end":
            return "end of file"
        if self.kind == "string":
            return f'"{self.text}"'
        return repr(self.text)


_KEYWORDS = frozenset(("UAG", "HAG", "ASG", "RULE", "CALC"))
_NAME = re.compile(r"[a-zA-Z0-9_\-+:.\[\]<>;]+")
_QUOTED = re.compile(r'"((?:[^"\n\\]|\\.)*)"')
_UNTERMINATED = re.compile(r'"(?:[^"\n\\]|\\.)*(?:\n|\\?$)')
_INP = re.compile(r"INP[A-U]")
# base's number tokens; a run of name characters is a number only when all of it is one
_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?[0-9]*\.[0-9]+(?:[eE][-+]?[0-9]+)?")
#: base's grammar of generic (unknown) items: what names an item in a block, and what its
#: parentheses and element lists hold
_WORDS = ("keyword", "inp", "name", "string")
_ELEMENTS = (*_WORDS, "int", "float")
#: nested generic blocks beyond this are refused (base's parser stack overflows near 120)
_MAX_NESTING = 100


def _tokens(text: str, source: str) -> Iterator[_Token]:
    line, line_start, pos = 1, 0, 0
    size = len(text)
    while pos < size:
        char = text[pos]
        column = pos - line_start + 1
        if char == "\n":
            line += 1
            line_start = pos = pos + 1
        elif char in " \t\r":
            pos += 1
        elif char == "#":
            end = text.find("\n", pos)
            pos = size if end < 0 else end
        elif char in "(){},":
            yield _Token("punct", char, line, column)
            pos += 1
        elif char == '"':
            found = _QUOTED.match(text, pos)
            if found is None:
                raise AcfError("newline in quoted string, closing quote missing", source,
                               line, column)
            yield _Token("string", found.group(1), line, column)
            pos = found.end()
        else:
            found = _NAME.match(text, pos)
            if found is None:
                shown = repr(char) if char.isprintable() else f"0x{ord(char):02x}"
                raise AcfError(f"invalid character {shown}", source, line, column)
            word = found.group(0)
            if word in _KEYWORDS:
                yield _Token("keyword", word, line, column)
            elif _INP.fullmatch(word):
                yield _Token("inp", word, line, column)
            elif _INT.fullmatch(word):
                if not -2**63 <= int(word) < 2**63:   # base's epicsParseInt64
                    raise AcfError(f"integer out of range: {word}", source, line, column)
                yield _Token("int", word, line, column)
            elif _FLOAT.fullmatch(word):
                if not _parses_as_double(word):
                    raise AcfError(f"number out of range: {word}", source, line, column)
                yield _Token("float", word, line, column)
            else:
                yield _Token("name", word, line, column)
            pos = found.end()
    yield _Token("end", "", line, pos - line_start + 1)


def _parses_as_double(word: str) -> bool:
    """base's epicsParseDouble: strtod's ERANGE (overflow, or a result that underflows to
    a subnormal or zero) is an error."""
    value = abs(float(word))
    if value == 0:
        return not any(digit in "123456789" for digit in re.split("[eE]", word)[0])
    return sys.float_info.min <= value < math.inf


# -- parser --------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str, source: str):
        self.source = source
        self.tokens = list(_tokens(text, source))
        self.index = 0
        self.uags: dict[str, tuple[str, ...]] = {}
        self.hags: dict[str, tuple[str, ...]] = {}
        self.groups: dict[str, AccessGroup] = {DEFAULT_GROUP: AccessGroup(DEFAULT_GROUP)}
        self.warnings: list[str] = []

    # helpers
    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def error(self, message: str, token: _Token | None = None) -> AcfError:
        token = token or self.token
        return AcfError(message, self.source, token.line, token.column)

    def expected(self, what: str) -> AcfError:
        return self.error(f"expected {what}, found {self.token.describe()}")

    def take(self) -> _Token:
        token = self.token
        if token.kind != "end":
            self.index += 1
        return token

    def punct(self, char: str) -> _Token:
        if self.token.kind != "punct" or self.token.text != char:
            raise self.expected(f"'{char}'")
        return self.take()

    def at(self, char: str) -> bool:
        return self.token.kind == "punct" and self.token.text == char

    def next_is(self, char: str) -> bool:
        following = self.tokens[min(self.index + 1, len(self.tokens) - 1)]
        return following.kind == "punct" and following.text == char

    def string(self, what: str) -> _Token:
        """A name: bare or quoted (base's tokenSTRING; a number is refused there too)."""
        if self.token.kind in ("name", "string"):
            return self.take()
        raise self.expected(what)

    # grammar
    def parse(self) -> AccessConfig:
        if self.token.kind == "end":   # base's grammar needs one item: a truncated file
            raise self.expected("UAG, HAG or ASG")  # must not revoke every right
        while self.token.kind != "end":
            token = self.token
            if token.kind == "keyword" and token.text in ("UAG", "HAG"):
                self.take()
                self.member_group(token)
            elif token.kind == "keyword" and token.text == "ASG":
                self.take()
                self.access_group(token)
            elif token.kind in ("name", "string") and self.next_is("("):
                self.take()
                self.generic_head()
                # base's generic_block, or generic_list_block: {element} {element, ...}
                if self.at("{") and self.generic_block() == 1 and self.at("{"):
                    second = self.token
                    if self.generic_block() < 2:
                        raise self.error("expected a block of two or more elements",
                                         second)
                self.warnings.append(f"{self.source}:{token.line}: ignoring the unsupported "
                                     f"top-level block {token.text}")
            else:
                raise self.expected("UAG, HAG or ASG")
        return AccessConfig(self.source, self.uags, self.hags, self.groups,
                            tuple(self.warnings))

    # base 7.0.10's generic items: what later releases write, read past and ignored
    def generic_head(self) -> None:
        """``(element, ...)``: none or more, separated by commas."""
        self.punct("(")
        if not self.at(")"):
            self.generic_elements()
        self.punct(")")

    def generic_elements(self) -> int:
        """``element, ...`` (a name, string, number or keyword); how many."""
        count = 0
        while True:
            if self.token.kind not in _ELEMENTS:
                raise self.expected("a name, number or keyword")
            self.take()
            count += 1
            if not self.at(","):
                return count
            self.take()

    def generic_block(self, depth: int = 0) -> int:
        """``{element, ...}`` (returns how many) or ``{WORD(...) [{...}] ...}`` (0)."""
        if depth > _MAX_NESTING:
            raise self.error("blocks nested too deeply")
        self.punct("{")
        if not (self.token.kind in _WORDS and self.next_is("(")):
            count = self.generic_elements()
            self.punct("}")
            return count
        while not self.at("}"):
            if self.token.kind not in _WORDS:
                raise self.expected("a name or '}'")
            self.take()
            self.generic_head()
            if self.at("{"):
                self.generic_block(depth + 1)
        self.take()
        return 0

    def member_group(self, keyword: _Token) -> None:
        self.punct("(")
        name_token = self.string(f"a {keyword.text} name")
        self.punct(")")
        table = self.uags if keyword.text == "UAG" else self.hags
        if name_token.text in table:
            kind = "User" if keyword.text == "UAG" else "Host"
            raise self.error(f"duplicate {kind} Access Group named {name_token.text!r}",
                             name_token)
        members: list[str] = []
        if self.at("{"):
            self.take()
            what = "a user name" if keyword.text == "UAG" else "a host name"
            while True:
                member = self.string(what)
                text = member.text if keyword.text == "UAG" else ascii_lower(member.text)
                if text in members:
                    self.warnings.append(
                        f"{self.source}:{member.line}: {member.text!r} appears twice in "
                        f"{keyword.text} {name_token.text}")
                members.append(text)
                if self.at(","):
                    self.take()
                    continue
                self.punct("}")
                break
        table[name_token.text] = tuple(members)

    def access_group(self, keyword: _Token) -> None:
        self.punct("(")
        name_token = self.string("an ASG name")
        self.punct(")")
        name = name_token.text
        known = self.groups.get(name)
        # base's asAsgAdd: DEFAULT exists from the start and may be declared again while it
        # has neither inputs nor rules; any other name only once
        if known is not None and (name != DEFAULT_GROUP or known.inputs or known.rules):
            raise self.error(f"duplicate Access Security Group named {name!r}", name_token)
        inputs: dict[int, str] = {}
        rules: list[Rule] = []
        if self.at("{"):
            self.take()
            items = 0
            while True:
                token = self.token
                if token.kind == "inp":
                    self.take()
                    self.punct("(")
                    pv = self.string("a PV name")
                    self.punct(")")
                    index = INPUT_NAMES.index(token.text[3])
                    if index in inputs:
                        self.warnings.append(f"{self.source}:{token.line}: {token.text} "
                                             f"given twice in ASG {name}; the last is used")
                    inputs[index] = pv.text
                elif token.kind == "keyword" and token.text == "RULE":
                    self.take()
                    rule = self.rule(token)
                    if rule is not None:
                        rules.append(rule)
                elif items:   # base's grammar has no unknown items here
                    if self.at("}"):
                        self.take()
                        break
                    raise self.expected("INPA..INPU, RULE or '}'")
                else:
                    raise self.expected("INPA..INPU or RULE")
                items += 1
        self.groups[name] = AccessGroup(name, inputs, tuple(rules))

    def rule(self, keyword: _Token) -> Rule | None:
        """A RULE; None for one base 7.0.10 ignores (with a warning): an access it does
        not know (``RPC``, a misspelt ``WRTIE``) or an item it does not know in its body
        (``METHOD("x")``). Dropping a rule never grants more: rules only grant."""
        self.punct("(")
        if self.token.kind != "int":
            raise self.expected("an access security level (an integer)")
        level_token = self.take()
        level = int(level_token.text)
        if level < 0:
            raise self.error(f"a RULE's level must be 0 or more, found {level}", level_token)
        if level > _LEVEL_MAX:  # base casts it to a C int: 2**32 + 1 is 1, 2**31 negative
            wrapped = (level + 2**31) % 2**32 - 2**31
            raise self.error(f"level {level} is beyond {_LEVEL_MAX}: EPICS base would "
                             f"read it as {wrapped}", level_token)
        self.punct(",")
        access_token = self.string("NONE, READ or WRITE")
        unknown = None if access_token.text in Level.__members__ else access_token
        trapwrite = False
        if self.at(","):
            self.take()
            option = self.token
            option_name = self.string("TRAPWRITE or NOTRAPWRITE").text
            if option_name not in ("TRAPWRITE", "NOTRAPWRITE"):
                raise self.error(f"log options must be TRAPWRITE or NOTRAPWRITE, found "
                                 f"{option_name!r}", option)
            trapwrite = option_name == "TRAPWRITE"
        self.punct(")")
        uags: list[str] = []
        hags: list[str] = []
        calc: CalcProgram | None = None
        if self.at("{"):
            self.take()
            items = 0
            while True:
                token = self.token
                if token.kind == "keyword" and token.text in ("UAG", "HAG"):
                    self.take()
                    table = self.uags if token.text == "UAG" else self.hags
                    target = uags if token.text == "UAG" else hags
                    self.punct("(")
                    while True:
                        ref = self.string(f"a {token.text} name")
                        if ref.text not in table:
                            kind = "User" if token.text == "UAG" else "Host"
                            raise self.error(f"no {kind} Access Group named {ref.text!r} "
                                             f"defined above", ref)
                        target.append(ref.text)
                        if self.at(","):
                            self.take()
                            continue
                        self.punct(")")
                        break
                elif token.kind == "keyword" and token.text == "CALC":
                    self.take()
                    self.punct("(")
                    expression = self.string("a CALC expression in quotes")
                    self.punct(")")
                    calc = self.compile(expression)
                elif self.next_is("(") and (token.kind in ("name", "string", "inp") or (
                        token.kind == "keyword" and token.text in ("ASG", "RULE"))):
                    self.take()   # base's rule_generic_block_elem
                    self.generic_head()
                    if self.at("{"):
                        self.generic_block()
                    unknown = unknown or token
                elif items:
                    if self.at("}"):
                        self.take()
                        break
                    raise self.expected("UAG, HAG, CALC or '}'")
                else:
                    raise self.expected("UAG, HAG or CALC")
                items += 1
        if unknown is not None:
            self.warnings.append(f"{self.source}:{keyword.line}: ignoring a RULE that "
                                 f"contains an unsupported keyword: {unknown.text}")
            return None
        return Rule(level, Level[access_token.text], trapwrite, tuple(uags), tuple(hags), calc,
                    keyword.line)

    def compile(self, token: _Token) -> CalcProgram:
        try:
            program = compile_calc(token.text)
        except CalcError as exc:
            raise self.error(f"bad CALC expression: {exc}", token) from None
        if program.stores:
            raise self.error(f"assignment operator used in CALC expression {token.text!r}",
                             token)
        if not program.inputs:
            # base evaluates a CALC only when one of its inputs changes: one that reads no
            # input never becomes true, so its rule never applies.
            self.warnings.append(
                f"{self.source}:{token.line}: CALC({token.text!r}) reads no input "
                f"(INPA..INPU): as in EPICS base, its rule never applies")
        return program


_CODE = re.compile(r'(?:[^#"]|"(?:[^"\\]|\\.)*"?)*')  # a line up to a comment


def _expand_lines(text: str, source: str, expand: Callable[[str], str]) -> str:
    """Expand the macros of each line; comments stay as written (a macro named only in a
    comment need not be defined)."""
    lines = text.split("\n")
    for number, line in enumerate(lines, 1):
        if "$" not in line:
            continue
        code = _CODE.match(line).group()  # type: ignore[union-attr]  # it matches ''
        if "$" not in code:
            continue
        try:
            expanded = expand(code)
        except Exception as exc:  # the caller's macro errors are its own types
            raise AcfError(f"macro: {exc}", source, number, line.find("$") + 1) from None
        if "\n" in expanded:
            raise AcfError("a macro expanded to more than one line", source, number,
                           line.find("$") + 1)
        lines[number - 1] = expanded + line[len(code):]
    return "\n".join(lines)


def parse_acf(text: str, source: str = "<acf>",
              expand: Callable[[str], str] | None = None) -> AccessConfig:
    """Parse the text of a rules file (``source`` names it in errors); ``expand`` replaces
    macro references in one line.  Raises AcfError."""
    if expand is not None:
        text = _expand_lines(text, source, expand)
    return _Parser(text, source).parse()

"""The EPICS calc expression language, compiled to postfix and evaluated safely.

Contract: :func:`compile_calc` turns an infix expression (``"A>0 && B<5"``, as a calc
record's CALC field or an ACF ``CALC("...")`` takes it) into a :class:`CalcProgram`, or
raises :class:`CalcError` naming what is wrong and where; :meth:`CalcProgram.evaluate`
computes it from the inputs ``A``..``L`` (a sequence of 12 floats).  Nothing here calls
Python's ``eval``: the expression is tokenised against a fixed table and run on a small
stack machine, so an expression can only compute a number.

The language and its corner cases follow EPICS base's ``postfix.c`` / ``calcPerform.c``:

* element names are case-insensitive and the longest name in the table wins
  (``ATAN2`` before ``ATAN``, ``D2R`` before ``D``);
* precedence, low to high: ``?:``; ``||`` ``|`` ``OR`` ``XOR``; ``&&`` ``&`` ``AND``
  ``<<`` ``>>`` ``>>>``; comparisons (``= == != # < <= > >=``); ``+ -``; ``* / %``;
  ``** ^``; unary operators and functions.  Binary operators associate to the left
  (``2**3**2`` is 64) and a unary minus binds tighter than ``**`` (``-2**2`` is 4);
* arithmetic is IEEE double: division by zero gives inf/nan, never an exception;
  bit operators (base's d2i), ``%`` and ``NINT`` (a C cast: INT_MIN when out of range)
  work on 32-bit integers as base converts them;
* ``MAX``/``MIN``/``FINITE``/``ISNAN`` take any number of arguments; ``A:=expr`` stores
  into an input and ``;`` separates expressions (``CalcProgram.stores`` says which inputs
  an expression writes: the ACF refuses such expressions, as base does).
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["INPUT_NAMES", "CalcError", "CalcProgram", "compile_calc"]

#: The input names, in order (``A`` is input 0): base's CALCPERFORM_NARGS since 7.0.8, the
#: calc and calcout records' INPA..INPU, and access security's CALC inputs (EPICS 7.0.10).
INPUT_NAMES = "ABCDEFGHIJKLMNOPQRSTU"
#: base's CALCPERFORM_STACK: the deepest runtime stack an expression may need.
STACK_LIMIT = 80


class CalcError(ValueError):
    """An expression that does not compile: ``message`` at character ``position``."""

    def __init__(self, message: str, expression: str, position: int):
        super().__init__(f"{message} at character {position + 1} of {expression!r}")
        self.message = message
        self.expression = expression
        self.position = position


# -- numeric helpers: C semantics without exceptions ---------------------------------------

def _to_int32(x: float) -> int:
    """base's d2i(): negative doubles via int32 (below INT_MIN: INT_MIN, as the C cast
    gives on x86 and aarch64), others via uint32 (the low 32 bits; NaN, inf and beyond
    2**63: 0), the result as int32."""
    if x < 0:
        return _c_int32(x)
    if not x < 9.223372036854775808e18:  # NaN, +inf, and what cvttsd2si cannot hold
        return 0
    value = int(x) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _c_int32(x: float) -> int:
    """A C cast ``(epicsInt32) x`` (``%`` and NINT in calcPerform): out of range or NaN
    is INT_MIN, as on every platform softIoc runs on (x86's cvttsd2si, aarch64 too)."""
    if not math.isfinite(x) or not -2147483648.0 <= math.trunc(x) <= 2147483647.0:
        return -2147483648
    return int(x)


def _to_uint32(x: float) -> int:
    return _to_int32(x) & 0xFFFFFFFF


def _div(a: float, b: float) -> float:
    if b == 0.0:
        if math.isnan(a) or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mod(a: float, b: float) -> float:
    divisor = _c_int32(b)
    if not divisor:
        return math.nan
    return float(int(math.fmod(_c_int32(a), divisor)))


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf
    except ValueError:  # a negative base to a fractional power, 0 to a negative power
        return math.inf if a == 0.0 else math.nan


def _guarded(fn: Callable[[float], float]) -> Callable[[float], float]:
    """``fn`` with C's answers where Python raises: nan off the domain, inf on overflow."""
    def call(x: float) -> float:
        try:
            return fn(x)
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    return call


def _log(fn: Callable[[float], float]) -> Callable[[float], float]:
    def call(x: float) -> float:
        if x == 0.0:
            return -math.inf
        if x < 0.0 or math.isnan(x):
            return math.nan
        return fn(x) if x != math.inf else math.inf
    return call


def _nint(x: float) -> float:
    return float(_c_int32(x + 0.5 if x >= 0 else x - 0.5))


def _fmod(a: float, b: float) -> float:
    if b == 0.0 or not math.isfinite(a) or math.isnan(b):
        return math.nan
    return math.fmod(a, b)


def _trunc_float(fn: Callable[[float], int]) -> Callable[[float], float]:
    def call(x: float) -> float:
        if not math.isfinite(x):
            return x
        return float(fn(x))
    return call


_UNARY: dict[str, Callable[[float], float]] = {
    "ABS": abs, "ACOS": _guarded(math.acos), "ASIN": _guarded(math.asin),
    "ATAN": math.atan, "CEIL": _trunc_float(math.ceil), "COS": _guarded(math.cos),
    "COSH": _guarded(math.cosh), "EXP": _guarded(math.exp),
    "FLOOR": _trunc_float(math.floor), "ISINF": lambda x: float(math.isinf(x)),
    "LN": _log(math.log), "LOG": _log(math.log10), "LOGE": _log(math.log),
    "NINT": _nint, "SIN": _guarded(math.sin), "SINH": _guarded(math.sinh),
    "SQR": _guarded(math.sqrt), "SQRT": _guarded(math.sqrt), "TAN": _guarded(math.tan),
    "TANH": math.tanh, "NEG": lambda x: -x, "!": lambda x: float(not x),
    "~": lambda x: float(~_to_int32(x)),
}
_UNARY["NOT"] = _UNARY["~"]

_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": _div, "%": _mod, "**": _pow, "^": _pow,
    "!=": lambda a, b: float(a != b), "#": lambda a, b: float(a != b),
    "=": lambda a, b: float(a == b), "==": lambda a, b: float(a == b),
    "<": lambda a, b: float(a < b), "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b), ">=": lambda a, b: float(a >= b),
    "&&": lambda a, b: float(bool(a) and bool(b)), "||": lambda a, b: float(bool(a) or bool(b)),
    "&": lambda a, b: float(_to_int32(a) & _to_int32(b)),
    "AND": lambda a, b: float(_to_int32(a) & _to_int32(b)),
    "|": lambda a, b: float(_to_int32(a) | _to_int32(b)),
    "OR": lambda a, b: float(_to_int32(a) | _to_int32(b)),
    "XOR": lambda a, b: float(_to_int32(a) ^ _to_int32(b)),
    "<<": lambda a, b: float(_to_int32(_to_int32(a) << (_to_int32(b) & 31))),
    ">>": lambda a, b: float(_to_int32(a) >> (_to_int32(b) & 31)),
    ">>>": lambda a, b: float(_to_uint32(a) >> (_to_uint32(b) & 31)),
    # base computes atan2(second, first): ATAN2(A,B) is atan(B/A)
    "ATAN2": lambda a, b: math.atan2(b, a), "FMOD": _fmod,
}


def _maximum(values: list[float]) -> float:
    result = values[0]
    for value in values[1:]:
        if result < value or math.isnan(value):
            result = value
    return result


def _minimum(values: list[float]) -> float:
    result = values[0]
    for value in values[1:]:
        if result > value or math.isnan(value):
            result = value
    return result


_VARARG: dict[str, Callable[[list[float]], float]] = {
    "MAX": _maximum, "MIN": _minimum,
    "FINITE": lambda vs: float(all(math.isfinite(v) for v in vs)),
    "ISNAN": lambda vs: float(any(math.isnan(v) for v in vs)),
}

_CONSTANTS: dict[str, float] = {"PI": math.pi, "D2R": math.pi / 180.0,
                                "R2D": 180.0 / math.pi}

# -- the element tables -------------------------------------------------------------------

# Kinds of table entries.
_OPERAND, _LITERAL, _UNARY_OP, _VARARG_OP, _OPEN = "operand", "literal", "unary", "vararg", "("
_BINARY_OP, _SEPARATOR, _CLOSE, _COND, _STORE, _END = (
    "binary", ",", ")", "cond", "store", ";")


@dataclass(frozen=True)
class _Element:
    name: str
    kind: str
    stack_priority: int = 0     # priority while waiting on the operator stack
    incoming_priority: int = 0  # priority when read from the input
    effect: int = 0             # how it changes the runtime stack depth


def _table(*entries: _Element) -> list[_Element]:
    # Longest names first: the first entry the input starts with is the longest match.
    return sorted(entries, key=lambda e: -len(e.name))


# What may start an operand (when an operand is expected).
_OPERAND_TABLE = _table(
    _Element("!", _UNARY_OP, 7, 8), _Element("~", _UNARY_OP, 7, 8),
    _Element("NOT", _UNARY_OP, 7, 8), _Element("-", _UNARY_OP, 7, 8),
    _Element("(", _OPEN, 0, 8),
    *(_Element(name, _UNARY_OP, 7, 8) for name in (
        "ABS", "ACOS", "ASIN", "ATAN", "CEIL", "COS", "COSH", "EXP", "FLOOR", "ISINF",
        "LN", "LOG", "LOGE", "NINT", "SIN", "SINH", "SQR", "SQRT", "TAN", "TANH")),
    _Element("ATAN2", _UNARY_OP, 7, 8, -1), _Element("FMOD", _UNARY_OP, 7, 8, -1),
    *(_Element(name, _VARARG_OP, 7, 8) for name in _VARARG),
    *(_Element(name, _OPERAND, effect=1) for name in INPUT_NAMES),
    *(_Element(name, _OPERAND, effect=1) for name in (*_CONSTANTS, "VAL", "RNDM")),
    *(_Element(name, _LITERAL, effect=1) for name in (*"0123456789.", "INF", "NAN")),
    _Element("0X", _LITERAL, effect=1),
)

# What may follow an operand.
_OPERATOR_TABLE = _table(
    *(_Element(name, _BINARY_OP, 3, 3, -1)
      for name in ("!=", "#", "<", "<=", "=", "==", ">", ">=")),
    *(_Element(name, _BINARY_OP, 5, 5, -1) for name in ("%", "*", "/")),
    *(_Element(name, _BINARY_OP, 6, 6, -1) for name in ("**", "^")),
    *(_Element(name, _BINARY_OP, 4, 4, -1) for name in ("+", "-")),
    *(_Element(name, _BINARY_OP, 2, 2, -1) for name in ("&", "&&", "AND", "<<", ">>", ">>>")),
    *(_Element(name, _BINARY_OP, 1, 1, -1) for name in ("|", "||", "OR", "XOR")),
    _Element(")", _CLOSE), _Element(",", _SEPARATOR),
    _Element("?", _COND, effect=-1), _Element(":", _COND, effect=-1),
    _Element(":=", _STORE, effect=-1), _Element(";", _END),
)

# A decimal literal as C's strtod reads one (hexadecimal ones take the 0X entry).
_DECIMAL = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|INF(?:INITY)?|NAN",
                      re.IGNORECASE)
_HEX = re.compile(r"0[xX]([0-9a-fA-F]+)")


def _match(table: list[_Element], text: str, pos: int) -> _Element | None:
    for element in table:
        end = pos + len(element.name)
        if text[pos:end].upper() == element.name:
            return element
    return None


# -- compiled form --------------------------------------------------------------------------

# Instructions are tuples: (opcode, argument).
_PUSH, _FETCH, _STORE_TO, _CALL1, _CALL2, _CALLN, _IF, _ELSE, _ENDIF, _VAL, _RANDOM = range(11)


@dataclass(frozen=True)
class CalcProgram:
    """A compiled expression: run it with :meth:`evaluate`."""

    expression: str
    code: tuple[tuple[int, Any], ...]
    #: Bit i set: the expression reads input i (``A`` is bit 0), before storing into it.
    inputs: int
    #: Bit i set: the expression stores into input i (``A:=...``).
    stores: int
    jumps: tuple[int, ...]  # for _IF and _ELSE: the index after their match

    def evaluate(self, args: MutableSequence[float], previous: float = 0.0) -> float:
        """The value for inputs ``args`` (one float per input it reads, in INPUT_NAMES
        order; stores write into it); ``previous``
        is what ``VAL`` reads.  Raises CalcError when the program cannot finish
        (an unmatched conditional at run time, never for a compiled expression)."""
        stack: list[float] = []
        push, pop = stack.append, stack.pop
        code, jumps = self.code, self.jumps
        pc, end = 0, len(code)
        while pc < end:
            op, arg = code[pc]
            if op == _PUSH:
                push(arg)
            elif op == _FETCH:
                push(float(args[arg]))
            elif op == _CALL2:
                right = pop()
                push(arg(pop(), right))
            elif op == _CALL1:
                push(arg(pop()))
            elif op == _IF:
                if pop() == 0.0:
                    pc = jumps[pc]
                    continue
            elif op == _ELSE:
                pc = jumps[pc]
                continue
            elif op == _ENDIF:
                pass
            elif op == _CALLN:
                function, count = arg
                values = stack[-count:]
                del stack[-count:]
                push(function(values))
            elif op == _STORE_TO:
                args[arg] = pop()
            elif op == _VAL:
                push(previous)
            else:  # _RANDOM
                push(_random())
            pc += 1
        if len(stack) != 1:
            raise CalcError("expression left no single result", self.expression, 0)
        return stack[0]


_seed = 0xA3BF


def _random() -> float:
    """base's RNDM: a 16-bit linear congruential sequence in [0, 1]."""
    global _seed
    _seed = (_seed * (191 * 8 + 5) + 0x3141) & 0xFFFF
    return _seed / 65535.0


def _resolve_jumps(code: list[tuple[int, Any]], expression: str) -> tuple[int, ...]:
    """Where each ``?`` continues when false and each ``:`` when reached (base's
    cond_search: nested conditionals are skipped by counting)."""
    jumps = [0] * len(code)
    for index, (op, _) in enumerate(code):
        if op not in (_IF, _ELSE):
            continue
        match = _ELSE if op == _IF else _ENDIF
        depth = 1
        for later in range(index + 1, len(code)):
            later_op = code[later][0]
            if later_op == _IF:
                depth += 1
            elif later_op == match:
                depth -= 1
                if depth == 0:
                    jumps[index] = later + 1
                    break
        else:
            raise CalcError("unbalanced conditional ?: operators", expression, 0)
    return tuple(jumps)


def _instruction(element: _Element, nargs: int) -> tuple[int, Any]:
    name = element.name
    if element.kind == _VARARG_OP:
        return (_CALLN, (_VARARG[name], nargs))
    if name == "-" and element.kind == _UNARY_OP:
        return (_CALL1, _UNARY["NEG"])
    if name in _BINARY and (element.kind == _BINARY_OP or element.effect == -1):
        return (_CALL2, _BINARY[name])
    if name == "ENDIF":
        return (_ENDIF, None)
    if name.startswith("STORE"):
        return (_STORE_TO, INPUT_NAMES.index(name[5]))
    return (_CALL1, _UNARY[name])


def compile_calc(expression: str) -> CalcProgram:
    """Compile ``expression``; raises CalcError (message and position) when it is not
    valid EPICS calc."""
    text = expression
    if not text or not text.strip():
        raise CalcError("empty expression", expression, 0)
    code: list[tuple[int, Any]] = []
    # The operator stack holds [element, effect] pairs: a '(' counts its commas in effect.
    stack: list[list] = []
    depth = 0
    open_conditionals = 0
    operand_needed = True
    pos = 0

    def fail(message: str) -> CalcError:
        return CalcError(message, expression, pos)

    def emit_from_stack() -> None:
        nonlocal depth
        element, effect = stack.pop()
        nargs = 1 - effect if element.kind == _VARARG_OP else 0
        code.append(_instruction(element, nargs))
        depth += effect

    def end_expression() -> None:
        """Emit every operator still waiting; the expression must be closed."""
        while stack:
            if stack[-1][0].kind == _OPEN:
                raise fail("parenthesis still open at end of expression")
            emit_from_stack()
        if open_conditionals:
            raise fail("unbalanced conditional ?: operators")

    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        element = _match(_OPERAND_TABLE if operand_needed else _OPERATOR_TABLE, text, pos)
        if element is None:
            raise fail("syntax error" if not operand_needed else "operand expected")
        kind = element.kind
        start = pos
        pos += len(element.name)
        if kind == _OPERAND:
            name = element.name
            if name in INPUT_NAMES:
                index = INPUT_NAMES.index(name)
                code.append((_FETCH, index))
            elif name == "VAL":
                code.append((_VAL, None))
            elif name == "RNDM":
                code.append((_RANDOM, None))
            else:
                code.append((_PUSH, _CONSTANTS[name]))
            depth += 1
            operand_needed = False
        elif kind == _LITERAL:
            pattern = _HEX if element.name == "0X" else _DECIMAL
            found = pattern.match(text, start)
            if found is None:
                pos = start
                raise fail("badly formed numeric literal")
            if element.name == "0X":
                number = int(found.group(1), 16)
                if number > 0xFFFFFFFF:
                    pos = start
                    raise fail("badly formed numeric literal")
                # base stores it as an int32 literal: bit 31 makes it negative
                value = float(number - (1 << 32) if number & 0x80000000 else number)
            else:
                value = float(found.group(0))
                if math.isinf(value) and found.group(0)[0].isdigit():
                    pos = start   # 1e400: epicsStrtod's ERANGE, refused as base refuses it
                    raise fail("badly formed numeric literal")
            code.append((_PUSH, value))
            pos = found.end()
            depth += 1
            operand_needed = False
        elif kind == _STORE:
            if not code or stack or code[-1][0] != _FETCH:
                pos = start
                raise fail("bad assignment target")
            _, index = code.pop()
            depth -= 1
            stack.append([_Element(f"STORE{INPUT_NAMES[index]}", _STORE), -1])
            operand_needed = True
        elif kind in (_UNARY_OP, _VARARG_OP, _OPEN):
            while stack and stack[-1][0].stack_priority >= element.incoming_priority:
                emit_from_stack()
            stack.append([element, element.effect])
        elif kind == _BINARY_OP:
            while stack and stack[-1][0].stack_priority >= element.incoming_priority:
                emit_from_stack()
            stack.append([element, element.effect])
            operand_needed = True
        elif kind in (_SEPARATOR, _CLOSE):
            what = ("comma without enclosing parentheses" if kind == _SEPARATOR
                    else "close parenthesis found without open")
            while stack and stack[-1][0].kind != _OPEN:
                emit_from_stack()
            if not stack:
                pos = start
                raise fail(what)
            if kind == _SEPARATOR:
                stack[-1][1] -= 1
                operand_needed = True
            else:
                _, paren_effect = stack.pop()
                if stack and stack[-1][0].kind == _VARARG_OP:
                    stack[-1][1] = paren_effect
        elif kind == _COND:
            while stack and stack[-1][0].stack_priority > element.incoming_priority:
                emit_from_stack()
            depth -= 1
            if element.name == "?":
                code.append((_IF, None))
                open_conditionals += 1
            else:
                code.append((_ELSE, None))
                open_conditionals -= 1
                if open_conditionals < 0:
                    pos = start
                    raise fail("unbalanced conditional ?: operators")
                stack.append([_Element("ENDIF", _COND), 0])
            operand_needed = True
        else:  # ';' ends one expression
            end_expression()
            if depth > 1:
                raise fail("too many results returned")
            operand_needed = True
        if depth < 0:
            raise fail("not enough operands provided")
        if depth >= STACK_LIMIT:
            raise fail("runtime stack overflow")
    end_expression()
    if operand_needed or depth != 1:
        raise fail("incomplete expression, operand missing")
    inputs = stores = 0
    for op, arg in code:  # in execution order, as base's calcArgUsage counts them
        if op == _FETCH:
            inputs |= (1 << arg) & ~stores
        elif op == _STORE_TO:
            stores |= 1 << arg
    return CalcProgram(expression, tuple(code), inputs, stores,
                       _resolve_jumps(code, expression))


def evaluate(expression: str, args: Sequence[float] = ()) -> float:
    """Compile and evaluate once (inputs default to 0): for tests and the command line."""
    values = [float(v) for v in args] + [0.0] * (len(INPUT_NAMES) - len(args))
    return compile_calc(expression).evaluate(values)

"""The EPICS calc language: known results, base's documented corner cases, refused
expressions, and a comparison with softioc's calc record (EPICS' own calcPerform)."""
import importlib.util
import math

import pytest
from ca_raw_client import RawCircuit
from hypothesis import given, settings
from hypothesis import strategies as st
from softioc_process import running_softioc

from iochost.calc import CalcError, compile_calc, evaluate
from iochost.ca.dbr import ChannelType, decode_dbr

INPUTS = [1.0, 2.0, 3.0, -4.5, 0.0, 10.0, 0.25, 7.0, 100.0, -1.0, 0.5, 3.75,
          2.5, -1.25, 9.0, 0.125, 6.0, -8.0, 1.5, 4.0, 11.0]   # A..L, then M..U (base 7.0.8)

# (expression, expected with INPUTS): the operators, precedence and functions base's
# calc record reference describes; the corner cases follow postfix.c / calcPerform.c.
KNOWN = [
    ("1+2*3", 7), ("(1+2)*3", 9), ("2**3**2", 64), ("2^3", 8), ("-2**2", 4),
    ("A+B+C", 6), ("a+b", 3), ("D", -4.5), ("L-K", 3.25), ("A>0 && B<5", 1),
    ("A>1 || E", 0), ("!A", 0), ("!E", 1), ("A=1", 1), ("A==1", 1), ("A#1", 0),
    ("A!=1", 0), ("B<=2", 1), ("B>=3", 0), ("A?B:C", 2), ("E?B:C", 3),
    ("0?1:0?2:3", 3), ("1?0?5:6:7", 6), ("MAX(A,B,C)", 3), ("MIN(D,A)", -4.5),
    ("MAX(1)", 1), ("ATAN2(1,0)", 0.0), ("FMOD(7,3)", 1), ("7%3", 1), ("-7%3", -1),
    ("7.9%3", 1), ("NINT(2.5)", 3), ("NINT(-2.5)", -3), ("ABS(D)", 4.5),
    ("SQRT(I)", 10), ("SQR(16)", 4), ("LOG(I)", 2), ("LN(1)", 0), ("LOGE(1)", 0),
    ("EXP(0)", 1), ("FLOOR(D)", -5), ("CEIL(D)", -4), ("SIN(0)", 0), ("COS(0)", 1),
    ("TAN(0)", 0), ("ASIN(0)", 0), ("ACOS(1)", 0), ("ATAN(0)", 0), ("SINH(0)", 0),
    ("COSH(0)", 1), ("TANH(0)", 0), ("PI", math.pi), ("D2R*180", math.pi),
    ("R2D*PI", 180), ("0x10", 16), ("0xFFFFFFFF", -1), ("1e2", 100), (".5", 0.5),
    ("1.5e1", 15), ("5 AND 4", 4), ("5 OR 2", 7), ("5 XOR 3", 6), ("5&4", 4), ("5|2", 7),
    ("~0", -1), ("NOT 0", -1), ("1<<4", 16), ("1<<31", -2147483648), ("-16>>2", -4),
    ("-1>>>28", 15), ("1/0", math.inf), ("-1/0", -math.inf), ("0/0", math.nan),
    ("ISNAN(0/0)", 1), ("ISNAN(1,2)", 0), ("FINITE(1,2)", 1), ("FINITE(1/0)", 0),
    ("ISINF(1/0)", 1), ("INF>1", 1), ("ISNAN(NAN)", 1), ("VAL", 0),
    ("A:=5;A+1", 6), ("LOG(0)", -math.inf), ("SQRT(-1)", math.nan), ("-A", -1),
    ("--A", 1), ("A - -B", 3), ("3-2-1", 0), ("8/4/2", 1), ("ABS(-3)+1", 4),
    ("(A+B)*(C-D)", 22.5), ("A<B<C", 1), ("K*L", 1.875),
    # the inputs M..U (21 since base 7.0.8), beside names that start with their letters
    ("M+U", 13.5), ("N*O", -11.25), ("P+Q+R", -1.875), ("S*T", 6), ("MAX(M,U,S)", 11),
    ("R2D*0+R", -8), ("SIN(0)+S", 1.5), ("SQRT(T)", 2), ("NOT N", 0), ("PI*0+P", 0.125),
    # % and NINT are C casts (epicsInt32): beyond 32 bits or NaN, INT_MIN (softIoc's)
    ("NINT(1e10)", -2147483648), ("NINT(3e9)", -2147483648), ("NINT(NAN)", -2147483648),
    ("1e10%7", -2), ("5e9%3", -2), ("NINT(-2147483648.2)", -2147483648),
    # bit operations take base's d2i: a negative double as (epicsInt32), INT_MIN below it;
    # a positive one as (epicsUInt32), its low 32 bits
    ("-1e10|0", -2147483648), ("-3000000000|0", -2147483648), ("~-5e9", 2147483647),
    ("-I*1e8|0", -2147483648), ("3e9|0", -1294967296), ("1e10&255", 0),
]


def same(a: float, b: float) -> bool:
    if math.isnan(b):
        return math.isnan(a)
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("expression, expected", KNOWN)
def test_known_results(expression, expected):
    assert same(evaluate(expression, INPUTS), expected), expression


@pytest.mark.parametrize("expression, message", [
    ("", "empty"), ("1+", "operand missing"), ("(1", "parenthesis still open"),
    ("1)", "close parenthesis found without open"), ("1,2", "comma without"),
    ("A?B", "unbalanced conditional"), ("B:C", "unbalanced conditional"),
    ("1 2", "syntax error"), ("1:=2", "bad assignment target"), ("MAX()", "operand"),
    ("A+FOO", "syntax error"), ("1;2", "operand missing"), ("0xZ", "numeric literal"),
    ("1e400", "numeric literal"),  # epicsStrtod's ERANGE: softIoc refuses the CALC
    ("1+(" * 85 + "1" + ")" * 85, "stack overflow"),
    ("+".join("1" * 90), None),  # long but shallow: fine
])
def test_refused_expressions_say_why_and_where(expression, message):
    if message is None:
        assert evaluate(expression) == 90
        return
    with pytest.raises(CalcError) as caught:
        compile_calc(expression)
    assert message in str(caught.value)
    assert "at character" in str(caught.value)


def test_inputs_and_stores_are_reported_as_base_counts_them():
    assert compile_calc("A+C*L").inputs == 0b1000_0000_0101
    assert compile_calc("A+C*L").stores == 0
    program = compile_calc("B:=1;A+B")
    assert program.stores == 0b10 and program.inputs == 0b1  # B is stored before it is read


def test_evaluating_never_runs_python_code():
    for hostile in ("__import__('os')", "A.__class__", "'x'", "[A]", "lambda: 1"):
        with pytest.raises(CalcError):
            compile_calc(hostile)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ABL01234.5e+-*/%^()?:,;=<>!&|#~ XORANDMINMAXPIVL", max_size=40))
def test_fuzzed_expressions_compile_or_are_refused_and_evaluate(text):
    try:
        program = compile_calc(text)
    except CalcError:
        return
    result = program.evaluate(list(INPUTS))
    assert isinstance(result, float)


# -- the oracle: softioc's calc record computes the same expressions ----------------------

ORACLE = [expr for expr, _ in KNOWN if "VAL" not in expr and ":=" not in expr]


@pytest.mark.skipif(importlib.util.find_spec("softioc") is None, reason="needs softioc")
def test_softioc_calc_records_agree():
    """Each expression in a calc record of softioc, read over a raw CA circuit."""
    inputs = "".join(f'field(INP{name}, "{value}")'
                     for name, value in zip("ABCDEFGHIJKLMNOPQRSTU", INPUTS, strict=True))
    db = "".join(f'record(calc, "CALCORACLE:{i}") {{ field(CALC, "{expr}") {inputs} '
                 f'field(PINI, "YES") }}\n' for i, expr in enumerate(ORACLE))
    differ = []
    with running_softioc(db) as port, RawCircuit(port) as circuit:
        for i, expr in enumerate(ORACLE):
            _, reply = circuit.create_channel(f"CALCORACLE:{i}")
            response = circuit.read(reply.sid, ChannelType.DOUBLE, 1, ioid=i)
            theirs = float(decode_dbr(ChannelType.DOUBLE, response.payload, 1)[0][0])
            ours = evaluate(expr, INPUTS)
            if not same(ours, theirs):
                differ.append((expr, ours, theirs))
    assert not differ, differ

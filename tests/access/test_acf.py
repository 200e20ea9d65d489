"""ACF files: what base's asLib accepts, what it refuses (with file:line:column), macros,
the newer keywords refused, and a fuzz test (no crash, no hang)."""
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iochost.access import AcfError, Level, parse_acf
from iochost.host.macros import MacroScope

SITE = """\
# A site's rules: comments, quoting, both body forms
UAG(ops) { alice, "bob" }
UAG(guests)
HAG(control) { LocalHost, "127.0.0.1" }
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE, TRAPWRITE) { UAG(ops) }
}
ASG(BEAM) {
    INPA("$(P)enable")  INPL(other:pv.VAL)
    RULE(0, WRITE, NOTRAPWRITE) { UAG(ops, guests) HAG(control) CALC("A=1") }
    RULE(1, READ)
}
ASG(EMPTY)
"""


def test_a_site_file_is_read_as_base_reads_it():
    config = parse_acf(SITE, "site.acf", MacroScope({"P": "X:"}).expand)
    assert config.uags == {"ops": ("alice", "bob"), "guests": ()}
    assert config.hags == {"control": ("localhost", "127.0.0.1")}  # lower-cased, as base
    assert set(config.groups) == {"DEFAULT", "BEAM", "EMPTY"}
    beam = config.groups["BEAM"]
    assert beam.inputs == {0: "X:enable", 11: "other:pv.VAL"}
    first, second = beam.rules
    assert (first.level, first.access, first.trapwrite) == (0, Level.WRITE, False)
    assert first.uags == ("ops", "guests") and first.hags == ("control",)
    assert first.calc is not None and first.calc.inputs == 1 and first.line == 11
    assert (second.access, second.calc) == (Level.READ, None)
    assert config.groups["DEFAULT"].rules[1].trapwrite
    assert config.groups["EMPTY"].rules == ()
    assert config.group("NOT-DEFINED").name == "DEFAULT"


def test_without_asg_default_there_is_an_empty_default_group():
    config = parse_acf("ASG(X) { RULE(1, READ) }")
    assert config.groups["DEFAULT"].rules == ()


def test_an_empty_default_group_may_be_declared_again_as_base_allows():
    config = parse_acf("ASG(DEFAULT)\nASG(DEFAULT)\nASG(DEFAULT) { RULE(1, WRITE) }")
    assert [rule.access for rule in config.groups["DEFAULT"].rules] == [Level.WRITE]


def test_longest_token_wins_like_flex():
    # UAGS and 12ab are names, INPA a keyword, 12 an integer (a name may not be one)
    config = parse_acf("UAG(UAGS) { 12ab, x-y+z:[1]<2>;3 }")
    assert config.uags == {"UAGS": ("12ab", "x-y+z:[1]<2>;3")}
    with pytest.raises(AcfError, match="expected a UAG name"):
        parse_acf("UAG(12) { a }")


def test_quoted_strings_keep_their_escapes_as_base_does():
    config = parse_acf(r'UAG(x) { "a\"b", "c d" }')
    assert config.uags["x"] == (r"a\"b", "c d")


@pytest.mark.parametrize("text, where, message", [
    ("UAG(a) {}", "1:9", "expected a user name, found '}'"),
    ("UAG(a) { x y }", "1:12", "expected '}', found 'y'"),
    ("HAG(h) {a,}", "1:11", "expected a host name"),
    ("ASG(x) {\n  RULE(1, 5)\n}", "2:11", "expected NONE, READ or WRITE, found '5'"),
    ("ASG(x) { RULE(1, READ, LOG) }", "1:24", "log options must be TRAPWRITE or NOTRAPWRITE"),
    ("ASG(x) { RULE(x, READ) }", "1:15", "expected an access security level"),
    ("ASG(x) { RULE(1, READ) { UAG(nobody) } }", "1:30", "no User Access Group named 'nobody'"),
    ("ASG(x) { RULE(1, READ) { HAG(nowhere) } }", "1:30", "no Host Access Group named"),
    ("ASG(x) { RULE(1, READ) {} }", "1:25", "expected UAG, HAG or CALC"),
    ("ASG(x) {}", "1:9", "expected INPA..INPU or RULE"),
    ("ASG(x) { FOO }", "1:10", "expected INPA..INPU or RULE"),
    # base 7.0.10's grammar has no unknown items inside an ASG
    ("ASG(x) { AUTHORITY(ca) RULE(1, READ) }", "1:10", "expected INPA..INPU or RULE"),
    ("ASG(x) { INPV(X:Y) }", "1:10", "expected INPA..INPU or RULE, found 'INPV'"),
    ("ASG(x) { RULE(1, READ) { FOO(a { } } }", "1:32", "expected ')'"),
    ("ASG(a)\nASG(a)", "2:5", "duplicate Access Security Group named 'a'"),
    ("ASG(DEFAULT) { RULE(1, READ) }\nASG(DEFAULT)", "2:5",
     "duplicate Access Security Group named 'DEFAULT'"),
    ("UAG(u)\nUAG(u)", "2:5", "duplicate User Access Group"),
    ('ASG(x) { RULE(1, READ) { CALC("A+") } }', "1:31", "bad CALC expression: incomplete"),
    ('ASG(x) { RULE(1, READ) { CALC("B:=1;A") } }', "1:31", "assignment operator"),
    ("ASG(x) { RULE(-1, READ) }", "1:15", "a RULE's level must be 0 or more, found -1"),
    ("ASG(x) { RULE(4294967297, READ) }", "1:15", "EPICS base would read it as 1"),
    ("ASG(x) { RULE(99999999999999999999, READ) }", "1:15", "integer out of range"),
    ("ASG(x) { RULE(1.0, READ) }", "1:15", "expected an access security level"),
    ("UAG(x) { -1 }", "1:10", "expected a user name, found '-1'"),   # numbers, not names
    ("HAG(x) { .5e3 }", "1:10", "expected a host name, found '.5e3'"),
    ("FOO(1.0e999)", "1:5", "number out of range"),
    ("FOO(1.0e-310)", "1:5", "number out of range"),  # strtod's underflow
    ("FOO(a b)", "1:7", "expected ')'"),
    ("FOO(a,)", "1:7", "expected a name, number or keyword"),
    ("FOO(x) { }", "1:10", "expected a name, number or keyword"),
    ("FOO(x) { a b }", "1:12", "expected '}'"),
    ("FOO(x) { a } { b }", "1:14", "expected a block of two or more elements"),
    ("FOO(x) " + "{ A() " * 102 + "}" * 102, "1:614", "blocks nested too deeply"),
    ("INPA(x)", "1:1", "expected UAG, HAG or ASG"),
    ('UAG(x) { "a\n}', "1:10", "newline in quoted string"),
    ("UAG(x) { a @ }", "1:12", "invalid character '@'"),
    ("UAG(x) { a \x01 }", "1:12", "invalid character 0x01"),
    ("RULE(1, READ)", "1:1", "expected UAG, HAG or ASG, found 'RULE'"),
    ("UAG(x", "1:6", "expected ')', found end of file"),
    # base's grammar needs one item: a truncated file must not revoke every right
    ("", "1:1", "expected UAG, HAG or ASG, found end of file"),
    ("# all commented out\n", "2:1", "expected UAG, HAG or ASG, found end of file"),
])
def test_errors_name_file_line_column_and_what_was_expected(text, where, message):
    with pytest.raises(AcfError) as caught:
        parse_acf(text, "rules.acf")
    assert str(caught.value).startswith(f"rules.acf:{where}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize("text, kept, keyword", [
    ("ASG(x) { RULE(1, READ) RULE(1, RPC) }", 1, "RPC"),
    ("ASG(x) { RULE(1, READ) RULE(1, WRTIE) }", 1, "WRTIE"),    # misspelt: dropped too
    ('ASG(x) { RULE(1, READ) { METHOD("get") } }', 0, "METHOD"),
    ('ASG(x) { RULE(1, WRITE) { UAG(u) PROTOCOL("tls") } RULE(0, READ) }', 1, "PROTOCOL"),
    ('AUTHORITY(ca, "CN=site") { NESTED(x) { y } }\nASG(x) { RULE(1, READ) }', 1, "AUTHORITY"),
    ('ASG(x) { RULE(1, READ) { METHOD("x") { a, 2 } } }', 0, "METHOD"),
    ("ASG(x) { RULE(1, READ) { RULE(2) } RULE(0, WRITE) }", 1, "RULE"),
    ('ASG(x) { RULE(1, READ) { "AUTHORITY"(ca) } }', 0, "AUTHORITY"),
    ('FOO(x) { a } { b, 1.5 }\nASG(x) { RULE(1, READ) }', 1, "FOO"),
    ('"FOO"(x) { BAR(y) { z } UAG(q) }\nASG(x) { RULE(1, READ) }', 1, "FOO"),
])
def test_what_base_7_0_10_does_not_know_is_skipped_with_a_warning(text, kept, keyword):
    """As base 7.0.10 (checked against softioc in test_acf_softioc_oracle): a RULE with an
    unknown access or body item is dropped -- never granting more --, an unknown top-level
    block skipped."""
    config = parse_acf("UAG(u) { a }\n" + text, "new.acf")
    assert len(config.groups["x"].rules) == kept
    assert any(keyword in warning and warning.startswith("new.acf:")
               for warning in config.warnings), config.warnings


def test_inputs_run_from_a_to_u_and_numbers_as_base_reads_them():
    config = parse_acf('ASG(x) { INPA(a) INPU(u) RULE(+1, WRITE) { CALC("A+U+M") } '
                       "RULE(-0, READ) RULE(007, NONE) }\nHAG(h) { 1.2.3, 1e5, 1. }")
    group = config.groups["x"]
    assert group.inputs == {0: "a", 20: "u"}
    assert [rule.level for rule in group.rules] == [1, 0, 7]
    assert group.rules[0].calc is not None and group.rules[0].calc.inputs == 1 | 1 << 12 | 1 << 20
    assert config.hags["h"] == ("1.2.3", "1e5", "1.")      # not numbers: names


def test_newer_keywords_are_plain_names_elsewhere():
    assert parse_acf("UAG(METHOD) { RPC }").uags == {"METHOD": ("RPC",)}


def test_macros_expand_per_line_with_defaults_and_errors_name_the_line():
    scope = MacroScope({"WHO": "alice"})
    config = parse_acf("UAG(ops) { $(WHO), ${OTHER=bob} }", "m.acf", scope.expand)
    assert config.uags["ops"] == ("alice", "bob")
    with pytest.raises(AcfError) as caught:
        parse_acf("# fine\nUAG(ops) { $(NOPE) }", "m.acf", scope.expand)
    assert str(caught.value).startswith("m.acf:2:12: macro: ")
    assert "NOPE" in str(caught.value)
    # comments are not expanded: a macro named only there need not exist (as base, which
    # skips comments); a '#' inside quotes is no comment
    config = parse_acf('# hosts: $(NOPE)\nUAG(ops) { "a#$(WHO)" } # $(NOPE) too', "m.acf",
                       scope.expand)
    assert config.uags["ops"] == ("a#alice",)


def test_a_calc_reading_no_input_is_accepted_with_a_warning():
    config = parse_acf('ASG(x) { RULE(1, WRITE) { CALC("1") } }', "w.acf")
    assert any("reads no input" in warning for warning in config.warnings)


ACF_WORDS = st.sampled_from(["UAG", "HAG", "ASG", "RULE", "CALC", "INPA", "INPL", "READ",
                             "WRITE", "NONE", "TRAPWRITE", "DEFAULT", "METHOD", "RPC", "1",
                             "0", "(", ")", "{", "}", ",", '"A=1"', '"x', "#c\n", "\n",
                             "a", "$(M)", "@", "\\"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200),
                 st.lists(ACF_WORDS, max_size=60).map(" ".join)))
def test_fuzzed_files_parse_or_fail_cleanly_and_quickly(text):
    start = time.monotonic()
    try:
        parse_acf(text, "fuzz.acf", MacroScope({"M": "x"}).expand)
    except AcfError as exc:
        assert str(exc).startswith("fuzz.acf:")
    assert time.monotonic() - start < 1.0

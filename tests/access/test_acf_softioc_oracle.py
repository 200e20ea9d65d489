"""Oracle: iochost accepts and refuses the ACF texts softioc (EPICS base 7.0.10's asLib)
accepts and refuses, and gives the same rights where both accept.

softioc's iocInit runs asInit on the file: a file asLib refuses leaves access security
off (``asActive`` 0), iocInit fails and no CA server runs; iochost's loader raises
AcfError instead. For a file both accept, a probe client's ACCESS_RIGHTS to each record
(groups DEFAULT, X, Y) and field (VAL at ASL0, DESC at ASL1) must match.

The softiocs start in parallel once per module (one per text, ~1 s each); each serves
records under its own prefix, so a probe reaching the wrong softioc fails loudly.
"""
import importlib.util
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from ca_raw_client import RawCircuit
from softioc_process import running_softioc

from iochost.access import AccessSecurity, AccessSettings, AcfError

if importlib.util.find_spec("softioc") is None:
    pytest.skip("softioc is not installed", allow_module_level=True)

#: groups named at the top of most texts; alice is in ops, bob's host in con
P = "UAG(ops) { alice }\nHAG(con) { console1 }\n"
#: a DEFAULT group everyone may read (so that a refused RULE elsewhere shows)
R = "ASG(DEFAULT) { RULE(1, READ) }\n"

CASES = {
    # -- comments, white space ---------------------------------------------------------
    "empty": "",
    "only-a-comment": "# nothing here\n",
    "comment-glued-to-a-name": P + "UAG(x) { bob# carol\n }\n"
                               "ASG(DEFAULT) { RULE(1, WRITE) { UAG(x) } }",
    "hash-inside-quotes": 'UAG(x) { "alice#2", bob }\nASG(DEFAULT) { RULE(1, WRITE) { UAG(x) } }',
    "crlf-lines": "ASG(DEFAULT) {\r\n  RULE(1, READ)\r\n}\r\n",
    "form-feed": "ASG(DEFAULT) {\f RULE(1, READ) }",
    "no-white-space-at-all": P + "ASG(DEFAULT){RULE(1,WRITE){UAG(ops)}RULE(0,READ)}",
    "comment-at-eof-without-newline": "ASG(DEFAULT) { RULE(1, READ) } # end",
    # -- quoting and bare names ----------------------------------------------------------
    "everything-quoted": 'UAG("ops") { "alice" }\nHAG("con") { "Console1" }\n'
                         'ASG("DEFAULT") { RULE(1, "WRITE", "TRAPWRITE") { UAG("ops") } '
                         'RULE(1, "READ") { HAG("con") } }',
    "quoted-keywords-are-names": 'UAG("UAG") { "RULE", alice }\n'
                                 'ASG(DEFAULT) { RULE(1, WRITE) { UAG("UAG") } }',
    "bare-keyword-as-member": "UAG(ops) { RULE }",
    "INPM-is-a-keyword": "UAG(ops) { INPM }\n" + R,
    "INPV-is-a-name": "UAG(ops) { INPV, alice }\nASG(DEFAULT) { RULE(1, WRITE) { UAG(ops) } }",
    "names-starting-with-keywords": "UAG(UAGS) { RULES, ASGX, INPAA, alice }\n"
                                    "ASG(DEFAULT) { RULE(1, WRITE) { UAG(UAGS) } }",
    "every-bare-name-character": "UAG(ops) { a-b+c:d.e_f[g]<h>;i, alice }\n"
                                 "ASG(X) { RULE(1, WRITE) { UAG(ops) } }",
    "slash-in-a-bare-name": "HAG(net) { 10.0.0.0/8 }\n" + R,
    "macro-without-substitutions": "UAG(ops) { $(USER) }\n" + R,
    "single-quotes": "UAG(ops) { 'alice' }\n" + R,
    "escaped-quote-kept-as-written": 'UAG(ops) { "a\\"b", alice }\n'
                                     "ASG(DEFAULT) { RULE(1, WRITE) { UAG(ops) } }",
    "escaped-backslash-at-the-end": 'UAG(ops) { "a\\\\" }\n' + R,
    "newline-in-quotes": 'UAG(ops) { "ali\nce" }\n' + R,
    "escaped-newline-in-quotes": 'UAG(ops) { "ali\\\nce" }\n' + R,
    "quote-open-at-eof": R + 'UAG(ops) { "alice',
    "empty-quoted-names": 'UAG(ops) { "" }\nASG("") { RULE(1, WRITE) }\n' + R,
    "unicode-in-quotes": 'HAG(con) { "Cönsole", Console1 }\n'
                         "ASG(DEFAULT) { RULE(1, WRITE) { HAG(con) } }",
    "unicode-bare": "UAG(ops) { älice }\n" + R,
    # -- numbers where names go ----------------------------------------------------------
    "integer-member": "UAG(ops) { 007 }\n" + R,
    "signed-integer-member": "UAG(ops) { -1 }\n" + R,
    "float-member": "UAG(ops) { 1.5 }\n" + R,
    "exponent-float-member": "HAG(con) { +1.5e3 }\n" + R,
    "number-like-names": "HAG(con) { 1.5e, 1e5, 1., 1.2.3, 999.1.1.1, console1 }\n"
                         "ASG(DEFAULT) { RULE(1, WRITE) { HAG(con) } }",
    "dotted-address-and-ipv6": "HAG(con) { 127.0.0.1, ::1, [fe80::1], console1 }\n"
                               "ASG(DEFAULT) { RULE(1, WRITE) { HAG(con) } }",
    # -- keywords' case ------------------------------------------------------------------
    "lower-case-uag-is-an-unknown-block": "uag(ops) { alice }\n" + R,
    "lower-case-rule": "ASG(DEFAULT) { rule(1, READ) }",
    "lower-case-access-drops-the-rule": "ASG(DEFAULT) { RULE(1, read) RULE(0, WRITE) }",
    "lower-case-trapwrite": "ASG(DEFAULT) { RULE(1, WRITE, trapwrite) }",
    "mixed-case-asg-is-an-unknown-block": "Asg(DEFAULT) { RULE(1, WRITE) }\n"
                                          "ASG(X) { RULE(1, READ) }",
    # -- groups ----------------------------------------------------------------------------
    "empty-uag-body": "UAG(ops) { }\n" + R,
    "uag-without-body": "UAG(ops)\nASG(DEFAULT) { RULE(1, WRITE) { UAG(ops) } RULE(1, READ) }",
    "empty-asg-body": "ASG(X) { }\n" + R,
    "asg-without-body": "ASG(X)\nASG(DEFAULT) { RULE(1, WRITE) }",
    "duplicate-uag": "UAG(ops) { alice }\nUAG(ops) { bob }\n" + R,
    "duplicate-hag": "HAG(con) { a }\nHAG(con) { b }\n" + R,
    "uag-and-hag-of-one-name": "UAG(g) { alice, bob }\nHAG(g) { console1 }\n"
                               "ASG(DEFAULT) { RULE(1, WRITE) { UAG(g) HAG(g) } RULE(1, READ) }",
    "duplicate-members": "UAG(ops) { alice, alice }\nHAG(con) { console1, CONSOLE1 }\n"
                         "ASG(DEFAULT) { RULE(1, WRITE) { UAG(ops) } RULE(1, READ) { HAG(con) } }",
    "duplicate-asg": "ASG(X) { RULE(1, READ) }\nASG(X) { RULE(1, WRITE) }\n" + R,
    "empty-default-declared-again": "ASG(DEFAULT)\nASG(DEFAULT) { RULE(1, WRITE) }",
    "default-with-rules-declared-again": R + "ASG(DEFAULT)",
    "default-with-an-input-declared-again": "ASG(DEFAULT) { INPA(NOWHERE:IN) }\nASG(DEFAULT)",
    "no-default-group": "ASG(X) { RULE(1, WRITE) }",
    "group-names-are-case-sensitive": "ASG(default) { RULE(1, WRITE) }\nASG(x) { RULE(1, READ) }",
    "members-without-commas": "UAG(ops) { alice bob }\n" + R,
    "trailing-comma": "UAG(ops) { alice, }\n" + R,
    "two-names-in-a-head": "UAG(ops, admins) { alice }\n" + R,
    # -- references ------------------------------------------------------------------------
    "undefined-uag": "ASG(DEFAULT) { RULE(1, WRITE) { UAG(ops) } }",
    "uag-defined-below": "ASG(DEFAULT) { RULE(1, WRITE) { UAG(ops) } }\nUAG(ops) { alice }",
    "undefined-hag": P + "ASG(DEFAULT) { RULE(1, WRITE) { HAG(nowhere) } }",
    "empty-uag-list": P + "ASG(DEFAULT) { RULE(1, WRITE) { UAG() } }",
    "uag-list": "UAG(a) { alice }\nUAG(b) { bob }\nASG(X) { RULE(1, WRITE) { UAG(a, b) } }",
    # -- levels ----------------------------------------------------------------------------
    "level-0-and-1": "ASG(DEFAULT) { RULE(0, WRITE) RULE(1, READ) }",
    "level-2": "ASG(DEFAULT) { RULE(2, WRITE) }",
    "level-with-plus-sign": "ASG(DEFAULT) { RULE(+1, WRITE) }",
    "level-with-leading-zeros": "ASG(DEFAULT) { RULE(00, WRITE) RULE(01, READ) }",
    "level-minus-zero": "ASG(DEFAULT) { RULE(-0, WRITE) }",
    "negative-level": "ASG(DEFAULT) { RULE(-1, WRITE) }",
    "float-level": "ASG(DEFAULT) { RULE(1.0, WRITE) }",
    "largest-int-level": "ASG(DEFAULT) { RULE(2147483647, WRITE) }",
    "level-beyond-int64": "ASG(DEFAULT) { RULE(99999999999999999999, WRITE) }",
    "access-missing": "ASG(DEFAULT) { RULE(1) }",
    # -- access and options ----------------------------------------------------------------
    "none-rule": "ASG(DEFAULT) { RULE(1, NONE) RULE(1, READ) }",
    "rpc-rule-dropped": "ASG(DEFAULT) { RULE(1, READ) RULE(1, RPC) }",
    "rpc-rule-with-trapwrite": "ASG(DEFAULT) { RULE(0, WRITE) RULE(1, RPC, TRAPWRITE) }",
    "trapwrite-and-notrapwrite": "ASG(DEFAULT) { RULE(0, WRITE, TRAPWRITE) "
                                 "RULE(1, READ, NOTRAPWRITE) }",
    "unknown-log-option": "ASG(DEFAULT) { RULE(1, WRITE, LOG) }",
    "unknown-log-option-on-unknown-access": "ASG(DEFAULT) { RULE(1, RPC, LOG) }",
    "four-rule-arguments": "ASG(DEFAULT) { RULE(1, WRITE, TRAPWRITE, NOW) }",
    "empty-rule-body": "ASG(DEFAULT) { RULE(1, WRITE) { } }",
    "rule-conditions-without-braces": P + "ASG(DEFAULT) { RULE(1, WRITE) UAG(ops) }",
    "rule-body-unknown-item": P + 'ASG(DEFAULT) { RULE(1, WRITE) { UAG(ops) METHOD("x") } '
                                  "RULE(1, READ) }",
    "rule-body-unknown-item-with-block": 'ASG(DEFAULT) { RULE(0, READ) RULE(1, WRITE) '
                                         '{ METHOD("x") { a, b } } }',
    "rule-body-keyword-item": "ASG(DEFAULT) { RULE(0, READ) RULE(1, WRITE) { RULE(2) } }",
    "rule-body-input-item": "ASG(DEFAULT) { RULE(0, READ) RULE(1, WRITE) { INPA(x) } }",
    "rule-body-quoted-item": 'ASG(DEFAULT) { RULE(0, READ) RULE(1, WRITE) { "METHOD"(x) } }',
    "rule-body-bare-word": "ASG(DEFAULT) { RULE(1, WRITE) { METHOD } }",
    # -- CALC and inputs ---------------------------------------------------------------------
    "calc-quoted": 'ASG(X) { INPA(NOWHERE:A) RULE(1, WRITE) { CALC("A=1") } RULE(1, READ) }',
    "calc-bare": "ASG(X) { INPA(NOWHERE:A) RULE(1, WRITE) { CALC(A) } RULE(1, READ) }",
    "calc-bare-with-equals": "ASG(X) { INPA(NOWHERE:A) RULE(1, WRITE) { CALC(A=1) } }",
    "calc-incomplete": 'ASG(X) { RULE(1, WRITE) { CALC("A+") } }',
    "calc-store": 'ASG(X) { RULE(1, WRITE) { CALC("A:=1;A") } }',
    "calc-empty": 'ASG(X) { RULE(1, WRITE) { CALC("") } }',
    "calc-twice": 'ASG(X) { INPB(NOWHERE:B) RULE(1, WRITE) { CALC("A") CALC("B") } }',
    "inputs-up-to-U": 'ASG(X) { INPU(NOWHERE:U) INPM(NOWHERE:M) '
                      'RULE(1, WRITE) { CALC("U+M") } RULE(1, READ) }',
    "calc-reads-an-input-not-given": 'ASG(X) { INPA(NOWHERE:A) RULE(1, WRITE) '
                                     '{ CALC("A+T") } RULE(0, READ) }',
    "INPV-in-a-group": "ASG(X) { INPV(NOWHERE:V) RULE(1, READ) }",
    "input-without-parentheses": "ASG(X) { INPA RULE(1, READ) }",
    "input-given-twice": "ASG(X) { INPA(NOWHERE:1) INPA(NOWHERE:2) RULE(1, READ) }",
    "lower-case-input": "ASG(X) { inpa(NOWHERE:A) RULE(1, READ) }",
    "calc-in-a-group": "ASG(X) { CALC(A) }",
    # -- unknown blocks (what later releases write) ------------------------------------------
    "unknown-block-alone": "FOO(x)\n" + R,
    "unknown-block-empty-head": "FOO()\n" + R,
    "unknown-word-without-parentheses": "FOO\n" + R,
    "unknown-head-of-every-kind": "FOO(a, 1, 2.5, RULE, INPQ, \"q\")\n" + R,
    "unknown-head-without-commas": "FOO(a b)\n" + R,
    "unknown-head-trailing-comma": "FOO(a,)\n" + R,
    "unknown-head-float-overflow": "FOO(1.0e999)\n" + R,
    "unknown-head-float-subnormal": "FOO(1.0e-310)\n" + R,
    "unknown-head-float-zero": "FOO(0.0e-999)\n" + R,
    "unknown-block-list": "FOO(x) { a, 1, UAG }\n" + R,
    "unknown-block-empty": "FOO(x) { }\n" + R,
    "unknown-block-nested": 'AUTHORITY(site, "CN=x") { ISSUED(a) { b } OTHER(c) '
                            "UAG(d) { e, f } CALC(g) }\n" + R,
    "unknown-block-of-words": "FOO(x) { a b }\n" + R,
    "unknown-two-blocks": "FOO(x) { a } { b, c }\n" + R,
    "unknown-two-blocks-second-single": "FOO(x) { a } { b }\n" + R,
    "unknown-block-quoted-name": '"FOO"(x) { a }\n' + R,
    "top-level-input": "INPA(x)\n" + R,
    "version-block": "VERSION(2.0)\n" + R,
    "version-line": "version 2.0\n" + R,
    "trailing-word": R + "garbage",
    "trailing-unknown-block": R + "END()",
    "unknown-item-in-a-group": "ASG(X) { AUTHORITY(ca) RULE(1, READ) }\n" + R,
}

#: Where EPICS' reading is clearly wrong iochost reads the file its own way (docs/access.md):
#: name -> (text, softioc's answer, iochost's answer), each as :func:`summary` puts it.
KNOWN_DIFFERENCES = {
    # asLib casts a level to a C int: 4294967297 is level 1, 2147483648 a negative level
    # no channel is under. iochost refuses a level beyond 2147483647 (and says why).
    "level-wrapping-to-1": ("ASG(DEFAULT) { RULE(4294967297, WRITE) }",
                            "D 3333 3333  X 3333 3333  Y 3333 3333",
                            "refused: level 4294967297 is beyond 2147483647: EPICS base "
                            "would read it as 1"),
    "level-wrapping-negative": ("ASG(DEFAULT) { RULE(2147483648, WRITE) }",
                                "D 0000 0000  X 0000 0000  Y 0000 0000",
                                "refused: level 2147483648 is beyond 2147483647: EPICS "
                                "base would read it as -2147483648"),
    # asLib creates no rule for an access it does not know and hands what follows (the
    # TRAPWRITE, the body's UAG/HAG/CALC, an unknown item disabling "the" rule) to the
    # rule before it -- here READ becomes ops-only --, or with none before, skips the
    # UAG check or refuses the file. iochost drops just that rule, as its warning says.
    "unknown-access-restricts-the-rule-before": (
        P + "ASG(DEFAULT) { RULE(1, READ) RULE(1, RPC) { UAG(ops) } }",
        "D 1000 1000  X 1000 1000  Y 1000 1000", "D 1111 1111  X 1111 1111  Y 1111 1111"),
    "unknown-access-first-rule-names-no-group": (
        "ASG(DEFAULT) { RULE(1, RPC) { UAG(nobody) } RULE(1, READ) }",
        "D 1111 1111  X 1111 1111  Y 1111 1111",
        "refused: no User Access Group named 'nobody' defined above"),
    "unknown-access-first-rule-unknown-item": (
        'ASG(DEFAULT) { RULE(1, RPC) { METHOD("x") } RULE(1, READ) }',
        "refused", "D 1111 1111  X 1111 1111  Y 1111 1111"),
}

RECORDS = {"D": None, "X": "X", "Y": "Y"}   # record -> its ASG (None: no ASG field)
FIELDS = {"": 0, ".DESC": 1}                # field -> its access security level
CLIENTS = [("alice", "h1"), ("bob", "Console1"), ("carol", "console2"), ('a\\"b', "h2")]
TEXTS = {**CASES, **{name: text for name, (text, _, _) in KNOWN_DIFFERENCES.items()}}
AS_ACTIVE = "open({!r}, 'w').write(str(imports.c_int.in_dll(imports.Com, 'asActive').value))"


def summary(rights: list[int] | None) -> str:
    """``"D 3311 1111  X ..."``: per record, the clients' rights (0, 1 read, 3 write) to
    VAL, then to DESC; or ``"refused"``."""
    if rights is None:
        return "refused"
    per_field = len(CLIENTS)
    groups = ["".join(map(str, rights[at:at + per_field]))
              for at in range(0, len(rights), per_field)]
    return "  ".join(f"{record} {' '.join(groups[2 * n:2 * n + 2])}"
                     for n, record in enumerate(RECORDS))


def softioc_rights(index: int, text: str) -> list[int] | None:
    """softioc's rights for the probes (records x fields x clients), None when asInit
    refused the file."""
    prefix = f"ACFO{index}:"
    db = "".join(f'record(ao, "{prefix}{name}") {{ field(ASG, "{asg}") }}\n' if asg
                 else f'record(ao, "{prefix}{name}") {{}}\n' for name, asg in RECORDS.items())
    with tempfile.TemporaryDirectory(prefix="acfo-") as workdir:
        flag = Path(workdir) / "asActive"
        with running_softioc(db, acf=text, setup=AS_ACTIVE.format(str(flag))) as port:
            if flag.read_text() != "1":
                return None
            seen = {}
            for user, host in CLIENTS:
                with RawCircuit(port, user=user.encode(), host=host.encode()) as raw:
                    for record in RECORDS:
                        for field in FIELDS:
                            access, _ = raw.create_channel(prefix + record + field)
                            seen[record, field, user] = access.access_rights
            return [seen[record, field, user] for record in RECORDS for field in FIELDS
                    for user, _ in CLIENTS]


def iochost_answer(text: str, tmp_path: Path) -> str:
    """What iochost's loader makes of ``text``: its rights for the probes, as
    :func:`summary`, or ``"refused: <why>"``."""
    path = tmp_path / "rules.acf"
    path.write_text(text, encoding="utf-8")
    security = AccessSecurity(AccessSettings(path))
    try:
        security.load()
    except AcfError as exc:
        return f"refused: {exc.message}"
    return summary([security.member(asg).rights(level, host, user)
                    for asg in RECORDS.values() for level in FIELDS.values()
                    for user, host in CLIENTS])


@pytest.fixture(scope="module")
def softioc_answers():
    """Every text's summary from softioc (one softioc per text, several at a time; a
    failure is kept as the exception, raised by the test of that text)."""
    def answer(item):
        index, text = item
        for _attempt in range(3):
            try:
                return summary(softioc_rights(index, text))
            except ConnectionRefusedError as exc:
                # its port was taken between free_port and the IOC's bind (a client's
                # ephemeral port, with this many circuits at once): RSRV then serves on
                # another port; start it again
                refused = exc
            except Exception as exc:
                return exc
        return refused
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(answer, enumerate(TEXTS.values())))
    return dict(zip(TEXTS, answers))


def softioc_answer(answers, name):
    answer = answers[name]
    if isinstance(answer, Exception):
        raise answer
    return answer


@pytest.mark.parametrize("name", CASES)
def test_iochost_refuses_and_grants_as_softioc_does(name, softioc_answers, tmp_path):
    theirs = softioc_answer(softioc_answers, name)
    ours = iochost_answer(CASES[name], tmp_path)
    assert (ours.partition(":")[0] if theirs == "refused" else ours) == theirs, ours


@pytest.mark.parametrize("name", KNOWN_DIFFERENCES)
def test_where_epics_is_clearly_wrong_iochost_keeps_its_reading(name, softioc_answers,
                                                                 tmp_path):
    text, theirs, ours = KNOWN_DIFFERENCES[name]
    assert softioc_answer(softioc_answers, name) == theirs   # still so in base
    assert iochost_answer(text, tmp_path) == ours


def test_the_cases_cover_both_verdicts_and_every_kind_of_rights(softioc_answers):
    answers = [softioc_answer(softioc_answers, name) for name in CASES]
    assert 30 < answers.count("refused") < len(answers) - 30
    assert {"0", "1", "3"} <= set("".join(answers))

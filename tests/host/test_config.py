"""Loading the host config: the model, and every structural error with its file:line and key."""
import textwrap

import pytest

from iochost.host import ConfigError, load_config, load_config_text

GOOD = """\
host:
  name: lab
  log_level: DEBUG
macros:
  SITE: LAB
  RATE: 5
ca:
  interfaces: [127.0.0.1]
  beacon_addresses: [127.0.0.1]
  auto_beacon: false
  beacon_period: 2.5
mounts:
  - name: first
    ioc: test-counter
    prefix: "$(SITE):$(ROOM):"
    macros: {ROOM: R1}
    options: {start: 3, label: "$(SITE) in $(ROOM) at $(RATE=1) Hz"}
  - name: second
    ioc: test-counter
    prefix: "$(SITE):$(ROOM=R9):$(USER_HOME)"
    macros: {SITE: OVERRIDDEN}
    enabled: false
    helpers: {test-recorder: {tag: x}, other: null}
"""


def load(text, environ=None):
    return load_config_text(textwrap.dedent(text), "cfg.yaml", environ={} if environ is None
                            else environ)


def problems_of(text, environ=None):
    with pytest.raises(ConfigError) as info:
        load(text, environ)
    return [(p.location.line, p.key, p.message) for p in info.value.problems]


def test_a_good_config_becomes_the_model():
    config = load(GOOD, environ={"USER_HOME": "H"})
    assert (config.host.name, config.host.log_level, config.host.status_prefix) == \
        ("lab", "DEBUG", "lab:")
    assert config.ca.settings() == {"interfaces": ["127.0.0.1"],
                                    "beacon_addresses": ["127.0.0.1"], "auto_beacon": False,
                                    "beacon_period": 2.5}
    first, second = config.mounts
    assert first.prefix == "LAB:R1:"
    assert first.options == {"start": 3, "label": "LAB in R1 at 5 Hz"}
    assert first.macros == {"SITE": "LAB", "RATE": "5", "ROOM": "R1"}
    assert first.enabled and first.helpers == {}
    # a mount's macros override the host's; the environment is the last layer
    assert second.prefix == "OVERRIDDEN:R9:H"
    assert not second.enabled
    assert second.helpers == {"test-recorder": {"tag": "x"}, "other": {}}
    assert second.where("helpers")[0].line == 23


def test_a_host_macro_may_refer_to_a_mount_macro():
    config = load("""\
        macros: {SITE: S, P: "$(SITE):$(ROOM):"}
        mounts:
          - {name: a, ioc: x, prefix: "$(P)", macros: {ROOM: R1}}
          - {name: b, ioc: x, prefix: "B:"}
        """)
    a, b = config.mounts
    assert (a.prefix, a.macros["P"], b.prefix) == ("S:R1:", "S:R1:", "B:")
    assert b.macros["P"] == "$(SITE):$(ROOM):"     # b does not use it: left as written


def test_defaults_of_an_empty_config():
    config = load("")
    assert (config.host.name, config.host.log_level, config.host.status_prefix) == \
        ("iochost", "INFO", "iochost:")
    assert config.mounts == [] and config.ca.settings() == {}


def test_status_prefix_null_switches_status_pvs_off():
    assert load("host: {status_prefix: null}").host.status_prefix is None
    assert load("host: {status_prefix: 'S:$(X)'}\nmacros: {X: y}").host.status_prefix == "S:y"


# (yaml, [(line, key, message fragment)]) -- one row per kind of mistake
ERRORS = [
    ("hosts: {}\n", [(1, "hosts", "unknown key (did you mean 'host'?) "
                               "(expected one of: host, macros, ca, mounts, access, web)")]),
    ("host:\n  colour: red\n", [(2, "host.colour", "unknown key")]),
    ("host: [1]\n", [(1, "host", "expected a mapping, got a list")]),
    ("host: {log_level: LOUD}\n", [(1, "host.log_level", "'LOUD' is not one of DEBUG")]),
    ("host: {name: 3}\n", [(1, "host.name", "expected a string, got an integer 3")]),
    ("ca:\n  port: '5064'\n", [(2, "ca.port", "expected a port number (1-65535)")]),
    ("ca:\n  port: 70000\n", [(2, "ca.port", "expected a port number")]),
    ("ca:\n\n  interfaces: 127.0.0.1\n", [(3, "ca.interfaces", "expected a list of addresses")]),
    ("ca: {auto_beacon: 'no'}\n", [(1, "ca.auto_beacon", "expected true or false")]),
    ("ca: {beacon_period: -1}\n", [(1, "ca.beacon_period", "expected a positive number")]),
    ("ca: {max_array_bytes: 1.5}\n", [(1, "ca.max_array_bytes", "a positive integer")]),
    ("macros: {A: [1]}\n", [(1, "macros", "expected a mapping of macro names")]),
    ("mounts: {a: 1}\n", [(1, "mounts", "expected a list of mounts")]),
    ("mounts:\n  - 7\n", [(2, "mounts[0]", "expected a mapping, got an integer")]),
    ("mounts:\n  - ioc: x\n", [(2, "mounts[0]", "missing required key 'name'")]),
    ("mounts:\n  - name: a\n", [(2, "mounts[0]", "missing required key 'ioc'")]),
    ("mounts:\n  - name: a\n    ioc: x\n    prefx: 'P:'\n",
     [(4, "mounts[0].prefx",
       "unknown key (did you mean 'prefix'?) (expected one of: name, ioc, prefix")]),
    ("mounts:\n  - name: a\n    ioc: x\n    enabled: maybe\n",
     [(4, "mounts[0].enabled", "expected true or false, got a string 'maybe'")]),
    ("mounts:\n  - name: a\n    ioc: x\n    options: [1]\n",
     [(4, "mounts[0].options", "expected a mapping of option names")]),
    ("mounts:\n  - name: a\n    ioc: x\n    helpers: {autosave: 1}\n",
     [(4, "mounts[0].helpers", "expected a mapping of helper names")]),
    ("mounts:\n  - name: 'bad name'\n    ioc: x\n",
     [(2, "mounts[0].name", "mount 'bad name': a mount name starts with a letter")]),
    ("mounts:\n  - name: _host\n    ioc: x\n", [(2, "mounts[0].name", "a mount name starts")]),
    ("mounts:\n  - {name: a, ioc: x}\n  - {name: b, ioc: x}\n  - name: a\n    ioc: y\n",
     [(4, "mounts[2].name", "duplicate mount name 'a' (first used on line 2)")]),
    ("mounts:\n  - name: a\n    ioc: x\n    prefix: '$(NOPE):'\n",
     [(4, "mounts[0].prefix", "mount 'a': undefined macro $(NOPE)")]),
    ("mounts:\n  - name: a\n    ioc: x\n    options:\n      deep: {path: '${GONE}/f'}\n",
     [(5, "mounts[0].options.deep.path", "mount 'a': undefined macro $(GONE)")]),
    ("mounts:\n  - name: a\n    ioc: x\n    macros:\n      M: '$(M2)'\n",
     [(5, "mounts[0].macros.M", "mount 'a': undefined macro $(M2)")]),
    ("macros:\n  A: '$(B)'\n  B: '$(A)'\n",
     [(2, "macros.A", "circular macro definition"), (3, "macros.B", "circular")]),
    # with a mount too (its macros are flattened: that raised a traceback)
    ("macros:\n  A: '$(B)'\n  B: '$(A)'\nmounts:\n  - {name: a, ioc: x}\n",
     [(2, "macros.A", "circular macro definition"), (3, "macros.B", "circular")]),
    # a host macro that refers to a mount's: an error only where a mount without it uses it
    ("macros:\n  P: '$(ROOM):'\nmounts:\n  - {name: a, ioc: x, prefix: '$(P)',"
     " macros: {ROOM: R1}}\n  - {name: b, ioc: x, prefix: '$(P)'}\n",
     [(5, "mounts[1].prefix", "mount 'b': undefined macro $(ROOM)")]),
    ("host: {name: a}\nhost: {name: b}\n",
     [(2, "host", "duplicate key (first written on line 1)")]),
    ("mounts:\n  - name: a\n    ioc: x\n    ioc: y\n",
     [(4, "mounts[0].ioc", "duplicate key (first written on line 3)")]),
    ("mounts:\n  - name: a\n   ioc: x\n",
     [(3, "", "YAML syntax error: while parsing a block collection started at line 2, "
              "column 3: expected <block end>, but found '<block mapping start>' at line 3, "
              "column 4")]),
    # an unclosed quote on line 2 of 4: reported where it opened, and where parsing ended
    ("mounts:\n  - {name: a, ioc: x, prefix: \"A:}\n  - name: b\n    ioc: x\n",
     [(2, "", "YAML syntax error: while scanning a quoted scalar started at line 2, column 31:"
              " found unexpected end of stream at line 5, column 1")]),
    ("mounts:\n  - {name: a, ioc: x\n  - name: b\n",
     [(2, "", "while parsing a flow mapping started at line 2, column 5: expected ',' or '}',"
              " but got ':' at line 3, column 9")]),
]


@pytest.mark.parametrize("text, expected", ERRORS, ids=[e[1][0][1] or "syntax" for e in ERRORS])
def test_each_error_names_file_line_and_key(text, expected):
    found = problems_of(text)
    assert len(found) == len(expected), found
    for (line, key, message), (want_line, want_key, fragment) in zip(found, expected):
        assert (line, key) == (want_line, want_key)
        assert fragment in message


def test_all_problems_are_reported_at_once_in_file_order():
    text = ("host:\n  log_level: LOUD\n  colour: red\n"
            "ca:\n  port: x\n"
            "mounts:\n  - name: a\n    ioc: x\n    prefix: '$(U)'\n"
            "  - name: a\n    ioc: y\n")
    found = problems_of(text)
    assert [(line, key) for line, key, _ in found] == [
        (2, "host.log_level"), (3, "host.colour"), (5, "ca.port"), (9, "mounts[0].prefix"),
        (10, "mounts[1].name")]


def test_error_message_names_the_file(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text("mounts:\n  - name: a\n    ioc: x\n    bogus: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}:4: mounts[0].bogus: unknown key" in str(info.value)
    assert str(info.value).startswith("1 problem in the host config:")


def test_missing_file_is_one_clear_problem(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file: No such file"):
        load_config(tmp_path / "absent.yaml")

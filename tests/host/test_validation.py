"""Checks against the installed plugins: IOC names, options, helpers, duplicate PV names."""
import textwrap

import pytest

from iochost.host import ConfigError, hookimpl, load_config_text, load_plugins, validate
from iochost.host.hostconfig import parse_config
from iochost.host.yamlsource import load_yaml_text


@pytest.fixture
def catalog(plugin_site, clean_env):
    return load_plugins()


def problems_raised(text, catalog, *, status_pvs=False):
    """The problems ``validate`` raises for the host config ``text`` (its ConfigError must
    be raised); with ``status_pvs``, checked against the host status PVs too, as serve does."""
    config = load_config_text(textwrap.dedent(text), "host.yaml", environ={})
    with pytest.raises(ConfigError) as info:
        validate(config, catalog, builtin_mounts=status_pvs)
    return info.value.problems


def problems_of(text, catalog):
    """(line, key, message) of each problem ``validate`` raises for the config ``text``."""
    return [(p.location.line, p.key, p.message) for p in problems_raised(text, catalog)]


def test_a_valid_config_builds_every_enabled_mount(catalog):
    config = load_config_text(textwrap.dedent("""\
        mounts:
          - {name: a, ioc: test-counter, prefix: "A:", options: {start: 2, step: 0.5}}
          - {name: b, ioc: test-counter, prefix: "B:", helpers: {test-recorder: {}}}
          - {name: spare, ioc: test-counter, prefix: "A:", enabled: false}
        """), "host.yaml", environ={})
    built = validate(config, catalog)
    # a disabled mount is checked but not built; the host status PVs are a built-in mount
    assert set(built) == {"_host", "a", "b"}
    assert sorted(built["a"].pvdb) == ["A:COUNT", "A:LABEL", "A:STEP"]


# (mount lines, [(line, key, message fragment)])
MOUNT_ERRORS = [
    ("  - name: a\n    ioc: test-countr\n",
     [(3, "mounts[0].ioc", "mount 'a': unknown IOC 'test-countr' (did you mean 'test-counter'?)")]),
    ("  - name: a\n    ioc: doomed\n",
     [(3, "mounts[0].ioc", ("mount 'a': IOC 'doomed' is provided by plugin 'broken-registration',"
                           " which failed to load: iochost_register_iocs raised RuntimeError"))]),
    ("  - name: a\n    ioc: nowhere\n",
     [(3, "mounts[0].ioc", ("mount 'a': unknown IOC 'nowhere'; it may come from a plugin that "
                           "failed to load (see 'iochost list-plugins'): broken-conflict, "
                           "broken-import, broken-misspelt, broken-register-call, "
                           "broken-signature"))]),
    ("  - name: a\n    ioc: test-counter\n    options: {colour: red}\n",
     [(4, "mounts[0].options.colour", ("IOC 'test-counter' has no option 'colour' (options: "
                                      "start, step, label, fail_startup)"))]),
    ("  - name: a\n    ioc: test-counter\n    options: {stpe: 2}\n",
     [(4, "mounts[0].options.stpe", ("IOC 'test-counter' has no option 'stpe' (did you mean "
                                    "'step'?) (options: start, step, label, fail_startup)"))]),
    ("  - name: a\n    ioc: test-counter\n    options:\n      start: many\n",
     [(5, "mounts[0].options.start",
       "option 'start' of IOC 'test-counter': the string 'many' is not an integer")]),
    ("  - name: a\n    ioc: test-counter\n    helpers:\n      autosav: {}\n",
     [(5, "mounts[0].helpers.autosav", "unknown helper 'autosav' (did you mean 'autosave'?)")]),
    ("  - name: a\n    ioc: test-counter\n    helpers:\n      autosave: {period: fast}\n"
     "      stats: {bogus: 1}\n",
     [(5, "mounts[0].helpers.autosave.period",
       "option 'period' of helper 'autosave': the string 'fast' is not a number or null"),
      (6, "mounts[0].helpers.stats.bogus", "helper 'stats' has no option 'bogus' (options: ")]),
    # a Sequence[str] option is a list: not a number, not one string read letter by letter
    ("  - name: a\n    ioc: test-counter\n    helpers:\n      autosave: {pvs: 5, fields: EGU}\n",
     [(5, "mounts[0].helpers.autosave.fields",
       "option 'fields' of helper 'autosave': the string 'EGU' is not a list"),
      (5, "mounts[0].helpers.autosave.pvs",
       "option 'pvs' of helper 'autosave': expected a list, got int 5")]),
    (("  - name: a\n    ioc: test-counter\n    prefix: 'X:'\n"
     "  - name: b\n    ioc: test-counter\n    prefix: 'X:'\n"),
     [(7, "mounts[1].prefix", "mount 'b': PV 'X:COUNT' is already provided by mount 'a' (line 2)"),
      (7, "mounts[1].prefix", "PV 'X:LABEL'"), (7, "mounts[1].prefix", "PV 'X:STEP'")]),
]


@pytest.mark.parametrize("mounts, expected", MOUNT_ERRORS,
                         ids=["unknown", "broken-provider", "maybe-broken", "unknown-option",
                              "misspelt-option",
                              "option-type", "unknown-helper", "helper-options", "helper-lists",
                              "duplicate-pvs"])
def test_each_plugin_error_names_line_key_and_mount(catalog, mounts, expected):
    found = problems_of("mounts:\n" + mounts, catalog)
    assert len(found) == len(expected), found
    for (line, key, message), (want_line, want_key, fragment) in zip(found, expected):
        assert (line, key) == (want_line, want_key)
        assert fragment in message, message


def test_duplicate_pvs_through_macros_are_found(catalog):
    found = problems_of("""\
        macros: {AREA: "LAB"}
        mounts:
          - {name: one, ioc: test-counter, prefix: "$(AREA):$(N):", macros: {N: "1"}}
          - {name: two, ioc: test-counter, prefix: "LAB:1:"}
        """, catalog)
    assert [(line, key) for line, key, _ in found] == [(4, "mounts[1].prefix")] * 3
    assert "PV 'LAB:1:COUNT' is already provided by mount 'one' (line 3)" in found[0][2]


def test_problems_of_all_mounts_come_at_once(catalog):
    found = problems_of("""\
        mounts:
          - {name: a, ioc: nope}
          - {name: b, ioc: test-counter, options: {bogus: 1}}
          - {name: c, ioc: test-counter, prefix: "C:"}
          - {name: d, ioc: test-counter, prefix: "C:", enabled: false}
        """, catalog)
    assert [(line, key) for line, key, _ in found] == [(2, "mounts[0].ioc"),
                                                       (3, "mounts[1].options.bogus")]


def test_a_disabled_mount_of_a_broken_plugin_is_a_warning_not_a_refusal(catalog):
    """An operator disables the mount of a plugin that broke (an upgrade) to get the host
    serving again: its unknown IOC was a problem all the same, and serve refused to start.
    Now a warning; the enabled mounts are built, and enabling it is checked then."""
    config = load_config_text(textwrap.dedent("""\
        mounts:
          - {name: a, ioc: test-counter, prefix: "A:"}
          - {name: dev, ioc: doomed, prefix: "D:", enabled: false}
        """), "host.yaml", environ={})
    warnings: list[str] = []
    assert set(validate(config, catalog, warnings=warnings)) == {"_host", "a"}
    assert warnings == [
        "host.yaml:3: mounts[1].ioc: mount 'dev': IOC 'doomed' is provided by plugin "
        "'broken-registration', which failed to load: iochost_register_iocs raised "
        "RuntimeError: device table is corrupt (the mount is disabled: not served)"]


def test_an_ioc_that_fails_to_build_is_reported_with_its_mount(catalog):
    found = problems_of("""\
        mounts:
          - {name: a, ioc: test-counter, options: {start: -1}}
        """, catalog)
    assert found == [(2, "mounts[0]", ("mount 'a': building IOC 'test-counter' failed: "
                                      "ValueError: start must not be negative"))]


def test_pvs_clashing_with_the_host_status_pvs_are_found(catalog):
    messages = [p.message for p in problems_raised("""\
        host: {status_prefix: "S:"}
        mounts:
          - {name: again, ioc: iochost-status, prefix: "S:"}
          - {name: MOUNT, ioc: test-counter, prefix: "S:MOUNT:again:"}
        """, catalog, status_pvs=True)]
    assert ("mount 'again': PV 'S:UPTIME' is already served by the built-in mount '_host' "
            "(host status)") in messages
    assert len(messages) == 6            # 5 clashes shown, then a count of the rest


class StateIOC:
    """An inline plugin whose IOC serves a PV named ``STATE``."""

    @staticmethod
    @hookimpl
    def iochost_register_iocs(register):
        from iochost import PVGroup, pvproperty

        class WithState(PVGroup):
            STATE = pvproperty(value=0)

        register("with-state", WithState)


def test_state_pvs_of_mounts_are_reserved(plugin_site, clean_env):
    catalog = load_plugins(extra_plugins={"state": StateIOC})
    assert [p.message for p in problems_raised("""\
        host: {status_prefix: "S:"}
        mounts:
          - {name: a, ioc: with-state, prefix: "S:MOUNT:b:"}
          - {name: b, ioc: with-state, prefix: "S:MOUNT:c:"}
        """, catalog, status_pvs=True)] == [
        "mount 'a': PV 'S:MOUNT:b:STATE' is already served by the built-in mount '_host' "
        "(host status)"]


class OneLabelPerHost:
    """An inline plugin whose check spans mounts: no two mounts may have one ``label``
    option; it records the mounts it was shown."""

    seen: list[str] = []

    @staticmethod
    @hookimpl
    def iochost_config_problems(config, mounts):
        OneLabelPerHost.seen[:] = [mount.name for mount in mounts]
        first: dict[str, str] = {}
        return [mount.problem(f"label {label!r} is taken by mount {first[label]!r}",
                              "options", "label")
                for mount in mounts if (label := mount.options.get("label")) is not None
                and first.setdefault(label, mount.name) != mount.name]


class FailingCheck:
    """An inline plugin whose config check raises."""

    @staticmethod
    @hookimpl
    def iochost_config_problems(mounts):
        raise RuntimeError("no idea")


def test_plugins_check_the_mounts_to_serve_together(plugin_site, clean_env):
    """``iochost_config_problems`` sees the mounts that would be served (built-in ones
    too; not the disabled ones, nor one whose options are wrong); its problems carry
    file:line and key; a check that raises is a problem naming its plugin."""
    catalog = load_plugins(extra_plugins={"one-label": OneLabelPerHost})
    assert problems_of("""\
        mounts:
          - {name: a, ioc: test-counter, prefix: "A:", options: {label: x}}
          - {name: b, ioc: test-counter, prefix: "B:", options: {label: y}}
          - name: c
            ioc: test-counter
            prefix: "C:"
            options: {step: 3, label: x}
          - {name: d, ioc: test-counter, prefix: "D:", options: {label: x}, enabled: false}
        """, catalog) == [(7, "mounts[2].options.label",
                           "mount 'c': label 'x' is taken by mount 'a'")]
    assert OneLabelPerHost.seen == ["a", "b", "c"]

    catalog = load_plugins(extra_plugins={"one-label": OneLabelPerHost,
                                          "failing": FailingCheck})
    assert [str(p) for p in problems_raised("""\
        host: {status_prefix: "S:"}
        mounts:
          - {name: a, ioc: test-counter, prefix: "A:"}
          - {name: b, ioc: test-counter, prefix: "B:", options: {stpe: 1}}
        """, catalog, status_pvs=True)] == [
        "host.yaml: plugin 'failing' failed to check the config: RuntimeError: no idea",
        "host.yaml:4: mounts[1].options.stpe: mount 'b': IOC 'test-counter' has no option "
        "'stpe' (did you mean 'step'?) (options: start, step, label, fail_startup)"]
    assert OneLabelPerHost.seen == ["_host", "a"]


def test_ca_settings_the_server_would_reject_are_found(catalog, monkeypatch):
    monkeypatch.delenv("EPICS_CAS_INTF_ADDR_LIST")   # else the environment would win
    problems = problems_raised("ca:\n  port: 5099\n  interfaces: [localhost]\n", catalog)
    assert [str(p) for p in problems] == [
        "host.yaml:3: ca.interfaces: 'localhost' is not an IPv4 address[:port]"]


def test_a_bad_environment_variable_is_blamed_on_the_environment(catalog, monkeypatch):
    monkeypatch.setenv("EPICS_CAS_BEACON_PERIOD", "-3")
    problems = problems_raised("ca: {beacon_period: 2.0}\n", catalog)
    assert [str(p) for p in problems] == [
        "<environment>: EPICS_CAS_BEACON_PERIOD='-3': must be positive"]


# -- option values coerced to the constructor's annotations (macros expand to text) --------
def _built_options(text, catalog):
    config = load_config_text(textwrap.dedent(text), "host.yaml", environ={})
    validate(config, catalog)
    return config.mounts[0].options


def test_macro_text_is_coerced_to_the_options_annotated_types(catalog):
    options = _built_options("""\
        macros: {START: 80, STEP: "2.5", FAIL: "NO"}
        mounts:
          - name: a
            ioc: test-counter
            options: {start: "$(START)", step: "$(STEP)", fail_startup: "$(FAIL)", label: 7}
        """, catalog)
    assert options == {"start": 80, "step": 2.5, "fail_startup": False, "label": "7"}
    assert type(options["start"]) is int and type(options["step"]) is float


def test_plain_yaml_values_follow_the_annotation_too(catalog):
    # an int for a float option becomes a float; YAML 1.1's string '1e2' is read as a number
    options = _built_options("""\
        mounts:
          - {name: a, ioc: test-counter, options: {step: 3}}
        """, catalog)
    assert options["step"] == 3.0 and type(options["step"]) is float
    options = _built_options("""\
        mounts:
          - {name: a, ioc: test-counter, options: {step: 1e2}}
        """, catalog)
    assert options["step"] == 100.0
    # an unquoted 1 or 0 for a bool option, as the docs' spellings list it (was refused)
    options = _built_options("""\
        mounts:
          - {name: a, ioc: test-counter, options: {fail_startup: 0}}
        """, catalog)
    assert options["fail_startup"] is False


@pytest.mark.parametrize(("options", "message"), [
    ('{start: "$(MAXT)"}', ("option 'start' of IOC 'test-counter': the string '80x' from "
                           "macro MAXT is not an integer")),
    ('{start: "$(MAXT)$(N)"}', ("the string '80x3' from macros MAXT, N ('$(MAXT)$(N)') is "
                               "not an integer")),
    ("{start: 1e2}", ("the string '1e2' is not an integer (an exponent makes it a float; "
                     "YAML 1.1 also reads 1e2 as a string: write the digits out)")),
    ("{label: yes}", ("expected a string, got the boolean true (YAML 1.1 reads "
                     "yes/no/on/off/y/n as booleans: quote the word)")),
    ("{label: 1.10}", "got the number 1.1 (quote it to keep its spelling)"),
    ('{fail_startup: "maybe"}', "the string 'maybe' is not true or false"),
    ("{fail_startup: 2}", "expected true or false, got int 2"),
])
def test_an_option_that_cannot_be_coerced_says_why(catalog, options, message):
    problems = problems_raised(f"""\
        macros: {{MAXT: 80x, N: 3}}
        mounts:
          - name: a
            ioc: test-counter
            options: {options}
        """, catalog)
    assert len(problems) == 1
    assert problems[0].location.line == 5 and problems[0].key.startswith("mounts[0].options.")
    assert message in problems[0].message


def test_a_mount_with_a_duplicate_name_is_still_checked_fully(catalog):
    data, source, problems = load_yaml_text(textwrap.dedent("""\
        mounts:
          - {name: a, ioc: test-counter, prefix: "A:"}
          - name: a
            ioc: test-counter
            options: {colour: red, start: "x"}
            helpers: {autosav: {}}
        """), "host.yaml")
    config = parse_config(data, source, problems, {})
    with pytest.raises(ConfigError) as info:
        validate(config, catalog, problems)
    found = [(p.location.line, p.key, p.message) for p in info.value.problems]
    assert [(line, key) for line, key, _ in found] == [
        (3, "mounts[1].name"), (5, "mounts[1].options.colour"), (5, "mounts[1].options.start"),
        (6, "mounts[1].helpers.autosav")]
    assert "duplicate mount name 'a' (first used on line 2)" in found[0][2]
    assert "the string 'x' is not an integer" in found[2][2]


class ManyPVs:
    """An inline plugin whose IOC serves twelve PVs."""

    @staticmethod
    @hookimpl
    def iochost_register_iocs(register):
        from iochost import PVGroup, pvproperty

        register("many", type("Many", (PVGroup,), {
            f"PV{index:02d}": pvproperty(value=index) for index in range(12)}))


def test_a_large_pv_clash_lists_five_names_and_counts_the_rest(plugin_site, clean_env):
    catalog = load_plugins(extra_plugins={"many": ManyPVs})
    messages = [p.message for p in problems_raised("""\
        mounts:
          - {name: a, ioc: many, prefix: "M:"}
          - {name: b, ioc: many, prefix: "M:"}
        """, catalog)]
    assert messages == [f"mount 'b': PV 'M:PV{i:02d}' is already provided by mount 'a' (line 2)"
                        for i in range(5)] + [
        "mount 'b': PV names clashing beyond these 5: 7 more (12 in all)"]


def test_an_unknown_ioc_names_the_plugins_installed_since_the_start(plugin_site_dir,
                                                                     clean_env, monkeypatch):
    """pip install a plugin, then mount its IOC (Host.mount) without a reload: the running
    host has not loaded it, and the problem says so (a reload loads it), rather than only
    'unknown IOC'."""
    from iochost.host.plugins import installed_since

    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", ",".join(plugin_site_dir.distributions))
    started = load_plugins()            # the test plugins are not installed yet
    assert installed_since(started) == []
    for path in reversed(plugin_site_dir.paths):
        monkeypatch.syspath_prepend(path)   # now they are
    assert installed_since(started)
    ((_, key, message),) = problems_of("mounts:\n  - {name: a, ioc: test-counter}\n", started)
    assert key == "mounts[0].ioc" and "unknown IOC 'test-counter'" in message
    assert "plugins installed since iochost started, loaded by its next reload: " in message


def test_literal_enum_and_list_element_options_are_checked_and_in_the_schema():
    """A Literal's or an Enum's choices and a list's element type are checked as the
    simple types are (a typo in a mode was only found by the IOC, if at all); an Enum
    option takes a value or a member's name and the IOC gets the member."""
    import enum
    from typing import Literal

    from iochost import PVGroup
    from iochost.host.coercion import OptionTypeError
    from iochost.host.iocinfo import ioc_signature, options_schema

    class Speed(enum.Enum):
        SLOW = "slow"
        FAST = "fast"

    class Oven(PVGroup):
        def __init__(self, *args, mode: Literal["auto", "manual"] = "auto",
                     speed: Speed = Speed.SLOW, channels: list[int] | None = None,
                     **kwargs):
            super().__init__(*args, **kwargs)

    options = ioc_signature(Oven).options
    assert options["mode"].coerce("manual") == "manual"
    with pytest.raises(OptionTypeError, match=r"'manul' is not one of 'auto', 'manual' "
                                              r"\(did you mean 'manual'\?\)"):
        options["mode"].coerce("manul")
    assert options["speed"].coerce("fast") is Speed.FAST
    assert options["speed"].coerce("FAST") is Speed.FAST
    with pytest.raises(OptionTypeError, match="'quick' is not one of 'slow', 'fast'"):
        options["speed"].coerce("quick")
    assert options["channels"].coerce(["1", 2]) == [1, 2]       # macros give text
    assert options["channels"].coerce(None) is None
    with pytest.raises(OptionTypeError, match="an element: the string 'x' is not an integer"):
        options["channels"].coerce([1, "x"])
    properties = options_schema(Oven)["properties"]
    assert properties["mode"]["enum"] == ["auto", "manual"]
    assert properties["speed"]["enum"] == ["slow", "fast", "SLOW", "FAST"]
    assert properties["speed"]["default"] == "slow"
    assert properties["channels"]["items"] == {"type": "integer"}

"""The host config's ``access:`` section and ``mounts[].asg``, checked by the config table."""
import pytest

from iochost.host import ConfigError, load_config_text


def problems(text):
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "h.yaml", environ={})
    return [(p.location.line, p.key, p.message) for p in caught.value.problems]


def test_a_valid_section_and_mount_group():
    config = load_config_text(
        "macros: {D: rules}\naccess: {file: '$(D)/site.acf', macros: {A: 1}, "
        "host_match: address, on_error: read-only}\n"
        "mounts: [{name: m, ioc: x, asg: OPS}]\n", "/etc/iochost/h.yaml", environ={})
    assert str(config.access.file) == "/etc/iochost/rules/site.acf"
    assert config.access.macros == {"A": "1"}
    assert (config.access.host_match, config.access.on_error) == ("address", "read-only")
    assert config.access.scope.expand("$(A)$(D)") == "1rules"
    assert config.mounts[0].asg == "OPS"
    assert load_config_text("mounts: []\n", "h.yaml", environ={}).access is None


@pytest.mark.parametrize("text, expected", [
    ("access: {macros: {}}\n", (1, "access", "missing required key 'file'")),
    ("access:\n  file: a.acf\n  host_match: ip\n",
     (3, "access.host_match", "'ip' is not one of name, address")),
    ("access:\n  file: a.acf\n  on_error: writable\n",
     (3, "access.on_error", "'writable' is not one of refuse, read-only")),
    ("access:\n  file: a.acf\n  rules: x\n",
     (3, "access.rules", "unknown key (expected one of: file, macros, host_match, on_error)")),
    ("access: {file: '$(NOPE)'}\n", (1, "access.file", "NOPE")),
    ("mounts:\n  - {name: m, ioc: x, asg: 3}\n", (2, "mounts[0].asg", "expected a string")),
])
def test_mistakes_name_line_and_key(text, expected):
    found = problems(text)
    line, key, message = expected
    assert any(p[0] == line and p[1] == key and message in p[2] for p in found), found


def test_iochost_check_parses_the_rules_file(tmp_path, capsys, monkeypatch):
    from iochost.cli import main

    monkeypatch.delenv("IOCHOST_DISABLE_PLUGINS", raising=False)
    rules = tmp_path / "site.acf"
    rules.write_text("UAG(ops) { $(WHO) }\nASG(DEFAULT) { RULE(1, READ) }\n")
    config = tmp_path / "host.yaml"
    config.write_text("host: {status_prefix: null}\naccess: {file: site.acf, macros: "
                      "{WHO: alice}}\nmounts: [{name: s, ioc: simple, prefix: 'CHK:'}]\n")
    assert main(["check", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"{rules}: OK (1 ASGs, 1 UAGs, 0 HAGs)" in out and f"{config}: OK" in out
    rules.write_text("ASG(DEFAULT) {\n  RULE(1, 5)\n}\n")
    assert main(["check", str(config)]) == 1
    assert f"error: access rules: {rules}:2:11: expected NONE, READ or WRITE, found '5'" \
        in capsys.readouterr().err
    # what base 7.0.10 drops (a misspelt access) is a warning, as it is to base
    rules.write_text("ASG(DEFAULT) {\n  RULE(1, READ)\n  RULE(1, WRTIE)\n}\n")
    assert main(["check", str(config)]) == 0
    captured = capsys.readouterr()
    assert f"{rules}:3: ignoring a RULE that contains an unsupported keyword: WRTIE" in \
        captured.out + captured.err

"""The ``iochost`` verbs against the test plugins: list-plugins, check, list-pvs, schema."""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iochost.cli import main
from iochost.host.coercion import text_pattern


@pytest.fixture
def plugins(plugin_site, clean_env):
    return plugin_site


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path, text, name="host.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_list_plugins_json_lists_every_plugin_with_what_it_provides(plugins, capsys):
    status, out, _ = run(capsys, "list-plugins", "--json")
    assert status == 3            # documented: a plugin failed to load (CI can gate on it)
    entries = {entry["name"]: entry for entry in json.loads(out)}
    assert entries["testgood"] == {
        "name": "testgood", "distribution": "iochost-testplugin-good", "version": "1.2.3",
        "entry_point": "iochost_testgood.plugin", "builtin": False, "disabled": False,
        "loaded": True, "error": None,
        "hooks": ["iochost_host_started", "iochost_host_stopping", "iochost_ioc_mounted",
                  "iochost_ioc_unmounted", "iochost_register_helpers", "iochost_register_iocs",
                  "iochost_trapwrite", "iochost_web_routes"],
        "iocs": ["test-counter"], "record_types": [], "helpers": ["test-recorder"]}
    broken = entries["broken-registration"]
    assert (broken["loaded"], broken["iocs"]) == (False, ["doomed"])
    assert broken["error"] == "iochost_register_iocs raised RuntimeError: device table is corrupt"
    assert entries["broken-import"]["error"].startswith("cannot import 'iochost_broken.")
    for entry in entries.values():
        assert set(entry) == set(entries["testgood"])


def test_list_plugins_text_shows_failures_and_disabled(plugins, capsys):
    status, out, _ = run(capsys, "list-plugins", "--disable-plugin", "broken-import,testgood")
    assert status == 3
    assert "testgood  (iochost-testplugin-good 1.2.3)  disabled" in out
    assert "broken-misspelt  (iochost-testplugin-zz-broken 0.0.1)  FAILED" in out
    assert "    error: unknown hook 'iochost_regster_iocs'" in out
    assert "broken-import  (iochost-testplugin-zz-broken 0.0.1)  disabled" in out
    assert "    IOCs (not used: the plugin failed): doomed\n" in out


def test_check_accepts_a_good_config_despite_broken_plugins(plugins, capsys, tmp_path):
    path = write(tmp_path, """\
        host: {status_prefix: null}
        mounts:
          - {name: a, ioc: test-counter, prefix: "A:"}
          - {name: b, ioc: test-counter, prefix: "B:", enabled: false}
        """)
    status, out, err = run(capsys, "check", path)
    assert status == 0, err
    assert out == f"{path}: OK (1 of 2 mounts enabled, 3 PVs)\n"
    assert "warning: plugin 'broken-import' (iochost-testplugin-zz-broken 0.0.1) failed to " \
           "load: cannot import" in err


def test_check_refuses_a_mount_of_a_broken_plugin_and_says_so(plugins, capsys, tmp_path):
    path = write(tmp_path, """\
        mounts:
          - {name: a, ioc: test-counter}
          - {name: d, ioc: doomed}
        """)
    status, out, err = run(capsys, "check", path)
    assert status == 1 and out == ""
    assert f"{path}:3: mounts[1].ioc: mount 'd': IOC 'doomed' is provided by plugin " \
           "'broken-registration', which failed to load: iochost_register_iocs raised " \
           "RuntimeError: device table is corrupt" in err
    assert "Traceback" not in err


def test_check_reports_structure_and_plugin_problems_together(plugins, capsys, tmp_path):
    # a typo in one mount must not hide an unknown IOC, a bad option or a PV clash elsewhere
    path = write(tmp_path, """\
        host: {status_prefix: null, colour: blue}
        mounts:
          - {name: a, ioc: test-counter, prefix: "A:", optons: {}}
          - {name: a, ioc: test-countr, prefix: "B:"}
          - {name: c, ioc: test-counter, prefix: "C:", options: {colour: red}}
          - {name: d, ioc: test-counter, prefix: "D:"}
          - {name: e, ioc: test-counter, prefix: "D:"}
        """)
    status, out, err = run(capsys, "check", path)
    assert status == 1 and out == ""
    lines = err[err.index("error: "):].splitlines()
    assert lines[0] == "error: 8 problems in the host config:"
    assert [line.split(": ", 2)[:2] for line in lines[1:]] == [
        [f"  {path}:1", "host.colour"],
        [f"  {path}:3", "mounts[0].optons"],
        [f"  {path}:4", "mounts[1].ioc"],
        [f"  {path}:4", "mounts[1].name"],
        [f"  {path}:5", "mounts[2].options.colour"],
        *[[f"  {path}:7", "mounts[4].prefix"]] * 3,
    ]
    assert "unknown IOC 'test-countr'" in lines[3]
    assert "mount 'e': PV 'D:COUNT' is already provided by mount 'd' (line 6)" in err


def test_list_pvs_prints_the_names_of_enabled_mounts(plugins, capsys, tmp_path):
    path = write(tmp_path, """\
        host: {status_prefix: null}
        macros: {P: "LAB"}
        mounts:
          - {name: a, ioc: test-counter, prefix: "$(P):A:"}
          - {name: b, ioc: test-counter, prefix: "$(P):B:", enabled: false}
        """)
    status, out, _ = run(capsys, "list-pvs", path)
    assert status == 0
    assert out.split() == ["LAB:A:COUNT", "LAB:A:STEP", "LAB:A:LABEL"]


def test_schema_documents_each_installed_iocs_options(plugins, capsys):
    status, out, _ = run(capsys, "schema")
    assert status == 0
    schema = json.loads(out)
    mount = schema["properties"]["mounts"]["items"]
    assert "test-counter" in mount["properties"]["ioc"]["enum"]
    assert "doomed" not in mount["properties"]["ioc"]["enum"]
    rule = next(r for r in mount["allOf"] if r["if"]["properties"]["ioc"]["const"] ==
                "test-counter")
    options = rule["then"]["properties"]["options"]
    # besides a value of the type, what the host reads as one: text spelled as the type or
    # made by macros (a pattern), an integer for a text option
    typed = {name: (prop["type"], prop.pop("pattern", None))
             for name, prop in options["properties"].items()}
    assert typed == {"start": (["integer", "string"], text_pattern(("integer",))),
                     "step": (["number", "string"], text_pattern(("number",))),
                     "label": (["string", "integer"], None),
                     "fail_startup": (["boolean", "string", "integer"],
                                      text_pattern(("boolean",)))}
    # an unquoted 1 or 0 for a bool option: integers limited to those two
    assert (options["properties"]["fail_startup"]["minimum"],
            options["properties"]["fail_startup"]["maximum"]) == (0, 1)
    assert options["properties"]["start"]["default"] == 0
    assert options["additionalProperties"] is False
    assert set(schema["properties"]) == {"host", "macros", "ca", "mounts", "access", "web"}
    assert schema["properties"]["access"]["required"] == ["file"]
    assert schema["properties"]["ca"]["properties"]["port"]["maximum"] == 65535
    web_section, *switches = schema["properties"]["web"]["anyOf"]
    assert set(web_section["properties"]) == {"listen", "writable", "allowed_hosts",
                                              "allowed_origins"}
    assert web_section["properties"]["listen"]["default"] == "127.0.0.1:8080"
    assert web_section["properties"]["writable"]["default"] is False
    assert {"type": "boolean"} in switches


def test_console_run_reports_problems_without_traceback(plugin_site_dir, tmp_path):
    """The real console script path: exit status and stderr of a subprocess."""
    path = write(tmp_path, "mounts:\n  - {name: a, ioc: test-counter, optionz: {}}\n")
    env = dict(os.environ, **plugin_site_dir.env,
               IOCHOST_DISABLE_PLUGINS="broken-import")
    proc = subprocess.run([sys.executable, "-m", "iochost.cli", "check", path], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert f"{path}:2: mounts[0].optionz: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "broken-import" not in proc.stderr   # disabled: not imported, not warned about


def test_check_warns_about_a_config_without_mounts(plugins, capsys, tmp_path):
    path = write(tmp_path, "host: {name: empty}\n")
    status, out, err = run(capsys, "check", path)
    assert status == 0
    assert f"warning: {path} has no mounts: only the host status PVs would be served" in err
    assert "OK (0 of 0 mounts enabled" in out


def test_check_reads_autosave_request_files_and_names_as_serve_will(plugins, capsys, tmp_path):
    """A request file that cannot be read is a warning (serve restores that set but never
    saves it, as synApps), named with the mount and the file; so is a saved name or a
    trigger the mount does not serve (a typo); a good file is counted."""
    (tmp_path / "counter.req").write_text("$(P)COUNT\n$(P)STEP  # the step too\n"
                                          'file "more.req" N=LABEL\n')
    (tmp_path / "more.req").write_text("$(P)$(N)\n")
    (tmp_path / "typo.req").write_text("$(P)COUNT\n$(P)CUONT\n$(P)STEP.XYZ\n")
    path = write(tmp_path, f"""\
        mounts:
          - name: a
            ioc: test-counter
            prefix: "LAB:A:"
            helpers: {{autosave: {{request: counter.req, request_path: ["{tmp_path}"]}}}}
          - name: b
            ioc: test-counter
            prefix: "LAB:B:"
            helpers: {{autosave: {{request: ["{tmp_path}/counter.req", nowhere.req]}}}}
          - name: c
            ioc: test-counter
            prefix: "LAB:C:"
            helpers: {{autosave: {{request: "{tmp_path}/typo.req", pvs: [STEP, STPE],
                                  trigger: SAVE}}}}
        """)
    status, out, err = run(capsys, "check", path)
    assert status == 0, err
    assert "mount 'a': autosave request files OK (3 PVs)" in out
    assert "mount 'b'" not in out and "mount 'c'" not in out
    assert re.search(r"warning: mount 'b': autosave: .*'nowhere.req' not found.* \(the save "
                     r"set restores, but never saves\)", err), err
    assert "warning: mount 'c': autosave: 3 of the names it saves are not served by the " \
        "mount and will not be saved: 'LAB:C:STPE', 'LAB:C:CUONT', 'LAB:C:STEP.XYZ'" in err
    assert "warning: mount 'c': autosave: the trigger 'LAB:C:SAVE' is not served" in err
    assert re.search(r"OK \(3 of 3 mounts enabled, \d+ PVs\)\n$", out)


def test_check_refuses_two_autosave_sets_of_one_file_and_a_directory_that_is_a_file(
        plugins, capsys, tmp_path):
    """What serve would only find out while mounting (the second set's mount failing, or
    a set that can never save) is a config problem: file:line, key, both mounts named."""
    (tmp_path / "plain").write_text("a file, not a directory\n")
    path = write(tmp_path, f"""\
        host: {{name: t, autosave_dir: "{tmp_path}/plain/as"}}
        mounts:
          - name: one
            ioc: test-counter
            prefix: "LAB:A:"
            helpers: {{autosave: {{directory: "{tmp_path}/shared", name: same}}}}
          - name: two
            ioc: test-counter
            prefix: "LAB:B:"
            helpers:
              autosave:
                directory: "{tmp_path}/shared"
                name: same
          - name: three
            ioc: test-counter
            prefix: "LAB:C:"
            helpers: {{autosave: {{}}}}
          - name: four
            ioc: test-counter
            prefix: "LAB:D:"
            helpers: {{autosave: {{directory: "{tmp_path}/plain"}}}}
          - name: spare
            ioc: test-counter
            prefix: "LAB:E:"
            enabled: false
            helpers: {{autosave: {{directory: "{tmp_path}/shared", name: same}}}}
        """)
    status, out, err = run(capsys, "check", path)
    assert status == 1 and "OK" not in out
    assert err.split("error: 3 problems in the host config:\n")[1].splitlines() == [
        f"  {path}:1: host.autosave_dir: the autosave directory {tmp_path}/plain/as cannot "
        f"be used: {tmp_path}/plain is not a directory",
        f"  {path}:13: mounts[1].helpers.autosave.name: mount 'two': autosave: "
        f"{tmp_path}/shared/same.sav is already the save file of mount 'one' (line 3): give "
        "each set its own directory: or name:",
        f"  {path}:21: mounts[3].helpers.autosave.directory: mount 'four': autosave: the "
        f"directory {tmp_path}/plain cannot be used: {tmp_path}/plain is not a directory"]


def test_an_autosave_directory_under_home_is_expanded(plugins, capsys, tmp_path,
                                                       monkeypatch):
    """``directory: ~/shared`` is the user's home, as a shell would read it (it was a
    directory named "~" under the working directory, and check missed the clash)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write(tmp_path, f"""\
        mounts:
          - {{name: one, ioc: test-counter, prefix: "LAB:A:",
             helpers: {{autosave: {{directory: "~/shared", name: same}}}}}}
          - {{name: two, ioc: test-counter, prefix: "LAB:B:",
             helpers: {{autosave: {{directory: "{tmp_path}/shared", name: same}}}}}}
        """)
    status, _, err = run(capsys, "check", path)
    assert status == 1 and f"{tmp_path}/shared/same.sav is already the save file of mount " \
        "'one'" in err


def test_schema_carries_option_descriptions_and_units(capsys, monkeypatch):
    from typing import Annotated

    from iochost import PVGroup, pvproperty
    from iochost.host import OptionInfo, hookimpl

    class Oven(PVGroup):
        """An oven.

        Args:
            sensor: Serial device of the probe.
            rate (float): Readings per second
                of the probe [Hz]
        """

        T = pvproperty(value=0.0)

        def __init__(self, *args, sensor: str = "/dev/ttyS0", rate: float = 1.0,
                     max_temp: Annotated[float, OptionInfo("Alarm above this", "degC")] = 80.0,
                     label: Annotated[str, "Shown on the panel"] = "", **kwargs):
            super().__init__(*args, **kwargs)

    class Plugin:
        @staticmethod
        @hookimpl
        def iochost_register_iocs(register):
            register("oven", Oven)

    from iochost.host import verbs
    from iochost.host.plugins import load_plugins

    monkeypatch.setattr(verbs.PluginSwitches, "load",
                        lambda self: load_plugins(extra_plugins={"oven": Plugin}))
    assert verbs.schema(verbs.PluginSwitches()) == 0
    schema = json.loads(capsys.readouterr().out)
    oven = next(rule["then"]["properties"]["options"] for rule in
                schema["properties"]["mounts"]["items"]["allOf"]
                if rule["if"]["properties"]["ioc"]["const"] == "oven")
    assert oven["properties"] == {
        "sensor": {"type": ["string", "integer"], "description": "Serial device of the probe.",
                   "default": "/dev/ttyS0"},
        "rate": {"type": ["number", "string"], "pattern": text_pattern(("number",)),
                 "description": "Readings per second of the probe [Hz]",
                 "x-units": "Hz", "default": 1.0},
        "max_temp": {"type": ["number", "string"], "pattern": text_pattern(("number",)),
                     "description": "Alarm above this [degC]",
                     "x-units": "degC", "default": 80.0},
        "label": {"type": ["string", "integer"], "description": "Shown on the panel",
                  "default": ""}}


@pytest.mark.parametrize("options, accepted", [
    ("{start: 3, step: 0.5, label: x, fail_startup: false}", True),
    ('{start: "$(START)", step: "${STEP=2}", fail_startup: "$(FAIL)"}', True),
    ('{start: " 7 ", step: "1e2", fail_startup: "YES", label: 12}', True),
    ("{fail_startup: Off}", True),
    ('{start: "seven"}', False),
    ('{start: "1.5"}', False),
    ('{step: "fast"}', False),
    ('{fail_startup: "maybe"}', False),
    ("{label: 1.5}", False),
])
def test_the_schema_accepts_the_options_the_host_accepts(plugins, capsys, tmp_path, options,
                                                         accepted):
    """An editor checking a config against ``iochost schema`` agrees with ``iochost check``
    on option values: macros, text spellings (YAML 1.1 reads 1e2 as a string) and all."""
    import jsonschema
    import yaml

    path = write(tmp_path, f"""\
        macros: {{START: "4", STEP: "0.25", FAIL: "no"}}
        mounts:
          - {{name: a, ioc: test-counter, prefix: "LAB:A:", options: {options}}}
        """)
    status, out, _ = run(capsys, "schema")
    schema = json.loads(out)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(
        yaml.safe_load(Path(path).read_text())))
    status, _, err = run(capsys, "check", path)
    assert (status == 0) is accepted, err
    assert (not errors) is accepted, [error.message for error in errors]


def test_list_plugins_exits_0_when_every_plugin_loaded(plugins, capsys, monkeypatch):
    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", "iochost-testplugin-good")
    status, out, _ = run(capsys, "list-plugins")
    assert status == 0 and "testgood  (iochost-testplugin-good 1.2.3)  loaded" in out


def test_serve_logs_json_lines_with_log_format_json(plugins, tmp_path):
    config = write(tmp_path, "host: {name: js, status_prefix: null}\nmounts: []\n")
    env = dict(os.environ, EPICS_CAS_SERVER_PORT=os.environ["IOCHOST_TEST_SUBPROCESS_PORT"],
               RUNTIME_DIRECTORY=str(tmp_path / "run"))
    proc = subprocess.Popen([sys.executable, "-m", "iochost", "serve", config,
                             "--log-format", "json"], env=env, stderr=subprocess.PIPE,
                            text=True)
    first = json.loads(proc.stderr.readline())
    proc.send_signal(__import__("signal").SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(20) == 0
    lines = [json.loads(line) for line in rest.splitlines()]
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["logger"] == "iochost.server" and first["message"].startswith("CA server on")
    assert any(line["level"] == "WARNING" and "has no mounts" in line["message"]
               for line in lines)
    assert lines[-1]["message"] == "host 'js' stopped"
    assert any(line["message"] == "SIGTERM received: shutting down" for line in lines)

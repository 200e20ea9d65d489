"""caproto's JSON autosave files imported into a mount's .sav set (``iochost autosave
import``), then restored over CA."""
from __future__ import annotations

import json

from caproto import ChannelType as CaprotoType
from caproto.server import PVGroup as CaprotoGroup
from caproto.server import SubGroup as CaprotoSubGroup
from caproto.server import pvproperty as caproto_pvproperty
from caproto.server.autosave import AutosaveHelper as CaprotoAutosaveHelper
from caproto.server.autosave import autosaved as caproto_autosaved

from iochost import cli
from iochost.helpers.savfile import parse_sav
from iochost.host import load_plugins
from iochost.host.verbs import PluginSwitches, autosave_import

from . import test_iocs

TIMEOUT = 5.0


def caproto_json(prefix: str) -> dict:
    """What caproto's own AutosaveHelper writes for an IOC with these PVs and values."""
    class CaprotoSettings(CaprotoGroup):
        gain = caproto_autosaved(caproto_pvproperty(value=12.5))
        count = caproto_autosaved(caproto_pvproperty(value=-3))
        mode = caproto_autosaved(caproto_pvproperty(value="Auto", dtype=CaprotoType.ENUM,
                                                    enum_strings=("Off", "On", "Auto")))
        label = caproto_autosaved(caproto_pvproperty(value="from caproto",
                                                     dtype=CaprotoType.STRING))
        table = caproto_autosaved(caproto_pvproperty(value=[1.0, 2.0, 3.0, 4.5]))
        speed = caproto_autosaved(caproto_pvproperty(value=3.5, record="ao"),
                                  fields=("description", "engineering_units"))
        autosave_helper = CaprotoSubGroup(CaprotoAutosaveHelper)

    ioc = CaprotoSettings(prefix=prefix)
    ioc.speed.field_inst.description._data["value"] = "set in caproto"
    ioc.speed.field_inst.engineering_units._data["value"] = "mm/s"
    return ioc.autosave_helper.prepare_data()


class WithTestIocs(PluginSwitches):
    def load(self):
        return load_plugins(extra_plugins={"helper-tests": test_iocs})


def test_a_caproto_json_file_is_imported_and_restored(start_host, unique_prefix, pyepics,
                                                      tmp_path, capsys):
    prefix = unique_prefix
    data = caproto_json(prefix)
    data["SOMEWHERE:ELSE"] = {"value": 1, "fields": {}}
    source = tmp_path / "autosave.json"
    source.write_text(json.dumps(data))
    config = tmp_path / "host.yaml"
    config.write_text(f"host: {{name: t, status_prefix: null, "
                      f"autosave_dir: '{tmp_path}/autosave'}}\n"
                      f"mounts:\n  - {{name: settings, ioc: helper-test-settings, "
                      f"prefix: '{prefix}', helpers: {{autosave: {{}}}}}}\n")
    assert autosave_import(str(config), WithTestIocs(), str(source), "settings") == 0
    out, err = capsys.readouterr()
    saved = tmp_path / "autosave" / "settings" / "auto_settings.sav"
    assert f"imported 8 values into {saved}" in out
    assert "SOMEWHERE:ELSE: not under the mount's prefix" in err
    entries = parse_sav(saved.read_text(encoding="latin-1")).values()
    assert entries["mode"].value == "2"             # synApps writes an enum's index
    assert entries["speed.DESC"].value == "set in caproto"
    start_host("""\
        mounts:
          - {name: settings, ioc: helper-test-settings, prefix: "$(P)",
             helpers: {autosave: {}}}
        """, prefix)
    assert pyepics.caget(prefix + "gain", timeout=TIMEOUT) == 12.5
    assert pyepics.caget(prefix + "count") == -3
    assert pyepics.caget(prefix + "mode", as_string=True) == "Auto"
    assert pyepics.caget(prefix + "label", as_string=True) == "from caproto"
    assert list(pyepics.caget(prefix + "table")) == [1.0, 2.0, 3.0, 4.5]
    assert pyepics.caget(prefix + "speed") == 3.5
    assert pyepics.caget(prefix + "speed.DESC", as_string=True) == "set in caproto"
    assert pyepics.caget(prefix + "speed.EGU", as_string=True) == "mm/s"


def test_the_cli_verb_imports_into_the_demo(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    source = tmp_path / "a.json"
    source.write_text(json.dumps({"DEMO:B:SIMPLE:A": {"value": 17, "fields": {}},
                                  "DEMO:B:SIMPLE:C": {"value": [4, 5, 6], "fields": {}}}))
    assert cli.main(["autosave", "import", str(source), "--mount", "simple-b", "--demo"]) == 0
    saved = tmp_path / "iochost" / "demo" / "autosave" / "simple-b" / "auto_settings.sav"
    assert saved.read_text().splitlines()[1:] == ["A 17", 'C @array@ { "4" "5" "6" }', "<END>"]
    assert cli.main(["autosave", "import", str(source), "--mount", "nope", "--demo"]) == 1
    assert "no enabled mount named 'nope'" in capsys.readouterr().err


def test_the_cli_verb_refuses_a_config_a_host_serves(tmp_path, monkeypatch, capsys):
    """The running host would save its own values over the import: refused, as a second
    serve of the config is (its lock), and nothing is written."""
    from iochost.host.lockfile import ConfigLock
    from iochost.host.verbs import demo_config_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path / "run"))
    source = tmp_path / "a.json"
    source.write_text(json.dumps({"DEMO:B:SIMPLE:A": {"value": 17, "fields": {}}}))
    with ConfigLock(demo_config_path()):     # what 'iochost serve --demo' holds
        assert cli.main(["autosave", "import", str(source), "--mount", "simple-b",
                         "--demo"]) == 1
    assert "error: not imported: " in capsys.readouterr().err
    assert not (tmp_path / "iochost").exists()

"""The ``iochost`` command line with what is really installed (iochost + iochost-examples)."""
import json
import os
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from iochost.cli import PLUGIN_VERBS, VERBS, main

ROOT = Path(__file__).resolve().parents[1]
HOST_CONFIGS = sorted((ROOT / "hostconfig").glob("*.yaml"))


@pytest.fixture(autouse=True)
def no_plugin_switches(monkeypatch):
    monkeypatch.delenv("IOCHOST_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("IOCHOST_NO_AUTOLOAD", raising=False)


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_each_verb_help_teaches_with_an_example(capsys, verb):
    with pytest.raises(SystemExit) as exit_info:
        main([verb, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert f"usage: iochost {verb}" in out
    assert "example" in out and f"iochost {verb}" in out.split("example", 1)[1]
    # the plugin switches only where plugins are loaded (elsewhere they would do nothing)
    switches = "--disable-plugin" in out and "--no-autoload" in out
    assert switches == (verb in PLUGIN_VERBS)
    assert VERBS.keys() >= PLUGIN_VERBS


def test_a_plugin_switch_on_a_verb_that_loads_no_plugin_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reload", "--no-autoload", "--pid", "12345"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --no-autoload" in capsys.readouterr().err


def test_no_verb_prints_help_and_an_unknown_verb_is_a_usage_error(capsys):
    status, out, _ = run(capsys)
    assert status == 0 and "list-plugins" in out and "usage: iochost" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["launch"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'launch'" in capsys.readouterr().err


def test_help_answers_without_importing_the_client_or_numpy():
    # `iochost --help` took 0.27 s and 36 MB when building the parser imported the client
    # (numpy, asyncio) for two argument types; they import it at their first use now
    code = ("import sys; from iochost.cli import build_parser; build_parser(); "
            "print(sorted({'numpy', 'asyncio', 'iochost.client'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_client_argument_types_still_refuse_bad_input(capsys):
    for argv, why in ((["monitor", "-m", "vz", "X"], "unknown mask letter 'z'"),
                      (["get", "-d", "bogus", "X"], "unknown DBR type 'bogus'")):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert why in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("iochost ")


def test_the_examples_distribution_declares_its_plugin_like_a_third_party():
    dist = metadata.distribution("iochost-examples")
    eps = [ep for ep in dist.entry_points if ep.group == "iochost"]
    assert [(ep.name, ep.value) for ep in eps] == [("examples", "iochost_examples.plugin")], \
        "reinstall: pip install -e plugins/iochost-examples"


def test_list_plugins_json_shows_the_installed_examples_and_builtins(capsys):
    status, out, _ = run(capsys, "list-plugins", "--json")
    assert status == 0
    plugins = {entry["name"]: entry for entry in json.loads(out)}
    examples = plugins["examples"]
    assert (examples["distribution"], examples["loaded"], examples["builtin"]) == \
        ("iochost-examples", True, False)
    assert examples["version"] == metadata.version("iochost-examples")
    assert {"simple", "decay", "macros", "random-walk", "startup-shutdown"} <= \
        set(examples["iocs"])
    assert examples["hooks"] == ["iochost_register_iocs"]
    builtins = plugins["iochost-builtins"]
    assert builtins["builtin"] and builtins["iocs"] == ["iochost-status"]


def test_no_autoload_keeps_only_the_builtins(capsys):
    status, out, _ = run(capsys, "list-plugins", "--json", "--no-autoload")
    entries = json.loads(out)
    assert status == 0
    assert {e["name"] for e in entries if e["loaded"]} == {"iochost-builtins", "iochost-helpers"}
    assert all(e["builtin"] for e in entries if e["loaded"])
    assert next(e for e in entries if e["name"] == "examples")["disabled"]


@pytest.mark.parametrize("path", HOST_CONFIGS, ids=[p.name for p in HOST_CONFIGS])
def test_every_shipped_host_config_checks(capsys, path):
    status, out, err = run(capsys, "check", str(path))
    assert status == 0, err
    assert out.startswith(f"{path}: OK (")


def test_demo_binds_loopback_only_and_mounts_examples_twice():
    from iochost.host import load_config

    config = load_config(ROOT / "hostconfig" / "demo.yaml", environ={})
    assert config.ca.interfaces == ["127.0.0.1"]
    assert config.ca.beacon_addresses == ["127.0.0.1"] and config.ca.auto_beacon is False
    enabled = [mount for mount in config.mounts if mount.enabled]
    twice = {ioc for ioc in {m.ioc for m in enabled}
             if len({m.prefix + str(sorted(m.macros.items())) for m in enabled
                     if m.ioc == ioc}) >= 2}
    assert len(twice) >= 3, "several example IOCs, each mounted twice"


def test_list_pvs_of_the_demo(capsys):
    status, out, _ = run(capsys, "list-pvs", str(ROOT / "hostconfig" / "demo.yaml"))
    names = out.split()
    assert status == 0 and len(names) == len(set(names))
    assert {"DEMO:A:SIMPLE:A", "DEMO:B:SIMPLE:A", "DEMO:BL1:motor1.VAL", "DEMO:BL2:motor7.VAL",
            "DEMO:HOST:UPTIME", "DEMO:HOST:MOUNT:simple-a:STATE",
            "DEMO:HOST:MOUNT:spare:STATE",      # and the helpers' built-in mounts' PVs
            "DEMO:IOC:HEARTBEAT", "DEMO:IOC:CA_CLNT_CNT", "DEMO:AS:SR_status"} <= set(names)
    status, out, _ = run(capsys, "check", str(ROOT / "hostconfig" / "demo.yaml"))
    assert status == 0 and out.endswith(f", {len(names)} PVs)\n")     # check counts the same


def test_schema_lists_the_installed_iocs_options(capsys):
    status, out, _ = run(capsys, "schema")
    schema = json.loads(out)
    mount = schema["properties"]["mounts"]["items"]
    assert status == 0 and "simple" in mount["properties"]["ioc"]["enum"]
    assert {rule["if"]["properties"]["ioc"]["const"] for rule in mount["allOf"]} >= \
        {"simple", "decay", "iochost-status"}


@pytest.mark.parametrize("verb, signum, status", [
    ("serve", signal.SIGTERM, 0),       # a stop request while loading: nothing to undo
    ("serve", signal.SIGINT, 0),
    ("check", signal.SIGTERM, 130),
])
def test_a_stop_signal_before_serving_ends_quietly(monkeypatch, capsys, verb, signum, status):
    from iochost.host import verbs

    def loading(*args, **kwargs):       # stands in for plugin loading and validation
        os.kill(os.getpid(), signum)
        time.sleep(5)
        raise AssertionError("the signal did not interrupt")

    monkeypatch.setattr(verbs, verb, loading)
    before = signal.getsignal(signal.SIGTERM)
    assert run(capsys, verb, "host.yaml") == (status, "", f"iochost {verb}: interrupted\n")
    assert signal.getsignal(signal.SIGTERM) is before

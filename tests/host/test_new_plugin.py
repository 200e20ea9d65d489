"""``iochost new-plugin``: the project it writes installs with pip, passes its own tests and
serves its IOC, as a user would do it.

The round trip installs into a fresh venv that sees this venv's packages -- iochost, pytest
-- the way ``--system-site-packages`` would (``tests/freshvenv.py``), so nothing is
downloaded but the build backend when the venv's setuptools cannot build wheels by itself,
and the plugin never enters the test venv.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from freshvenv import fresh_venv, pip_install

from iochost.cli import main
from iochost.host.newplugin import NewPluginError, PluginNames, write_plugin
from iochost.testing import wait_until

STARTUP_TIMEOUT = 30.0


def test_the_names_follow_from_one_name():
    names = PluginNames.from_name("Vacuum_Gauge")
    assert (names.dist, names.package, names.ioc, names.cls, names.pv) == (
        "iochost-vacuum-gauge", "iochost_vacuum_gauge", "vacuum-gauge", "VacuumGaugeIOC",
        "VACUUM-GAUGE")
    assert PluginNames.from_name("iochost-oven").dist == "iochost-oven"   # not doubled
    for bad in ("9lives", "oven ctl", "oven-", "ov/en", ""):
        with pytest.raises(NewPluginError, match="use letters and digits"):
            PluginNames.from_name(bad)


def test_the_verb_writes_a_complete_project_and_never_overwrites(tmp_path, capsys,
                                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["new-plugin", "oven"]) == 0
    out = capsys.readouterr().out
    project = tmp_path / "iochost-oven"
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file())
    assert files == ["README.md", "hostconfig.yaml", "iochost_oven/__init__.py",
                     "iochost_oven/__main__.py", "iochost_oven/ioc.py",
                     "iochost_oven/plugin.py", "pyproject.toml", "tests/test_ioc.py"]
    assert "cd iochost-oven" in out and "iochost serve hostconfig.yaml" in out
    for path in project.rglob("*"):
        if path.is_file():
            assert "{{" not in path.read_text(), path         # every placeholder filled
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points.iochost]\noven = "iochost_oven.plugin"' in pyproject
    (project / "README.md").write_text("mine")
    assert main(["new-plugin", "oven"]) == 1
    assert capsys.readouterr().err == \
        "error: iochost-oven already exists: choose another --dir (nothing was written)\n"
    assert (project / "README.md").read_text() == "mine"
    assert main(["new-plugin", "oven", "--dir", "elsewhere/oven"]) == 0
    assert (tmp_path / "elsewhere/oven/iochost_oven/ioc.py").exists()
    assert main(["new-plugin", "2fast"]) == 1
    assert "error: plugin name '2fast'" in capsys.readouterr().err
    # the IOC name of an installed plugin: the new plugin would fail to load beside it
    assert main(["new-plugin", "simple"]) == 1
    assert capsys.readouterr().err == (
        "error: an installed plugin ('examples') already registers the IOC 'simple': choose "
        "another name (nothing was written)\n")
    assert not (tmp_path / "iochost-simple").exists()


def test_the_generated_project_passes_the_projects_own_lint(tmp_path):
    project, _ = write_plugin("oven-ctl", tmp_path / "p")
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--select",
                           "E,F,W,B,UP,SIM,RUF", "--line-length", "100", str(project)],
                          capture_output=True, text=True, timeout=60)
    assert ruff.returncode == 0, ruff.stdout


def test_round_trip_install_test_and_serve(tmp_path, caproto_context):
    project, _ = write_plugin("oven", tmp_path / "iochost-oven")
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, project)
    # the suite's loopback environment, with the new plugin allowed to load
    env = dict(os.environ, IOCHOST_WEB_LISTEN="127.0.0.1:0",
               IOCHOST_ONLY_PLUGINS="iochost-examples,iochost-oven")
    env.pop("PYTHONPATH", None)
    installed = subprocess.run([str(python), "-m", "iochost", "list-plugins", "--json"],
                               env=env, capture_output=True, text=True, timeout=60)
    assert '"distribution": "iochost-oven"' in installed.stdout, installed.stderr

    # its own tests, run as its author would (from its directory, its pytest settings)
    tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                           cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    # on its own, as its docstring says (`-m iochost_oven.ioc` warned: the package had
    # imported the module already)
    alone = subprocess.run([str(python), "-m", "iochost_oven", "--help"],
                           env=env, capture_output=True, text=True, timeout=60)
    assert (alone.returncode, alone.stderr) == (0, ""), alone.stderr
    assert "--list-pvs" in alone.stdout

    # and its host config served by 'iochost serve', read by another CA client
    env["EPICS_CAS_SERVER_PORT"] = os.environ["IOCHOST_TEST_SUBPROCESS_PORT"]
    err_path = tmp_path / "serve.err"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([str(python), "-m", "iochost", "serve", "hostconfig.yaml"],
                                cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        assert wait_until(lambda: "serving" in err_path.read_text() or proc.poll() is not None,
                          STARTUP_TIMEOUT), err_path.read_text()
        assert proc.poll() is None, err_path.read_text()
        setpoint, reading = caproto_context.get_pvs("LAB:OVEN:SETPOINT", "LAB:OVEN:READING",
                                                    timeout=10)
        assert reading.read(timeout=10).data[0] == 20.0
        setpoint.write([42.0], wait=True, timeout=10)
        assert wait_until(lambda: reading.read(timeout=10).data[0] == 42.0, 10)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(20) == 0, err_path.read_text()
    assert "setpoint now 42" in err_path.read_text()


def test_the_template_ships_in_the_wheel():
    """Every template file is matched by a package-data glob (a pip-installed iochost,
    not only this editable checkout, can write plugins)."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["iochost"]
    package = root / "iochost"
    template = [p for p in (package / "data" / "plugin_template").rglob("*.tmpl")]
    assert len(template) == 8
    for path in template:
        assert any(path.relative_to(package).match(glob) for glob in globs), path

"""The package installs, exposes its version and its console script."""
import os
import subprocess
import sys

import iochost


def test_loopback_environment_is_forced():
    assert os.environ["EPICS_CA_AUTO_ADDR_LIST"] == "NO"
    for entry in os.environ["EPICS_CA_ADDR_LIST"].split():
        assert entry.split(":")[0] == "127.0.0.1"
    assert os.environ["EPICS_CAS_INTF_ADDR_LIST"] == "127.0.0.1"
    assert os.environ["EPICS_CAS_AUTO_BEACON_ADDR_LIST"] == "NO"
    assert os.environ["EPICS_CAS_BEACON_ADDR_LIST"] == "127.0.0.1"
    assert os.environ["EPICS_CA_SERVER_PORT"] != "5064"


def test_console_script_reports_version():
    out = subprocess.run([sys.executable, "-m", "iochost.cli", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"iochost {iochost.__version__}"


def test_readme_commands_match_ci_and_the_package():
    """README's two set-up commands: CI runs the test one verbatim; the extras they install
    exist; command 1 serves the shipped default config."""
    import re
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    blocks = re.findall(r"^ *```\n *(.+?)\n *```", (root / "README.md").read_text(),
                        flags=re.MULTILINE)
    serve, test = blocks[:2]
    assert serve.endswith("iochost serve hostconfig/demo.yaml")
    assert test.endswith("python -m pytest")
    ci_lines = (root / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines and "set -euo pipefail" in ci_lines   # no tests collected: exit 5
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    for command in (serve, test):
        for extras in re.findall(r"-e '\.\[([\w,]+)\]'", command):
            assert set(extras.split(",")) <= set(project["optional-dependencies"]), command
        assert "-e plugins/iochost-examples" in command
    test_deps = " ".join(project["optional-dependencies"]["test"])
    for peer in ("pytest", "pytest-asyncio", "hypothesis", "pyepics", "caproto"):
        assert re.search(rf"(^| ){peer}\b", test_deps), peer
    assert project["scripts"]["iochost"] == "iochost.cli:main"


def test_the_session_forces_every_public_loopback_variable():
    from iochost.testing import LOOPBACK_ENV

    for key, value in LOOPBACK_ENV.items():   # the address list adds the subprocess port
        assert os.environ[key].split()[0] == value, key

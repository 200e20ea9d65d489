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

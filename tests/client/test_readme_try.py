"""README command 1 leaves the user a way to read a PV: its "Try" line runs as written
against ``iochost serve --demo`` (issue 11 item 9)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from iochost.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]


def try_line() -> str:
    text = (ROOT / "README.md").read_text()
    found = re.search(r"Try\n`([^`]+)`", text)
    assert found, "README lost its 'Try `...`' line"
    return found.group(1)


def test_readme_try_line_reads_the_demo_pvs(tmp_path):
    port = os.environ["IOCHOST_TEST_SUBPROCESS_PORT"]
    env = dict(os.environ, EPICS_CAS_SERVER_PORT=port, EPICS_CA_SERVER_PORT=port)
    err_path = tmp_path / "serve.err"
    with open(err_path, "w") as err:
        server = subprocess.Popen([sys.executable, "-m", "iochost", "serve", "--demo"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        assert wait_until(lambda: "host 'demo' serving" in err_path.read_text()
                          or server.poll() is not None, 30), err_path.read_text()
        # The line names .venv/bin/iochost: give it this environment's script there.
        bin_dir = tmp_path / ".venv" / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "iochost").symlink_to(Path(sys.executable).parent / "iochost")
        result = subprocess.run(["bash", "-c", try_line()], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60, check=False)
    finally:
        server.terminate()
        server.wait(15)
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()]
    assert names == ["DEMO:A:SIMPLE:A", "DEMO:BL:current.EGU", "DEMO:HOST:UPTIME"]
    assert result.stdout.splitlines()[1].split()[1] == "mA"

"""A fresh venv layered on the test venv, for tests that pip-install a project as a user
would without touching the test venv (``iochost new-plugin``'s round trip, the docs).

``python -m venv --without-pip``, plus a ``.pth`` that adds the test venv's site directory
the way ``--system-site-packages`` adds the system's: iochost, pip and pytest are found
there, and whatever is installed goes into the new venv alone. ``bin/iochost`` is written
as pip writes console scripts (iochost itself is installed in the outer venv).
"""
from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def fresh_venv(path: Path) -> Path:
    """Make the venv at ``path``; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True,
                   timeout=60)
    python = path / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # addsitedir (not a bare path) so the outer venv's own .pth files -- the editable
    # installs of iochost and the examples -- are read too
    (Path(site) / "outer-venv.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    script = path / "bin" / "iochost"
    script.write_text(f"#!{python}\nimport sys\nfrom iochost.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    return python


def pip_install(python: Path, project: Path, editable: bool = False) -> None:
    """``pip install [--editable] project`` into the venv of ``python``, no dependencies:
    offline, built by the test venv's setuptools (conftest sets PIP_NO_INDEX and
    PIP_NO_BUILD_ISOLATION for every pip the suite runs)."""
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                           *(["-e"] if editable else []), str(project)],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr

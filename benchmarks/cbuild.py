"""Build the C load generator (``caclient.c``) against the libca in the epicscorelibs wheel."""
from __future__ import annotations

import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "caclient.c"
BUILD_DIR = HERE / "build"
BINARY = BUILD_DIR / "caclient"


def build_caclient(force: bool = False) -> Path:
    """Compile caclient when missing or older than its source; return the binary's path."""
    if not force and BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BINARY
    import epicscorelibs.path

    BUILD_DIR.mkdir(exist_ok=True)
    lib_dir = epicscorelibs.path.lib_path
    cmd = [
        "gcc", "-O2", "-Wall", "-o", str(BINARY), str(SOURCE),
        f"-I{epicscorelibs.path.include_path}", "-D_GNU_SOURCE", "-Dlinux", "-DUNIX",
        f"-L{lib_dir}", f"-Wl,-rpath,{lib_dir}", "-lca", "-lCom", "-lpthread",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building {SOURCE.name} failed:\n{' '.join(cmd)}\n{result.stderr}")
    return BINARY

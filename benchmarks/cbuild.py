"""Build C clients against the libca in the epicscorelibs wheel: the load generator
(``caclient.c``), and EPICS' acctst for the tests."""
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
    BUILD_DIR.mkdir(exist_ok=True)
    compile_with_libca(BINARY, [SOURCE])
    return BINARY


def compile_with_libca(binary: Path, sources: list[Path], *includes: Path) -> None:
    """gcc ``sources`` (headers also in ``includes``) into ``binary``, linked against the
    libca of the epicscorelibs wheel (found at run time by rpath)."""
    import epicscorelibs.path

    lib_dir = epicscorelibs.path.lib_path
    cmd = [
        "gcc", "-O2", "-Wall", "-o", str(binary), *map(str, sources),
        *(f"-I{include}" for include in includes), f"-I{epicscorelibs.path.include_path}",
        "-D_GNU_SOURCE", "-Dlinux", "-DUNIX",
        f"-L{lib_dir}", f"-Wl,-rpath,{lib_dir}", "-lca", "-lCom", "-lpthread", "-lm",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        names = ", ".join(source.name for source in sources)
        raise RuntimeError(f"building {names} failed:\n{' '.join(cmd)}\n{result.stderr}")

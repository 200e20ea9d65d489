"""The suite does not depend on what else is installed: with a deliberately broken
third-party plugin present in the environment, the tests that enumerate plugins still pass,
because every catalog they build is limited to the plugins they install themselves
(``IOCHOST_ONLY_PLUGINS``, set by tests/conftest.py and the ``plugin_site`` fixture)."""
import os
import subprocess
import sys
from pathlib import Path

from iochost.host import load_plugins

HERE = Path(__file__).parent
#: the tests that list, count or name installed plugins
ENUMERATING_TESTS = ["test_plugins.py", "test_validation.py", "test_verbs.py"]


def install_broken_plugin(site: Path) -> None:
    """What pip leaves for a distribution whose entry point cannot be imported."""
    info = site / "iochost_evil_plugin-6.6.6.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: iochost-evil-plugin\n"
                                   "Version: 6.6.6\n")
    (info / "entry_points.txt").write_text("[iochost]\nevil = iochost_evil_missing.plugin\n")


def test_the_broken_plugin_is_seen_without_the_allow_list(tmp_path, monkeypatch):
    install_broken_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("IOCHOST_ONLY_PLUGINS")
    assert "evil" in {info.name for info in load_plugins().broken}
    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", "iochost-examples")
    catalog = load_plugins()
    assert "evil" not in catalog.plugins and "simple" in catalog.iocs
    assert all(not info.error for info in catalog.plugins.values())


def test_plugin_tests_pass_with_a_broken_plugin_installed(tmp_path):
    install_broken_plugin(tmp_path / "site")
    extra = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path / "site"), *([extra] if extra else [])]))
    env.pop("IOCHOST_ONLY_PLUGINS")    # the child's conftest sets it, as in a fresh run
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         *(str(HERE / name) for name in ENUMERATING_TESTS)],
        env=env, capture_output=True, text=True, timeout=300, check=False, cwd=HERE.parents[1])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]

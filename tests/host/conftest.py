"""Fixtures of the host tests: the test plugin distributions, made visible as installed.

``tests/host/plugins/*`` are real plugin distributions (pyproject + package). Rather than
pip-installing them into the shared venv -- which would leave deliberately broken plugins
loaded by every other iochost process -- the session writes each one's ``.dist-info``
(METADATA + entry_points.txt, exactly what pip writes for them) into a temporary site
directory. A test that wants them prepends that directory and the packages' source
directories to ``sys.path`` (``plugin_site``), or hands ``plugin_site.env`` to a
subprocess; ``importlib.metadata`` then finds them like any installed distribution.
"""
from __future__ import annotations

import os
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

PLUGIN_PROJECTS = Path(__file__).parent / "plugins"
TEST_PACKAGES = ("iochost_testgood", "iochost_broken")


@dataclass(frozen=True)
class PluginSite:
    site: Path
    sources: tuple[Path, ...]

    @property
    def paths(self) -> list[str]:
        return [str(self.site), *map(str, self.sources)]

    @property
    def distributions(self) -> list[str]:
        """The distributions a test with these plugins may load (IOCHOST_ONLY_PLUGINS)."""
        names = [tomllib.loads((p / "pyproject.toml").read_text())["project"]["name"]
                 for p in self.sources]
        return ["iochost-examples", *names]

    @property
    def env(self) -> dict[str, str]:
        """Environment variables for a subprocess that should see (only) these plugins."""
        return {"PYTHONPATH": self.pythonpath,
                "IOCHOST_ONLY_PLUGINS": ",".join(self.distributions)}

    @property
    def pythonpath(self) -> str:
        """PYTHONPATH for a subprocess that should see the test plugins."""
        extra = os.environ.get("PYTHONPATH")
        return os.pathsep.join(self.paths + ([extra] if extra else []))


def write_dist_info(project: Path, site: Path) -> None:
    """Write the metadata pip would install for the distribution in ``project``."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    name, version = meta["name"], meta["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: {meta.get('description', '')}\n")
    groups = meta.get("entry-points", {})
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in eps.items()) + "\n"
        for group, eps in groups.items()))
    (info / "INSTALLER").write_text("iochost-tests\n")


@pytest.fixture(scope="session")
def plugin_site_dir(tmp_path_factory) -> PluginSite:
    site = tmp_path_factory.mktemp("plugin-site")
    projects = sorted(p for p in PLUGIN_PROJECTS.iterdir() if (p / "pyproject.toml").exists())
    for project in projects:
        write_dist_info(project, site)
    return PluginSite(site, tuple(projects))


def _forget_test_packages() -> None:
    for module in list(sys.modules):
        if module.split(".")[0] in TEST_PACKAGES:
            del sys.modules[module]


@pytest.fixture
def plugin_site(plugin_site_dir: PluginSite, monkeypatch) -> PluginSite:
    """The test plugin distributions, installed for this test only."""
    for path in reversed(plugin_site_dir.paths):
        monkeypatch.syspath_prepend(path)
    monkeypatch.setenv("IOCHOST_ONLY_PLUGINS", ",".join(plugin_site_dir.distributions))
    _forget_test_packages()
    yield plugin_site_dir
    _forget_test_packages()


@pytest.fixture
def clean_env(monkeypatch):
    """No plugin switches inherited from the caller's environment."""
    monkeypatch.delenv("IOCHOST_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("IOCHOST_NO_AUTOLOAD", raising=False)


@pytest.fixture
def start_host_on_server(ca_server, unique_prefix):
    """``start(mounts_yaml, catalog, host_keys="status_prefix: '$(P)HOST:'") -> Host``: a
    Host named ``t`` of those mounts, started on the shared server and stopped at
    teardown; ``$(P)`` is this test's unique PV prefix."""
    from iochost.host import Host
    from iochost.host.hostconfig import load_config_text

    hosts = []

    def start(mounts_yaml: str, catalog, host_keys: str = "status_prefix: '$(P)HOST:'"):
        text = (f"host: {{name: t, {host_keys}}}\nmacros: {{P: '{unique_prefix}'}}\n"
                + textwrap.dedent(mounts_yaml))
        host = Host(load_config_text(text, "test.yaml", environ={}), catalog,
                    server=ca_server.server)
        ca_server.call(host.start())
        hosts.append(host)
        return host

    yield start
    for host in hosts:
        ca_server.call(host.stop())

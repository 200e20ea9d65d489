"""Fixtures of the helper tests: hosts on the session's CA server with the test IOCs."""
from __future__ import annotations

import textwrap

import pytest

from iochost.host import Host, load_config_text, load_plugins

from . import test_iocs


@pytest.fixture
def helper_catalog(monkeypatch):
    monkeypatch.delenv("IOCHOST_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("IOCHOST_NO_AUTOLOAD", raising=False)
    return load_plugins(extra_plugins={"helper-tests": test_iocs})


@pytest.fixture
def start_host(ca_server, helper_catalog, tmp_path):
    """``start_host(yaml, **macros) -> Host`` on the shared server, autosave files under
    ``tmp_path/autosave``; ``stop(host)`` stops one early (a clean restart); the rest
    are stopped at teardown."""
    running: list[Host] = []

    def start(yaml: str, prefix: str, host_keys: str = "") -> Host:
        text = (f"host: {{name: t, status_prefix: null, autosave_dir: '{tmp_path}/autosave'"
                f"{', ' + host_keys if host_keys else ''}}}\n"
                f"macros: {{P: '{prefix}'}}\n" + textwrap.dedent(yaml))
        host = Host(load_config_text(text, "helpers-test.yaml", environ={}), helper_catalog,
                    server=ca_server.server)
        ca_server.call(host.start())
        running.append(host)
        return host

    def stop(host: Host) -> None:
        ca_server.call(host.stop())
        running.remove(host)

    start.stop = stop
    start.call = ca_server.call
    yield start
    for host in running:
        ca_server.call(host.stop())
